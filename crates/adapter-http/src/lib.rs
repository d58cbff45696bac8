//! The REST adapter: routes, request DTOs, response bodies, the table from domain errors to
//! HTTP statuses (`error.rs`), and what operators need around them (`ops`: request ids,
//! logs, metrics, auth, timeouts, health). Handlers are generic over the store, so the same
//! routes serve the embedded store and MongoDB.

mod billings;
mod body;
pub mod error;
mod events;
mod json;
mod legacy;
mod openapi;
pub mod ops;
mod query;
mod users;

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{Condition, NormalizePath, TrailingSlash, from_fn};
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{App, HttpResponse, HttpServer, ResponseError, Route};
use billing_domain::{BillingService, Repository};
use telemetry::Telemetry;

pub use body::MAX_BODY_BYTES;
pub use error::{ApiError, ErrorCode};
pub use openapi::Spec;
pub use ops::{ApiToken, HttpOptions, Probes};

use crate::openapi::{DOCS_PAGE, document};

async fn not_found() -> HttpResponse {
    ApiError::new(ErrorCode::NotFound, "No such route").error_response()
}

async fn method_not_allowed() -> HttpResponse {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "Method not allowed on this route",
    )
    .error_response()
}

async fn probe() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "ok": true }))
}

async fn openapi_json(doc: Data<serde_json::Value>) -> HttpResponse {
    HttpResponse::Ok().json(doc.get_ref())
}

async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(DOCS_PAGE)
}

/// One operation: method, path, its OpenAPI description, and the route that serves it.
type Operation = (&'static str, &'static str, Spec, Route);

macro_rules! op {
    ($method:ident $path:literal, $spec:expr, $handler:expr) => {
        (
            stringify!($method),
            $path,
            $spec,
            web::$method().to($handler),
        )
    };
}

/// Every operation of the service, for a service over store `R`. Routes are registered from
/// this list and the OpenAPI document is built from it, so neither can miss one.
pub fn operations<R: Repository>() -> Vec<Operation> {
    use openapi as s;
    vec![
        op!(get "/", s::PROBE, probe),
        op!(get "/healthz", s::HEALTHZ, ops::healthz),
        op!(get "/readyz", s::READYZ, ops::readyz),
        op!(get "/metrics", s::METRICS, ops::metrics),
        op!(get "/openapi.json", s::OPENAPI, openapi_json),
        op!(get "/docs", s::DOCS, docs),
        op!(get "/api/users", s::LIST_USERS, users::list::<R>),
        op!(post "/api/users", s::CREATE_USER, users::create::<R>),
        op!(get "/api/users/{id}", s::GET_USER, users::get::<R>),
        op!(put "/api/users/{id}", s::UPDATE_USER, users::update::<R>),
        op!(delete "/api/users/{id}", s::DELETE_USER, users::delete::<R>),
        op!(get "/api/users/{id}/billings", s::USER_BILLINGS, users::billings::<R>),
        op!(get "/api/billings", s::LIST_BILLINGS, billings::list::<R>),
        op!(post "/api/billings", s::CREATE_BILLING, billings::create::<R>),
        op!(get "/api/billings/user/{userId}", s::LEGACY_USER_BILLINGS, users::billings::<R>),
        op!(get "/api/billings/{billingId}", s::GET_BILLING, billings::get::<R>),
        op!(put "/api/billings/{billingId}", s::UPDATE_BILLING, billings::update::<R>),
        op!(delete "/api/billings/{billingId}", s::DELETE_BILLING, billings::delete::<R>),
        op!(post "/api/billings/{billingId}/pay", s::PAY_BILLING, billings::pay::<R>),
        op!(post "/api/events", s::POST_EVENT, events::post::<R>),
        op!(get "/billings", s::NODE_LIST_BILLINGS, legacy::list_all::<R>),
        op!(post "/billings", s::NODE_CREATE_BILLING, legacy::create::<R>),
        op!(get "/billings/user/{userId}", s::NODE_USER_BILLINGS, legacy::user_billings::<R>),
        op!(get "/billings/{billingId}", s::NODE_GET_BILLING, legacy::get::<R>),
        op!(put "/billings/{billingId}", s::NODE_UPDATE_BILLING, legacy::update::<R>),
        op!(delete "/billings/{billingId}", s::NODE_DELETE_BILLING, legacy::delete::<R>),
    ]
}

/// The OpenAPI 3.1 document of [`operations`].
pub fn openapi_document<R: Repository>() -> serde_json::Value {
    let ops: Vec<_> = operations::<R>()
        .into_iter()
        .map(|(m, p, s, _)| (m, p, s))
        .collect();
    document(&ops)
}

/// Registers every operation; a known path with another method answers 405.
pub fn routes<R: Repository>(cfg: &mut ServiceConfig) {
    let mut by_path: Vec<(&'static str, Vec<Route>)> = Vec::new();
    for (_, path, _, route) in operations::<R>() {
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, routes)) => routes.push(route),
            None => by_path.push((path, vec![route])),
        }
    }
    for (path, routes) in by_path {
        let resource = routes
            .into_iter()
            .fold(web::resource(path), |r, route| r.route(route));
        cfg.service(resource.default_service(web::to(method_not_allowed)));
    }
}

fn cors(origins: &[String]) -> Cors {
    let cors = Cors::default()
        .allow_any_method()
        .allow_any_header()
        .expose_headers([
            header::LINK,
            header::HeaderName::from_static("x-total-count"),
            header::HeaderName::from_static(query::SKIPPED),
            ops::REQUEST_ID,
        ])
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        return cors.allow_any_origin().send_wildcard();
    }
    origins.iter().fold(cors, |c, o| c.allowed_origin(o))
}

/// Starts serving on `listener`; requests and the events posted to it are recorded in
/// `telemetry`, which `/metrics` exposes.
///
/// # Errors
/// When the listener cannot be used.
pub fn server<R: Repository>(
    listener: TcpListener,
    service: Arc<BillingService<R>>,
    options: HttpOptions,
    probes: Probes,
    telemetry: Telemetry,
) -> std::io::Result<Server> {
    let data = Data::from(service);
    let telemetry = Data::new(telemetry);
    let doc = Data::new(openapi_document::<R>());
    let probes = Data::new(probes);
    let workers = options.workers.max(1);
    let grace = options.shutdown_grace;
    let options = Data::new(options);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(telemetry.clone())
            .app_data(doc.clone())
            .app_data(probes.clone())
            .app_data(options.clone())
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .wrap(from_fn(ops::observe))
            .wrap(Condition::new(
                !options.cors_origins.is_empty(),
                cors(&options.cors_origins),
            ))
            .configure(routes::<R>)
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .shutdown_timeout(grace.as_secs())
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
