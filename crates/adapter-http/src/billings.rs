//! `/api/billings`.

use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse};
use billing_domain::{
    Amount, BillingCursor, BillingEcho, BillingId, BillingPatch, BillingQuery, BillingService,
    Change, DocumentId, NewBilling, Number, Payment, PaymentChange, Phone, Repository, Scalar,
    ServiceId, Timestamp, UserId,
};
use serde_json::{Map, Value, json};

use crate::body::{self, Fields, Sent, boolean, number, parsed, recorded, timestamp, unsigned};
use crate::error::{ApiError, ErrorCode};
use crate::json::BillingJson;
use crate::query::{self, Params, list_response};

/// Text of 1-64 printable characters; a number is kept as its decimal text (an integral
/// float without its `.0`).
pub(crate) fn service_id(v: Value) -> Result<Scalar, String> {
    let text = match v {
        Value::String(s) => s,
        Value::Number(_) => number(&v)
            .ok_or_else(|| "must be a finite number".to_owned())?
            .to_string(),
        _ => return Err("must be a string or a number".to_owned()),
    };
    ServiceId::parse(&text).map(Into::into).map_err(|e| e.0)
}

pub(crate) fn amount(v: Value) -> Result<Number, String> {
    let too_big = matches!(&v, Value::Number(n) if n.as_f64().is_some_and(|f| f > 0.0));
    match unsigned(&v) {
        Some(u) => Amount::new(u).map(Into::into).map_err(|e| e.0),
        None if too_big && v.as_f64().is_some_and(|f| f.fract() == 0.0) => {
            Err("must be at most 1000000000000000".to_owned())
        }
        None => Err("must be a non-negative integer in the currency's smallest unit".to_owned()),
    }
}

/// `isPaid` and `paymentDate`, read together so that they cannot disagree; a combination
/// today's rules refuse may still be an echo of the stored one.
pub(crate) fn payment(f: &mut Fields) -> PaymentChange {
    let is_paid = f.take_non_null("isPaid", boolean);
    let date: Option<Option<Timestamp>> = f.take("paymentDate", timestamp).into_patch();
    PaymentChange::from_fields(is_paid, date).unwrap_or_else(|e| PaymentChange::EchoOnly {
        payment: Payment {
            is_paid: is_paid.unwrap_or(false),
            date: date.flatten(),
        },
        problem: e.to_string(),
    })
}

/// The body of `POST /api/billings`.
#[derive(Debug)]
pub struct CreateBillingRequest(pub Map<String, Value>);

impl CreateBillingRequest {
    /// # Errors
    /// `VALIDATION_ERROR` naming every missing, invalid, unknown or server-set field.
    pub fn try_into_domain(self) -> Result<NewBilling, ApiError> {
        let mut f = Fields::new(self.0);
        for server_set in [
            "_id",
            "billingId",
            "generationDate",
            "phone",
            "createdAt",
            "updatedAt",
            "__v",
        ] {
            f.forbid(server_set);
        }
        let user_id = f.require("userId", parsed(UserId::parse));
        let due_date = f.require("dueDate", timestamp);
        let service_id = f.require("serviceId", service_id);
        let total_invoice = f.require("totalInvoice", amount);
        let payment = payment(&mut f);
        if let PaymentChange::EchoOnly { problem, .. } = &payment {
            f.error("paymentDate", problem.clone());
        }
        f.finish()?;
        match (user_id, due_date, service_id, total_invoice) {
            (Some(user_id), Some(due_date), Some(service_id), Some(total_invoice)) => {
                Ok(NewBilling {
                    user_id,
                    due_date,
                    service_id: Some(service_id),
                    total_invoice: Some(total_invoice),
                    payment,
                })
            }
            // `finish` has already reported each missing field.
            _ => Err(ApiError::new(ErrorCode::ValidationError, "Invalid billing")),
        }
    }
}

/// A billing's phone as a client echoes it back: any recorded values, as stored.
pub(crate) fn echoed_phone(v: Value) -> Result<Phone, String> {
    let wrong = || "must be the billing's phone as returned by the server".to_owned();
    let Value::Object(map) = v else {
        return Err(wrong());
    };
    if map.keys().any(|k| k != "codeNumber" && k != "phoneNumber") {
        return Err(wrong());
    }
    let part = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => recorded(v).map(Some).ok_or_else(wrong),
    };
    Ok(Phone {
        code_number: part("codeNumber")?,
        phone_number: part("phoneNumber")?,
    })
}

/// The fields of a billing update that may change, checked by today's rules (a refused value
/// may still be an echo of the stored one).
pub(crate) fn changes(f: &mut Fields) -> (Change<Timestamp>, Change<Scalar>, Change<Number>) {
    (
        f.checked("dueDate", false, timestamp, |_| None),
        f.checked("serviceId", false, service_id, recorded),
        f.checked("totalInvoice", false, amount, number),
    )
}

/// The body of `PUT /api/billings/:billingId`.
#[derive(Debug)]
pub struct UpdateBillingRequest(pub Map<String, Value>);

impl UpdateBillingRequest {
    /// # Errors
    /// `VALIDATION_ERROR` naming every invalid or unknown field.
    pub fn try_into_domain(self) -> Result<BillingPatch, ApiError> {
        let mut f = Fields::new(self.0);
        let echo = BillingEcho {
            id: f.take_non_null("_id", parsed(DocumentId::parse)),
            billing_id: f.take_non_null("billingId", parsed(BillingId::parse)),
            user_id: f.take_non_null("userId", parsed(UserId::parse)),
            generation_date: f.take_non_null("generationDate", timestamp),
            created_at: f.take_non_null("createdAt", timestamp),
            phone: f.take_non_null("phone", echoed_phone),
        };
        // Echoed from a fetched object; the server sets them anew, so their values do not matter.
        let _ = f.take("updatedAt", timestamp);
        let _ = f.take("__v", |v| {
            unsigned(&v).ok_or_else(|| "must be an integer".to_owned())
        });
        let (due_date, service_id, total_invoice) = changes(&mut f);
        let patch = BillingPatch {
            due_date,
            service_id,
            total_invoice,
            payment: payment(&mut f),
            echo,
        };
        f.finish()?;
        Ok(patch)
    }
}

/// The optional body of `POST /api/billings/:billingId/pay`.
#[derive(Debug)]
pub struct PayRequest(pub Option<Map<String, Value>>);

impl PayRequest {
    /// # Errors
    /// `VALIDATION_ERROR` for an invalid `paymentDate` or any other field.
    pub fn try_into_domain(self) -> Result<Option<Timestamp>, ApiError> {
        let Some(map) = self.0 else { return Ok(None) };
        let mut f = Fields::new(map);
        let date = f.take("paymentDate", timestamp);
        f.finish()?;
        Ok(match date {
            Sent::Value(d) => Some(d),
            Sent::Absent | Sent::Null => None,
        })
    }
}

/// Reads the billing list filters into `query`.
pub(crate) fn billing_filters(params: &mut Params, query: &mut BillingQuery, with_user: bool) {
    if with_user {
        query.user_id = params.get("userId", UserId::parse);
    }
    query.is_paid = params.bool("isPaid");
    query.overdue = params.bool("overdue");
    query.due_before = params.timestamp("dueBefore");
    query.due_after = params.timestamp("dueAfter");
}

pub(crate) fn billing_id(raw: &str) -> Result<BillingId, ApiError> {
    BillingId::parse(raw)
        .map_err(|_| ApiError::new(ErrorCode::BillingNotFound, "Billing not found"))
}

pub async fn create<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let map = body::required(body::json(&req, payload).await?)?;
    let new = CreateBillingRequest(map).try_into_domain()?;
    let billing = svc.create_billing(new).await?;
    Ok(HttpResponse::Created().json(BillingJson::from(&billing)))
}

pub async fn list<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut params = Params::parse(&req)?;
    let mut query = BillingQuery::new(svc.now());
    billing_filters(&mut params, &mut query, true);
    query.page = params.page(BillingCursor::parse);
    let filters = params.finish()?;
    let limit = query.page.limit;
    let listing = svc.list_billings(&query).await?;
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

pub async fn get<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut params = Params::parse(&req)?;
    let expand = params.get("expand", |s| match s {
        "user" => Ok(()),
        _ => Err(billing_domain::InvalidValue("must be `user`".into())),
    });
    params.finish()?;
    let id = billing_id(&id)?;
    if expand.is_some() {
        let (billing, user) = svc.get_billing_with_user(&id).await?;
        Ok(HttpResponse::Ok().json(BillingJson::from(&billing).with_user(user.as_ref())))
    } else {
        let billing = svc.get_billing(&id).await?;
        Ok(HttpResponse::Ok().json(BillingJson::from(&billing)))
    }
}

pub async fn update<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let id = billing_id(&id)?;
    let map = body::required(body::json(&req, payload).await?)?;
    let patch = UpdateBillingRequest(map).try_into_domain()?;
    let billing = svc.update_billing(&id, patch).await?;
    Ok(HttpResponse::Ok().json(BillingJson::from(&billing)))
}

pub async fn pay<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let id = billing_id(&id)?;
    let date = PayRequest(body::json(&req, payload).await?).try_into_domain()?;
    let billing = svc.pay_billing(&id, date).await?;
    Ok(HttpResponse::Ok().json(BillingJson::from(&billing)))
}

pub async fn delete<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    svc.delete_billing(&billing_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(json!({ "message": "Deleted" })))
}
