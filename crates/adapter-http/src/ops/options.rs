//! The HTTP layer's settings.

use std::time::Duration;

use crate::ops::ApiToken;

/// What the HTTP layer is told by the service's configuration.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Empty: the API is open.
    pub tokens: Vec<ApiToken>,
    /// `*` allows any origin; empty: no CORS headers.
    pub cors_origins: Vec<String>,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    pub workers: usize,
}

impl Default for HttpOptions {
    /// For tests and embedding: the API open, a 30 s timeout and grace, two workers.
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            workers: 2,
        }
    }
}
