//! The previous Node service's routes (`/billings...`, its real mount point), with its
//! response shapes, for the clients that already call it. They run the same use cases as
//! `/api/billings`; what differs is only what the Node service's clients send and expect:
//! - bodies are read as Node read them: fields the server sets (`billingId`,
//!   `generationDate`, ...) and fields nobody knows are ignored, not refused; `serviceId` and
//!   `totalInvoice` are optional on creation; query strings are ignored;
//! - still refused, on purpose: query operators (`$`-keys) anywhere in a body, and changing a
//!   billing's `billingId` or `userId`;
//! - `GET /billings` is every billing in insertion order, streamed a page at a time, and
//!   `GET /billings/user/:userId` every billing of that `userId`, newest first (`[]` when
//!   there are none);
//! - `GET /billings/:billingId` is `{billing, user}`, the user as it is now (`{}` when gone).

use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::{Bytes, Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use billing_domain::{
    BillingEcho, BillingPatch, BillingQuery, BillingService, DocumentId, Limit, NewBilling,
    PageRequest, PaymentChange, Position, Repository, UserId,
};
use futures_util::stream;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::billings::{amount, billing_id, changes, payment, service_id};
use crate::body::{self, Fields, parsed, timestamp};
use crate::error::{ApiError, ErrorCode};
use crate::json::{AddressJson, BillingJson, NumberJson, PhoneJson, ScalarJson, date};
use crate::query::SKIPPED;

/// Billings per page of a streamed list: enough to keep round trips few, small enough that a
/// page in memory is a few hundred KiB however long the list.
const PAGE: u32 = 500;

/// Fields of a Node billing body that the server sets: ignored, as the Node service did.
const SERVER_SET: &[&str] = &[
    "_id",
    "billingId",
    "generationDate",
    "phone",
    "createdAt",
    "updatedAt",
    "__v",
];

/// The first `$`-key (a query operator) anywhere in `v`, if any.
fn operator(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.starts_with('$') {
                Some(here)
            } else {
                operator(v, &here)
            }
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| operator(v, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// A Node body: a JSON object without query operators.
async fn node_body(req: &HttpRequest, payload: Payload) -> Result<Map<String, Value>, ApiError> {
    let map = body::required(body::json(req, payload).await?)?;
    if let Some(field) = operator(&Value::Object(map.clone()), "") {
        return Err(ApiError::field(
            ErrorCode::ValidationError,
            &field,
            "query operators are not accepted in a body",
        ));
    }
    Ok(map)
}

/// `POST /billings`, as the Node service read it.
#[derive(Debug)]
pub struct NodeCreateBilling(pub Map<String, Value>);

impl NodeCreateBilling {
    /// # Errors
    /// `VALIDATION_ERROR` naming every missing or invalid field.
    pub fn try_into_domain(self) -> Result<NewBilling, ApiError> {
        let mut map = self.0;
        for field in SERVER_SET {
            map.remove(*field);
        }
        // The Node service's example body carries the defaults; they mean "not paid".
        if map.get("isPaid") == Some(&Value::Bool(false)) {
            map.remove("isPaid");
        }
        if map.get("paymentDate") == Some(&Value::Null) {
            map.remove("paymentDate");
        }
        let mut f = Fields::new(map);
        let user_id = f.require("userId", parsed(UserId::parse));
        let due_date = f.require("dueDate", timestamp);
        let service_id = f.take_non_null("serviceId", service_id);
        let total_invoice = f.take_non_null("totalInvoice", amount);
        let payment = payment(&mut f);
        if let PaymentChange::EchoOnly { problem, .. } = &payment {
            f.error("paymentDate", problem.clone());
        }
        f.finish_ignoring_unknown()?;
        match (user_id, due_date) {
            (Some(user_id), Some(due_date)) => Ok(NewBilling {
                user_id,
                due_date,
                service_id,
                total_invoice,
                payment,
            }),
            _ => Err(ApiError::new(ErrorCode::ValidationError, "Invalid billing")),
        }
    }
}

/// `PUT /billings/:billingId`, as the Node service read it, except that `billingId` and
/// `userId` cannot change.
#[derive(Debug)]
pub struct NodeUpdateBilling(pub Map<String, Value>);

impl NodeUpdateBilling {
    /// # Errors
    /// `VALIDATION_ERROR` naming every invalid field.
    pub fn try_into_domain(self) -> Result<BillingPatch, ApiError> {
        let mut map = self.0;
        for field in SERVER_SET.iter().filter(|f| **f != "billingId") {
            map.remove(*field);
        }
        let mut f = Fields::new(map);
        let echo = BillingEcho {
            billing_id: f.take_non_null("billingId", parsed(billing_domain::BillingId::parse)),
            user_id: f.take_non_null("userId", parsed(UserId::parse)),
            ..BillingEcho::default()
        };
        let (due_date, service_id, total_invoice) = changes(&mut f);
        let patch = BillingPatch {
            due_date,
            service_id,
            total_invoice,
            payment: payment(&mut f),
            echo,
        };
        f.finish_ignoring_unknown()?;
        Ok(patch)
    }
}

pub async fn create<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let new = NodeCreateBilling(node_body(&req, payload).await?).try_into_domain()?;
    let billing = svc.create_billing(new).await?;
    Ok(HttpResponse::Created().json(BillingJson::from(&billing)))
}

/// The JSON text of `items`, each after a comma but the very first of the list.
fn chunk<T>(
    items: &[T],
    first: bool,
    json: impl Fn(&T) -> Result<Vec<u8>, serde_json::Error>,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(items.len() * 512);
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !first {
            out.push(b',');
        }
        out.extend(json(item)?);
    }
    Ok(out)
}

fn billing_bytes(b: &billing_domain::Billing) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&BillingJson::from(b))
}

enum Scan {
    After(DocumentId, bool),
    Done,
}

/// `GET /billings`: every billing in insertion order, as one JSON array written a page at a
/// time, so that memory stays flat however many there are. The first page is read before the
/// answer starts, so an unreachable store is a 503; a failure later cuts the body short (the
/// client sees an incomplete array, never a complete-looking wrong one).
pub async fn list_all<R: Repository>(
    svc: Data<BillingService<R>>,
) -> Result<HttpResponse, ApiError> {
    let limit = Limit::new(PAGE).unwrap_or_default();
    let first = svc.scan_billings(None, limit).await?;
    if first.skipped > 0 {
        tracing::warn!(
            skipped = first.skipped,
            "GET /billings left out documents that are not billings"
        );
    }
    let mut head = b"[".to_vec();
    head.extend(chunk(&first.items, true, billing_bytes).map_err(internal)?);
    let written = !first.items.is_empty();
    let state = match first.next {
        Some(after) => Scan::After(after, written),
        None => {
            head.push(b']');
            Scan::Done
        }
    };
    let rest = stream::unfold(state, move |state| {
        let svc = svc.clone();
        async move {
            let Scan::After(after, written) = state else {
                return None;
            };
            let page = match svc.scan_billings(Some(after), limit).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(error = %e, "GET /billings failed midway; the body is cut short");
                    return Some((
                        Err(actix_web::error::ErrorServiceUnavailable(e)),
                        Scan::Done,
                    ));
                }
            };
            if page.skipped > 0 {
                tracing::warn!(
                    skipped = page.skipped,
                    "GET /billings left out documents that are not billings"
                );
            }
            let mut bytes = match chunk(&page.items, !written, billing_bytes) {
                Ok(bytes) => bytes,
                Err(e) => {
                    return Some((
                        Err(actix_web::error::ErrorInternalServerError(e)),
                        Scan::Done,
                    ));
                }
            };
            let written = written || !page.items.is_empty();
            let next = match page.next {
                Some(after) => Scan::After(after, written),
                None => {
                    bytes.push(b']');
                    Scan::Done
                }
            };
            Some((Ok::<_, actix_web::Error>(Bytes::from(bytes)), next))
        }
    });
    let body = stream::once(async move { Ok::<_, actix_web::Error>(Bytes::from(head)) });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .streaming(futures_util::StreamExt::chain(body, rest)))
}

fn internal(e: serde_json::Error) -> ApiError {
    tracing::error!(error = %e, "cannot write a billing as JSON");
    ApiError::new(ErrorCode::Internal, "Internal error")
}

/// `GET /billings/user/:userId`: every billing of that `userId`, newest first; `[]` when it has
/// none (or there is no such user).
pub async fn user_billings<R: Repository>(
    svc: Data<BillingService<R>>,
    user_id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Ok(user_id) = UserId::parse(&user_id) else {
        return Ok(HttpResponse::Ok().json(json!([])));
    };
    let mut query = BillingQuery::new(svc.now());
    query.user_id = Some(user_id);
    query.page = PageRequest {
        limit: Limit::new(PAGE).unwrap_or_default(),
        position: Position::First,
    };
    let mut all = Vec::new();
    let mut skipped = 0;
    loop {
        let page = svc.list_billings(&query).await?;
        skipped += page.skipped;
        all.extend(page.items);
        match page.next {
            Some(next) => query.page.position = Position::After(next),
            None => break,
        }
    }
    let mut res = HttpResponse::Ok();
    if skipped > 0 {
        res.insert_header((SKIPPED, skipped.to_string()));
    }
    Ok(res.json(all.iter().map(BillingJson::from).collect::<Vec<_>>()))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeBilling<'a> {
    user_id: &'a str,
    billing_id: &'a str,
    generation_date: String,
    due_date: Option<String>,
    service_id: Option<ScalarJson<'a>>,
    total_invoice: Option<NumberJson>,
    is_paid: bool,
    payment_date: Option<String>,
    phone: PhoneJson<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeUser<'a> {
    user_id: &'a str,
    address: AddressJson<'a>,
    current_phone: PhoneJson<'a>,
    is_active: bool,
}

/// `GET /billings/:billingId`: `{billing, user}` as the Node service answered it.
pub async fn get<R: Repository>(
    svc: Data<BillingService<R>>,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (b, user) = svc.get_billing_with_user(&billing_id(&id)?).await?;
    let billing = NodeBilling {
        user_id: b.user_id.as_str(),
        billing_id: b.billing_id.as_str(),
        generation_date: date(b.generation_date),
        due_date: b.due_date.map(date),
        service_id: b.service_id.as_ref().map(ScalarJson),
        total_invoice: b.total_invoice.map(NumberJson),
        is_paid: b.payment.is_paid,
        payment_date: b.payment.date.map(date),
        phone: (&b.phone).into(),
    };
    let user = user.as_ref().map(|u| NodeUser {
        user_id: u.user_id.as_str(),
        address: (&u.address).into(),
        current_phone: (&u.phone).into(),
        is_active: u.is_active,
    });
    Ok(HttpResponse::Ok().json(json!({
        "billing": billing,
        "user": user.map_or_else(|| json!({}), |u| json!(u)),
    })))
}

pub async fn update<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let id = billing_id(&id)?;
    let patch = NodeUpdateBilling(node_body(&req, payload).await?).try_into_domain()?;
    let billing = svc.update_billing(&id, patch).await?;
    Ok(HttpResponse::Ok().json(BillingJson::from(&billing)))
}

pub async fn delete<R: Repository>(
    svc: Data<BillingService<R>>,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    svc.delete_billing(&billing_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(json!({ "message": "Deleted" })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_operator_anywhere_in_a_body_is_found() {
        assert_eq!(
            operator(&json!({"userId": {"$gt": ""}}), ""),
            Some("userId.$gt".to_owned())
        );
        assert_eq!(
            operator(&json!({"a": [{"b": 1}, {"$where": "1"}]}), ""),
            Some("a[1].$where".to_owned())
        );
        assert_eq!(
            operator(&json!({"userId": "u", "totalInvoice": 5}), ""),
            None
        );
    }

    #[test]
    fn the_node_example_body_creates_an_unpaid_billing() {
        let body = json!({
            "userId": "u-1", "billingId": "bill-1", "generationDate": "2025-10-01T00:00:00",
            "dueDate": "2025-10-15T00:00:00", "isPaid": false, "paymentDate": null,
            "serviceId": "1", "totalInvoice": 125000, "notes": "kept out",
        });
        let Value::Object(map) = body else {
            unreachable!()
        };
        let new = NodeCreateBilling(map).try_into_domain().expect("accepted");
        assert_eq!(new.payment, PaymentChange::Keep);
        assert_eq!(new.user_id.as_str(), "u-1");
        assert!(new.service_id.is_some() && new.total_invoice.is_some());
    }

    #[test]
    fn service_and_amount_are_optional_on_the_node_route() {
        let Value::Object(map) = json!({"userId": "u-1", "dueDate": "2025-10-15"}) else {
            unreachable!()
        };
        let new = NodeCreateBilling(map).try_into_domain().expect("accepted");
        assert_eq!((new.service_id, new.total_invoice), (None, None));
    }
}
