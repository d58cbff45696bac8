//! `billing_events_total{source,type,outcome}` and `billing_consumer_lag{partition}`.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Where an event came from.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum EventSource {
    Kafka,
    Http,
}

impl EventSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Kafka => "kafka",
            Self::Http => "http",
        }
    }
}

impl EncodeLabelValue for EventSource {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Handled {
    source: EventSource,
    r#type: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Partition {
    partition: i32,
}

/// What the event paths record: each event's outcome, and how far the consumer is behind.
#[derive(Debug, Clone, Default)]
pub struct EventMetrics {
    handled: Family<Handled, Counter>,
    lag: Family<Partition, Gauge>,
}

impl EventMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "billing_events",
            "Customer events by source (kafka, http), type and outcome (applied, duplicate, skipped, dead-lettered, rejected)",
            self.handled.clone(),
        );
        registry.register(
            "billing_consumer_lag",
            "Messages behind the end of each partition",
            self.lag.clone(),
        );
    }

    /// One event handled. `event_type` must come from a closed set (the known types, `other`,
    /// `invalid`): a label per made-up type would grow the series without end.
    pub fn handled(&self, source: EventSource, event_type: &str, outcome: &'static str) {
        self.handled
            .get_or_create(&Handled {
                source,
                r#type: event_type.to_owned(),
                outcome,
            })
            .inc();
    }

    /// Messages behind the end of `partition`, as last measured.
    pub fn set_lag(&self, partition: i32, lag: i64) {
        self.lag.get_or_create(&Partition { partition }).set(lag);
    }

    /// `partition` is no longer this consumer's: its lag is its new owner's to report.
    pub fn forget_partition(&self, partition: i32) {
        self.lag.remove(&Partition { partition });
    }
}
