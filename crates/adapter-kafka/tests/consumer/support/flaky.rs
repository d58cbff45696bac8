//! A store that can be taken down: it delegates everything to a real store, except that
//! applying events fails with `StorageError::Unavailable` while its switch is on.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use billing_domain::{
    Billing, BillingCursor, BillingDraft, BillingId, BillingPatch, BillingQuery, BillingRepository,
    CreateBillingError, CreateUserError, CustomerEvent, DeleteBillingError, DeleteUserError,
    DocumentId, Effect, EventOutcome, EventRepository, Limit, Listing, StorageError, Subject,
    Timestamp, UpdateBillingError, UpdateUserError, User, UserCursor, UserKey, UserPatch,
    UserQuery, UserRepository,
};

#[derive(Debug, Clone)]
pub struct FlakyStore<S> {
    inner: S,
    down: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
}

impl<S> FlakyStore<S> {
    /// Up, over `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            down: Arc::new(AtomicBool::new(false)),
            refused: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The switch: while it is on, `apply_events` fails. Shared by clones.
    pub fn outage(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.down)
    }

    /// How many `apply_events` calls the outage has failed so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

impl<S: UserRepository> UserRepository for FlakyStore<S> {
    fn create_user(
        &self,
        user: User,
    ) -> impl Future<Output = Result<User, CreateUserError>> + Send {
        self.inner.create_user(user)
    }

    fn find_user(
        &self,
        key: &UserKey,
    ) -> impl Future<Output = Result<Option<User>, StorageError>> + Send {
        self.inner.find_user(key)
    }

    fn list_users(
        &self,
        query: &UserQuery,
    ) -> impl Future<Output = Result<Listing<User, UserCursor>, StorageError>> + Send {
        self.inner.list_users(query)
    }

    fn update_user(
        &self,
        key: &UserKey,
        patch: UserPatch,
        now: Timestamp,
    ) -> impl Future<Output = Result<User, UpdateUserError>> + Send {
        self.inner.update_user(key, patch, now)
    }

    fn delete_user(
        &self,
        key: &UserKey,
        at: Timestamp,
    ) -> impl Future<Output = Result<u64, DeleteUserError>> + Send {
        self.inner.delete_user(key, at)
    }
}

impl<S: BillingRepository> BillingRepository for FlakyStore<S> {
    fn create_billing(
        &self,
        draft: BillingDraft,
    ) -> impl Future<Output = Result<Billing, CreateBillingError>> + Send {
        self.inner.create_billing(draft)
    }

    fn find_billing(
        &self,
        id: &BillingId,
    ) -> impl Future<Output = Result<Option<Billing>, StorageError>> + Send {
        self.inner.find_billing(id)
    }

    fn list_billings(
        &self,
        query: &BillingQuery,
    ) -> impl Future<Output = Result<Listing<Billing, BillingCursor>, StorageError>> + Send {
        self.inner.list_billings(query)
    }

    fn scan_billings(
        &self,
        after: Option<DocumentId>,
        limit: Limit,
    ) -> impl Future<Output = Result<Listing<Billing, DocumentId>, StorageError>> + Send {
        self.inner.scan_billings(after, limit)
    }

    fn update_billing(
        &self,
        id: &BillingId,
        patch: BillingPatch,
        now: Timestamp,
    ) -> impl Future<Output = Result<Billing, UpdateBillingError>> + Send {
        self.inner.update_billing(id, patch, now)
    }

    fn delete_billing(
        &self,
        id: &BillingId,
    ) -> impl Future<Output = Result<(), DeleteBillingError>> + Send {
        self.inner.delete_billing(id)
    }
}

impl<S: EventRepository> EventRepository for FlakyStore<S> {
    async fn apply_events<D>(
        &self,
        events: Vec<CustomerEvent>,
        decide: D,
    ) -> Result<Vec<EventOutcome>, StorageError>
    where
        D: Fn(&CustomerEvent, &Subject) -> Effect + Send + Sync + 'static,
    {
        if self.down.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(StorageError::Unavailable(anyhow::anyhow!(
                "the test switched storage off"
            )));
        }
        self.inner.apply_events(events, decide).await
    }
}
