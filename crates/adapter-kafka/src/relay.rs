//! The relay: publishes the billing events the store recorded with each change (the outbox) to
//! `KAFKA_BILLING_EVENTS_TOPIC`, oldest first, keyed by `userId`.
//!
//! At least once, never lost: an event is marked published only after the broker acknowledged
//! it (`acks=all`), so a crash before the mark sends it again, with the same `id` and body,
//! which a consumer can deduplicate on. The producer is idempotent, so its own retries neither
//! double nor reorder a partition's messages. With several instances only the holder of the
//! store's lease relays, so one customer's events (one key, one partition) go out in the
//! order the store recorded them; an instance that stops renewing the lease (it died) is
//! taken over once the lease expires.

use std::sync::Arc;
use std::time::Duration;

use billing_domain::{BillingEvent, BillingService, EventSeq, Limit, Repository, Timestamp};
use chrono::TimeDelta;
use event_envelope::billing_event_message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::watch;

use crate::KafkaSettings;

/// The store's lease that says which instance relays.
pub const RELAY_LEASE: &str = "billing-events-relay";

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Who this instance is, in the lease: unique per process.
    pub holder: String,
    /// How long a lease lasts unrenewed: how long a dead holder delays the others.
    pub lease: Duration,
    /// How long an idle relay waits before it looks for new events again.
    pub idle: Duration,
    /// Events read and published at a time.
    pub batch: Limit,
}

impl RelayOptions {
    pub fn new(holder: String) -> Self {
        Self {
            holder,
            lease: Duration::from_secs(10),
            idle: Duration::from_millis(100),
            batch: Limit::new(500).unwrap_or_default(),
        }
    }
}

struct Stop;

async fn pause(wait: Duration, shutdown: &mut watch::Receiver<bool>) -> Result<(), Stop> {
    tokio::select! {
        () = tokio::time::sleep(wait) => Ok(()),
        _ = shutdown.wait_for(|stop| *stop) => Err(Stop),
    }
}

fn later(now: Timestamp, by: Duration) -> Timestamp {
    now + TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX)
}

/// Relays until `shutdown` turns true; the batch in hand is finished first.
///
/// # Errors
/// When the producer cannot be configured (a bad setting); the store and the broker being
/// down are waited out, not returned.
pub async fn relay<R: Repository>(
    settings: KafkaSettings,
    service: Arc<BillingService<R>>,
    options: RelayOptions,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let producer: FutureProducer = settings.producer_config().create()?;
    let topic = settings.billing_events_topic.clone();
    let repo = service.repository();
    tracing::info!(
        topic,
        holder = options.holder,
        "billing event relay started"
    );
    let mut held_until: Option<Timestamp> = None;
    let mut failures = 0u32;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let now = service.now();
        // Renewed once a third of it has gone, not on every round: a write each time.
        let renew_at = held_until.map(|until| until - lease_third(&options));
        if renew_at.is_none_or(|at| now >= at) {
            held_until = match repo
                .acquire_lease(RELAY_LEASE, &options.holder, now, later(now, options.lease))
                .await
            {
                Ok(true) => Some(later(now, options.lease)),
                Ok(false) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "the relay cannot reach the store's lease");
                    None
                }
            };
        }
        if held_until.is_none() {
            if pause(options.lease / 3, &mut shutdown).await.is_err() {
                return Ok(());
            }
            continue;
        }
        let wait = match publish_batch(&service, &producer, &topic, options.batch).await {
            Ok(0) => {
                failures = 0;
                options.idle
            }
            Ok(_) => {
                failures = 0;
                Duration::ZERO
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(
                    error = format!("{e:#}"),
                    failures,
                    "billing events not relayed yet"
                );
                backoff(failures)
            }
        };
        if !wait.is_zero() && pause(wait, &mut shutdown).await.is_err() {
            return Ok(());
        }
    }
}

fn lease_third(options: &RelayOptions) -> TimeDelta {
    TimeDelta::from_std(options.lease / 3).unwrap_or(TimeDelta::zero())
}

/// Capped exponential backoff: 200 ms, 400 ms, ... up to 10 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(7))).min(Duration::from_secs(10))
}

/// Publishes the oldest unpublished events and marks those the broker acknowledged, up to the
/// first it did not (so that a customer's events are not marked past a gap); returns how many
/// were published.
async fn publish_batch<R: Repository>(
    service: &BillingService<R>,
    producer: &FutureProducer,
    topic: &str,
    batch: Limit,
) -> anyhow::Result<usize> {
    let repo = service.repository();
    let events = repo.unpublished_events(batch).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let deliveries = events.iter().map(|e| send(producer, topic, e));
    let results = futures_util::future::join_all(deliveries).await;
    let delivered: Vec<EventSeq> = events
        .iter()
        .zip(&results)
        .map_while(|(e, r)| r.is_ok().then_some(e.seq))
        .collect();
    if !delivered.is_empty() {
        repo.mark_published(&delivered, service.now()).await?;
    }
    match results.into_iter().find_map(Result::err) {
        Some(e) => Err(e),
        None => Ok(delivered.len()),
    }
}

async fn send(producer: &FutureProducer, topic: &str, event: &BillingEvent) -> anyhow::Result<()> {
    let payload = billing_event_message(event);
    let record = FutureRecord::to(topic)
        .key(event.billing.user_id.as_str())
        .payload(&payload);
    producer
        .send(record, Duration::from_secs(30))
        .await
        .map(|_| ())
        .map_err(|(e, _)| anyhow::anyhow!("event {} not acknowledged: {e}", event.id))
}
