//! The REST adapter: routes, request DTOs, response bodies, the table from domain errors to
//! HTTP statuses (`error.rs`), and what operators need around them (`ops`: request ids,
//! logs, metrics, auth, timeouts, health). Handlers are generic over the store, so the same
//! routes serve the embedded store and MongoDB.

mod billings;
mod body;
mod docs;
pub mod error;
mod events;
mod inbound;
mod legacy;
mod openapi;
pub mod ops;
mod query;
mod responses;
mod users;
pub mod wire;

use std::future::ready;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_http::HttpService;
use actix_http::error::DispatchError;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, map_config};
use actix_web::dev::{AppConfig, Server, fn_service};
use actix_web::http::header;
use actix_web::middleware::{Condition, NormalizePath, TrailingSlash, from_fn};
use actix_web::rt::net::TcpStream;
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{App, HttpResponse, ResponseError, Route};
use billing_domain::{BillingService, Repository};
use telemetry::Telemetry;

pub use body::MAX_BODY_BYTES;
pub use error::{ApiError, ErrorCode};
pub use openapi::Spec;
pub use ops::{ApiToken, HttpOptions, Probes};

use crate::inbound::bodies::{
    CreateBillingBody, CreateUserBody, NodeCreateBillingBody, NodeUpdateBillingBody, PayBody,
    UpdateBillingBody, UpdateUserBody,
};
use crate::inbound::queries::{
    BillingEventsQuery, GetBillingQuery, ListBillingsQuery, ListUsersQuery, UserBillingsQuery,
};
use crate::legacy::NodeBillingWithUser;
use crate::openapi::document;
use crate::responses::{Alive, Deleted, EventResult, Health, Readiness, UserDeleted};
use event_envelope::BillingEventJson;
use event_envelope::json::{BillingJson, UserJson};

async fn not_found() -> HttpResponse {
    ApiError::new(ErrorCode::NotFound, "No such route").error_response()
}

async fn probe() -> HttpResponse {
    HttpResponse::Ok().json(Alive { ok: true })
}

async fn openapi_json(doc: Data<serde_json::Value>) -> HttpResponse {
    HttpResponse::Ok().json(doc.get_ref())
}

/// One operation: method, path, its OpenAPI entry, the route that serves it, and for a `GET`
/// the `HEAD` route beside it.
type Operation = (&'static str, &'static str, Spec, Route, Option<Route>);

macro_rules! op {
    (get $path:literal, $spec:expr, $handler:expr) => {
        (
            "get",
            $path,
            $spec,
            web::get().to($handler),
            Some(web::head().to($handler)),
        )
    };
    ($method:ident $path:literal, $spec:expr, $handler:expr) => {
        (
            stringify!($method),
            $path,
            $spec,
            web::$method().to($handler),
            None,
        )
    };
}

/// The errors every secured operation may answer with besides its own.
const SECURED: &[u16] = &[401, 403, 503];

fn spec(id: &str, tag: &str, summary: &str, errors: &[u16]) -> Spec {
    let mut all: Vec<u16> = errors.to_vec();
    all.extend_from_slice(SECURED);
    all.sort_unstable();
    all.dedup();
    Spec::new(id, tag, summary).errors(&all)
}

/// Every operation of the service, for a service over store `R`. Routes are registered from
/// this list and the OpenAPI document is built from it, so neither can miss one.
pub fn operations<R: Repository>() -> Vec<Operation> {
    let user_links = |s: Spec| {
        s.link("GetUser", "getUser", &[("id", "userId")])
            .link("UpdateUser", "updateUser", &[("id", "userId")])
            .link("DeleteUser", "deleteUser", &[("id", "userId")])
            .link("UserBillings", "listUserBillings", &[("id", "userId")])
    };
    let billing_links = |s: Spec| {
        s.link("GetBilling", "getBilling", &[("billingId", "billingId")])
            .link(
                "UpdateBilling",
                "updateBilling",
                &[("billingId", "billingId")],
            )
            .link("PayBilling", "payBilling", &[("billingId", "billingId")])
            .link(
                "DeleteBilling",
                "deleteBilling",
                &[("billingId", "billingId")],
            )
    };
    let node_links = |s: Spec| {
        s.link(
            "GetBilling",
            "nodeGetBilling",
            &[("billingId", "billingId")],
        )
        .link(
            "UpdateBilling",
            "nodeUpdateBilling",
            &[("billingId", "billingId")],
        )
        .link(
            "DeleteBilling",
            "nodeDeleteBilling",
            &[("billingId", "billingId")],
        )
        .link("UserBillings", "nodeUserBillings", &[("userId", "userId")])
    };
    vec![
        op!(get "/", Spec::new("probe", "operations", "Liveness probe kept for the previous service's clients").open().ok::<Alive>(200), probe),
        op!(get "/healthz", Spec::new("healthz", "operations", "Alive").open().ok::<Health>(200), ops::healthz),
        op!(get "/readyz", Spec::new("readyz", "operations", "Ready: the store can serve; the consumer's state").open().ok::<Readiness>(200).errors(&[503]), ops::readyz),
        op!(get "/metrics", Spec::new("metrics", "operations", "Prometheus metrics (text format)").open().raw(&["text/plain"]), ops::metrics),
        op!(get "/openapi.json", Spec::new("openapi", "operations", "This document").open().any_object(), openapi_json),
        op!(get "/docs", Spec::new("docs", "operations", "The API explorer (Swagger UI)").open().raw(&["text/html"]), docs::index),
        op!(get "/docs/{file}", Spec::new("docsFile", "operations", "A file of the API explorer").open().example("file", "swagger-ui.css").raw(docs::FILE_MEDIA_TYPES).errors(&[404]), docs::asset),
        op!(get "/api/users", spec("listUsers", "users", "List users in creation order", &[400]).query::<ListUsersQuery>().list::<UserJson>(), users::list::<R>),
        op!(post "/api/users", user_links(spec("createUser", "users", "Create a user (userId generated when absent)", &[400, 409, 413, 415]).body::<CreateUserBody>(true).ok::<UserJson>(201)), users::create::<R>),
        op!(get "/api/users/{id}", spec("getUser", "users", "A user, by userId or _id", &[400, 404]).ok::<UserJson>(200), users::get::<R>),
        op!(put "/api/users/{id}", spec("updateUser", "users", "Partial update; address and phone merge field by field", &[400, 404, 409, 413, 415]).body::<UpdateUserBody>(true).ok::<UserJson>(200), users::update::<R>),
        op!(delete "/api/users/{id}", spec("deleteUser", "users", "Delete a user and all their billings", &[400, 404]).ok::<UserDeleted>(200), users::delete::<R>),
        op!(get "/api/users/{id}/billings", spec("listUserBillings", "users", "A user's billings, newest first", &[400, 404]).query::<UserBillingsQuery>().list::<BillingJson>(), users::billings::<R>),
        op!(get "/api/billings", spec("listBillings", "billings", "List billings, newest first", &[400]).query::<ListBillingsQuery>().list::<BillingJson>(), billings::list::<R>),
        op!(post "/api/billings", billing_links(spec("createBilling", "billings", "Create a billing for an existing, active user", &[400, 404, 409, 413, 415]).paid_body::<CreateBillingBody>(true).ok::<BillingJson>(201)), billings::create::<R>),
        op!(get "/api/billings/user/{userId}", spec("listUserBillingsLegacy", "billings", "A user's billings (the previous service's path under /api)", &[400, 404]).query::<UserBillingsQuery>().list::<BillingJson>(), users::billings::<R>),
        op!(get "/api/billings/{billingId}", spec("getBilling", "billings", "A billing; ?expand=user embeds its user", &[400, 404]).query::<GetBillingQuery>().ok::<BillingJson>(200), billings::get::<R>),
        op!(put "/api/billings/{billingId}", spec("updateBilling", "billings", "Partial update", &[400, 404, 409, 413, 415]).paid_body::<UpdateBillingBody>(true).ok::<BillingJson>(200), billings::update::<R>),
        op!(delete "/api/billings/{billingId}", spec("deleteBilling", "billings", "Delete a billing", &[400, 404]).ok::<Deleted>(200), billings::delete::<R>),
        op!(get "/api/billings/{billingId}/events", spec("listBillingEvents", "billings", "A billing's events, oldest first (a deleted billing's too): its history, as published", &[400, 404]).query::<BillingEventsQuery>().list::<BillingEventJson>(), billings::events::<R>),
        op!(post "/api/billings/{billingId}/pay", spec("payBilling", "billings", "Mark paid (a paid billing is returned unchanged)", &[400, 404, 413, 415]).body::<PayBody>(false).ok::<BillingJson>(200), billings::pay::<R>),
        op!(post "/api/events", spec("postEvent", "events", "Apply one customer event, as the Kafka consumer does", &[400, 409, 413, 415]).body::<event_envelope::EventBody>(true).ok::<EventResult>(200), events::post::<R>),
        op!(get "/billings", spec("nodeListBillings", "node", "Every billing in insertion order (the previous service's route; streamed)", &[]).list::<BillingJson>(), legacy::list_all::<R>),
        op!(post "/billings", node_links(spec("nodeCreateBilling", "node", "Create a billing as the previous service did (server-set and unknown fields ignored)", &[400, 404, 409, 413, 415]).node_body::<NodeCreateBillingBody>().ok::<BillingJson>(201)), legacy::create::<R>),
        op!(get "/billings/user/{userId}", spec("nodeUserBillings", "node", "Every billing of a userId, newest first; [] when none", &[]).list::<BillingJson>(), legacy::user_billings::<R>),
        op!(get "/billings/{billingId}", spec("nodeGetBilling", "node", "A billing and its user now, in the previous service's shape", &[404]).ok::<NodeBillingWithUser>(200), legacy::get::<R>),
        op!(put "/billings/{billingId}", spec("nodeUpdateBilling", "node", "Partial update (server-set and unknown fields ignored; billingId and userId cannot change)", &[400, 404, 409, 413, 415]).node_body::<NodeUpdateBillingBody>().ok::<BillingJson>(200), legacy::update::<R>),
        op!(delete "/billings/{billingId}", spec("nodeDeleteBilling", "node", "Delete a billing", &[404]).ok::<Deleted>(200), legacy::delete::<R>),
    ]
}

/// The OpenAPI 3.1 document of [`operations`], as served at `/openapi.json`.
pub fn openapi_document<R: Repository>() -> serde_json::Value {
    openapi::to_json(&document(
        operations::<R>()
            .into_iter()
            .map(|(m, p, s, _, _)| (m, p, s))
            .collect(),
    ))
}

/// What a path with another method answers: 405, saying which methods it takes.
fn method_not_allowed(
    allow: &'static str,
) -> impl Fn() -> std::future::Ready<HttpResponse> + Clone {
    move || {
        let mut res = ApiError::new(
            ErrorCode::MethodNotAllowed,
            "Method not allowed on this route",
        )
        .error_response();
        res.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        std::future::ready(res)
    }
}

/// Registers every operation (a `GET` with its `HEAD`); a known path with another method
/// answers 405 with `Allow`.
pub fn routes<R: Repository>(cfg: &mut ServiceConfig) {
    let mut by_path: Vec<(&'static str, Vec<&'static str>, Vec<Route>)> = Vec::new();
    for (method, path, _, route, head) in operations::<R>() {
        let i = match by_path.iter().position(|(p, _, _)| *p == path) {
            Some(i) => i,
            None => {
                by_path.push((path, Vec::new(), Vec::new()));
                by_path.len() - 1
            }
        };
        let (_, methods, routes) = &mut by_path[i];
        methods.push(method);
        routes.push(route);
        if let Some(head) = head {
            methods.push("head");
            routes.push(head);
        }
    }
    for (path, methods, routes) in by_path {
        let allow: &'static str = Box::leak(
            methods
                .iter()
                .map(|m| m.to_uppercase())
                .collect::<Vec<_>>()
                .join(", ")
                .into_boxed_str(),
        );
        let resource = routes
            .into_iter()
            .fold(web::resource(path), |r, route| r.route(route));
        cfg.service(resource.default_service(web::to(method_not_allowed(allow))));
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
    let app = move || {
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
    };
    // What `HttpServer::listen` builds, with one layer more: each connection goes through
    // `wire::Rewriting`, so that the library's own answers carry the documented error body.
    // HTTP/1.1 only, as before (HTTP/2 is not enabled in this build).
    let builder = Server::build();
    let shutdown = builder.graceful_shutdown_signal();
    let local = listener.local_addr()?;
    let server = builder
        .workers(workers)
        .shutdown_timeout(grace.as_secs())
        .disable_signals()
        .listen("billing-http", listener, move || {
            let shutdown = shutdown.clone();
            let http = HttpService::build()
                // Idle keep-alive connections close at once when a graceful shutdown starts.
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(local)
                .h1(map_config(app().into_factory(), |()| AppConfig::default()));
            fn_service(|io: TcpStream| {
                let peer = io.peer_addr().ok();
                ready(Ok::<_, DispatchError>((wire::Rewriting::new(io), peer)))
            })
            .and_then(http)
        })?
        .run();
    Ok(server)
}
