//! What operators need around the API, one job a module: bearer-token auth (`auth`), the HTTP
//! layer's settings (`options`), the middleware that wraps every request with its id, timeout,
//! metrics and log line (`observe`), and the health, readiness and metrics endpoints
//! (`probes`). The metrics themselves are the `telemetry` crate's.

mod auth;
mod observe;
mod options;
mod probes;

pub use auth::{ApiToken, Scope};
pub use observe::REQUEST_ID;
pub(crate) use observe::observe;
pub use options::HttpOptions;
pub use probes::Probes;
pub(crate) use probes::{healthz, metrics, readyz};
