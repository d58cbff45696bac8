//! `billing_storage_operation_duration_seconds{operation,outcome}`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::latency_histogram;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Operation {
    operation: &'static str,
    outcome: &'static str,
}

/// What the store records: how long each port call took, and whether it failed.
#[derive(Debug, Clone)]
pub struct StorageMetrics {
    durations: Family<Operation, Histogram, fn() -> Histogram>,
}

impl Default for StorageMetrics {
    fn default() -> Self {
        Self {
            durations: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl StorageMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "billing_storage_operation_duration_seconds",
            "Storage operation latency by operation and outcome",
            self.durations.clone(),
        );
    }

    /// One call of `operation` (a port method's name), `ok` or `error`.
    pub fn operation(&self, operation: &'static str, outcome: &'static str, elapsed: Duration) {
        self.durations
            .get_or_create(&Operation { operation, outcome })
            .observe(elapsed.as_secs_f64());
    }
}
