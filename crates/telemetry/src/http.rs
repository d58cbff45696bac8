//! `http_requests_total{method,route,status}` and
//! `http_request_duration_seconds{method,route}`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::latency_histogram;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    method: String,
    route: String,
}

/// What the HTTP layer records: one count and one latency per request.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<Request, Counter>,
    durations: Family<Route, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl HttpMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            self.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route",
            self.durations.clone(),
        );
    }

    /// One request answered: `route` is the matched pattern (`/api/users/{id}`), never the
    /// path itself, so that the series stay few.
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let route = Route {
            method: method.to_owned(),
            route: route.to_owned(),
        };
        self.durations
            .get_or_create(&route)
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&Request {
                method: route.method,
                route: route.route,
                status,
            })
            .inc();
    }
}
