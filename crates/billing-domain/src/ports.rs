//! The ports: what the domain needs from the outside world. Adapters implement them.

use std::future::Future;

use crate::error::{
    CreateBillingError, CreateUserError, DeleteBillingError, DeleteUserError, StorageError,
    UpdateBillingError, UpdateUserError,
};
use crate::model::{
    Billing, BillingCursor, BillingDraft, BillingId, BillingPatch, BillingQuery, DocumentId,
    Listing, Timestamp, User, UserCursor, UserId, UserKey, UserPatch, UserQuery,
};

/// Where users are kept.
pub trait UserRepository: Send + Sync + 'static {
    /// Stores a new user.
    ///
    /// # Errors
    /// - [`CreateUserError::Duplicate`] when a user with the same `userId` exists.
    /// - `Unavailable`/`Unknown` when storage fails; nothing is stored then.
    fn create_user(&self, user: User)
    -> impl Future<Output = Result<User, CreateUserError>> + Send;

    /// The user named by `key`: by `userId` first, then by `_id`.
    ///
    /// # Errors
    /// `Unavailable`/`Unknown` when storage fails.
    fn find_user(
        &self,
        key: &UserKey,
    ) -> impl Future<Output = Result<Option<User>, StorageError>> + Send;

    /// One page of the users matching `query`, in `_id` order.
    ///
    /// # Errors
    /// `Unavailable`/`Unknown` when storage fails.
    fn list_users(
        &self,
        query: &UserQuery,
    ) -> impl Future<Output = Result<Listing<User, UserCursor>, StorageError>> + Send;

    /// Applies `patch` to the stored user atomically (read, [`UserPatch::apply`], write).
    ///
    /// # Errors
    /// - [`UpdateUserError::NotFound`] when no user matches `key`.
    /// - [`UpdateUserError::Immutable`] when the patch echoes a changed server-set value.
    /// - `Unavailable`/`Unknown` when storage fails; nothing is changed then.
    fn update_user(
        &self,
        key: &UserKey,
        patch: UserPatch,
        now: Timestamp,
    ) -> impl Future<Output = Result<User, UpdateUserError>> + Send;

    /// Removes the user and all their billings, all or nothing. Returns how many billings went.
    ///
    /// # Errors
    /// - [`DeleteUserError::NotFound`] when no user matches `key`.
    /// - `Unavailable`/`Unknown` when storage fails; nothing is removed then.
    fn delete_user(
        &self,
        key: &UserKey,
    ) -> impl Future<Output = Result<u64, DeleteUserError>> + Send;
}

/// Where billings are kept.
pub trait BillingRepository: Send + Sync + 'static {
    /// Stores a billing for an existing, active user, atomically with the checks: it takes the
    /// next number of the `billingId` sequence and copies the user's phone, and refuses when, at
    /// that moment, the user is missing or inactive. A refused or failed creation consumes no
    /// sequence number.
    ///
    /// # Errors
    /// - [`CreateBillingError::UserNotFound`] / [`CreateBillingError::UserInactive`].
    /// - [`CreateBillingError::Duplicate`] when the `billingId` is taken (a sequence behind the
    ///   data, for instance after a restore).
    /// - `Unavailable`/`Unknown` when storage fails; nothing is stored then.
    fn create_billing(
        &self,
        draft: BillingDraft,
    ) -> impl Future<Output = Result<Billing, CreateBillingError>> + Send;

    /// The billing with this `billingId`.
    ///
    /// # Errors
    /// `Unavailable`/`Unknown` when storage fails.
    fn find_billing(
        &self,
        id: &BillingId,
    ) -> impl Future<Output = Result<Option<Billing>, StorageError>> + Send;

    /// One page of the billings matching `query`, newest `generationDate` first.
    ///
    /// # Errors
    /// `Unavailable`/`Unknown` when storage fails.
    fn list_billings(
        &self,
        query: &BillingQuery,
    ) -> impl Future<Output = Result<Listing<Billing, BillingCursor>, StorageError>> + Send;

    /// Applies `patch` to the stored billing atomically (read, [`BillingPatch::apply`], write).
    ///
    /// # Errors
    /// - [`UpdateBillingError::NotFound`] when there is no such billing.
    /// - [`UpdateBillingError::Immutable`] when the patch echoes a changed server-set value.
    /// - `Unavailable`/`Unknown` when storage fails; nothing is changed then.
    fn update_billing(
        &self,
        id: &BillingId,
        patch: BillingPatch,
        now: Timestamp,
    ) -> impl Future<Output = Result<Billing, UpdateBillingError>> + Send;

    /// Removes one billing.
    ///
    /// # Errors
    /// - [`DeleteBillingError::NotFound`] when there is no such billing.
    /// - `Unavailable`/`Unknown` when storage fails.
    fn delete_billing(
        &self,
        id: &BillingId,
    ) -> impl Future<Output = Result<(), DeleteBillingError>> + Send;
}

/// A store that keeps both, so that rules spanning users and billings can be atomic.
pub trait Repository: UserRepository + BillingRepository {}

impl<T: UserRepository + BillingRepository> Repository for T {}

/// The time. A port so that tests can fix it.
pub trait Clock: Send + Sync + 'static {
    /// Now, truncated to milliseconds.
    fn now(&self) -> Timestamp;
}

/// Makes new identities.
pub trait IdGenerator: Send + Sync + 'static {
    /// A new, unique `_id`.
    fn document_id(&self) -> DocumentId;

    /// A `userId` for a user created without one (a UUID v4).
    fn user_id(&self) -> UserId;
}
