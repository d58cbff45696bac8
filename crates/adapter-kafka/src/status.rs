//! What the consumer is doing, for readiness and metrics.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

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

/// Shared between the consumer task and whoever reports on it.
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
    /// Messages behind the end of each partition, as of the last batch.
    lag: Mutex<BTreeMap<i32, i64>>,
}

impl Default for ConsumerStatus {
    fn default() -> Self {
        Self::new(ConsumerState::Disabled)
    }
}

impl ConsumerStatus {
    pub fn new(state: ConsumerState) -> Self {
        Self {
            state: AtomicU8::new(state as u8),
            assignments: AtomicU64::new(0),
            partitions: Mutex::default(),
            counts: Mutex::default(),
            lag: Mutex::default(),
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
        *self.partitions.lock().unwrap_or_else(|p| p.into_inner()) = partitions;
    }

    pub(crate) fn revoked(&self, partitions: &[i32]) {
        self.partitions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|p| !partitions.contains(p));
        let mut lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        for p in partitions {
            lag.remove(p);
        }
    }

    pub(crate) fn count(&self, event_type: &str, outcome: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry((event_type.to_owned(), outcome)).or_default() += 1;
    }

    pub(crate) fn set_lag(&self, partition: i32, lag: i64) {
        self.lag
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(partition, lag);
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

    /// Lag per partition.
    pub fn lag(&self) -> BTreeMap<i32, i64> {
        self.lag.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
