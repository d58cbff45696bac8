//! One error type per operation: what can go wrong for that operation's own reasons, plus
//! `Storage` for a store that failed (no fault of the request). Adapters translate their
//! drivers' errors into [`StorageError`]; only the HTTP adapter decides what status code each
//! one gets.

use crate::model::{BillingId, PatchError, UserId};

/// Storage failed for a reason that is no fault of the request.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store cannot be reached, or is busy or full: worth retrying.
    #[error("storage is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else that went wrong in storage.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl StorageError {
    pub const fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("a user with userId `{0}` already exists")]
    Duplicate(UserId),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, thiserror::Error)]
pub enum GetUserError {
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Patch(#[from] PatchError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteUserError {
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, thiserror::Error)]
pub enum CreateBillingError {
    #[error("user `{0}` not found")]
    UserNotFound(UserId),
    #[error("user `{0}` is inactive")]
    UserInactive(UserId),
    #[error("a billing with billingId `{0}` already exists")]
    Duplicate(BillingId),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, thiserror::Error)]
pub enum GetBillingError {
    #[error("billing not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateBillingError {
    #[error("billing not found")]
    NotFound,
    #[error(transparent)]
    Patch(#[from] PatchError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteBillingError {
    #[error("billing not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}
