//! A batch of customer events in bulk: decided in memory on what the batch read first
//! (`events::BatchState`), then written in a number of operations that does not grow with the
//! batch: one `$inc` for all its initial billings' numbers, one `insert_many` each for the users
//! it creates, their billings and its inbox entries, and one update per user that existed and
//! changed. The stream the user service mostly sends, `Customer.Created` for new customers,
//! costs a handful of operations per batch instead of six per event.
//!
//! What a plan cannot carry falls back to one event at a time (`events.rs`): a deletion (its
//! writes span the user's billings), and, found while writing, anything that changed under the
//! batch since it was read (a user created or changed through the API, an initial billing
//! already there). The fallback starts from a fresh read, so whatever part of the bulk was
//! written is found and not written twice. The initial billings' `Billing.Created` events go
//! in one more `insert_many` (`outbox.rs`).
//! - With transactions the whole bulk, its events too, is one transaction: a fallback finds
//!   nothing of it. A user the batch bills is written in it (`lastBilling`), so a concurrent
//!   suspension or deletion conflicts with the batch, as with `POST /api/billings`.
//! - Without, the effects are written first and the inbox last, as one event at a time does,
//!   so a crash in between is a redelivery that finds the effects there. The billed users are
//!   read again after the billings are in; a billing for a user changed meanwhile is removed
//!   and its batch falls back, which decides it on the user as they are now. The events are
//!   written once the billings are sure to stay, before the inbox: a crash just before them
//!   loses them.

use std::collections::{HashMap, HashSet};

use billing_domain::{
    Billing, BillingDraft, BillingId, CustomerEvent, Effect, EventOutcome, MessageId, Phone,
    StorageError, Subject, User,
};
use mongodb::ClientSession;
use mongodb::bson::{Bson, Document, doc};

use crate::MongoStore;
use crate::billings::{billing_document, created};
use crate::docs::{self, oid};
use crate::errors::{self, is_duplicate_key, storage};
use crate::events::{BatchState, inbox_entry, only_duplicates};
use crate::outbox::Pending;
use crate::transactions::{Failed, with_transaction};

/// What a batch does, decided before anything is written.
pub(crate) struct Plan {
    outcomes: Vec<EventOutcome>,
    /// The users the batch creates, as they are at its end, in the order it creates them.
    created: Vec<User>,
    /// The users that existed and that the batch changes or bills: as read, and at its end;
    /// with the `_id` of the last billing it gives them.
    changed: Vec<(User, User, Option<Bson>)>,
    /// The initial billings, in event order: the draft, its event, the user's phone then.
    billings: Vec<(BillingDraft, MessageId, Phone)>,
    /// The inbox entries of the events that took effect or were skipped.
    entries: Vec<Document>,
}

/// Why a bulk gave way to one event at a time.
struct Changed;

/// Decides `events` on `state`, or `None` when one of them must be applied on its own.
pub(crate) fn plan(
    events: &[CustomerEvent],
    decide: &impl Fn(&CustomerEvent, &Subject) -> Effect,
    state: &BatchState,
) -> Option<Plan> {
    let mut now: HashMap<&str, User> = HashMap::new();
    let mut touched: Vec<&str> = Vec::new();
    let mut billed: HashMap<&str, Bson> = HashMap::new();
    let mut done: HashSet<&str> = HashSet::new();
    let mut plan = Plan {
        outcomes: Vec::with_capacity(events.len()),
        created: Vec::new(),
        changed: Vec::new(),
        billings: Vec::new(),
        entries: Vec::new(),
    };
    for event in events {
        let id = event.id.as_str();
        if state.seen.contains(id) || !done.insert(id) {
            plan.outcomes.push(EventOutcome::Duplicate);
            continue;
        }
        let uid = event.user_id.as_str();
        let current = now.get(uid).or_else(|| state.users.get(uid)).cloned();
        let subject = Subject {
            deleted_at: if current.is_none() {
                state.tombstones.get(uid).copied()
            } else {
                None
            },
            has_billings: state.billed.contains(uid) || billed.contains_key(uid),
            user: current,
        };
        let (user, billing) = match decide(event, &subject) {
            Effect::CreateUser { user, billing } if subject.user.is_none() => (user, billing),
            Effect::UpdateUser { user, billing } if subject.user.is_some() => (user, billing),
            Effect::Skip { reason } => {
                plan.outcomes.push(EventOutcome::Skipped { reason });
                plan.entries.push(inbox_entry(event));
                continue;
            }
            Effect::DeleteUser { .. } | Effect::CreateUser { .. } | Effect::UpdateUser { .. } => {
                return None;
            }
        };
        if let Some(draft) = billing {
            billed.insert(uid, Bson::ObjectId(oid(draft.id)));
            plan.billings
                .push((draft, event.id.clone(), user.phone.clone()));
        }
        if !now.contains_key(uid) {
            touched.push(uid);
        }
        now.insert(uid, user);
        plan.outcomes.push(EventOutcome::Applied);
        plan.entries.push(inbox_entry(event));
    }
    for uid in touched {
        let user = now.remove(uid)?;
        match state.users.get(uid) {
            None => plan.created.push(user),
            Some(before) if *before != user || billed.contains_key(uid) => {
                plan.changed
                    .push((before.clone(), user, billed.get(uid).cloned()));
            }
            Some(_) => {}
        }
    }
    Some(plan)
}

impl MongoStore {
    /// Writes `plan`; `None` when something changed under it and the batch must be applied
    /// one event at a time.
    ///
    /// # Errors
    /// Storage failures.
    pub(crate) async fn write_plan(
        &self,
        plan: Plan,
    ) -> Result<Option<Vec<EventOutcome>>, StorageError> {
        let numbers = self.reserve_numbers(plan.billings.len() as u64).await?;
        let billings: Vec<Billing> = plan
            .billings
            .iter()
            .zip(numbers)
            .map(|((draft, _, phone), n)| {
                draft
                    .clone()
                    .into_billing(BillingId::from_sequence(n), phone.clone())
            })
            .collect();
        let documents: Vec<Document> = billings
            .iter()
            .zip(&plan.billings)
            .map(|(billing, (_, event, _))| billing_document(billing, Some(event)))
            .collect();
        let events: Vec<Pending<'_>> = billings.iter().map(created).collect();
        let written = if self.transactions() {
            self.write_in_transaction(&plan, &documents, &events)
                .await?
        } else {
            self.write_in_order(&plan, documents, &events).await?
        };
        Ok(written.ok().map(|()| plan.outcomes))
    }

    async fn write_in_transaction(
        &self,
        plan: &Plan,
        billings: &[Document],
        events: &[Pending<'_>],
    ) -> Result<Result<(), Changed>, StorageError> {
        let written = with_transaction(self.client(), |mut session| async move {
            let attempt = async {
                if let Err(changed) = self.write_users(plan, Some(&mut session)).await? {
                    return Ok(Err(changed));
                }
                for (collection, documents) in [
                    (&self.inner.billings, billings),
                    (&self.inner.processed_events, plan.entries.as_slice()),
                ] {
                    if documents.is_empty() {
                        continue;
                    }
                    match collection
                        .insert_many(documents)
                        .session(&mut session)
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if only_duplicates(&e) => return Ok(Err(Changed)),
                        Err(e) => return Err(e),
                    }
                }
                self.record(events, Some(&mut session)).await?;
                Ok(Ok(()))
            }
            .await;
            (session, attempt)
        })
        .await;
        match written {
            Ok(()) => Ok(Ok(())),
            Err(Failed::Refused(changed)) => Ok(Err(changed)),
            Err(Failed::Driver(e)) => Err(storage(e)),
            // Conflicting all along: one event at a time retries each on what is there.
            Err(Failed::KeptConflicting) => Ok(Err(Changed)),
        }
    }

    async fn write_in_order(
        &self,
        plan: &Plan,
        billings: Vec<Document>,
        events: &[Pending<'_>],
    ) -> Result<Result<(), Changed>, StorageError> {
        if let Err(changed) = self.write_users(plan, None).await.map_err(storage)? {
            return Ok(Err(changed));
        }
        if billings.is_empty() {
            return self.write_entries(plan).await.map(Ok);
        }
        let ids: Vec<Bson> = billings
            .iter()
            .filter_map(|b| b.get("_id").cloned())
            .collect();
        match self.inner.billings.insert_many(billings).await {
            Ok(_) => {}
            Err(e) if only_duplicates(&e) => return Ok(Err(Changed)),
            Err(e) => return Err(storage(e)),
        }
        if self.billed_users_changed(plan).await? {
            self.inner
                .billings
                .delete_many(doc! { "_id": { "$in": ids } })
                .await
                .map_err(storage)?;
            return Ok(Err(Changed));
        }
        // After the billings and before the inbox: a crash in between is a redelivery that
        // finds the billings there and bills (and records) nothing again.
        self.record(events, None).await.map_err(storage)?;
        self.write_entries(plan).await.map(Ok)
    }

    /// Whether a user the batch bills is not, now, as the batch left them.
    async fn billed_users_changed(&self, plan: &Plan) -> Result<bool, StorageError> {
        let expected: HashMap<&str, &User> = plan
            .created
            .iter()
            .chain(plan.changed.iter().map(|(_, after, _)| after))
            .map(|u| (u.user_id.as_str(), u))
            .collect();
        let billed: HashSet<&str> = plan
            .billings
            .iter()
            .map(|(draft, _, _)| draft.user_id.as_str())
            .collect();
        let billed: Vec<&str> = billed.into_iter().collect();
        let stored: Vec<Document> = crate::events::all(
            self.inner
                .users
                .find(doc! { "userId": { "$in": &billed } })
                .await
                .map_err(storage)?,
        )
        .await?;
        let as_left = stored
            .iter()
            .filter_map(|d| docs::user(d).ok())
            .filter(|u| expected.get(u.user_id.as_str()) == Some(&u))
            .count();
        Ok(as_left != billed.len())
    }

    async fn write_entries(&self, plan: &Plan) -> Result<(), StorageError> {
        if plan.entries.is_empty() {
            return Ok(());
        }
        match self
            .inner
            .processed_events
            .insert_many(&plan.entries)
            .ordered(false)
            .await
        {
            Ok(_) => Ok(()),
            // Another consumer of the same partition (in a rebalance) recorded them too.
            Err(e) if only_duplicates(&e) => Ok(()),
            Err(e) => Err(storage(e)),
        }
    }

    /// Inserts the users the batch creates and updates, guarded by the values read, those it
    /// changes. `Err(Changed)` when one was created or changed meanwhile.
    async fn write_users(
        &self,
        plan: &Plan,
        mut session: Option<&mut ClientSession>,
    ) -> mongodb::error::Result<Result<(), Changed>> {
        if !plan.created.is_empty() {
            let mut insert = self
                .inner
                .users
                .insert_many(plan.created.iter().map(docs::new_user_doc));
            if let Some(s) = session.as_deref_mut() {
                insert = insert.session(s);
            }
            match insert.await {
                Ok(_) => {}
                Err(e) if only_duplicates(&e) => return Ok(Err(Changed)),
                Err(e) => return Err(e),
            }
        }
        for (before, after, last_billing) in &plan.changed {
            let (mut filter, mut update) =
                docs::diff(docs::user_fields(before), docs::user_fields(after)).unwrap_or_default();
            filter.insert("_id", oid(before.id));
            if let Some(id) = last_billing {
                match update.get_document_mut("$set") {
                    Ok(set) => {
                        set.insert("lastBilling", id.clone());
                    }
                    Err(_) => {
                        update.insert("$set", doc! { "lastBilling": id.clone() });
                    }
                }
            }
            let mut write = self.inner.users.update_one(filter, update);
            if let Some(s) = session.as_deref_mut() {
                write = write.session(s);
            }
            match write.await {
                Ok(result) if result.matched_count == 1 => {}
                Ok(_) => return Ok(Err(Changed)),
                // Stored in a shape a field-wise `$set` cannot go into, or taken meanwhile:
                // one event at a time knows how to write it.
                Err(e)
                    if is_duplicate_key(&e) || errors::code(&e) == Some(docs::PATH_NOT_VIABLE) =>
                {
                    return Ok(Err(Changed));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Ok(()))
    }
}
