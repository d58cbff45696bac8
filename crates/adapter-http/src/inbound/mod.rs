//! The typed inbound layer: request bodies and query strings are Rust types, derived both for
//! parsing (deserr, every field's problem collected with its path) and for the OpenAPI
//! document (utoipa), so the document cannot say other than the parser does.
//!
//! What every body goes through first: at most 64 KiB; `application/json` (a body of another
//! type is refused: browsers send `text/plain` cross-site without asking, which would let any
//! web page write to an open deployment); valid JSON with no key given twice; an object.

pub mod bodies;
mod errors;
pub mod json;
pub mod queries;
pub mod values;

use actix_web::HttpRequest;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::Payload;
use deserr::Deserr;

pub use errors::Problems;
pub use json::Json;

use crate::body;
use crate::error::{ApiError, ErrorCode};

/// Whether the request says its body is JSON (`application/json`, any parameters).
pub(crate) fn declares_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads a JSON object body; `None` when there is none (blank).
///
/// # Errors
/// 413 over 64 KiB; 415 when a body is not declared `application/json`; `INVALID_JSON` when it
/// is not JSON, has a key twice or is not an object.
pub async fn object(req: &HttpRequest, payload: Payload) -> Result<Option<Json>, ApiError> {
    let bytes = body::read(req, payload).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !declares_json(req) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "The body must be JSON, sent with Content-Type: application/json",
        ));
    }
    match Json::parse(&bytes) {
        Ok(value @ Json::Object(_)) => Ok(Some(value)),
        Ok(_) => Err(ApiError::field(
            ErrorCode::InvalidJson,
            "body",
            "must be a JSON object",
        )),
        Err(e) => Err(ApiError::field(
            ErrorCode::InvalidJson,
            "body",
            format!("is not valid JSON: {}", e.0),
        )),
    }
}

/// Reads the body as a `T`.
///
/// # Errors
/// Those of [`object`]; `INVALID_JSON` when there is no body; `VALIDATION_ERROR` naming every
/// field with a problem.
pub async fn body<T: Deserr<Problems>>(req: &HttpRequest, payload: Payload) -> Result<T, ApiError> {
    let value = object(req, payload).await?.ok_or_else(|| {
        ApiError::field(ErrorCode::InvalidJson, "body", "is required: a JSON object")
    })?;
    typed(value)
}

/// A parsed body as a `T`.
///
/// # Errors
/// `VALIDATION_ERROR` naming every field with a problem.
pub fn typed<T: Deserr<Problems>>(value: Json) -> Result<T, ApiError> {
    deserr::deserialize::<T, Json, Problems>(value)
        .map_err(|p| ApiError::fields(ErrorCode::ValidationError, p.0))
}

/// Reads the query string as a `T`, and returns the parameters as given (for the links to
/// further pages).
///
/// # Errors
/// `INVALID_QUERY` when it cannot be decoded, repeats a parameter, or has any problem.
pub fn query<T: Deserr<Problems>>(
    req: &HttpRequest,
) -> Result<(T, Vec<(String, String)>), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::field(ErrorCode::InvalidQuery, "query", e.to_string()))?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(other, _)| other == k) {
            return Err(ApiError::field(
                ErrorCode::InvalidQuery,
                k,
                "is given more than once",
            ));
        }
    }
    let value = Json::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    );
    let parsed = deserr::deserialize::<T, Json, Problems>(value).map_err(|p| {
        let details =
            p.0.into_iter()
                .map(|mut e| {
                    if e.message == "is not a known field" {
                        e.message = "is not a known query parameter".to_owned();
                    }
                    e
                })
                .collect();
        ApiError::fields(ErrorCode::InvalidQuery, details)
    })?;
    Ok((parsed, pairs))
}
