//! A store that can be taken down: it delegates everything to a real store, except that
//! applying events fails with `StorageError::Unavailable` while its switch is on. It also keeps
//! a journal of every `apply_events` call, and notes any user whose events were being applied by
//! two calls at once.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use billing_domain::{
    Billing, BillingCursor, BillingDraft, BillingEvent, BillingEventRepository, BillingId,
    BillingPatch, BillingQuery, BillingRepository, CreateBillingError, CreateUserError,
    CustomerEvent, DeleteBillingError, DeleteUserError, DocumentId, Effect, EventOutcome,
    EventRepository, EventSeq, Limit, Listing, PageRequest, StorageError, Subject, Timestamp,
    UpdateBillingError, UpdateUserError, User, UserCursor, UserKey, UserPatch, UserQuery,
    UserRepository,
};

#[derive(Debug, Clone)]
pub struct FlakyStore<S> {
    inner: S,
    down: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
    journal: Arc<Mutex<Journal>>,
}

/// One `apply_events` call, recorded when it returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// (userId, message id) of each event, in the call's order.
    pub events: Vec<(String, String)>,
    /// Whether the store took the batch (the outage refuses it).
    pub stored: bool,
}

#[derive(Debug, Default)]
struct Journal {
    calls: Vec<Call>,
    /// Calls running now, per userId.
    running: BTreeMap<String, u32>,
    /// Users whose events two calls were applying at the same time.
    overlapping: BTreeSet<String>,
}

fn journal(journal: &Mutex<Journal>) -> std::sync::MutexGuard<'_, Journal> {
    journal.lock().unwrap_or_else(|p| p.into_inner())
}

/// Marks a call's users as running until dropped, so that a call abandoned midway counts as
/// ended too.
struct Running<'a> {
    journal: &'a Mutex<Journal>,
    users: BTreeSet<String>,
}

impl<'a> Running<'a> {
    fn start(journal_: &'a Mutex<Journal>, users: BTreeSet<String>) -> Self {
        let mut j = journal(journal_);
        for user in &users {
            let n = j.running.entry(user.clone()).or_default();
            *n += 1;
            if *n > 1 {
                j.overlapping.insert(user.clone());
            }
        }
        Self {
            journal: journal_,
            users,
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut j = journal(self.journal);
        for user in &self.users {
            if let Some(n) = j.running.get_mut(user) {
                *n -= 1;
            }
        }
    }
}

impl<S> FlakyStore<S> {
    /// Up, over `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            down: Arc::new(AtomicBool::new(false)),
            refused: Arc::new(AtomicU64::new(0)),
            journal: Arc::default(),
        }
    }

    /// Every `apply_events` call that has returned, in the order they returned.
    pub fn calls(&self) -> Vec<Call> {
        journal(&self.journal).calls.clone()
    }

    /// Users whose events were being applied by two calls at the same time.
    pub fn overlapping(&self) -> BTreeSet<String> {
        journal(&self.journal).overlapping.clone()
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
        at: Timestamp,
    ) -> impl Future<Output = Result<(), DeleteBillingError>> + Send {
        self.inner.delete_billing(id, at)
    }
}

impl<S: BillingEventRepository> BillingEventRepository for FlakyStore<S> {
    async fn billing_events(
        &self,
        id: &BillingId,
        page: &PageRequest<EventSeq>,
    ) -> Result<Listing<BillingEvent, EventSeq>, StorageError> {
        self.inner.billing_events(id, page).await
    }

    async fn unpublished_events(&self, limit: Limit) -> Result<Vec<BillingEvent>, StorageError> {
        self.inner.unpublished_events(limit).await
    }

    async fn mark_published(&self, seqs: &[EventSeq], at: Timestamp) -> Result<(), StorageError> {
        self.inner.mark_published(seqs, at).await
    }

    async fn record_overdue(&self, now: Timestamp, limit: Limit) -> Result<u64, StorageError> {
        self.inner.record_overdue(now, limit).await
    }

    async fn prune_events(
        &self,
        before: Timestamp,
        unpublished_too: bool,
    ) -> Result<u64, StorageError> {
        self.inner.prune_events(before, unpublished_too).await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StorageError> {
        self.inner.acquire_lease(name, holder, now, until).await
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
        let ids: Vec<(String, String)> = events
            .iter()
            .map(|e| (e.user_id.as_str().to_owned(), e.id.as_str().to_owned()))
            .collect();
        let running = Running::start(
            &self.journal,
            ids.iter().map(|(user, _)| user.clone()).collect(),
        );
        let result = if self.down.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            Err(StorageError::Unavailable(anyhow::anyhow!(
                "the test switched storage off"
            )))
        } else {
            self.inner.apply_events(events, decide).await
        };
        // Recorded before the call counts as ended: a call that starts after this one ended
        // is journaled after it.
        journal(&self.journal).calls.push(Call {
            events: ids,
            stored: result.is_ok(),
        });
        drop(running);
        result
    }
}
