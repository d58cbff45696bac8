//! The small answers (deletions, probes, an event's outcome): one type each, so that what the
//! handlers send and what the document says come from one place.

use serde::Serialize;
use utoipa::ToSchema;

/// `DELETE` of a billing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// Always `Deleted`.
    pub message: &'static str,
}

impl Deleted {
    pub const fn new() -> Self {
        Self { message: "Deleted" }
    }
}

/// `DELETE` of a user: the billings that went with them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDeleted {
    /// Always `Deleted`.
    pub message: &'static str,
    pub deleted_billings: u64,
}

/// `GET /`, kept for the previous service's probes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alive {
    /// Always `true`.
    pub ok: bool,
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not ready`.
    pub status: &'static str,
    /// `ok` or `unreachable`.
    pub storage: &'static str,
    /// Why the store cannot serve, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `disabled`, `connecting`, `joining`, `running`, `degraded` or `stopped`.
    pub consumer: &'static str,
}

/// What applying one event did (`POST /api/events`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventResult<'a> {
    /// `applied`, `duplicate` or `skipped`.
    pub outcome: &'static str,
    pub event_id: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    /// Absent for an event type this service does not handle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
