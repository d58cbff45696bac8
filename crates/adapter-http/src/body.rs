//! Reading a request body, at most 64 KiB of it.

use actix_web::HttpRequest;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::web::{Bytes, BytesMut, Payload};
use futures_util::StreamExt;

use crate::error::{ApiError, ErrorCode};

pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        "The request body is larger than 64 KiB",
    )
}

/// Reads the whole body, refusing more than 64 KiB.
///
/// # Errors
/// 413 over 64 KiB; `INVALID_JSON` when the body cannot be read (a broken chunked encoding,
/// say: what the HTTP library says of it is not for the client).
pub async fn read(req: &HttpRequest, mut payload: Payload) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::debug!(error = %e, "cannot read a request body");
            ApiError::field(
                ErrorCode::InvalidJson,
                "body",
                "could not be read: its framing (length or chunks) is broken",
            )
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
