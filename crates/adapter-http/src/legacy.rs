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
    BillingQuery, BillingService, DocumentId, Limit, PageRequest, Position, Repository, UserId,
};
use futures_util::stream;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::billings::{billing_id, invalid};
use crate::error::{ApiError, ErrorCode};
use crate::inbound::bodies::{NodeCreateBillingBody, NodeUpdateBillingBody};
use crate::inbound::{self, Json};
use crate::query::SKIPPED;
use crate::responses::Deleted;
use event_envelope::json::{AddressJson, BillingJson, NumberJson, PhoneJson, ScalarJson, date};

/// Billings per page of a streamed list: enough to keep round trips few, small enough that a
/// page in memory is a few hundred KiB however long the list.
const PAGE: u32 = 500;

/// A Node body: a JSON object without query operators.
async fn node_body(req: &HttpRequest, payload: Payload) -> Result<Json, ApiError> {
    let value = inbound::object(req, payload).await?.ok_or_else(|| {
        ApiError::field(ErrorCode::InvalidJson, "body", "is required: a JSON object")
    })?;
    if let Some(field) = value.operator_key() {
        return Err(ApiError::field(
            ErrorCode::ValidationError,
            &field,
            "query operators are not accepted in a body",
        ));
    }
    Ok(value)
}

pub async fn create<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let new = inbound::typed::<NodeCreateBillingBody>(node_body(&req, payload).await?)?
        .into_domain()
        .map_err(invalid)?;
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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeBilling<'a> {
    user_id: &'a str,
    billing_id: &'a str,
    #[schema(format = DateTime)]
    generation_date: String,
    #[schema(format = DateTime)]
    due_date: Option<String>,
    service_id: Option<ScalarJson<'a>>,
    total_invoice: Option<NumberJson>,
    is_paid: bool,
    #[schema(format = DateTime)]
    payment_date: Option<String>,
    phone: PhoneJson<'a>,
}

/// The billing's user as it is now; `{}` when the user is gone.
#[derive(Serialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct NodeUser<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<AddressJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_phone: Option<PhoneJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_active: Option<bool>,
}

/// `GET /billings/:billingId`, as the previous service answered it.
#[derive(Serialize, ToSchema)]
#[schema(as = NodeBillingWithUser)]
pub struct NodeBillingWithUser<'a> {
    billing: NodeBilling<'a>,
    user: NodeUser<'a>,
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
    let user = user.as_ref().map_or_else(NodeUser::default, |u| NodeUser {
        user_id: Some(u.user_id.as_str()),
        address: Some((&u.address).into()),
        current_phone: Some((&u.phone).into()),
        is_active: Some(u.is_active),
    });
    Ok(HttpResponse::Ok().json(NodeBillingWithUser { billing, user }))
}

pub async fn update<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let id = billing_id(&id)?;
    let patch = inbound::typed::<NodeUpdateBillingBody>(node_body(&req, payload).await?)?
        .into_domain()
        .map_err(invalid)?;
    let billing = svc.update_billing(&id, patch).await?;
    Ok(HttpResponse::Ok().json(BillingJson::from(&billing)))
}

pub async fn delete<R: Repository>(
    svc: Data<BillingService<R>>,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    svc.delete_billing(&billing_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(Deleted::new()))
}

#[cfg(test)]
mod tests {
    use billing_domain::PaymentChange;

    use super::*;

    fn body(raw: &str) -> Json {
        Json::parse(raw.as_bytes()).expect("json")
    }

    #[test]
    fn the_node_example_body_creates_an_unpaid_billing() {
        let new = inbound::typed::<NodeCreateBillingBody>(body(
            r#"{"userId": "u-1", "billingId": "bill-1", "generationDate": "2025-10-01T00:00:00",
            "dueDate": "2025-10-15T00:00:00", "isPaid": false, "paymentDate": null,
            "serviceId": "1", "totalInvoice": 125000, "notes": "kept out"}"#,
        ))
        .expect("accepted")
        .into_domain()
        .expect("valid");
        assert_eq!(new.payment, PaymentChange::Unpay);
        assert_eq!(new.user_id.as_str(), "u-1");
        assert!(new.service_id.is_some() && new.total_invoice.is_some());
    }

    #[test]
    fn service_and_amount_are_optional_on_the_node_route() {
        let new = inbound::typed::<NodeCreateBillingBody>(body(
            r#"{"userId": "u-1", "dueDate": "2025-10-15"}"#,
        ))
        .expect("accepted")
        .into_domain()
        .expect("valid");
        assert_eq!((new.service_id, new.total_invoice), (None, None));
    }
}
