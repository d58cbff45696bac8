//! `POST /api/events`: the Kafka consumer's handler over HTTP, for producers without Kafka and
//! for the embedded default. Same parsing, same validation, same inbox: a message posted twice
//! (or posted and also consumed) takes effect once.

use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use billing_domain::{BillingService, EventOutcome, Repository};
use event_envelope::{EventEnvelope, Message};
use serde_json::json;

use telemetry::{EventSource, Telemetry};

use crate::body;
use crate::error::{ApiError, ErrorCode};
use crate::query;

fn count(req: &HttpRequest, event_type: &str, outcome: &'static str) {
    if let Some(telemetry) = req.app_data::<Data<Telemetry>>() {
        telemetry
            .events()
            .handled(EventSource::Http, event_type, outcome);
    }
}

pub async fn post<R: Repository>(
    svc: Data<BillingService<R>>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let bytes = body::read(&req, payload).await?;
    let message = EventEnvelope(&bytes).try_into_domain().map_err(|r| {
        ApiError::new(ErrorCode::InvalidEvent, format!("Invalid event: {r}"))
            .with_detail("body", r.0)
    })?;
    let event = match message {
        Message::Event(event) => event,
        Message::UnknownType { id, event_type } => {
            tracing::info!(event_type, %id, "skipping an event type this service does not handle");
            // Not the type itself: a label per made-up type would grow the metrics without end.
            count(&req, "other", "skipped");
            return Ok(HttpResponse::Ok().json(json!({
                "outcome": "skipped",
                "eventId": id.as_str(),
                "type": event_type,
                "reason": "unknown event type",
            })));
        }
    };
    let outcome = svc.apply_event(event.clone()).await?;
    count(&req, event.kind.as_str(), outcome.as_str());
    let mut body = json!({
        "outcome": outcome.as_str(),
        "eventId": event.id.as_str(),
        "type": event.kind.as_str(),
        "userId": event.user_id.as_str(),
    });
    match outcome {
        EventOutcome::Rejected { reason } => Err(ApiError::new(
            ErrorCode::EventRejected,
            format!("Event rejected: {reason}"),
        )
        .with_detail("body", reason)),
        EventOutcome::Skipped { reason } => {
            body["reason"] = reason.into();
            Ok(HttpResponse::Ok().json(body))
        }
        EventOutcome::Applied | EventOutcome::Duplicate => Ok(HttpResponse::Ok().json(body)),
    }
}
