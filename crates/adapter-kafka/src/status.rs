//! What the consumer is doing, for readiness and metrics.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerState {
    /// No `KAFKA_BROKERS`.
    Disabled,
    /// Starting, or reconnecting after a failure (within `KAFKA_MAX_RETRIES`).
    Connecting,
    Running,
    /// More than `KAFKA_MAX_RETRIES` failed attempts in a row; still retrying.
    Degraded,
    Stopped,
}

impl ConsumerState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Connecting => "connecting",
            Self::Running => "running",
            Self::Degraded => "degraded",
            Self::Stopped => "stopped",
        }
    }

    const fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Connecting,
            2 => Self::Running,
            3 => Self::Degraded,
            4 => Self::Stopped,
            _ => Self::Disabled,
        }
    }
}

/// Shared between the consumer task and whoever reports on it.
#[derive(Debug)]
pub struct ConsumerStatus {
    state: AtomicU8,
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
