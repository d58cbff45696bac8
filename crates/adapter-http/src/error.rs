//! The one place where errors become HTTP responses.
//!
//! Every error the API returns has a machine-readable `code` from [`ErrorCode`], whose status is
//! fixed by the table in [`ErrorCode::status`]; a human `error` sentence; and, for problems with
//! a particular field or query parameter, `details` naming it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use billing_domain::{
    CreateBillingError, CreateUserError, DeleteBillingError, DeleteUserError, GetBillingError,
    GetUserError, ImmutableField, StorageError, UpdateBillingError, UpdateUserError,
};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidJson,
    ValidationError,
    InvalidQuery,
    ImmutableField,
    InvalidEvent,
    EventRejected,
    UserInactive,
    UserNotFound,
    BillingNotFound,
    NotFound,
    MethodNotAllowed,
    UserIdTaken,
    BillingIdTaken,
    PayloadTooLarge,
    Unauthorized,
    Forbidden,
    RequestTimeout,
    StorageUnavailable,
    Internal,
}

impl ErrorCode {
    /// The table.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::InvalidJson
            | Self::ValidationError
            | Self::InvalidQuery
            | Self::ImmutableField
            | Self::InvalidEvent
            | Self::UserInactive => StatusCode::BAD_REQUEST,
            Self::UserNotFound | Self::BillingNotFound | Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UserIdTaken | Self::BillingIdTaken | Self::EventRejected => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::RequestTimeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "INVALID_JSON",
            Self::ValidationError => "VALIDATION_ERROR",
            Self::InvalidQuery => "INVALID_QUERY",
            Self::ImmutableField => "IMMUTABLE_FIELD",
            Self::InvalidEvent => "INVALID_EVENT",
            Self::EventRejected => "EVENT_REJECTED",
            Self::UserInactive => "USER_INACTIVE",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::BillingNotFound => "BILLING_NOT_FOUND",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::UserIdTaken => "USER_ID_TAKEN",
            Self::BillingIdTaken => "BILLING_ID_TAKEN",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden => "FORBIDDEN",
            Self::RequestTimeout => "REQUEST_TIMEOUT",
            Self::StorageUnavailable => "STORAGE_UNAVAILABLE",
            Self::Internal => "INTERNAL_ERROR",
        }
    }
}

/// A problem with one field of the body (`address.city`) or one query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    details: Vec<FieldError>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'static str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    details: &'a [FieldError],
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// One error for a list of field problems; the sentence names the first.
    pub fn fields(code: ErrorCode, details: Vec<FieldError>) -> Self {
        let message = match details.as_slice() {
            [] => "Invalid request".to_owned(),
            [one] => format!("`{}` {}", one.field, one.message),
            [first, rest @ ..] => format!(
                "`{}` {} (and {} more problem{})",
                first.field,
                first.message,
                rest.len(),
                if rest.len() == 1 { "" } else { "s" }
            ),
        };
        Self {
            code,
            message,
            details,
        }
    }

    pub fn field(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        Self::fields(code, vec![FieldError::new(field, message)])
    }

    /// Adds a field problem to an error whose sentence stands on its own.
    #[must_use]
    pub fn with_detail(mut self, field: &str, message: impl Into<String>) -> Self {
        self.details.push(FieldError::new(field, message));
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    fn storage(unavailable: bool, e: &anyhow::Error) -> Self {
        if unavailable {
            tracing::warn!(error = %e, "storage unavailable");
            Self::new(
                ErrorCode::StorageUnavailable,
                "Storage is unavailable; try again shortly",
            )
        } else {
            tracing::error!(error = ?e, "storage failure");
            Self::new(ErrorCode::Internal, "Internal error")
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(ErrorBody {
            error: &self.message,
            code: self.code.as_str(),
            details: &self.details,
        })
    }
}

impl From<ImmutableField> for ApiError {
    fn from(e: ImmutableField) -> Self {
        Self::field(
            ErrorCode::ImmutableField,
            e.field,
            "is set by the server; it may be sent back unchanged, not changed",
        )
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(e) => Self::storage(true, &e),
            StorageError::Unknown(e) => Self::storage(false, &e),
        }
    }
}

const USER_NOT_FOUND: &str = "User not found";
const BILLING_NOT_FOUND: &str = "Billing not found";

impl From<CreateUserError> for ApiError {
    fn from(e: CreateUserError) -> Self {
        match e {
            CreateUserError::Duplicate(id) => Self::field(
                ErrorCode::UserIdTaken,
                "userId",
                format!("`{id}` is already taken"),
            ),
            CreateUserError::Unavailable(e) => Self::storage(true, &e),
            CreateUserError::Unknown(e) => Self::storage(false, &e),
        }
    }
}

impl From<GetUserError> for ApiError {
    fn from(e: GetUserError) -> Self {
        match e {
            GetUserError::NotFound => Self::new(ErrorCode::UserNotFound, USER_NOT_FOUND),
            GetUserError::Unavailable(e) => Self::storage(true, &e),
            GetUserError::Unknown(e) => Self::storage(false, &e),
        }
    }
}

impl From<UpdateUserError> for ApiError {
    fn from(e: UpdateUserError) -> Self {
        match e {
            UpdateUserError::NotFound => Self::new(ErrorCode::UserNotFound, USER_NOT_FOUND),
            UpdateUserError::Immutable(f) => f.into(),
            UpdateUserError::Unavailable(e) => Self::storage(true, &e),
            UpdateUserError::Unknown(e) => Self::storage(false, &e),
        }
    }
}

impl From<DeleteUserError> for ApiError {
    fn from(e: DeleteUserError) -> Self {
        match e {
            DeleteUserError::NotFound => Self::new(ErrorCode::UserNotFound, USER_NOT_FOUND),
            DeleteUserError::Unavailable(e) => Self::storage(true, &e),
            DeleteUserError::Unknown(e) => Self::storage(false, &e),
        }
    }
}

impl From<CreateBillingError> for ApiError {
    fn from(e: CreateBillingError) -> Self {
        match e {
            CreateBillingError::UserNotFound(id) => Self::field(
                ErrorCode::UserNotFound,
                "userId",
                format!("`{id}` is not a known user"),
            ),
            CreateBillingError::UserInactive(id) => Self::field(
                ErrorCode::UserInactive,
                "userId",
                format!("`{id}` is inactive; billings are only created for active users"),
            ),
            CreateBillingError::Duplicate(id) => Self::field(
                ErrorCode::BillingIdTaken,
                "billingId",
                format!("`{id}` is already taken; the billingId counter is behind the data"),
            ),
            CreateBillingError::Unavailable(e) => Self::storage(true, &e),
            CreateBillingError::Unknown(e) => Self::storage(false, &e),
        }
    }
}

impl From<GetBillingError> for ApiError {
    fn from(e: GetBillingError) -> Self {
        match e {
            GetBillingError::NotFound => Self::new(ErrorCode::BillingNotFound, BILLING_NOT_FOUND),
            GetBillingError::Unavailable(e) => Self::storage(true, &e),
            GetBillingError::Unknown(e) => Self::storage(false, &e),
        }
    }
}

impl From<UpdateBillingError> for ApiError {
    fn from(e: UpdateBillingError) -> Self {
        match e {
            UpdateBillingError::NotFound => {
                Self::new(ErrorCode::BillingNotFound, BILLING_NOT_FOUND)
            }
            UpdateBillingError::Immutable(f) => f.into(),
            UpdateBillingError::Unavailable(e) => Self::storage(true, &e),
            UpdateBillingError::Unknown(e) => Self::storage(false, &e),
        }
    }
}

impl From<DeleteBillingError> for ApiError {
    fn from(e: DeleteBillingError) -> Self {
        match e {
            DeleteBillingError::NotFound => {
                Self::new(ErrorCode::BillingNotFound, BILLING_NOT_FOUND)
            }
            DeleteBillingError::Unavailable(e) => Self::storage(true, &e),
            DeleteBillingError::Unknown(e) => Self::storage(false, &e),
        }
    }
}
