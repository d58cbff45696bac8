//! Health, readiness and metrics: how the HTTP layer reports on the rest of the service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::web::Data;
use telemetry::Telemetry;

use crate::responses::{Health, Readiness};

/// Whether the store can serve now; why not, when it cannot.
type Check =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// How the HTTP layer learns about the rest of the service, for readiness.
#[derive(Clone)]
pub struct Probes {
    /// Whether the store can serve now (answers, and is prepared), and why not.
    pub storage: Check,
    /// `disabled`, `connecting`, `joining`, `running`, `degraded` or `stopped`.
    pub consumer: Arc<dyn Fn() -> &'static str + Send + Sync>,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes").finish_non_exhaustive()
    }
}

impl Default for Probes {
    /// A store that always answers and no consumer.
    fn default() -> Self {
        Self {
            storage: Arc::new(|| Box::pin(async { Ok(()) })),
            consumer: Arc::new(|| "disabled"),
        }
    }
}

pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

pub(crate) async fn readyz(probes: Data<Probes>) -> HttpResponse {
    let storage = (probes.storage)().await;
    let consumer = (probes.consumer)();
    // The consumer's state is reported, not required: a degraded consumer keeps retrying, and
    // taking the pod out of service would stop HTTP too.
    match storage {
        Ok(()) => HttpResponse::Ok().json(Readiness {
            status: "ready",
            storage: "ok",
            reason: None,
            consumer,
        }),
        Err(reason) => HttpResponse::ServiceUnavailable().json(Readiness {
            status: "not ready",
            storage: "unreachable",
            reason: Some(reason),
            consumer,
        }),
    }
}

pub(crate) async fn metrics(telemetry: Data<Telemetry>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(telemetry::CONTENT_TYPE)
        .body(telemetry.render())
}
