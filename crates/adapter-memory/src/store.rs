use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use billing_domain::{
    Billing, BillingCursor, BillingDraft, BillingId, BillingPatch, BillingQuery, BillingRepository,
    CreateBillingError, CreateUserError, DeleteBillingError, DeleteUserError, DocumentId, Limit,
    Listing, PageRequest, Position, StorageError, Timestamp, UpdateBillingError, UpdateUserError,
    User, UserCursor, UserId, UserKey, UserPatch, UserQuery, UserRepository, paginate,
};
use billing_domain::{
    BillingEvent, BillingEventId, BillingEventRepository, BillingEventType, EventSeq,
};
use billing_domain::{CustomerEvent, Effect, EventOutcome, EventRepository, MessageId, Subject};

/// Both repositories in memory. Every operation takes one lock for its whole read-check-write,
/// so each is atomic, as the ports require. Clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default, Clone)]
struct State {
    /// By `_id`, which is also the order users are listed in.
    users: BTreeMap<DocumentId, User>,
    billings: HashMap<BillingId, Billing>,
    /// The last number the `billingId` sequence gave; the next billing gets one more.
    last_billing_number: u64,
    /// The ids of the customer events applied so far.
    inbox: HashSet<MessageId>,
    /// When each deleted `userId` was deleted last.
    tombstones: HashMap<UserId, Timestamp>,
    /// The billing events, by [`EventSeq`]: the outbox and the history.
    events: BTreeMap<EventSeq, BillingEvent>,
    last_event: u64,
    /// The due date each billing (by `_id`) has had its `Billing.Overdue` for.
    overdue_for: HashMap<DocumentId, Timestamp>,
    /// Lease name to holder and expiry.
    leases: HashMap<String, (String, Timestamp)>,
}

impl State {
    /// The `_id` of the user `key` names: by `userId` first, then by `_id`.
    fn resolve(&self, key: &UserKey) -> Option<DocumentId> {
        let by_user_id = key.user_id().and_then(|user_id| {
            self.users
                .values()
                .find(|u| &u.user_id == user_id)
                .map(|u| u.id)
        });
        by_user_id.or_else(|| key.object_id().filter(|id| self.users.contains_key(id)))
    }
}

impl State {
    fn record(&mut self, kind: BillingEventType, billing: &Billing, at: Timestamp) {
        self.last_event += 1;
        let seq = EventSeq(self.last_event);
        // A UUID made from the sequence: unique in this store, and this store is for tests.
        let id = BillingEventId::parse(&format!("00000000-0000-4000-8000-{:012x}", seq.0))
            .expect("a UUID");
        self.events.insert(
            seq,
            BillingEvent {
                seq,
                id,
                kind,
                billing: billing.clone(),
                at,
                published_at: None,
            },
        );
    }

    fn create_billing(&mut self, draft: BillingDraft) -> Result<Billing, CreateBillingError> {
        let state = self;
        let Some(user) = state.users.values().find(|u| u.user_id == draft.user_id) else {
            return Err(CreateBillingError::UserNotFound(draft.user_id));
        };
        if !user.is_active {
            return Err(CreateBillingError::UserInactive(draft.user_id));
        }
        let phone = user.phone.clone();
        let number = state.last_billing_number + 1;
        let billing_id = BillingId::from_sequence(number);
        if state.billings.contains_key(&billing_id) {
            return Err(CreateBillingError::Duplicate(billing_id));
        }
        if state.billings.values().any(|b| b.id == draft.id) {
            return Err(StorageError::Unknown(duplicate_object_id(draft.id).into()).into());
        }
        let billing = draft.into_billing(billing_id.clone(), phone);
        state.billings.insert(billing_id, billing.clone());
        state.last_billing_number = number;
        state.record(BillingEventType::Created, &billing, billing.created_at);
        Ok(billing)
    }

    /// Removes the user and their billings and dates the tombstone; returns how many billings
    /// went.
    fn delete_user(&mut self, id: DocumentId, at: Timestamp) -> Option<u64> {
        let user = self.users.remove(&id)?;
        let mut gone: Vec<Billing> = self
            .billings
            .values()
            .filter(|b| b.user_id == user.user_id)
            .cloned()
            .collect();
        gone.sort_unstable_by_key(|b| b.id);
        for billing in &gone {
            self.billings.remove(&billing.billing_id);
            self.record(BillingEventType::Deleted, billing, at);
        }
        self.tombstones.insert(user.user_id, at);
        Some(gone.len() as u64)
    }

    fn apply_event(
        &mut self,
        event: &CustomerEvent,
        decide: &impl Fn(&CustomerEvent, &Subject) -> Effect,
    ) -> EventOutcome {
        let current = self.resolve(&event.user_id.clone().into());
        let subject = Subject {
            user: current.and_then(|id| self.users.get(&id)).cloned(),
            deleted_at: self.tombstones.get(&event.user_id).copied(),
            has_billings: self.billings.values().any(|b| b.user_id == event.user_id),
        };
        let billing = match decide(event, &subject) {
            Effect::CreateUser { user, billing } | Effect::UpdateUser { user, billing } => {
                self.users.insert(user.id, user);
                billing
            }
            Effect::DeleteUser { at } => {
                if let Some(id) = current {
                    self.delete_user(id, at);
                }
                None
            }
            Effect::Skip { reason } => return EventOutcome::Skipped { reason },
        };
        match billing.map(|draft| self.create_billing(draft)) {
            Some(Err(e)) => EventOutcome::Rejected {
                reason: e.to_string(),
            },
            None | Some(Ok(_)) => EventOutcome::Applied,
        }
    }
}

impl MemoryStore {
    /// An empty store; the `billingId` sequence starts at 1.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("the MemoryStore mutex is poisoned")
    }
}

/// What a real store's unique `_id` index would say to a second document with the same `_id`.
/// (An `io::Error` converts into the ports' `anyhow::Error` without a dependency on `anyhow`.)
fn duplicate_object_id(id: DocumentId) -> std::io::Error {
    std::io::Error::other(format!("a document with _id {id} already exists"))
}

impl UserRepository for MemoryStore {
    async fn create_user(&self, user: User) -> Result<User, CreateUserError> {
        let mut state = self.lock();
        if state.users.values().any(|u| u.user_id == user.user_id) {
            return Err(CreateUserError::Duplicate(user.user_id));
        }
        if state.users.contains_key(&user.id) {
            return Err(StorageError::Unknown(duplicate_object_id(user.id).into()).into());
        }
        state.users.insert(user.id, user.clone());
        Ok(user)
    }

    async fn find_user(&self, key: &UserKey) -> Result<Option<User>, StorageError> {
        let state = self.lock();
        Ok(state
            .resolve(key)
            .and_then(|id| state.users.get(&id))
            .cloned())
    }

    async fn list_users(
        &self,
        query: &UserQuery,
    ) -> Result<Listing<User, UserCursor>, StorageError> {
        let matching: Vec<User> = self
            .lock()
            .users
            .values()
            .filter(|u| query.matches(u))
            .cloned()
            .collect();
        Ok(paginate(
            matching,
            &query.page,
            |cursor, u| u.id > cursor.0,
            UserCursor::of,
        ))
    }

    async fn update_user(
        &self,
        key: &UserKey,
        patch: UserPatch,
        now: Timestamp,
    ) -> Result<User, UpdateUserError> {
        let mut state = self.lock();
        let id = state.resolve(key).ok_or(UpdateUserError::NotFound)?;
        let stored = state.users.get_mut(&id).ok_or(UpdateUserError::NotFound)?;
        let next = patch.apply(stored, now)?;
        stored.clone_from(&next);
        Ok(next)
    }

    async fn delete_user(&self, key: &UserKey, at: Timestamp) -> Result<u64, DeleteUserError> {
        let mut state = self.lock();
        let id = state.resolve(key).ok_or(DeleteUserError::NotFound)?;
        state.delete_user(id, at).ok_or(DeleteUserError::NotFound)
    }
}

impl BillingRepository for MemoryStore {
    async fn create_billing(&self, draft: BillingDraft) -> Result<Billing, CreateBillingError> {
        self.lock().create_billing(draft)
    }

    async fn find_billing(&self, id: &BillingId) -> Result<Option<Billing>, StorageError> {
        Ok(self.lock().billings.get(id).cloned())
    }

    async fn list_billings(
        &self,
        query: &BillingQuery,
    ) -> Result<Listing<Billing, BillingCursor>, StorageError> {
        let mut matching: Vec<Billing> = self
            .lock()
            .billings
            .values()
            .filter(|b| query.matches(b))
            .cloned()
            .collect();
        // Newest first; the `_id` settles billings generated in the same millisecond.
        matching.sort_unstable_by_key(|b| Reverse((b.generation_date, b.id)));
        Ok(paginate(
            matching,
            &query.page,
            BillingCursor::precedes,
            BillingCursor::of,
        ))
    }

    async fn scan_billings(
        &self,
        after: Option<DocumentId>,
        limit: Limit,
    ) -> Result<Listing<Billing, DocumentId>, StorageError> {
        let mut all: Vec<Billing> = self.lock().billings.values().cloned().collect();
        all.sort_unstable_by_key(|b| b.id);
        let page = PageRequest {
            limit,
            position: after.map_or(Position::First, Position::After),
        };
        Ok(paginate(all, &page, |after, b| b.id > *after, |b| b.id))
    }

    async fn update_billing(
        &self,
        id: &BillingId,
        patch: BillingPatch,
        now: Timestamp,
    ) -> Result<Billing, UpdateBillingError> {
        let mut state = self.lock();
        let stored = state
            .billings
            .get_mut(id)
            .ok_or(UpdateBillingError::NotFound)?;
        let before = stored.clone();
        let next = patch.apply(stored, now)?;
        stored.clone_from(&next);
        for kind in BillingEventType::of_update(&before, &next) {
            state.record(kind, &next, now);
        }
        Ok(next)
    }

    async fn delete_billing(
        &self,
        id: &BillingId,
        at: Timestamp,
    ) -> Result<(), DeleteBillingError> {
        let mut state = self.lock();
        let billing = state
            .billings
            .remove(id)
            .ok_or(DeleteBillingError::NotFound)?;
        state.record(BillingEventType::Deleted, &billing, at);
        Ok(())
    }
}

impl BillingEventRepository for MemoryStore {
    async fn billing_events(
        &self,
        id: &BillingId,
        page: &PageRequest<EventSeq>,
    ) -> Result<Listing<BillingEvent, EventSeq>, StorageError> {
        let matching: Vec<BillingEvent> = self
            .lock()
            .events
            .values()
            .filter(|e| &e.billing.billing_id == id)
            .cloned()
            .collect();
        Ok(paginate(
            matching,
            page,
            |after, e| e.seq > *after,
            |e| e.seq,
        ))
    }

    async fn unpublished_events(&self, limit: Limit) -> Result<Vec<BillingEvent>, StorageError> {
        Ok(self
            .lock()
            .events
            .values()
            .filter(|e| e.published_at.is_none())
            .take(limit.get() as usize)
            .cloned()
            .collect())
    }

    async fn mark_published(&self, seqs: &[EventSeq], at: Timestamp) -> Result<(), StorageError> {
        let mut state = self.lock();
        for seq in seqs {
            if let Some(event) = state.events.get_mut(seq) {
                event.published_at.get_or_insert(at);
            }
        }
        Ok(())
    }

    async fn record_overdue(&self, now: Timestamp, limit: Limit) -> Result<u64, StorageError> {
        let mut state = self.lock();
        let mut due: Vec<Billing> = state
            .billings
            .values()
            .filter(|b| {
                b.is_overdue(now)
                    && b.due_date.is_some()
                    && state.overdue_for.get(&b.id) != b.due_date.as_ref()
            })
            .cloned()
            .collect();
        due.sort_unstable_by_key(|b| (b.due_date, b.id));
        due.truncate(limit.get() as usize);
        for billing in &due {
            if let Some(date) = billing.due_date {
                state.overdue_for.insert(billing.id, date);
            }
            state.record(BillingEventType::Overdue, billing, now);
        }
        Ok(due.len() as u64)
    }

    async fn prune_events(
        &self,
        before: Timestamp,
        unpublished_too: bool,
    ) -> Result<u64, StorageError> {
        let mut state = self.lock();
        let count = state.events.len();
        state
            .events
            .retain(|_, e| e.at >= before || (e.published_at.is_none() && !unpublished_too));
        Ok((count - state.events.len()) as u64)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StorageError> {
        let mut state = self.lock();
        let free = match state.leases.get(name) {
            None => true,
            Some((held_by, expires)) => held_by == holder || *expires <= now,
        };
        if free {
            state
                .leases
                .insert(name.to_owned(), (holder.to_owned(), until));
        }
        Ok(free)
    }
}

impl EventRepository for MemoryStore {
    async fn apply_events<D>(
        &self,
        events: Vec<CustomerEvent>,
        decide: D,
    ) -> Result<Vec<EventOutcome>, StorageError>
    where
        D: Fn(&CustomerEvent, &Subject) -> Effect + Send + Sync + 'static,
    {
        let mut state = self.lock();
        Ok(events
            .iter()
            .map(|event| {
                if state.inbox.contains(&event.id) {
                    return EventOutcome::Duplicate;
                }
                // All of an event's effect or none of it: work on a copy.
                let mut next = state.clone();
                let outcome = next.apply_event(event, &decide);
                if !matches!(outcome, EventOutcome::Rejected { .. }) {
                    next.inbox.insert(event.id.clone());
                    *state = next;
                }
                outcome
            })
            .collect())
    }
}
