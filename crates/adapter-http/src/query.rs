//! Pagination: the page a list request asks for, and the `Link`/`X-Total-Count`/
//! `X-Skipped-Count` headers of the answer.

use actix_web::http::header::LINK;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use billing_domain::{Limit, Listing, PageRequest, Position};
use serde::Serialize;

use crate::inbound::values::{PageLimit, PageNumber};

/// Stored documents in a page's range that are not items at all, left out of it.
pub const SKIPPED: &str = "x-skipped-count";

/// The page asked for: `limit` with `page`, `after`, or both (the page-th page after the
/// cursor).
pub fn page<C>(
    limit: Option<PageLimit>,
    page: Option<PageNumber>,
    after: Option<C>,
) -> PageRequest<C> {
    let position = match (page, after) {
        (None, None) => Position::First,
        (Some(p), None) => Position::Page(p.0),
        (None, Some(c)) => Position::After(c),
        (Some(p), Some(c)) => Position::PageAfter(c, p.0),
    };
    PageRequest {
        limit: limit.map_or_else(Limit::default, |l| l.0),
        position,
    }
}

/// The filters of a list request, as given, for the links to its further pages.
pub fn filters(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "limit" | "page" | "after"))
        .collect()
}

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
