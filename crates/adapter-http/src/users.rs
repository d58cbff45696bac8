//! `/api/users`.

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use billing_domain::{
    Address, AddressPatch, BillingCursor, BillingQuery, BillingService, Change, CountryCode,
    DocumentId, Email, Name, NewUser, PatchError, Phone, PhoneNumber, PhonePatch, Repository,
    Scalar, ShortText, UserCursor, UserEcho, UserId, UserKey, UserPatch, UserQuery,
};
use serde_json::{Map, Value, json};

use crate::billings::billing_filters;
use crate::body::{self, Fields, Sent, boolean, parsed, recorded, text_field, timestamp, unsigned};
use crate::error::{ApiError, ErrorCode};
use crate::json::{BillingJson, UserJson};
use crate::query::{self, Params, list_response};

/// A text field checked by today's rules; `null` clears it.
fn text(
    f: &mut Fields,
    name: &str,
    parse: fn(&str) -> Result<ShortText, billing_domain::InvalidValue>,
) -> Change<Scalar> {
    f.checked(name, true, text_field(parse), recorded)
}

fn address_patch(fields: &mut Fields) -> AddressPatch {
    let Sent::Value(mut a) = fields.nested("address") else {
        return AddressPatch::default();
    };
    let patch = AddressPatch {
        city: text(&mut a, "city", ShortText::parse),
        country: text(&mut a, "country", ShortText::parse),
        zip_code: text(&mut a, "zipCode", ShortText::parse),
        address: text(&mut a, "address", ShortText::parse),
    };
    fields.absorb(a);
    patch
}

fn phone_number(v: Value) -> Result<Scalar, String> {
    unsigned(&v)
        .ok_or_else(|| "must be a positive integer of at most 15 digits".to_owned())
        .and_then(|n| PhoneNumber::new(n).map_err(|e| e.0))
        .map(Into::into)
}

pub(crate) fn phone_patch(fields: &mut Fields) -> PhonePatch {
    let Sent::Value(mut p) = fields.nested("phone") else {
        return PhonePatch::default();
    };
    let patch = PhonePatch {
        code_number: p.checked(
            "codeNumber",
            false,
            text_field(CountryCode::parse),
            recorded,
        ),
        phone_number: p.checked("phoneNumber", true, phone_number, recorded),
    };
    fields.absorb(p);
    patch
}

fn name(f: &mut Fields) -> Change<Scalar> {
    f.checked("name", true, text_field(Name::parse), recorded)
}

fn email(f: &mut Fields) -> Change<Scalar> {
    f.checked("email", true, text_field(Email::parse), recorded)
}

/// The body of `POST /api/users`.
#[derive(Debug)]
pub struct CreateUserRequest(pub Map<String, Value>);

impl CreateUserRequest {
    /// # Errors
    /// `VALIDATION_ERROR` naming every invalid, unknown or server-set field.
    pub fn try_into_domain(self) -> Result<NewUser, ApiError> {
        let mut f = Fields::new(self.0);
        for server_set in ["_id", "createdAt", "updatedAt", "__v"] {
            f.forbid(server_set);
        }
        let user_id = f.take_non_null("userId", parsed(UserId::parse_new));
        let name = name(&mut f);
        let email = email(&mut f);
        let address = address_patch(&mut f);
        let phone = phone_patch(&mut f);
        let is_active = f.take_non_null("isActive", boolean).unwrap_or(true);
        f.finish()?;
        // A new user has nothing stored to echo: every value must pass today's rules.
        let mut problems = Vec::new();
        let new = NewUser {
            user_id,
            name: name.apply("name", &None, &mut problems),
            email: email.apply("email", &None, &mut problems),
            address: address.apply(&Address::default(), &mut problems),
            phone: phone.apply(
                &Phone::checked(CountryCode::default_code(), None),
                &mut problems,
            ),
            is_active,
        };
        if problems.is_empty() {
            Ok(new)
        } else {
            Err(PatchError::Invalid(problems).into())
        }
    }
}

/// The body of `PUT /api/users/:id`.
#[derive(Debug)]
pub struct UpdateUserRequest(pub Map<String, Value>);

impl UpdateUserRequest {
    /// # Errors
    /// `VALIDATION_ERROR` naming every invalid or unknown field; values today's rules refuse
    /// are checked against the stored user (an unchanged echo passes).
    pub fn try_into_domain(self) -> Result<UserPatch, ApiError> {
        let mut f = Fields::new(self.0);
        let echo = UserEcho {
            id: f.take_non_null("_id", parsed(DocumentId::parse)),
            user_id: f.take_non_null("userId", parsed(UserId::parse)),
            created_at: f.take_non_null("createdAt", timestamp),
        };
        // Echoed from a fetched object; the server sets them anew, so their values do not matter.
        let _ = f.take("updatedAt", timestamp);
        let _ = f.take("__v", |v| {
            unsigned(&v).ok_or_else(|| "must be an integer".to_owned())
        });
        let patch = UserPatch {
            name: name(&mut f),
            email: email(&mut f),
            address: address_patch(&mut f),
            phone: phone_patch(&mut f),
            is_active: f.take_non_null("isActive", boolean),
            echo,
        };
        f.finish()?;
        Ok(patch)
    }
}

pub(crate) fn user_key(raw: &str) -> Result<UserKey, ApiError> {
    UserKey::parse(raw).map_err(|_| ApiError::new(ErrorCode::UserNotFound, "User not found"))
}

pub async fn create<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let map = body::required(body::json(&req, payload).await?)?;
    let new = CreateUserRequest(map).try_into_domain()?;
    let user = svc.create_user(new).await?;
    Ok(HttpResponse::Created().json(UserJson::from(&user)))
}

pub async fn list<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut params = Params::parse(&req)?;
    let is_active = params.bool("isActive");
    let page = params.page(UserCursor::parse);
    let filters = params.finish()?;
    let limit = page.limit;
    let listing = svc.list_users(&UserQuery { is_active, page }).await?;
    Ok(list_response(
        &req,
        &filters,
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
    query::none(&req)?;
    let user = svc.get_user(&user_key(&id)?).await?;
    Ok(HttpResponse::Ok().json(UserJson::from(&user)))
}

pub async fn update<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let key = user_key(&id)?;
    let map = body::required(body::json(&req, payload).await?)?;
    let patch = UpdateUserRequest(map).try_into_domain()?;
    let user = svc.update_user(&key, patch).await?;
    Ok(HttpResponse::Ok().json(UserJson::from(&user)))
}

pub async fn delete<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let deleted = svc.delete_user(&user_key(&id)?).await?;
    Ok(HttpResponse::Ok().json(json!({ "message": "Deleted", "deletedBillings": deleted })))
}

/// `GET /api/users/:id/billings` and the previous service's `GET /api/billings/user/:userId`.
pub async fn billings<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = user_key(&id)?;
    let mut params = Params::parse(&req)?;
    let mut query = BillingQuery::new(svc.now());
    billing_filters(&mut params, &mut query, false);
    query.page = params.page(BillingCursor::parse);
    let filters = params.finish()?;
    let limit = query.page.limit;
    let listing = svc.user_billings(&key, query).await?;
    Ok(list_response(
        &req,
        &filters,
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
