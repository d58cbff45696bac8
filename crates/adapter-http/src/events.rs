//! `POST /api/events`: the Kafka consumer's handler over HTTP, for producers without Kafka and
//! for the embedded default. Same parsing, same validation, same inbox: a message posted twice
//! (or posted and also consumed) takes effect once.

use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use billing_domain::{BillingService, EventOutcome, Repository};
use event_envelope::{EventEnvelope, Message};
use telemetry::{EventSource, Telemetry};

use crate::body;
use crate::error::{ApiError, ErrorCode};
use crate::inbound::json::{Json, NotJson};
use crate::inbound::{self, queries::NoQuery};
use crate::responses::EventResult;

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
    inbound::query::<NoQuery>(&req)?;
    let bytes = body::read(&req, payload).await?;
    if !inbound::declares_json(&req) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "The event must be JSON, sent with Content-Type: application/json",
        ));
    }
    // A key given twice is refused here, as on every body of this API: a proxy that reads the
    // first and this service the last would disagree on what was sent. (From Kafka the last
    // wins, as it did for the Node consumer's JSON.parse: there it is a fact already recorded.)
    if let Err(NotJson(reason)) = Json::parse(&bytes) {
        return Err(ApiError::field(
            ErrorCode::InvalidEvent,
            "body",
            format!("is not JSON this service reads: {reason}"),
        ));
    }
    let message = EventEnvelope(&bytes).try_into_domain().map_err(|r| {
        r.0.iter().fold(
            ApiError::new(ErrorCode::InvalidEvent, format!("Invalid event: {r}")),
            |e, problem| {
                let field = if problem.field.is_empty() {
                    "body"
                } else {
                    &problem.field
                };
                e.with_detail(field, problem.reason.clone())
            },
        )
    })?;
    let event = match message {
        Message::Event(event) => event,
        Message::UnknownType { id, event_type } => {
            tracing::info!(event_type, %id, "skipping an event type this service does not handle");
            // Not the type itself: a label per made-up type would grow the metrics without end.
            count(&req, "other", "skipped");
            return Ok(HttpResponse::Ok().json(EventResult {
                outcome: "skipped",
                event_id: id.as_str(),
                event_type: &event_type,
                user_id: None,
                reason: Some("unknown event type".to_owned()),
            }));
        }
    };
    let outcome = svc.apply_event(event.clone()).await?;
    count(&req, event.kind.as_str(), outcome.as_str());
    let result = |reason| EventResult {
        outcome: outcome.as_str(),
        event_id: event.id.as_str(),
        event_type: event.kind.as_str(),
        user_id: Some(event.user_id.as_str()),
        reason,
    };
    match &outcome {
        EventOutcome::Rejected { reason } => Err(ApiError::new(
            ErrorCode::EventRejected,
            format!("Event rejected: {reason}"),
        )
        .with_detail("body", reason.clone())),
        EventOutcome::Skipped { reason } => {
            Ok(HttpResponse::Ok().json(result(Some(reason.clone()))))
        }
        EventOutcome::Applied | EventOutcome::Duplicate => {
            Ok(HttpResponse::Ok().json(result(None)))
        }
    }
}
