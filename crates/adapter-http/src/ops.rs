//! What operators need around the API: request ids, one log line and metrics per request, the
//! request timeout, bearer-token auth, and the health, readiness and metrics endpoints.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{HttpResponse, ResponseError};

use crate::error::{ApiError, ErrorCode};
use crate::metrics::Registry;
use crate::responses::{Health, Readiness};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
}

/// One entry of `API_TOKENS`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken {
    secret: Vec<u8>,
    scope: Scope,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ApiToken {
    /// Parses `API_TOKENS`: comma-separated `token:scope`, scope `read` or `write`.
    ///
    /// # Errors
    /// A message (without the token) naming the entry that is malformed.
    pub fn parse_list(raw: &str) -> Result<Vec<Self>, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .enumerate()
            .map(|(i, entry)| {
                let (secret, scope) = entry
                    .rsplit_once(':')
                    .ok_or_else(|| format!("entry {} is not token:scope", i + 1))?;
                let scope = match scope {
                    "read" => Scope::Read,
                    "write" => Scope::Write,
                    _ => {
                        return Err(format!(
                            "entry {} has a scope other than read or write",
                            i + 1
                        ));
                    }
                };
                if secret.len() < 8 {
                    return Err(format!(
                        "entry {} has a token shorter than 8 characters",
                        i + 1
                    ));
                }
                Ok(Self {
                    secret: secret.as_bytes().to_vec(),
                    scope,
                })
            })
            .collect()
    }
}

/// Compares without stopping at the first difference, so timing tells nothing of the secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len_diff = a.len() ^ b.len();
    let byte_diff = a
        .iter()
        .zip(b.iter().cycle())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    len_diff == 0 && byte_diff == 0 && !b.is_empty()
}

/// The HTTP layer's settings.
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

/// Whether the store can serve now; why not, when it cannot.
type Check =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// How the HTTP layer learns about the rest of the service, for readiness and metrics.
#[derive(Clone)]
pub struct Probes {
    /// Whether the store can serve now (answers, and is prepared), and why not.
    pub storage: Check,
    /// `disabled`, `connecting`, `running`, `degraded` or `stopped`.
    pub consumer: Arc<dyn Fn() -> &'static str + Send + Sync>,
    /// Brings gauges kept elsewhere (consumer counts and lag) into the registry before a scrape.
    pub refresh_metrics: Arc<dyn Fn(&Registry) + Send + Sync>,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes").finish_non_exhaustive()
    }
}

impl Default for Probes {
    fn default() -> Self {
        Self {
            storage: Arc::new(|| Box::pin(async { Ok(()) })),
            consumer: Arc::new(|| "disabled"),
            refresh_metrics: Arc::new(|_| {}),
        }
    }
}

pub(crate) fn describe_metrics(r: &Registry) {
    r.describe(
        "http_requests_total",
        "counter",
        "HTTP requests by method, route and status.",
    );
    r.describe(
        "http_request_duration_seconds",
        "histogram",
        "HTTP request latency by method and route.",
    );
    r.describe(
        "billing_events_total",
        "counter",
        "Customer events by source (kafka, http), type and outcome (applied, duplicate, skipped, dead-lettered, rejected).",
    );
    r.describe(
        "billing_consumer_lag",
        "gauge",
        "Messages behind the end of each partition.",
    );
    r.describe(
        "billing_storage_operation_duration_seconds",
        "histogram",
        "Storage operation latency by operation and outcome.",
    );
}

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

fn is_write(method: &actix_web::http::Method) -> bool {
    !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS")
}

/// What stays open when `API_TOKENS` is set (and the API explorer's files, under `/docs/`). Everything else needs a token: failing closed, so
/// that no spelling of an API path (`//api/...`, `/%61pi/...`) gets past.
const OPEN_PATHS: &[&str] = &[
    "/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
];

/// `None` when the request may go on.
fn authorize(req: &ServiceRequest, options: &HttpOptions) -> Option<ApiError> {
    let open = OPEN_PATHS.contains(&req.path()) || req.path().starts_with("/docs/");
    if options.tokens.is_empty() || open {
        return None;
    }
    // The scheme's name is case-insensitive (RFC 9110, section 11.1).
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(presented) = presented else {
        return Some(ApiError::new(
            ErrorCode::Unauthorized,
            "A bearer token is required",
        ));
    };
    // Every token is compared, matching or not, so timing does not tell which one matched.
    let scope = options.tokens.iter().fold(None, |found, t| {
        if constant_time_eq(presented.as_bytes(), &t.secret) {
            Some(t.scope)
        } else {
            found
        }
    });
    match scope {
        None => Some(ApiError::new(
            ErrorCode::Unauthorized,
            "The bearer token is not valid",
        )),
        Some(Scope::Read) if is_write(req.method()) => Some(ApiError::new(
            ErrorCode::Forbidden,
            "This token may read but not write",
        )),
        Some(_) => None,
    }
}

fn record(
    registry: Option<&Data<Registry>>,
    method: &str,
    route: &str,
    status: u16,
    elapsed: Duration,
) {
    if let Some(r) = registry {
        r.inc(
            "http_requests_total",
            &[
                ("method", method),
                ("route", route),
                ("status", &status.to_string()),
            ],
            1,
        );
        r.observe(
            "http_request_duration_seconds",
            &[("method", method), ("route", route)],
            elapsed.as_secs_f64(),
        );
    }
}

/// Wraps every request: request id, auth, timeout, metrics, one log line.
pub(crate) async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let start = Instant::now();
    let id = request_id(&req);
    let options = req
        .app_data::<Data<HttpOptions>>()
        .cloned()
        .unwrap_or_else(|| Data::new(HttpOptions::default()));
    let registry = req.app_data::<Data<Registry>>().cloned();
    // Known methods only as labels: any other would add a series per made-up method.
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS") => m.to_owned(),
        _ => "OTHER".to_owned(),
    };
    let mut res = if let Some(denied) = authorize(&req, &options) {
        req.into_response(denied.error_response())
    } else {
        // The request is the router's until the response comes back (it records the match in
        // it), so a timeout answers with an error rather than a response built here.
        match tokio::time::timeout(options.request_timeout, next.call(req)).await {
            Ok(Ok(res)) => res.map_into_boxed_body(),
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                let elapsed = start.elapsed();
                record(registry.as_ref(), &method, "(timeout)", 503, elapsed);
                tracing::warn!(request_id = %id, method, timeout = ?options.request_timeout, "request timed out");
                return Err(
                    ApiError::new(ErrorCode::RequestTimeout, "The request took too long").into(),
                );
            }
        }
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16();
    let elapsed = start.elapsed();
    record(registry.as_ref(), &method, &route, status, elapsed);
    tracing::info!(
        request_id = %id,
        method,
        route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    Ok(res)
}

pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

pub(crate) async fn readyz(probes: Data<Probes>) -> HttpResponse {
    let storage = (probes.storage)().await;
    let consumer = (probes.consumer)();
    // The consumer's state is reported, not required: a degraded consumer keeps retrying, and
    // taking the pod out of service would stop HTTP too.
    match storage {
        Ok(()) => HttpResponse::Ok().json(Readiness {
            status: "ready",
            storage: "ok",
            reason: None,
            consumer,
        }),
        Err(reason) => HttpResponse::ServiceUnavailable().json(Readiness {
            status: "not ready",
            storage: "unreachable",
            reason: Some(reason),
            consumer,
        }),
    }
}

pub(crate) async fn metrics(registry: Data<Registry>, probes: Data<Probes>) -> HttpResponse {
    (probes.refresh_metrics)(&registry);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(registry.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_with_their_scopes_and_bad_entries_are_named_without_the_secret() {
        let tokens = ApiToken::parse_list("reader-token-1:read, writer-token-1:write").unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[1].scope, Scope::Write);
        let err = ApiToken::parse_list("good-token-1:read,secret-value:admin").unwrap_err();
        assert!(
            err.contains("entry 2") && !err.contains("secret-value"),
            "{err}"
        );
        assert!(ApiToken::parse_list("short:read").is_err());
    }

    #[test]
    fn constant_time_comparison_is_still_a_comparison() {
        assert!(constant_time_eq(b"abcdefgh", b"abcdefgh"));
        assert!(!constant_time_eq(b"abcdefgh", b"abcdefgi"));
        assert!(!constant_time_eq(b"abc", b"abcdefgh"));
        assert!(!constant_time_eq(b"", b""));
    }
}
