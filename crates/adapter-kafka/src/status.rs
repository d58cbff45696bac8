//! What the consumer is doing, for readiness and metrics.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use telemetry::{EventMetrics, EventSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ConsumerState {
    /// No `KAFKA_BROKERS`.
    Disabled = 0,
    /// No broker has answered yet (fewer than `KAFKA_MAX_RETRIES` failed attempts).
    Connecting = 1,
    /// Subscribed, waiting for the group to assign partitions (at startup, or during a
    /// rebalance).
    Joining = 2,
    /// Partitions assigned, consuming.
    Running = 3,
    /// Still retrying, after repeated failures: the brokers unreachable for
    /// `KAFKA_MAX_RETRIES` attempts in a row, or storage failing a batch (its partitions are
    /// paused meanwhile).
    Degraded = 4,
    /// Left the group, for good.
    Stopped = 5,
}

impl ConsumerState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Connecting => "connecting",
            Self::Joining => "joining",
            Self::Running => "running",
            Self::Degraded => "degraded",
            Self::Stopped => "stopped",
        }
    }

    const fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Connecting,
            2 => Self::Joining,
            3 => Self::Running,
            4 => Self::Degraded,
            5 => Self::Stopped,
            _ => Self::Disabled,
        }
    }
}

/// Shared between the consumer task and whoever reports on it. What it records as it happens
/// also goes to the service's metrics (`billing_events_total`, `billing_consumer_lag`) when
/// made [`ConsumerStatus::with_metrics`].
#[derive(Debug)]
pub struct ConsumerStatus {
    state: AtomicU8,
    /// Partition assignments received from the group so far (one per rebalance that gave this
    /// consumer partitions, or none).
    assignments: AtomicU64,
    /// The partitions assigned now.
    partitions: Mutex<Vec<i32>>,
    /// Events handled, by (type, outcome): `applied`, `duplicate`, `skipped`, `dead-lettered`.
    counts: Mutex<BTreeMap<(String, &'static str), u64>>,
    metrics: EventMetrics,
}

impl Default for ConsumerStatus {
    fn default() -> Self {
        Self::new(ConsumerState::Disabled)
    }
}

impl ConsumerStatus {
    /// A status whose counts only it keeps.
    pub fn new(state: ConsumerState) -> Self {
        Self::with_metrics(state, EventMetrics::default())
    }

    /// A status that also records events and lag in `metrics`.
    pub fn with_metrics(state: ConsumerState, metrics: EventMetrics) -> Self {
        Self {
            state: AtomicU8::new(state as u8),
            assignments: AtomicU64::new(0),
            partitions: Mutex::default(),
            counts: Mutex::default(),
            metrics,
        }
    }

    pub fn state(&self) -> ConsumerState {
        ConsumerState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub(crate) fn set(&self, state: ConsumerState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    pub(crate) fn assigned(&self, partitions: Vec<i32>) {
        self.assignments.fetch_add(1, Ordering::Relaxed);
        let mut assigned = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        for gone in assigned.iter().filter(|p| !partitions.contains(p)) {
            self.metrics.forget_partition(*gone);
        }
        *assigned = partitions;
    }

    /// The lag of a revoked partition is its new owner's to report; under the lock that
    /// [`ConsumerStatus::set_lag`] takes, so that a measurement in flight cannot bring it back.
    pub(crate) fn revoked(&self, partitions: &[i32]) {
        let mut assigned = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        assigned.retain(|p| !partitions.contains(p));
        for p in partitions {
            self.metrics.forget_partition(*p);
        }
    }

    pub(crate) fn count(&self, event_type: &str, outcome: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry((event_type.to_owned(), outcome)).or_default() += 1;
        self.metrics
            .handled(EventSource::Kafka, event_type, outcome);
    }

    /// Ignored for a partition revoked since it was measured: its new owner reports it.
    pub(crate) fn set_lag(&self, partition: i32, lag: i64) {
        let partitions = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        if partitions.contains(&partition) {
            self.metrics.set_lag(partition, lag);
        }
    }

    /// How many partition assignments the group has given this consumer: a number that moves
    /// only on a rebalance.
    pub fn assignments(&self) -> u64 {
        self.assignments.load(Ordering::Relaxed)
    }

    /// The partitions assigned now, in no particular order.
    pub fn partitions(&self) -> Vec<i32> {
        self.partitions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Events handled so far, by (type, outcome).
    pub fn counts(&self) -> BTreeMap<(String, &'static str), u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use telemetry::Telemetry;

    use super::*;

    #[test]
    fn events_and_the_lag_of_assigned_partitions_go_to_the_metrics_as_they_happen() {
        let telemetry = Telemetry::default();
        let status =
            ConsumerStatus::with_metrics(ConsumerState::Running, telemetry.events().clone());
        status.count("Customer.Created", "applied");
        status.assigned(vec![0, 1]);
        status.set_lag(0, 5);
        status.set_lag(1, 6);
        // Measured before a revocation, recorded after it: dropped.
        status.revoked(&[1]);
        status.set_lag(1, 7);
        let text = telemetry.render();
        assert!(
            text.contains(
                r#"billing_events_total{source="kafka",type="Customer.Created",outcome="applied"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"billing_consumer_lag{partition="0"} 5"#),
            "{text}"
        );
        assert!(
            !text.contains(r#"billing_consumer_lag{partition="1"}"#),
            "{text}"
        );
        assert_eq!(status.counts().values().sum::<u64>(), 1);
    }
}
