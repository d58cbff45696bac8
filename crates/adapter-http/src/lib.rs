//! The REST adapter: routes, request DTOs, response bodies, and the table from domain errors to
//! HTTP statuses (`error.rs`). Handlers are generic over the store, so the same routes serve the
//! embedded store and MongoDB.

mod billings;
mod body;
pub mod error;
mod events;
mod json;
mod query;
mod users;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{NormalizePath, TrailingSlash};
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{App, HttpResponse, HttpServer, ResponseError};
use billing_domain::{BillingService, Repository};

pub use body::MAX_BODY_BYTES;
pub use error::{ApiError, ErrorCode};

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

/// Every route of the API, for a service over store `R`.
pub fn routes<R: Repository>(cfg: &mut ServiceConfig) {
    let resource = |path: &str| web::resource(path).default_service(web::to(method_not_allowed));
    cfg.service(resource("/").route(web::get().to(probe)))
        .service(
            resource("/api/users")
                .route(web::get().to(users::list::<R>))
                .route(web::post().to(users::create::<R>)),
        )
        .service(
            resource("/api/users/{id}")
                .route(web::get().to(users::get::<R>))
                .route(web::put().to(users::update::<R>))
                .route(web::delete().to(users::delete::<R>)),
        )
        .service(resource("/api/users/{id}/billings").route(web::get().to(users::billings::<R>)))
        .service(
            resource("/api/billings")
                .route(web::get().to(billings::list::<R>))
                .route(web::post().to(billings::create::<R>)),
        )
        .service(resource("/api/billings/user/{userId}").route(web::get().to(users::billings::<R>)))
        .service(
            resource("/api/billings/{billingId}")
                .route(web::get().to(billings::get::<R>))
                .route(web::put().to(billings::update::<R>))
                .route(web::delete().to(billings::delete::<R>)),
        )
        .service(
            resource("/api/billings/{billingId}/pay").route(web::post().to(billings::pay::<R>)),
        )
        .service(resource("/api/events").route(web::post().to(events::post::<R>)));
}

/// Starts serving on `listener` with `workers` threads.
///
/// # Errors
/// When the listener cannot be used.
pub fn server<R: Repository>(
    listener: TcpListener,
    service: Arc<BillingService<R>>,
    workers: usize,
) -> std::io::Result<Server> {
    let data = Data::from(service);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .configure(routes::<R>)
            .default_service(web::to(not_found))
    })
    .workers(workers.max(1))
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
