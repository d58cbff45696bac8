//! The service's metrics, on the official Prometheus client (`prometheus-client`), and their
//! exposition in the Prometheus text format for `GET /metrics`.
//!
//! One [`Telemetry`] per service registers every metric; each part of the service records into
//! the handle of its own concern ([`HttpMetrics`], [`EventMetrics`], [`StorageMetrics`]), which
//! is cheap to clone. A handle made with `Default` alone records into no registry: for tests
//! and for parts run without a service around them.

mod events;
mod http;
mod storage;

use std::sync::Arc;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use events::{EventMetrics, EventSource};
pub use http::HttpMetrics;
pub use storage::StorageMetrics;

/// The `Content-Type` of [`Telemetry::render`]'s output (text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Latency buckets, in seconds: from half a millisecond (an SQLite read) to 10 s (past which a
/// request has long timed out).
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every metric of the service, registered once.
#[derive(Debug, Clone)]
pub struct Telemetry {
    registry: Arc<Registry>,
    http: HttpMetrics,
    events: EventMetrics,
    storage: StorageMetrics,
}

impl Default for Telemetry {
    fn default() -> Self {
        let mut registry = Registry::default();
        let http = HttpMetrics::default();
        http.register(&mut registry);
        let events = EventMetrics::default();
        events.register(&mut registry);
        let storage = StorageMetrics::default();
        storage.register(&mut registry);
        Self {
            registry: Arc::new(registry),
            http,
            events,
            storage,
        }
    }
}

impl Telemetry {
    pub fn http(&self) -> &HttpMetrics {
        &self.http
    }

    pub fn events(&self) -> &EventMetrics {
        &self.events
    }

    pub fn storage(&self) -> &StorageMetrics {
        &self.storage
    }

    /// Every series, in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a `String` cannot fail, and neither can encoding these metric types.
        let _ = prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_metric_is_exposed_under_its_documented_name_with_its_labels_in_order() {
        let telemetry = Telemetry::default();
        telemetry
            .http()
            .request("GET", "/api/users/{id}", 404, Duration::from_millis(3));
        telemetry
            .events()
            .handled(EventSource::Kafka, "Customer.Created", "applied");
        telemetry.events().set_lag(2, 7);
        telemetry
            .storage()
            .operation("find_user", "ok", Duration::from_micros(300));
        let text = telemetry.render();
        for line in [
            "# TYPE http_requests_total counter",
            r#"http_requests_total{method="GET",route="/api/users/{id}",status="404"} 1"#,
            "# TYPE http_request_duration_seconds histogram",
            r#"http_request_duration_seconds_bucket{method="GET",route="/api/users/{id}",le="0.0025"} 0"#,
            r#"http_request_duration_seconds_bucket{method="GET",route="/api/users/{id}",le="0.005"} 1"#,
            r#"http_request_duration_seconds_bucket{method="GET",route="/api/users/{id}",le="+Inf"} 1"#,
            r#"http_request_duration_seconds_count{method="GET",route="/api/users/{id}"} 1"#,
            "# TYPE billing_events_total counter",
            r#"billing_events_total{source="kafka",type="Customer.Created",outcome="applied"} 1"#,
            "# TYPE billing_consumer_lag gauge",
            r#"billing_consumer_lag{partition="2"} 7"#,
            "# TYPE billing_storage_operation_duration_seconds histogram",
            r#"billing_storage_operation_duration_seconds_bucket{operation="find_user",outcome="ok",le="0.0005"} 1"#,
            r#"billing_storage_operation_duration_seconds_count{operation="find_user",outcome="ok"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let telemetry = Telemetry::default();
        telemetry
            .events()
            .handled(EventSource::Http, "a\"b\\c\nd", "skipped");
        let text = telemetry.render();
        assert!(
            text.contains(r#"type="a\"b\\c\nd""#),
            "the value escaped: {text}"
        );
    }

    #[test]
    fn a_partition_no_longer_assigned_leaves_the_lag_gauge() {
        let telemetry = Telemetry::default();
        telemetry.events().set_lag(0, 3);
        telemetry.events().set_lag(1, 4);
        telemetry.events().forget_partition(0);
        let text = telemetry.render();
        assert!(
            !text.contains(r#"billing_consumer_lag{partition="0"}"#),
            "{text}"
        );
        assert!(
            text.contains(r#"billing_consumer_lag{partition="1"} 4"#),
            "{text}"
        );
    }

    #[test]
    fn a_handle_made_alone_records_into_no_registry() {
        let telemetry = Telemetry::default();
        EventMetrics::default().handled(EventSource::Http, "Customer.Created", "applied");
        assert!(!telemetry.render().contains("Customer.Created"));
    }
}
