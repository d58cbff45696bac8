//! The ports: what the domain needs from the outside world. Adapters implement them.

use std::future::Future;

use crate::error::{
    CreateBillingError, CreateUserError, DeleteBillingError, DeleteUserError, StorageError,
    UpdateBillingError, UpdateUserError,
};
use crate::model::{
    Billing, BillingCursor, BillingDraft, BillingEvent, BillingId, BillingPatch, BillingQuery,
    CustomerEvent, DocumentId, Effect, EventOutcome, EventSeq, Limit, Listing, PageRequest,
    Subject, Timestamp, User, UserCursor, UserId, UserKey, UserPatch, UserQuery,
};

/// Where users are kept.
pub trait UserRepository: Send + Sync + 'static {
    /// Stores a new user.
    ///
    /// # Errors
    /// - [`CreateUserError::Duplicate`] when a user with the same `userId` exists.
    /// - `Storage` when storage fails; nothing is stored then.
    fn create_user(&self, user: User)
    -> impl Future<Output = Result<User, CreateUserError>> + Send;

    /// The user named by `key`: by `userId` first, then by `_id`.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails.
    fn find_user(
        &self,
        key: &UserKey,
    ) -> impl Future<Output = Result<Option<User>, StorageError>> + Send;

    /// One page of the users matching `query`, in `_id` order.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails.
    fn list_users(
        &self,
        query: &UserQuery,
    ) -> impl Future<Output = Result<Listing<User, UserCursor>, StorageError>> + Send;

    /// Applies `patch` to the stored user atomically (read, [`UserPatch::apply`], write).
    ///
    /// # Errors
    /// - [`UpdateUserError::NotFound`] when no user matches `key`.
    /// - [`UpdateUserError::Patch`] when the patch echoes a changed server-set value or changes
    ///   a field to a value today's rules refuse; nothing is changed then.
    /// - `Storage` when storage fails; nothing is changed then.
    fn update_user(
        &self,
        key: &UserKey,
        patch: UserPatch,
        now: Timestamp,
    ) -> impl Future<Output = Result<User, UpdateUserError>> + Send;

    /// Removes the user and all their billings, all or nothing, and leaves a tombstone of the
    /// `userId` dated `at` (see [`Subject::deleted_at`]). Returns how many billings went.
    ///
    /// # Errors
    /// - [`DeleteUserError::NotFound`] when no user matches `key`.
    /// - `Storage` when storage fails; nothing is removed then.
    fn delete_user(
        &self,
        key: &UserKey,
        at: Timestamp,
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
    /// - `Storage` when storage fails; nothing is stored then.
    fn create_billing(
        &self,
        draft: BillingDraft,
    ) -> impl Future<Output = Result<Billing, CreateBillingError>> + Send;

    /// The billing with this `billingId`.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails.
    fn find_billing(
        &self,
        id: &BillingId,
    ) -> impl Future<Output = Result<Option<Billing>, StorageError>> + Send;

    /// One page of the billings matching `query`, newest `generationDate` first.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails.
    fn list_billings(
        &self,
        query: &BillingQuery,
    ) -> impl Future<Output = Result<Listing<Billing, BillingCursor>, StorageError>> + Send;

    /// Every billing, in insertion (`_id`) order, one page at a time: the billings after
    /// `after`, at most `limit` of them, and the cursor of the next page.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails.
    fn scan_billings(
        &self,
        after: Option<DocumentId>,
        limit: Limit,
    ) -> impl Future<Output = Result<Listing<Billing, DocumentId>, StorageError>> + Send;

    /// Applies `patch` to the stored billing atomically (read, [`BillingPatch::apply`], write).
    ///
    /// # Errors
    /// - [`UpdateBillingError::NotFound`] when there is no such billing.
    /// - [`UpdateBillingError::Patch`] when the patch echoes a changed server-set value or
    ///   changes a field to a value today's rules refuse; nothing is changed then.
    /// - `Storage` when storage fails; nothing is changed then.
    fn update_billing(
        &self,
        id: &BillingId,
        patch: BillingPatch,
        now: Timestamp,
    ) -> impl Future<Output = Result<Billing, UpdateBillingError>> + Send;

    /// Removes one billing, and records its `Billing.Deleted` dated `at`.
    ///
    /// # Errors
    /// - [`DeleteBillingError::NotFound`] when there is no such billing.
    /// - `Storage` when storage fails.
    fn delete_billing(
        &self,
        id: &BillingId,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), DeleteBillingError>> + Send;
}

/// Where customer events take effect, each exactly once.
pub trait EventRepository: Send + Sync + 'static {
    /// Applies `events` in order. For each: [`EventOutcome::Duplicate`] when its id is in the
    /// inbox; otherwise it reads what it knows of the user the event names (the [`Subject`]:
    /// the user, its tombstone, whether it has billings), carries out `decide(event, subject)`
    /// and records the id in the inbox. An effect the store refuses for the event's own sake
    /// (a `billingId` already taken, say) is reported as [`EventOutcome::Rejected`] (undone
    /// where the store has transactions per event), and the rest of the batch goes on.
    ///
    /// The inbox entry is written atomically with the effect where the store can (SQLite: the
    /// whole batch is one transaction); elsewhere every effect is idempotent and the entry is
    /// written after it, so a redelivery after a crash in between changes nothing.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails. Events before the failing one may have taken
    /// effect (and are then in the inbox): the caller retries the whole batch.
    fn apply_events<D>(
        &self,
        events: Vec<CustomerEvent>,
        decide: D,
    ) -> impl Future<Output = Result<Vec<EventOutcome>, StorageError>> + Send
    where
        D: Fn(&CustomerEvent, &Subject) -> Effect + Send + Sync + 'static;
}

/// The billing events: recorded by the writes of the other ports, in the same transaction as
/// the change they describe (the outbox), each billing's history, and the relay's queue.
///
/// What records which event ([`crate::BillingEventType`] says what each means):
/// - `create_billing`, and an event's initial billing: `Billing.Created`, dated `createdAt`;
/// - `update_billing`: [`crate::BillingEventType::of_update`], dated `now`;
/// - `delete_billing`, `delete_user` and a `Customer.Deleted`: one `Billing.Deleted` per
///   billing removed, with the billing as it was, dated the deletion;
/// - [`Self::record_overdue`] records `Billing.Overdue`.
///
/// Every event carries the billing as the change left it, and a store gives every event a new
/// [`crate::BillingEventId`] and the next [`EventSeq`]. Where the store has transactions, an event
/// is written in the change's own; elsewhere right after it (a crash in between loses it).
pub trait BillingEventRepository: Send + Sync + 'static {
    /// One page of the events of the billing with this `billingId`, oldest first; those of a
    /// deleted billing too, until pruned.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails.
    fn billing_events(
        &self,
        id: &BillingId,
        page: &PageRequest<EventSeq>,
    ) -> impl Future<Output = Result<Listing<BillingEvent, EventSeq>, StorageError>> + Send;

    /// At most `limit` of the events not yet published, in [`EventSeq`] order.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails.
    fn unpublished_events(
        &self,
        limit: Limit,
    ) -> impl Future<Output = Result<Vec<BillingEvent>, StorageError>> + Send;

    /// Marks these events published at `at`; unknown ones are ignored.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails; some may have been marked then.
    fn mark_published(
        &self,
        seqs: &[EventSeq],
        at: Timestamp,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Records `Billing.Overdue`, dated `now`, for at most `limit` of the unpaid billings
    /// whose due date is before `now` and has not had one yet (a billing whose due date moved
    /// has its new date's), oldest due date first; returns how many. Each billing gets it
    /// once per due date however many callers race.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails; some may have been recorded then.
    fn record_overdue(
        &self,
        now: Timestamp,
        limit: Limit,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Removes the events recorded before `before` that are published (all of them, with
    /// `unpublished_too`: when nothing publishes them); returns how many.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails.
    fn prune_events(
        &self,
        before: Timestamp,
        unpublished_too: bool,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Takes or renews the lease `name` for `holder` until `until`, when it is free, expired
    /// at `now`, or `holder`'s already; returns whether `holder` holds it now. A lease lets
    /// one instance of several do a job (relaying) until it stops renewing it.
    ///
    /// # Errors
    /// A [`StorageError`] when storage fails: the caller does not hold the lease then.
    fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
}

/// A store that keeps all of it, so that rules spanning users and billings can be atomic.
pub trait Repository:
    UserRepository + BillingRepository + EventRepository + BillingEventRepository
{
}

impl<T: UserRepository + BillingRepository + EventRepository + BillingEventRepository> Repository
    for T
{
}

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
