//! A store decorator that times every port call into the storage metrics
//! (`billing_storage_operation_duration_seconds{operation, outcome}`), whatever the store.
//!
//! Wrap a concrete store (`Instrumented<Store>`), not a type parameter: with `Instrumented<R>`
//! for a generic `R`, rustc cannot prove the consumer task `Send` for every lifetime
//! (rust-lang/rust#100013), though it is. The task is then spawned where the store is a type
//! parameter again (`ConsumerTask::spawn`).

use std::future::Future;
use std::time::Instant;

use billing_domain::{
    Billing, BillingCursor, BillingDraft, BillingEvent, BillingEventRepository, BillingId,
    BillingPatch, BillingQuery, BillingRepository, CreateBillingError, CreateUserError,
    CustomerEvent, DeleteBillingError, DeleteUserError, DocumentId, Effect, EventOutcome,
    EventRepository, EventSeq, Limit, Listing, PageRequest, StorageError, Subject, Timestamp,
    UpdateBillingError, UpdateUserError, User, UserCursor, UserKey, UserPatch, UserQuery,
    UserRepository,
};
use telemetry::StorageMetrics;

#[derive(Debug, Clone)]
pub struct Instrumented<R> {
    inner: R,
    metrics: StorageMetrics,
}

impl<R> Instrumented<R> {
    pub fn new(inner: R, metrics: StorageMetrics) -> Self {
        Self { inner, metrics }
    }
}

/// Runs `call`, recording how long it took and whether it failed.
async fn timed<T, E>(
    metrics: &StorageMetrics,
    operation: &'static str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let start = Instant::now();
    let result = call.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics.operation(operation, outcome, start.elapsed());
    result
}

impl<R: UserRepository> UserRepository for Instrumented<R> {
    async fn create_user(&self, user: User) -> Result<User, CreateUserError> {
        timed(&self.metrics, "create_user", self.inner.create_user(user)).await
    }

    async fn find_user(&self, key: &UserKey) -> Result<Option<User>, StorageError> {
        timed(&self.metrics, "find_user", self.inner.find_user(key)).await
    }

    async fn list_users(&self, q: &UserQuery) -> Result<Listing<User, UserCursor>, StorageError> {
        timed(&self.metrics, "list_users", self.inner.list_users(q)).await
    }

    async fn update_user(
        &self,
        key: &UserKey,
        patch: UserPatch,
        now: Timestamp,
    ) -> Result<User, UpdateUserError> {
        timed(
            &self.metrics,
            "update_user",
            self.inner.update_user(key, patch, now),
        )
        .await
    }

    async fn delete_user(&self, key: &UserKey, at: Timestamp) -> Result<u64, DeleteUserError> {
        timed(
            &self.metrics,
            "delete_user",
            self.inner.delete_user(key, at),
        )
        .await
    }
}

impl<R: BillingRepository> BillingRepository for Instrumented<R> {
    async fn create_billing(&self, draft: BillingDraft) -> Result<Billing, CreateBillingError> {
        timed(
            &self.metrics,
            "create_billing",
            self.inner.create_billing(draft),
        )
        .await
    }

    async fn find_billing(&self, id: &BillingId) -> Result<Option<Billing>, StorageError> {
        timed(&self.metrics, "find_billing", self.inner.find_billing(id)).await
    }

    async fn list_billings(
        &self,
        q: &BillingQuery,
    ) -> Result<Listing<Billing, BillingCursor>, StorageError> {
        timed(&self.metrics, "list_billings", self.inner.list_billings(q)).await
    }

    async fn scan_billings(
        &self,
        after: Option<DocumentId>,
        limit: Limit,
    ) -> Result<Listing<Billing, DocumentId>, StorageError> {
        timed(
            &self.metrics,
            "scan_billings",
            self.inner.scan_billings(after, limit),
        )
        .await
    }

    async fn update_billing(
        &self,
        id: &BillingId,
        patch: BillingPatch,
        now: Timestamp,
    ) -> Result<Billing, UpdateBillingError> {
        timed(
            &self.metrics,
            "update_billing",
            self.inner.update_billing(id, patch, now),
        )
        .await
    }

    async fn delete_billing(
        &self,
        id: &BillingId,
        at: Timestamp,
    ) -> Result<(), DeleteBillingError> {
        timed(
            &self.metrics,
            "delete_billing",
            self.inner.delete_billing(id, at),
        )
        .await
    }
}

impl<R: BillingEventRepository> BillingEventRepository for Instrumented<R> {
    async fn billing_events(
        &self,
        id: &BillingId,
        page: &PageRequest<EventSeq>,
    ) -> Result<Listing<BillingEvent, EventSeq>, StorageError> {
        timed(
            &self.metrics,
            "billing_events",
            self.inner.billing_events(id, page),
        )
        .await
    }

    async fn unpublished_events(&self, limit: Limit) -> Result<Vec<BillingEvent>, StorageError> {
        timed(
            &self.metrics,
            "unpublished_events",
            self.inner.unpublished_events(limit),
        )
        .await
    }

    async fn mark_published(&self, seqs: &[EventSeq], at: Timestamp) -> Result<(), StorageError> {
        timed(
            &self.metrics,
            "mark_published",
            self.inner.mark_published(seqs, at),
        )
        .await
    }

    async fn record_overdue(&self, now: Timestamp, limit: Limit) -> Result<u64, StorageError> {
        timed(
            &self.metrics,
            "record_overdue",
            self.inner.record_overdue(now, limit),
        )
        .await
    }

    async fn prune_events(
        &self,
        before: Timestamp,
        unpublished_too: bool,
    ) -> Result<u64, StorageError> {
        timed(
            &self.metrics,
            "prune_events",
            self.inner.prune_events(before, unpublished_too),
        )
        .await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StorageError> {
        timed(
            &self.metrics,
            "acquire_lease",
            self.inner.acquire_lease(name, holder, now, until),
        )
        .await
    }
}

impl<R: EventRepository> EventRepository for Instrumented<R> {
    async fn apply_events<D>(
        &self,
        events: Vec<CustomerEvent>,
        decide: D,
    ) -> Result<Vec<EventOutcome>, StorageError>
    where
        D: Fn(&CustomerEvent, &Subject) -> Effect + Send + Sync + 'static,
    {
        timed(
            &self.metrics,
            "apply_events",
            self.inner.apply_events(events, decide),
        )
        .await
    }
}
