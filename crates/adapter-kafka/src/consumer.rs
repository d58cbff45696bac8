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
//! - one owner at a time: while a batch is retried, the consumer pauses its partitions and
//!   keeps polling, so the group does not count it as gone (`max.poll.interval.ms`) and hand
//!   its partitions to another instance that would apply the same events alongside it; a
//!   partition revoked anyway is dropped from the batch in hand, uncommitted, for its new owner;
//! - a bad message never blocks its partition: it goes to the dead-letter topic with the
//!   reason in an `x-error` header, and the partition moves on.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use billing_domain::{
    BillingService, CustomerEvent, EventOutcome, MessageId, Repository, StorageError,
};
use event_envelope::{EventEnvelope, Message as Envelope};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::group::{Group, Partition};
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

type Kafka = StreamConsumer<Group>;

struct Loop<R> {
    settings: KafkaSettings,
    dead_letter_topic: String,
    service: Arc<BillingService<R>>,
    consumer: Arc<Kafka>,
    producer: FutureProducer,
    shutdown: watch::Receiver<bool>,
    /// Received and not yet taken into a batch, in the order received (so in each partition's
    /// order).
    held: VecDeque<OwnedMessage>,
    /// Partitions revoked since the batch in hand was taken: its messages from them are their
    /// new owner's to apply, dead-letter and commit, not ours.
    revoked: BTreeSet<Partition>,
    /// Counts revocations, so that a retry can tell whether one happened while it waited.
    revocations: u64,
    /// Whether the assignment is paused (while the batch in hand is retried).
    holding: bool,
}

/// What one poll brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Received {
    Message,
    /// A client error (the brokers unreachable, say): this many in a row.
    Error(u32),
    /// Nothing before the deadline.
    Nothing,
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
    let group = Group::new(Arc::clone(&status), settings.max_retries);
    let consumer: Kafka = settings.consumer_config().create_with_context(group)?;
    let producer: FutureProducer = settings.producer_config().create()?;
    let mut this = Loop {
        consumer: Arc::new(consumer),
        producer,
        dead_letter_topic: settings.dead_letter_topic(),
        settings,
        service,
        shutdown,
        held: VecDeque::new(),
        revoked: BTreeSet::new(),
        revocations: 0,
        holding: false,
    };
    let watcher = tokio::spawn(watch_group(
        Arc::clone(&this.consumer),
        status,
        this.settings.topic.clone(),
        this.shutdown.clone(),
    ));
    let result = this.consume().await;
    watcher.abort();
    this.leave().await;
    result
}

/// How often the lag gauge is refreshed, a long join reported, and brokers that failed asked
/// again. Off the batch path: asking the broker for watermarks is a round trip per partition.
const WATCH_INTERVAL: Duration = Duration::from_secs(5);
/// A join that takes longer is reported, and again every such period until it ends.
const JOIN_REPORT_EVERY: Duration = Duration::from_secs(30);

/// Keeps `status`'s lag per partition (the partition's end minus our position) up to date, says
/// when joining the group takes long, and clears broker failures once a broker answers again
/// (an idle topic brings no message that would).
async fn watch_group(
    consumer: Arc<Kafka>,
    status: Arc<ConsumerStatus>,
    topic: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut join_reports = 0u32;
    loop {
        if pause(WATCH_INTERVAL, &mut shutdown).await.is_err() {
            return;
        }
        let group = consumer.context();
        match group.joining_for() {
            Some(waited) if waited >= JOIN_REPORT_EVERY * (join_reports + 1) => {
                join_reports += 1;
                tracing::warn!(
                    waited_s = waited.as_secs(),
                    topic = %topic,
                    "still joining the consumer group: no partitions assigned yet"
                );
            }
            Some(_) => {}
            None => join_reports = 0,
        }
        let probe = group.is_subscribed() && group.broker_failures() > 0;
        let consumer = Arc::clone(&consumer);
        let topic = topic.clone();
        let lags = tokio::task::spawn_blocking(move || {
            if probe
                && consumer
                    .fetch_metadata(Some(&topic), Duration::from_secs(5))
                    .is_ok()
            {
                consumer.context().brokers_answer();
            }
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

/// A message of the batch in hand, and what it says.
struct Item {
    message: OwnedMessage,
    content: Content,
}

// Nearly every message is an event: boxing it would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
enum Content {
    Event(CustomerEvent),
    UnknownType { event_type: String, id: MessageId },
    Invalid(String),
}

impl Item {
    fn read(message: OwnedMessage) -> Self {
        let content = match EventEnvelope(message.payload().unwrap_or_default()).try_into_domain() {
            Ok(Envelope::Event(e)) => Content::Event(e),
            Ok(Envelope::UnknownType { event_type, id }) => Content::UnknownType { event_type, id },
            Err(rejection) => Content::Invalid(rejection.to_string()),
        };
        Self { message, content }
    }

    fn event(&self) -> Option<&CustomerEvent> {
        match &self.content {
            Content::Event(e) => Some(e),
            _ => None,
        }
    }
}

fn partition_of(m: &OwnedMessage) -> Partition {
    (m.topic().to_owned(), m.partition())
}

impl<R: Repository> Loop<R> {
    fn group(&self) -> &Group {
        self.consumer.context()
    }

    async fn consume(&mut self) -> anyhow::Result<()> {
        if self.connect().await.is_err() {
            return Ok(());
        }
        self.consumer.subscribe(&[&self.settings.topic])?;
        self.group().subscribed();
        tracing::info!(topic = %self.settings.topic, group = %self.settings.group_id, "consuming customer events: subscribed, joining the group");
        loop {
            let Ok(batch) = self.next_batch().await else {
                return Ok(());
            };
            if self.handle(batch).await.is_err() {
                // Told to stop mid-retry: nothing of this batch is committed; it is delivered
                // again to whoever consumes next, and the inbox makes that harmless.
                return Ok(());
            }
        }
    }

    /// Waits until the brokers answer, retrying with capped backoff.
    async fn connect(&mut self) -> Result<(), Stopping> {
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
                Ok(Err(e)) => tracing::warn!(error = %e, "kafka brokers unreachable"),
                Err(e) => tracing::warn!(error = %e, "kafka metadata probe failed"),
            }
            let attempts = self.group().broker_failed();
            pause(backoff(attempts + 3), &mut self.shutdown).await?;
        }
    }

    /// Polls once, until `until` at most (`None`: until something comes). This is the only
    /// place that polls, so the only place where rebalance callbacks run: what they revoked is
    /// dropped from the messages held at once, before anything received after it is kept.
    async fn receive(&mut self, until: Option<Instant>) -> Result<Received, Stopping> {
        let deadline = async {
            match until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        let received = tokio::select! {
            _ = self.shutdown.wait_for(|stop| *stop) => return Err(Stopping),
            () = deadline => None,
            m = self.consumer.recv() => Some(m.map(|m| m.detach())),
        };
        self.forget_revoked_partitions();
        Ok(match received {
            None => Received::Nothing,
            Some(Ok(m)) => {
                self.group().brokers_answer();
                self.held.push_back(m);
                Received::Message
            }
            Some(Err(e)) => {
                let failures = self.group().broker_failed();
                tracing::warn!(error = %e, failures, "kafka consumer error");
                Received::Error(failures)
            }
        })
    }

    fn forget_revoked_partitions(&mut self) {
        let revoked = self.group().take_revoked();
        if revoked.is_empty() {
            return;
        }
        self.held.retain(|m| !revoked.contains(&partition_of(m)));
        self.revocations += 1;
        self.revoked.extend(revoked);
    }

    fn is_revoked(&self, m: &OwnedMessage) -> bool {
        !self.revoked.is_empty() && self.revoked.contains(&partition_of(m))
    }

    /// Waits `wait` while polling: a consumer that stops polling for `max.poll.interval.ms`
    /// is put out of its group. Paused partitions deliver nothing; whatever else comes is held,
    /// in order, for the next batch.
    async fn idle(&mut self, wait: Duration) -> Result<(), Stopping> {
        let until = Instant::now() + wait;
        while self.receive(Some(until)).await? != Received::Nothing {
            // Not paused (a pause after a client error): a full batch need not wait.
            if !self.holding && self.held.len() >= self.settings.batching.size {
                break;
            }
        }
        Ok(())
    }

    /// The held messages and whatever follows within `batch_wait`, up to `batch_size`.
    async fn next_batch(&mut self) -> Result<Vec<OwnedMessage>, Stopping> {
        loop {
            while self.held.is_empty() {
                if let Received::Error(failures) = self.receive(None).await? {
                    // Errors come at librdkafka's pace; this only keeps a burst from spinning.
                    self.idle(backoff(failures)).await?;
                }
            }
            let deadline = Instant::now() + self.settings.batching.wait;
            while self.held.len() < self.settings.batching.size {
                match self.receive(Some(deadline)).await? {
                    Received::Message => {}
                    Received::Error(_) | Received::Nothing => break,
                }
            }
            // A revocation while filling may have emptied it.
            if !self.held.is_empty() {
                self.revoked.clear();
                let n = self.held.len().min(self.settings.batching.size);
                return Ok(self.held.drain(..n).collect());
            }
        }
    }

    /// Pauses every assigned partition (and, through the group, those assigned later) while the
    /// batch in hand is retried: the loop keeps polling to stay in the group, and nothing new
    /// piles up meanwhile.
    fn hold(&mut self) {
        if !self.holding {
            self.holding = true;
            self.consumer.context().pause(&*self.consumer);
        }
    }

    /// Resumes what is assigned now: a partition revoked meanwhile is another consumer's, and
    /// is resumed if it comes back (see `Group`). librdkafka fetches a resumed partition from
    /// after the last message it delivered (what it fetched before the pause is not delivered),
    /// so the partition goes on in order.
    fn release(&mut self) {
        if self.holding {
            self.holding = false;
            self.consumer.context().resume(&*self.consumer);
        }
    }

    async fn handle(&mut self, batch: Vec<OwnedMessage>) -> Result<(), Stopping> {
        let result = self
            .handle_items(batch.into_iter().map(Item::read).collect())
            .await;
        self.release();
        result
    }

    async fn handle_items(&mut self, mut items: Vec<Item>) -> Result<(), Stopping> {
        let outcomes = self.apply(&mut items).await?;
        let mut dead: Vec<(usize, String, String)> = Vec::new();
        let events = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| item.event().map(|e| (i, e)));
        for ((i, event), outcome) in events.zip(outcomes) {
            let kind = event.kind.as_str();
            match outcome {
                EventOutcome::Rejected { reason } => dead.push((i, kind.to_owned(), reason)),
                EventOutcome::Skipped { reason } => {
                    tracing::info!(event_type = kind, id = %event.id, reason, "event skipped");
                    self.status().count(kind, "skipped");
                }
                other => self.status().count(kind, other.as_str()),
            }
        }
        for (i, item) in items.iter().enumerate() {
            match &item.content {
                Content::Event(_) => {}
                Content::UnknownType { event_type, id } => {
                    tracing::info!(event_type, %id, "skipping an event type this service does not handle");
                    // Not the type itself: one series per made-up type would grow without end.
                    self.status().count("other", "skipped");
                }
                Content::Invalid(reason) => dead.push((i, "invalid".to_owned(), reason.clone())),
            }
        }
        for (i, kind, reason) in dead {
            let m = &items[i].message;
            if self.is_revoked(m) {
                // Its partition's new owner reads it again and dead-letters it.
                continue;
            }
            self.dead_letter(m, &reason).await?;
            self.status().count(&kind, "dead-lettered");
        }
        self.commit(&items).await
    }

    fn status(&self) -> &ConsumerStatus {
        self.group().status()
    }

    /// Applies the events of `items`, retrying a storage failure until it succeeds (or we are
    /// stopped), with the partitions paused meanwhile. The outcomes are those of the events
    /// left in `items`: a partition revoked while retrying takes its messages out.
    ///
    /// A failure that is not "unavailable" and persists may be one event's own (a stored
    /// document we cannot read, say): after a few attempts the batch is applied one event at a
    /// time, and events that fail alone while others succeed are rejected, so they go to the
    /// dead-letter topic instead of blocking their partition. When every event fails, the
    /// store is what fails: the batch is retried, never dead-lettered.
    async fn apply(&mut self, items: &mut Vec<Item>) -> Result<Vec<EventOutcome>, Stopping> {
        let mut attempt = 0;
        let result = loop {
            // Copied from the items for each attempt, not kept aside: the items still hold
            // them for a retry, and a batch that succeeds (nearly all) is copied only once.
            let events: Vec<CustomerEvent> =
                items.iter().filter_map(Item::event).cloned().collect();
            let count = events.len();
            if count == 0 {
                break Ok(Vec::new());
            }
            match self.service.apply_events(events).await {
                Ok(outcomes) => break Ok(outcomes),
                Err(e) => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, events = count, "storage failed; retrying the batch");
                    self.hold();
                    self.group().storage_failing(true);
                    if matches!(e, StorageError::Unknown(_)) && attempt >= ISOLATE_AFTER {
                        let events: Vec<CustomerEvent> =
                            items.iter().filter_map(Item::event).cloned().collect();
                        match self.apply_one_by_one(&events).await {
                            Ok(Some(outcomes)) => break Ok(outcomes),
                            Ok(None) => {}
                            Err(stopping) => break Err(stopping),
                        }
                    }
                    if let Err(stopping) = self.idle(backoff(attempt)).await {
                        break Err(stopping);
                    }
                }
            }
            let before = items.len();
            items.retain(|item| !self.is_revoked(&item.message));
            if items.len() < before {
                tracing::info!(
                    dropped = before - items.len(),
                    "partitions revoked while retrying: their messages are left to their new owner"
                );
            }
        };
        self.group().storage_failing(false);
        result
    }

    /// `None` when no event could be applied (the store fails, not the events), or when a
    /// partition was revoked meanwhile (the batch is then retried without it; what was applied
    /// one by one is a duplicate the second time).
    async fn apply_one_by_one(
        &mut self,
        events: &[CustomerEvent],
    ) -> Result<Option<Vec<EventOutcome>>, Stopping> {
        let revocations = self.revocations;
        let mut outcomes = Vec::with_capacity(events.len());
        let mut failed = 0;
        for event in events {
            let mut attempt = 0;
            let outcome = loop {
                match self.service.apply_event(event.clone()).await {
                    Ok(outcome) => break outcome,
                    Err(StorageError::Unknown(e)) if attempt >= ISOLATE_AFTER => {
                        failed += 1;
                        break EventOutcome::Rejected {
                            reason: format!("storage refused it: {e:#}"),
                        };
                    }
                    Err(_) => {
                        attempt += 1;
                        self.idle(backoff(attempt)).await?;
                        if self.revocations != revocations {
                            return Ok(None);
                        }
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
            dlq = %self.dead_letter_topic,
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
                FutureRecord::to(&self.dead_letter_topic).headers(headers);
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
                    self.hold();
                    self.idle(backoff(attempt)).await?;
                    if self.is_revoked(m) {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Commits, per partition still ours, the offset after the batch's last message.
    async fn commit(&mut self, items: &[Item]) -> Result<(), Stopping> {
        let mut attempt = 0;
        loop {
            let mut next: BTreeMap<Partition, i64> = BTreeMap::new();
            for item in items.iter().filter(|i| !self.is_revoked(&i.message)) {
                let slot = next.entry(partition_of(&item.message)).or_default();
                *slot = (*slot).max(item.message.offset() + 1);
            }
            if next.is_empty() {
                return Ok(());
            }
            let mut offsets = TopicPartitionList::new();
            for ((topic, partition), offset) in &next {
                if let Err(e) =
                    offsets.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                {
                    tracing::error!(error = %e, "cannot record an offset to commit");
                }
            }
            let consumer = Arc::clone(&self.consumer);
            let committed =
                tokio::task::spawn_blocking(move || consumer.commit(&offsets, CommitMode::Sync))
                    .await;
            match committed {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "offset commit failed; retrying");
                    // After a rebalance these partitions may be someone else's: their new
                    // owner re-reads from the last commit, and the inbox absorbs the repeat.
                    if attempt >= 5 {
                        return Ok(());
                    }
                    self.hold();
                    self.idle(backoff(attempt)).await?;
                }
                Err(e) => {
                    tracing::error!(error = %e, "offset commit task failed");
                    return Ok(());
                }
            }
        }
    }

    /// Leaves the group (so its partitions are reassigned at once) and says so.
    async fn leave(self) {
        self.consumer.unsubscribe();
        // Before the close, whose revocation must not make it look like a rejoin.
        self.group().stopped();
        let consumer = self.consumer;
        // Closing talks to the coordinator: off the async threads.
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        tracing::info!("left the consumer group");
    }
}
