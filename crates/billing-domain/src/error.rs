//! One error type per operation. Each ends in `Unavailable` (the store cannot be reached: worth
//! retrying) and `Unknown` (anything else that went wrong in storage). Adapters translate their
//! drivers' errors into these; only the HTTP adapter decides what status code each one gets.

use crate::model::{BillingId, ImmutableField, UserId};

/// Storage failed for a reason that is no fault of the request.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

macro_rules! from_storage_error {
    ($($t:ty),+) => {$(
        impl From<StorageError> for $t {
            fn from(e: StorageError) -> Self {
                match e {
                    StorageError::Unavailable(e) => Self::Unavailable(e),
                    StorageError::Unknown(e) => Self::Unknown(e),
                }
            }
        }
    )+};
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("a user with userId `{0}` already exists")]
    Duplicate(UserId),
    #[error("storage is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum GetUserError {
    #[error("user not found")]
    NotFound,
    #[error("storage is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Immutable(#[from] ImmutableField),
    #[error("storage is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteUserError {
    #[error("user not found")]
    NotFound,
    #[error("storage is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum CreateBillingError {
    #[error("user `{0}` not found")]
    UserNotFound(UserId),
    #[error("user `{0}` is inactive")]
    UserInactive(UserId),
    #[error("a billing with billingId `{0}` already exists")]
    Duplicate(BillingId),
    #[error("storage is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum GetBillingError {
    #[error("billing not found")]
    NotFound,
    #[error("storage is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateBillingError {
    #[error("billing not found")]
    NotFound,
    #[error(transparent)]
    Immutable(#[from] ImmutableField),
    #[error("storage is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteBillingError {
    #[error("billing not found")]
    NotFound,
    #[error("storage is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

from_storage_error!(
    CreateUserError,
    GetUserError,
    UpdateUserError,
    DeleteUserError,
    CreateBillingError,
    GetBillingError,
    UpdateBillingError,
    DeleteBillingError
);
