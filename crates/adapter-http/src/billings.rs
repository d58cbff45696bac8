//! `/api/billings`.

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use billing_domain::{
    BillingCursor, BillingId, BillingQuery, BillingService, EventSeq, Repository, Timestamp,
};

use crate::error::{ApiError, ErrorCode};
use crate::inbound::bodies::{CreateBillingBody, PayBody, UpdateBillingBody};
use crate::inbound::queries::{
    BillingEventsQuery, GetBillingQuery, ListBillingsQuery, NoQuery, UserBillingsQuery,
};
use crate::inbound::{self, Problems};
use crate::query::{filters, list_response, page};
use crate::responses::Deleted;
use event_envelope::BillingEventJson;
use event_envelope::json::BillingJson;

pub(crate) fn billing_id(raw: &str) -> Result<BillingId, ApiError> {
    BillingId::parse(raw)
        .map_err(|_| ApiError::new(ErrorCode::BillingNotFound, "Billing not found"))
}

pub(crate) fn invalid(p: Problems) -> ApiError {
    ApiError::fields(ErrorCode::ValidationError, p.0)
}

/// A user's billings asked for by `q`; the service sets the user.
pub(crate) fn user_billing_query(
    q: UserBillingsQuery,
    now: Timestamp,
) -> Result<BillingQuery, ApiError> {
    let mut query = BillingQuery::new(now);
    query.is_paid = q.is_paid.map(|f| f.0);
    query.overdue = q.overdue.map(|f| f.0);
    query.due_before = q.due_before.map(|d| d.0);
    query.due_after = q.due_after.map(|d| d.0);
    query.page = page(q.limit, q.page, q.after.map(|a| a.0));
    Ok(query)
}

pub async fn create<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    inbound::query::<NoQuery>(&req)?;
    let new = inbound::body::<CreateBillingBody>(&req, payload)
        .await?
        .into_domain()
        .map_err(invalid)?;
    let billing = svc.create_billing(new).await?;
    Ok(HttpResponse::Created().json(BillingJson::from(&billing)))
}

pub async fn list<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (q, pairs) = inbound::query::<ListBillingsQuery>(&req)?;
    let mut query = BillingQuery::new(svc.now());
    query.user_id = q.user_id.map(|u| u.0);
    query.is_paid = q.is_paid.map(|f| f.0);
    query.overdue = q.overdue.map(|f| f.0);
    query.due_before = q.due_before.map(|d| d.0);
    query.due_after = q.due_after.map(|d| d.0);
    query.page = page(q.limit, q.page, q.after.map(|a| a.0));
    let limit = query.page.limit;
    let listing = svc.list_billings(&query).await?;
    Ok(list_response(
        &req,
        &filters(pairs),
        limit,
        &listing,
        BillingCursor::encode,
        &listing
            .items
            .iter()
            .map(BillingJson::from)
            .collect::<Vec<_>>(),
    ))
}

pub async fn get<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (q, _) = inbound::query::<GetBillingQuery>(&req)?;
    let id = billing_id(&id)?;
    if q.expand.is_some() {
        let (billing, user) = svc.get_billing_with_user(&id).await?;
        Ok(HttpResponse::Ok().json(BillingJson::from(&billing).with_user(user.as_ref())))
    } else {
        let billing = svc.get_billing(&id).await?;
        Ok(HttpResponse::Ok().json(BillingJson::from(&billing)))
    }
}

/// A billing's events, oldest first: what the relay publishes, kept as its history.
pub async fn events<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (q, pairs) = inbound::query::<BillingEventsQuery>(&req)?;
    let id = billing_id(&id)?;
    let page = page(q.limit, q.page, q.after.map(|a| a.0));
    let limit = page.limit;
    let listing = svc.billing_events(&id, &page).await?;
    Ok(list_response(
        &req,
        &filters(pairs),
        limit,
        &listing,
        EventSeq::encode,
        &listing
            .items
            .iter()
            .map(BillingEventJson::from)
            .collect::<Vec<_>>(),
    ))
}

pub async fn update<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    inbound::query::<NoQuery>(&req)?;
    let id = billing_id(&id)?;
    let patch = inbound::body::<UpdateBillingBody>(&req, payload)
        .await?
        .into_domain()
        .map_err(invalid)?;
    let billing = svc.update_billing(&id, patch).await?;
    Ok(HttpResponse::Ok().json(BillingJson::from(&billing)))
}

pub async fn pay<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    inbound::query::<NoQuery>(&req)?;
    let id = billing_id(&id)?;
    let date = match inbound::object(&req, payload).await? {
        Some(value) => inbound::typed::<PayBody>(value)?.payment_date.map(|d| d.0),
        None => None,
    };
    let billing = svc.pay_billing(&id, date).await?;
    Ok(HttpResponse::Ok().json(BillingJson::from(&billing)))
}

pub async fn delete<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    inbound::query::<NoQuery>(&req)?;
    svc.delete_billing(&billing_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(Deleted::new()))
}
