//! The middleware around every request: its id, the auth check, the timeout, its metrics and
//! one log line.

use std::time::{Duration, Instant};

use actix_web::ResponseError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Data;
use telemetry::Telemetry;

use crate::error::{ApiError, ErrorCode};
use crate::ops::HttpOptions;
use crate::ops::auth::authorize;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Known methods only, as labels: any other would add a series per made-up method.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
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
    let telemetry = req.app_data::<Data<Telemetry>>().cloned();
    let method = method_label(req.method());
    let record = |route: &str, status: u16, elapsed: Duration| {
        if let Some(t) = &telemetry {
            t.http().request(method, route, status, elapsed);
        }
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
                record("(timeout)", 503, start.elapsed());
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
    record(&route, status, elapsed);
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
