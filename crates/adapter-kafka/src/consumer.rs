//! The consume loop: poll a batch, apply it in one storage batch, dead-letter what cannot be
//! applied, and only then commit the batch's offsets.
//!
//! Guarantees, and what gives them:
//! - nothing lost: offsets are committed only after the batch's effects (and its dead letters)
//!   are durable; a storage failure is retried with capped backoff, never skipped;
//! - nothing doubled: effects and inbox entries are atomic or idempotent (the event port), so a
//!   batch redelivered after a crash or rebalance changes nothing the second time;
//! - per-user order: a user's events share a key, so a partition, and a batch keeps each
//!   partition's order; partitions interleave freely within and across batches;
//! - a bad message never blocks its partition: it goes to the dead-letter topic with the
//!   reason in an `x-error` header, and the partition moves on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use billing_domain::{BillingService, CustomerEvent, EventOutcome, Repository, StorageError};
use event_envelope::{EventEnvelope, Message as Envelope};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::settings::KafkaSettings;
use crate::status::{ConsumerState, ConsumerStatus};

/// The consumer was told to stop while it was waiting to retry.
#[derive(Debug)]
struct Stopping;

/// Waits `wait`, or less if told to stop.
async fn pause(wait: Duration, shutdown: &mut watch::Receiver<bool>) -> Result<(), Stopping> {
    tokio::select! {
        () = tokio::time::sleep(wait) => Ok(()),
        _ = shutdown.wait_for(|stop| *stop) => Err(Stopping),
    }
}

/// Attempts before a persistent, not-unavailable failure is looked at event by event.
const ISOLATE_AFTER: u32 = 3;

/// Capped exponential backoff: 100 ms, 200 ms, ... up to 10 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(7))).min(Duration::from_secs(10))
}

struct Loop<R> {
    settings: KafkaSettings,
    service: Arc<BillingService<R>>,
    status: Arc<ConsumerStatus>,
    consumer: Arc<StreamConsumer>,
    producer: FutureProducer,
    shutdown: watch::Receiver<bool>,
}

/// Consumes `settings.topic` until `shutdown` turns true: then it finishes the batch in hand,
/// commits it, and leaves the group.
///
/// # Errors
/// When the client cannot be configured (a bad setting); connection trouble is retried, not
/// returned.
pub async fn run<R: Repository>(
    settings: KafkaSettings,
    service: Arc<BillingService<R>>,
    status: Arc<ConsumerStatus>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    status.set(ConsumerState::Connecting);
    let consumer: StreamConsumer = settings.consumer_config().create()?;
    let producer: FutureProducer = settings.producer_config().create()?;
    let mut this = Loop {
        consumer: Arc::new(consumer),
        producer,
        settings,
        service,
        status,
        shutdown,
    };
    let lag = tokio::spawn(report_lag(
        Arc::clone(&this.consumer),
        Arc::clone(&this.status),
        this.shutdown.clone(),
    ));
    let result = this.consume().await;
    lag.abort();
    this.leave().await;
    result
}

/// How often the lag gauge is refreshed. Off the batch path: asking the broker for watermarks
/// is a round trip per partition.
const LAG_INTERVAL: Duration = Duration::from_secs(5);

/// Keeps `status`'s lag per partition (the partition's end minus our position) up to date.
async fn report_lag(
    consumer: Arc<StreamConsumer>,
    status: Arc<ConsumerStatus>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if pause(LAG_INTERVAL, &mut shutdown).await.is_err() {
            return;
        }
        let consumer = Arc::clone(&consumer);
        let lags = tokio::task::spawn_blocking(move || {
            let Ok(positions) = consumer.position() else {
                return Vec::new();
            };
            positions
                .elements()
                .iter()
                .filter_map(|e| {
                    let Offset::Offset(position) = e.offset() else {
                        return None;
                    };
                    let (_, high) = consumer
                        .fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(2))
                        .ok()?;
                    Some((e.partition(), (high - position).max(0)))
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (partition, lag) in lags {
            status.set_lag(partition, lag);
        }
    }
}

impl<R: Repository> Loop<R> {
    async fn consume(&mut self) -> anyhow::Result<()> {
        if self.connect().await.is_err() {
            return Ok(());
        }
        self.consumer.subscribe(&[&self.settings.topic])?;
        self.status.set(ConsumerState::Running);
        tracing::info!(topic = %self.settings.topic, group = %self.settings.group_id, "consuming customer events");
        let mut failures = 0u32;
        loop {
            let first = tokio::select! {
                _ = self.shutdown.wait_for(|stop| *stop) => return Ok(()),
                m = self.consumer.recv() => m.map(|m| m.detach()),
            };
            let first = match first {
                Ok(m) => m,
                Err(e) => {
                    failures += 1;
                    self.degrade_after(failures);
                    tracing::warn!(error = %e, failures, "kafka consumer error");
                    if pause(backoff(failures), &mut self.shutdown).await.is_err() {
                        return Ok(());
                    }
                    continue;
                }
            };
            failures = 0;
            self.status.set(ConsumerState::Running);
            let batch = self.fill_batch(first).await;
            if self.handle(&batch).await.is_err() {
                // Told to stop mid-retry: nothing of this batch is committed; it is delivered
                // again to whoever consumes next, and the inbox makes that harmless.
                return Ok(());
            }
            if self.commit(&batch).await.is_err() {
                return Ok(());
            }
        }
    }

    fn degrade_after(&self, failures: u32) {
        if failures >= self.settings.max_retries {
            self.status.set(ConsumerState::Degraded);
        }
    }

    /// Waits until the brokers answer, retrying with capped backoff.
    async fn connect(&mut self) -> Result<(), Stopping> {
        let mut attempts = 0u32;
        loop {
            let consumer = Arc::clone(&self.consumer);
            let probe = tokio::task::spawn_blocking(move || {
                consumer
                    .fetch_metadata(None, Duration::from_secs(5))
                    .map(drop)
            })
            .await;
            match probe {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => tracing::warn!(error = %e, attempts, "kafka brokers unreachable"),
                Err(e) => tracing::warn!(error = %e, "kafka metadata probe failed"),
            }
            attempts += 1;
            self.degrade_after(attempts);
            pause(backoff(attempts + 3), &mut self.shutdown).await?;
        }
    }

    /// The first message and whatever follows it within `batch_wait`, up to `batch_size`.
    async fn fill_batch(&self, first: OwnedMessage) -> Vec<OwnedMessage> {
        let mut batch = vec![first];
        let deadline = Instant::now() + self.settings.batch_wait;
        while batch.len() < self.settings.batch_size {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(m)) => batch.push(m.detach()),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "kafka consumer error");
                    break;
                }
                Err(_) => break,
            }
        }
        batch
    }

    async fn handle(&mut self, batch: &[OwnedMessage]) -> Result<(), Stopping> {
        let mut events: Vec<(usize, CustomerEvent)> = Vec::new();
        let mut dead: Vec<(usize, String, String)> = Vec::new();
        for (i, m) in batch.iter().enumerate() {
            match EventEnvelope(m.payload().unwrap_or_default()).try_into_domain() {
                Ok(Envelope::Event(e)) => events.push((i, e)),
                Ok(Envelope::UnknownType { event_type, id }) => {
                    tracing::info!(event_type, %id, "skipping an event type this service does not handle");
                    // Not the type itself: one series per made-up type would grow without end.
                    self.status.count("other", "skipped");
                }
                Err(rejection) => dead.push((i, "invalid".to_owned(), rejection.0)),
            }
        }
        let outcomes = self
            .apply(events.iter().map(|(_, e)| e.clone()).collect())
            .await?;
        for ((i, event), outcome) in events.iter().zip(outcomes) {
            let kind = event.kind.as_str();
            match outcome {
                EventOutcome::Rejected { reason } => dead.push((*i, kind.to_owned(), reason)),
                EventOutcome::Skipped { reason } => {
                    tracing::info!(event_type = kind, id = %event.id, reason, "event skipped");
                    self.status.count(kind, "skipped");
                }
                other => self.status.count(kind, other.as_str()),
            }
        }
        for (i, kind, reason) in dead {
            self.dead_letter(&batch[i], &reason).await?;
            self.status.count(&kind, "dead-lettered");
        }
        Ok(())
    }

    /// Applies the events, retrying a storage failure until it succeeds (or we are stopped).
    ///
    /// A failure that is not "unavailable" and persists may be one event's own (a stored
    /// document we cannot read, say): after a few attempts the batch is applied one event at a
    /// time, and events that fail alone while others succeed are rejected, so they go to the
    /// dead-letter topic instead of blocking their partition. When every event fails, the
    /// store is what fails: the batch is retried, never dead-lettered.
    async fn apply(&mut self, events: Vec<CustomerEvent>) -> Result<Vec<EventOutcome>, Stopping> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempt = 0;
        loop {
            match self.service.apply_events(events.clone()).await {
                Ok(outcomes) => return Ok(outcomes),
                Err(e) => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, events = events.len(), "storage failed; retrying the batch");
                    if matches!(e, StorageError::Unknown(_))
                        && attempt >= ISOLATE_AFTER
                        && let Some(outcomes) = self.apply_one_by_one(&events).await?
                    {
                        return Ok(outcomes);
                    }
                    pause(backoff(attempt), &mut self.shutdown).await?;
                }
            }
        }
    }

    /// `None` when no event could be applied (the store fails, not the events).
    async fn apply_one_by_one(
        &mut self,
        events: &[CustomerEvent],
    ) -> Result<Option<Vec<EventOutcome>>, Stopping> {
        let mut outcomes = Vec::with_capacity(events.len());
        let mut failed = 0;
        for event in events {
            let mut attempt = 0;
            let outcome = loop {
                match self.service.apply_events(vec![event.clone()]).await {
                    Ok(mut one) => break one.pop().unwrap_or(EventOutcome::Applied),
                    Err(StorageError::Unknown(e)) if attempt >= ISOLATE_AFTER => {
                        failed += 1;
                        break EventOutcome::Rejected {
                            reason: format!("storage refused it: {e:#}"),
                        };
                    }
                    Err(_) => {
                        attempt += 1;
                        pause(backoff(attempt), &mut self.shutdown).await?;
                    }
                }
            };
            outcomes.push(outcome);
        }
        Ok((failed < events.len()).then_some(outcomes))
    }

    async fn dead_letter(&mut self, m: &OwnedMessage, reason: &str) -> Result<(), Stopping> {
        tracing::warn!(
            partition = m.partition(),
            offset = m.offset(),
            reason,
            dlq = %self.settings.dlq_topic,
            "dead-lettering a message"
        );
        let mut attempt = 0;
        loop {
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "x-error",
                    value: Some(reason),
                })
                .insert(Header {
                    key: "x-original-topic",
                    value: Some(m.topic()),
                })
                .insert(Header {
                    key: "x-original-partition",
                    value: Some(&m.partition().to_string()),
                })
                .insert(Header {
                    key: "x-original-offset",
                    value: Some(&m.offset().to_string()),
                });
            let mut record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&self.settings.dlq_topic).headers(headers);
            if let Some(key) = m.key() {
                record = record.key(key);
            }
            if let Some(payload) = m.payload() {
                record = record.payload(payload);
            }
            match self.producer.send(record, Duration::from_secs(10)).await {
                Ok(_) => return Ok(()),
                Err((e, _)) => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "cannot write to the dead-letter topic; retrying");
                    pause(backoff(attempt), &mut self.shutdown).await?;
                }
            }
        }
    }

    /// Commits, per partition, the offset after the batch's last message.
    async fn commit(&mut self, batch: &[OwnedMessage]) -> Result<(), Stopping> {
        let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for m in batch {
            let slot = next
                .entry((m.topic().to_owned(), m.partition()))
                .or_default();
            *slot = (*slot).max(m.offset() + 1);
        }
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), offset) in &next {
            if let Err(e) = offsets.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            {
                tracing::error!(error = %e, "cannot record an offset to commit");
            }
        }
        let mut attempt = 0;
        loop {
            let consumer = Arc::clone(&self.consumer);
            let list = offsets.clone();
            let committed =
                tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync)).await;
            match committed {
                Ok(Ok(())) => break,
                Ok(Err(e)) => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "offset commit failed; retrying");
                    // After a rebalance these partitions may be someone else's: their new
                    // owner re-reads from the last commit, and the inbox absorbs the repeat.
                    if attempt >= 5 {
                        break;
                    }
                    pause(backoff(attempt), &mut self.shutdown).await?;
                }
                Err(e) => {
                    tracing::error!(error = %e, "offset commit task failed");
                    break;
                }
            }
        }
        Ok(())
    }

    /// Leaves the group (so its partitions are reassigned at once) and says so.
    async fn leave(self) {
        self.consumer.unsubscribe();
        self.status.set(ConsumerState::Stopped);
        let consumer = self.consumer;
        // Closing talks to the coordinator: off the async threads.
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        tracing::info!("left the consumer group");
    }
}
