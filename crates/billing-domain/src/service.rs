//! The use cases, generic over the store. Clock and id generator are plain (synchronous)
//! traits, so they travel as trait objects and keep the type parameters down to one.

use std::fmt;
use std::sync::Arc;

use crate::decide::{DecisionContext, EventDefaults, decide};
use crate::error::{
    CreateBillingError, CreateUserError, DeleteBillingError, DeleteUserError, GetBillingError,
    GetUserError, StorageError, UpdateBillingError, UpdateUserError,
};
use crate::model::{
    Billing, BillingCursor, BillingDraft, BillingEvent, BillingId, BillingPatch, BillingQuery,
    CustomerEvent, DocumentId, Effect, EventOutcome, EventSeq, EventType, Limit, Listing,
    NewBilling, NewUser, PageRequest, Payment, Position, Timestamp, User, UserCursor, UserKey,
    UserPatch, UserQuery,
};
use crate::ports::{Clock, IdGenerator, Repository};

pub struct BillingService<R> {
    repo: R,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    event_defaults: EventDefaults,
}

impl<R> fmt::Debug for BillingService<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillingService").finish_non_exhaustive()
    }
}

impl<R: Repository> BillingService<R> {
    pub fn new(repo: R, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self {
            repo,
            clock,
            ids,
            event_defaults: EventDefaults::default(),
        }
    }

    #[must_use]
    pub fn with_event_defaults(mut self, defaults: EventDefaults) -> Self {
        self.event_defaults = defaults;
        self
    }

    /// Applies customer events in order, each exactly once (see [`crate::decide`]); one
    /// outcome per event, in order.
    ///
    /// # Errors
    /// See [`crate::EventRepository::apply_events`]: retry the whole batch.
    pub async fn apply_events(
        &self,
        events: Vec<CustomerEvent>,
    ) -> Result<Vec<EventOutcome>, StorageError> {
        let count = events.len();
        let now = self.clock.now();
        let ids = Arc::clone(&self.ids);
        let defaults = self.event_defaults;
        let outcomes = self
            .repo
            .apply_events(events, move |event, subject| {
                let ctx = DecisionContext {
                    now,
                    ids: ids.as_ref(),
                    defaults,
                };
                let effect = decide(event, subject, &ctx);
                if event.kind == EventType::Updated && matches!(effect, Effect::CreateUser { .. }) {
                    tracing::warn!(
                        user_id = %event.user_id,
                        event_id = %event.id,
                        "Customer.Updated for an unknown user: created from the event, without a billing"
                    );
                }
                effect
            })
            .await?;
        if outcomes.len() != count {
            return Err(StorageError::Unknown(anyhow::anyhow!(
                "the store reported {} outcomes for {count} events",
                outcomes.len()
            )));
        }
        Ok(outcomes)
    }

    /// Applies one customer event exactly once.
    ///
    /// # Errors
    /// See [`crate::EventRepository::apply_events`].
    pub async fn apply_event(&self, event: CustomerEvent) -> Result<EventOutcome, StorageError> {
        self.apply_events(vec![event])
            .await?
            .pop()
            .ok_or_else(|| StorageError::Unknown(anyhow::anyhow!("no outcome for the event")))
    }

    pub fn repository(&self) -> &R {
        &self.repo
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// # Errors
    /// See [`crate::UserRepository::create_user`].
    pub async fn create_user(&self, new: NewUser) -> Result<User, CreateUserError> {
        let now = self.clock.now();
        let user = User {
            id: self.ids.document_id(),
            user_id: new.user_id.unwrap_or_else(|| self.ids.user_id()),
            name: new.name,
            email: new.email,
            address: new.address,
            phone: new.phone,
            is_active: new.is_active,
            created_at: now,
            updated_at: now,
            last_event_at: None,
        };
        self.repo.create_user(user).await
    }

    /// # Errors
    /// [`GetUserError::NotFound`], or a storage failure.
    pub async fn get_user(&self, key: &UserKey) -> Result<User, GetUserError> {
        self.repo
            .find_user(key)
            .await?
            .ok_or(GetUserError::NotFound)
    }

    /// # Errors
    /// A storage failure.
    pub async fn list_users(
        &self,
        query: &UserQuery,
    ) -> Result<Listing<User, UserCursor>, StorageError> {
        self.repo.list_users(query).await
    }

    /// # Errors
    /// See [`crate::UserRepository::update_user`].
    pub async fn update_user(
        &self,
        key: &UserKey,
        patch: UserPatch,
    ) -> Result<User, UpdateUserError> {
        self.repo.update_user(key, patch, self.clock.now()).await
    }

    /// Removes the user and their billings, leaving a tombstone dated now (older customer
    /// events cannot bring the user back); returns how many billings went.
    ///
    /// # Errors
    /// See [`crate::UserRepository::delete_user`].
    pub async fn delete_user(&self, key: &UserKey) -> Result<u64, DeleteUserError> {
        self.repo.delete_user(key, self.clock.now()).await
    }

    /// The billings of the user named by `key` (`userId` or `_id`); `query.user_id` is set here.
    ///
    /// # Errors
    /// [`GetUserError::NotFound`] when there is no such user, or a storage failure.
    pub async fn user_billings(
        &self,
        key: &UserKey,
        mut query: BillingQuery,
    ) -> Result<Listing<Billing, BillingCursor>, GetUserError> {
        let user = self.get_user(key).await?;
        query.user_id = Some(user.user_id);
        Ok(self.repo.list_billings(&query).await?)
    }

    /// # Errors
    /// See [`crate::BillingRepository::create_billing`].
    pub async fn create_billing(&self, new: NewBilling) -> Result<Billing, CreateBillingError> {
        let now = self.clock.now();
        let draft = BillingDraft {
            id: self.ids.document_id(),
            user_id: new.user_id,
            generation_date: now,
            due_date: new.due_date,
            service_id: new.service_id,
            total_invoice: new.total_invoice,
            // A new billing has no stored payment to echo: the edge refuses conflicting fields
            // on creation, so the problems list stays empty.
            payment: new.payment.apply(Payment::UNPAID, now, &mut Vec::new()),
            created_at: now,
        };
        self.repo.create_billing(draft).await
    }

    /// # Errors
    /// [`GetBillingError::NotFound`], or a storage failure.
    pub async fn get_billing(&self, id: &BillingId) -> Result<Billing, GetBillingError> {
        self.repo
            .find_billing(id)
            .await?
            .ok_or(GetBillingError::NotFound)
    }

    /// The billing and its user, if the user still exists.
    ///
    /// # Errors
    /// [`GetBillingError::NotFound`], or a storage failure.
    pub async fn get_billing_with_user(
        &self,
        id: &BillingId,
    ) -> Result<(Billing, Option<User>), GetBillingError> {
        let billing = self.get_billing(id).await?;
        let user = self.repo.find_user(&billing.user_id.clone().into()).await?;
        Ok((billing, user))
    }

    /// # Errors
    /// A storage failure.
    pub async fn list_billings(
        &self,
        query: &BillingQuery,
    ) -> Result<Listing<Billing, BillingCursor>, StorageError> {
        self.repo.list_billings(query).await
    }

    /// Every billing in insertion order, a page at a time (the previous service's list).
    ///
    /// # Errors
    /// A storage failure.
    pub async fn scan_billings(
        &self,
        after: Option<DocumentId>,
        limit: Limit,
    ) -> Result<Listing<Billing, DocumentId>, StorageError> {
        self.repo.scan_billings(after, limit).await
    }

    /// # Errors
    /// See [`crate::BillingRepository::update_billing`].
    pub async fn update_billing(
        &self,
        id: &BillingId,
        patch: BillingPatch,
    ) -> Result<Billing, UpdateBillingError> {
        self.repo.update_billing(id, patch, self.clock.now()).await
    }

    /// Marks a billing paid (on `date`, else now); a paid billing is returned unchanged.
    ///
    /// # Errors
    /// See [`crate::BillingRepository::update_billing`].
    pub async fn pay_billing(
        &self,
        id: &BillingId,
        date: Option<Timestamp>,
    ) -> Result<Billing, UpdateBillingError> {
        self.update_billing(id, BillingPatch::settle(date)).await
    }

    /// # Errors
    /// See [`crate::BillingRepository::delete_billing`].
    pub async fn delete_billing(&self, id: &BillingId) -> Result<(), DeleteBillingError> {
        self.repo.delete_billing(id, self.clock.now()).await
    }

    /// The events of a billing, oldest first; a deleted billing's too, while they are kept.
    ///
    /// # Errors
    /// [`GetBillingError::NotFound`] when there is no such billing and no event of one, or a
    /// storage failure.
    pub async fn billing_events(
        &self,
        id: &BillingId,
        page: &PageRequest<EventSeq>,
    ) -> Result<Listing<BillingEvent, EventSeq>, GetBillingError> {
        let listing = self.repo.billing_events(id, page).await?;
        if listing.items.is_empty() && self.repo.find_billing(id).await?.is_none() {
            // An empty page past the end of a deleted billing's history is still its history.
            let first = PageRequest {
                limit: Limit::new(1).unwrap_or_default(),
                position: Position::First,
            };
            if self.repo.billing_events(id, &first).await?.items.is_empty() {
                return Err(GetBillingError::NotFound);
            }
        }
        Ok(listing)
    }

    /// Records `Billing.Overdue` for the billings that became overdue since the last sweep, at
    /// most `limit` of them; returns how many.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn record_overdue(&self, limit: Limit) -> Result<u64, StorageError> {
        self.repo.record_overdue(self.clock.now(), limit).await
    }

    /// Removes the events older than `retention` (see
    /// [`crate::BillingEventRepository::prune_events`]); returns how many.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn prune_billing_events(
        &self,
        retention: std::time::Duration,
        unpublished_too: bool,
    ) -> Result<u64, StorageError> {
        let retention = chrono::TimeDelta::from_std(retention).unwrap_or(chrono::TimeDelta::MAX);
        let before = self
            .clock
            .now()
            .checked_sub_signed(retention)
            .unwrap_or(Timestamp::MIN_UTC);
        self.repo.prune_events(before, unpublished_too).await
    }
}
