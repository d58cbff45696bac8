//! `/api/users`.

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use billing_domain::{
    BillingCursor, BillingQuery, BillingService, Repository, UserCursor, UserKey, UserQuery,
};

use crate::billings::user_billing_query;
use crate::error::{ApiError, ErrorCode};
use crate::inbound::bodies::{CreateUserBody, UpdateUserBody};
use crate::inbound::queries::{ListUsersQuery, NoQuery, UserBillingsQuery};
use crate::inbound::{self, Problems};
use crate::query::{filters, list_response, page};
use crate::responses::UserDeleted;
use event_envelope::json::{BillingJson, UserJson};

pub(crate) fn user_key(raw: &str) -> Result<UserKey, ApiError> {
    UserKey::parse(raw).map_err(|_| ApiError::new(ErrorCode::UserNotFound, "User not found"))
}

fn invalid(p: Problems) -> ApiError {
    ApiError::fields(ErrorCode::ValidationError, p.0)
}

pub async fn create<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    inbound::query::<NoQuery>(&req)?;
    let new = inbound::body::<CreateUserBody>(&req, payload)
        .await?
        .into_domain()
        .map_err(invalid)?;
    let user = svc.create_user(new).await?;
    Ok(HttpResponse::Created().json(UserJson::from(&user)))
}

pub async fn list<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (q, pairs) = inbound::query::<ListUsersQuery>(&req)?;
    let page = page(q.limit, q.page, q.after.map(|a| a.0));
    let limit = page.limit;
    let query = UserQuery {
        is_active: q.is_active.map(|f| f.0),
        page,
    };
    let listing = svc.list_users(&query).await?;
    Ok(list_response(
        &req,
        &filters(pairs),
        limit,
        &listing,
        UserCursor::encode,
        &listing.items.iter().map(UserJson::from).collect::<Vec<_>>(),
    ))
}

pub async fn get<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    inbound::query::<NoQuery>(&req)?;
    let user = svc.get_user(&user_key(&id)?).await?;
    Ok(HttpResponse::Ok().json(UserJson::from(&user)))
}

pub async fn update<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    inbound::query::<NoQuery>(&req)?;
    let key = user_key(&id)?;
    let patch = inbound::body::<UpdateUserBody>(&req, payload)
        .await?
        .into_domain();
    let user = svc.update_user(&key, patch).await?;
    Ok(HttpResponse::Ok().json(UserJson::from(&user)))
}

pub async fn delete<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    inbound::query::<NoQuery>(&req)?;
    let deleted = svc.delete_user(&user_key(&id)?).await?;
    Ok(HttpResponse::Ok().json(UserDeleted {
        message: "Deleted",
        deleted_billings: deleted,
    }))
}

/// `GET /api/users/:id/billings` and the previous service's `GET /api/billings/user/:userId`.
pub async fn billings<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = user_key(&id)?;
    let (q, pairs) = inbound::query::<UserBillingsQuery>(&req)?;
    let query: BillingQuery = user_billing_query(q, svc.now())?;
    let limit = query.page.limit;
    let listing = svc.user_billings(&key, query).await?;
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
