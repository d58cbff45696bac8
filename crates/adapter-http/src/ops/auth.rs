//! Bearer-token auth: `API_TOKENS` parsed into tokens with a scope, and the check every request
//! goes through.

use actix_web::dev::ServiceRequest;
use actix_web::http::header;

use crate::error::{ApiError, ErrorCode};
use crate::ops::HttpOptions;

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

fn is_write(method: &actix_web::http::Method) -> bool {
    !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS")
}

/// What stays open when `API_TOKENS` is set. Everything else needs a token: failing closed, so
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
pub(crate) fn authorize(req: &ServiceRequest, options: &HttpOptions) -> Option<ApiError> {
    // The API explorer's files are as open as its page.
    let open = OPEN_PATHS.contains(&req.path()) || req.path().starts_with("/docs/");
    if options.tokens.is_empty() || open {
        return None;
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        // The scheme's name is case-insensitive (RFC 9110, section 11.1).
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
