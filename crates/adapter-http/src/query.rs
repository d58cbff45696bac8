//! Query strings: every parameter is known, appears once, and is checked; pagination and the
//! `Link`/`X-Total-Count` headers of lists.

use std::num::NonZeroU32;

use actix_web::http::header::LINK;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use billing_domain::{
    InvalidValue, Limit, Listing, PageRequest, Position, Timestamp, parse_timestamp,
};
use serde::Serialize;

use crate::error::{ApiError, ErrorCode, FieldError};

#[derive(Debug)]
pub struct Params {
    pairs: Vec<(String, String)>,
    /// Filters already read, to carry into the `next` link.
    kept: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl Params {
    /// # Errors
    /// `INVALID_QUERY` when the query string cannot be decoded or repeats a parameter.
    pub fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
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
        Ok(Self {
            pairs,
            kept: Vec::new(),
            errors: Vec::new(),
        })
    }

    fn raw(&mut self, name: &str) -> Option<String> {
        let i = self.pairs.iter().position(|(k, _)| k == name)?;
        Some(self.pairs.remove(i).1)
    }

    pub fn get<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    ) -> Option<T> {
        let raw = self.raw(name)?;
        match parse(&raw) {
            Ok(v) => {
                self.kept.push((name.to_owned(), raw));
                Some(v)
            }
            Err(e) => {
                self.errors.push(FieldError::new(name, e.0));
                None
            }
        }
    }

    pub fn bool(&mut self, name: &str) -> Option<bool> {
        self.get(name, |s| match s {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(InvalidValue("must be true or false".into())),
        })
    }

    pub fn timestamp(&mut self, name: &str) -> Option<Timestamp> {
        self.get(name, parse_timestamp)
    }

    /// `limit` with either `page` or `after`.
    pub fn page<C>(
        &mut self,
        cursor: impl FnOnce(&str) -> Result<C, InvalidValue>,
    ) -> PageRequest<C> {
        let limit = self.raw("limit").map(|raw| {
            raw.parse::<u32>()
                .map_err(|_| InvalidValue("must be an integer from 1 to 500".into()))
                .and_then(Limit::new)
        });
        let limit = match limit {
            None => Limit::default(),
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                self.errors.push(FieldError::new("limit", e.0));
                Limit::default()
            }
        };
        let page = self.raw("page");
        let after = self.raw("after");
        let position = match (page, after) {
            (Some(_), Some(_)) => {
                self.errors
                    .push(FieldError::new("after", "cannot be combined with page"));
                Position::Page(NonZeroU32::MIN)
            }
            (Some(p), None) => match p.parse::<NonZeroU32>() {
                Ok(p) => Position::Page(p),
                Err(_) => {
                    self.errors
                        .push(FieldError::new("page", "must be a positive integer"));
                    Position::Page(NonZeroU32::MIN)
                }
            },
            (None, Some(a)) => match cursor(&a) {
                Ok(c) => Position::After(c),
                Err(e) => {
                    self.errors.push(FieldError::new("after", e.0));
                    Position::Page(NonZeroU32::MIN)
                }
            },
            (None, None) => Position::First,
        };
        PageRequest { limit, position }
    }

    /// Ends the parse: any parameter not read is unknown.
    ///
    /// # Errors
    /// `INVALID_QUERY` listing every problem.
    pub fn finish(mut self) -> Result<Vec<(String, String)>, ApiError> {
        for (k, _) in self.pairs.drain(..) {
            self.errors
                .push(FieldError::new(k, "is not a known query parameter"));
        }
        if self.errors.is_empty() {
            Ok(self.kept)
        } else {
            Err(ApiError::fields(ErrorCode::InvalidQuery, self.errors))
        }
    }
}

/// For routes that take no query parameters: any is a 400.
///
/// # Errors
/// `INVALID_QUERY` naming the parameters.
pub fn none(req: &HttpRequest) -> Result<(), ApiError> {
    Params::parse(req)?.finish().map(drop)
}

/// Stored documents in a page's range that are not items at all, left out of it.
pub const SKIPPED: &str = "x-skipped-count";

/// The response for one page: a plain JSON array (old clients expect arrays), a
/// `Link: <...>; rel="next"` header when there is a next page, `X-Total-Count` on `page`
/// requests, and `X-Skipped-Count` when stored documents that are not items were left out.
pub fn list_response<T, C>(
    req: &HttpRequest,
    filters: &[(String, String)],
    limit: Limit,
    listing: &Listing<T, C>,
    encode: impl Fn(&C) -> String,
    items: &impl Serialize,
) -> HttpResponse {
    let mut res: HttpResponseBuilder = HttpResponse::Ok();
    if let Some(next) = &listing.next {
        let mut query: Vec<(&str, String)> = filters
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        query.push(("limit", limit.get().to_string()));
        query.push(("after", encode(next)));
        let qs = serde_urlencoded::to_string(&query).unwrap_or_default();
        res.insert_header((LINK, format!("<{}?{qs}>; rel=\"next\"", req.path())));
    }
    if let Some(total) = listing.total {
        res.insert_header(("X-Total-Count", total.to_string()));
    }
    if listing.skipped > 0 {
        res.insert_header((SKIPPED, listing.skipped.to_string()));
    }
    res.json(items)
}
