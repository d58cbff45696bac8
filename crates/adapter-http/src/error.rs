//! The one place where errors become HTTP responses.
//!
//! Every error the API returns has a machine-readable `code` from [`ErrorCode`], whose status and
//! meaning are fixed by its one row in the `error_codes!` table; a human `error` sentence; and,
//! for problems with a particular field or query parameter, `details` naming it. A 503 says
//! when to retry (`Retry-After`).

use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{HttpResponse, ResponseError};
use billing_domain::{
    CreateBillingError, CreateUserError, DeleteBillingError, DeleteUserError, FieldProblem,
    GetBillingError, GetUserError, ImmutableField, PatchError, StorageError, UpdateBillingError,
    UpdateUserError,
};
use serde::Serialize;

/// Declares [`ErrorCode`] from one table: each row is a code's variant, status, machine-readable
/// name and meaning, so that nothing about a code is written twice.
macro_rules! error_codes {
    ($($variant:ident => $status:ident, $name:literal, $meaning:literal;)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($variant),+
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status),+
                }
            }

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }

            /// When the code is given, as the README's table says it.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Self::$variant => $meaning),+
                }
            }
        }
    };
}

error_codes! {
    InvalidJson => BAD_REQUEST, "INVALID_JSON", "the body is not a JSON object";
    ValidationError => BAD_REQUEST, "VALIDATION_ERROR", "missing, mistyped, out-of-range, unknown or server-set fields (each in `details`)";
    InvalidQuery => BAD_REQUEST, "INVALID_QUERY", "unknown, repeated or invalid query parameters";
    ImmutableField => CONFLICT, "IMMUTABLE_FIELD", "an update changes a server-set field (other than the stored one)";
    InvalidEvent => BAD_REQUEST, "INVALID_EVENT", "an event that cannot be used: not JSON, no type, no payload or no `userId`";
    UserInactive => CONFLICT, "USER_INACTIVE", "a billing for a suspended user";
    Unauthorized => UNAUTHORIZED, "UNAUTHORIZED", "no valid bearer token (with `API_TOKENS` set)";
    Forbidden => FORBIDDEN, "FORBIDDEN", "a write with a read-only token";
    UserNotFound => NOT_FOUND, "USER_NOT_FOUND", "unknown user";
    BillingNotFound => NOT_FOUND, "BILLING_NOT_FOUND", "unknown billing";
    NotFound => NOT_FOUND, "NOT_FOUND", "unknown route";
    MethodNotAllowed => METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "a known route with another method";
    UserIdTaken => CONFLICT, "USER_ID_TAKEN", "`userId` already exists";
    BillingIdTaken => CONFLICT, "BILLING_ID_TAKEN", "the sequence is behind the stored data (after a bad restore)";
    EventRejected => CONFLICT, "EVENT_REJECTED", "the store refuses an event's effect (a `billingId` already taken)";
    MalformedRequest => BAD_REQUEST, "MALFORMED_REQUEST", "not valid HTTP/1.1 (request line, a header, length or chunk framing): answered before routing";
    HeadersTooLarge => REQUEST_HEADER_FIELDS_TOO_LARGE, "HEADERS_TOO_LARGE", "a request line and headers past the server's limit";
    HeadTimeout => REQUEST_TIMEOUT, "REQUEST_HEAD_TIMEOUT", "a request line and headers that did not arrive in time";
    PayloadTooLarge => PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "a body over 64 KiB";
    UnsupportedMediaType => UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", "a body not sent as `application/json`";
    RequestTimeout => SERVICE_UNAVAILABLE, "REQUEST_TIMEOUT", "the request took longer than `REQUEST_TIMEOUT_SECONDS`";
    StorageUnavailable => SERVICE_UNAVAILABLE, "STORAGE_UNAVAILABLE", "the store cannot be reached; retry";
    Internal => INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "any other storage failure";
}

/// How long a client should wait before retrying a 503, in seconds.
const RETRY_AFTER_SECONDS: u32 = 5;

/// A problem with one field of the body (`address.city`) or one query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

/// Every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    /// A sentence for people.
    error: &'a str,
    /// The machine-readable code (the README's table).
    code: &'static str,
    /// The fields or query parameters with a problem, when there are.
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

    /// The error's body, as JSON bytes.
    pub fn body_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body()).unwrap_or_default()
    }

    fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: &self.message,
            code: self.code.as_str(),
            details: &self.details,
        }
    }

    fn storage(e: &StorageError) -> Self {
        match e {
            StorageError::Unavailable(e) => {
                tracing::warn!(error = %e, "storage unavailable");
                Self::new(
                    ErrorCode::StorageUnavailable,
                    "Storage is unavailable; try again shortly",
                )
            }
            StorageError::Unknown(e) => {
                tracing::error!(error = ?e, "storage failure");
                Self::new(ErrorCode::Internal, "Internal error")
            }
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
        let mut res = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            res.insert_header((RETRY_AFTER, RETRY_AFTER_SECONDS));
        }
        res.json(self.body())
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

impl From<PatchError> for ApiError {
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::Immutable(f) => f.into(),
            PatchError::Invalid(problems) => Self::fields(
                ErrorCode::ValidationError,
                problems
                    .into_iter()
                    .map(|FieldProblem { field, message }| FieldError { field, message })
                    .collect(),
            ),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        Self::storage(&e)
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
            CreateUserError::Storage(e) => e.into(),
        }
    }
}

impl From<GetUserError> for ApiError {
    fn from(e: GetUserError) -> Self {
        match e {
            GetUserError::NotFound => Self::new(ErrorCode::UserNotFound, USER_NOT_FOUND),
            GetUserError::Storage(e) => e.into(),
        }
    }
}

impl From<UpdateUserError> for ApiError {
    fn from(e: UpdateUserError) -> Self {
        match e {
            UpdateUserError::NotFound => Self::new(ErrorCode::UserNotFound, USER_NOT_FOUND),
            UpdateUserError::Patch(p) => p.into(),
            UpdateUserError::Storage(e) => e.into(),
        }
    }
}

impl From<DeleteUserError> for ApiError {
    fn from(e: DeleteUserError) -> Self {
        match e {
            DeleteUserError::NotFound => Self::new(ErrorCode::UserNotFound, USER_NOT_FOUND),
            DeleteUserError::Storage(e) => e.into(),
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
            CreateBillingError::Storage(e) => e.into(),
        }
    }
}

impl From<GetBillingError> for ApiError {
    fn from(e: GetBillingError) -> Self {
        match e {
            GetBillingError::NotFound => Self::new(ErrorCode::BillingNotFound, BILLING_NOT_FOUND),
            GetBillingError::Storage(e) => e.into(),
        }
    }
}

impl From<UpdateBillingError> for ApiError {
    fn from(e: UpdateBillingError) -> Self {
        match e {
            UpdateBillingError::NotFound => {
                Self::new(ErrorCode::BillingNotFound, BILLING_NOT_FOUND)
            }
            UpdateBillingError::Patch(p) => p.into(),
            UpdateBillingError::Storage(e) => e.into(),
        }
    }
}

impl From<DeleteBillingError> for ApiError {
    fn from(e: DeleteBillingError) -> Self {
        match e {
            DeleteBillingError::NotFound => {
                Self::new(ErrorCode::BillingNotFound, BILLING_NOT_FOUND)
            }
            DeleteBillingError::Storage(e) => e.into(),
        }
    }
}
