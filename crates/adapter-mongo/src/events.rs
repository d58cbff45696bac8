//! Customer events on MongoDB. Without transactions the effect and the inbox entry cannot be
//! one atomic write, so the effect comes first and is idempotent, and the inbox entry
//! (`processed_events`) after it: a redelivery after a crash in between finds the effect
//! already there and changes nothing.
//! - user upserts and updates carry the event's values, and writing them twice is writing them
//!   once (the event's partition keeps them in order);
//! - the initial billing carries its event's id (`sourceEventId`, unique): it is created once;
//! - deleting a deleted user deletes nothing.
//!
//! A batch is read in three queries (its inbox entries, its users, its events' billings) and its
//! inbox entries written in one, so what remains per event is its own writes.

use std::collections::{HashMap, HashSet};

use billing_domain::{
    CreateBillingError, CustomerEvent, DeleteUserError, Effect, EventOutcome, EventRepository,
    EventType, StorageError, User, UserKey, UserRepository,
};
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};

use crate::MongoStore;
use crate::docs::MAX_ATTEMPTS;
use crate::docs::{self, date};
use crate::errors::{is_duplicate_key, storage};

fn unknown(e: anyhow::Error) -> StorageError {
    StorageError::Unknown(e)
}

/// What a batch needs to know before it starts, read in one query each.
struct BatchState {
    /// Ids already in the inbox.
    seen: HashSet<String>,
    /// The users the batch names, as stored; absent = no such user.
    users: HashMap<String, User>,
    /// Events whose initial billing exists already.
    billed: HashSet<String>,
}

/// Whether an `insert_many` failed only on keys that exist (entries already in the inbox).
fn only_duplicates(e: &mongodb::error::Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::InsertMany(m) => {
            m.write_concern_error.is_none()
                && m.write_errors
                    .as_ref()
                    .is_some_and(|errors| errors.iter().all(|w| w.code == 11000))
        }
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        _ => is_duplicate_key(e),
    }
}

impl MongoStore {
    async fn batch_state(&self, events: &[CustomerEvent]) -> Result<BatchState, StorageError> {
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        let seen: Vec<Document> = self
            .inner
            .processed_events
            .find(doc! { "_id": { "$in": &ids } })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(storage)?
            .try_collect()
            .await
            .map_err(storage)?;
        let user_ids: HashSet<&str> = events.iter().map(|e| e.user_id.as_str()).collect();
        let user_ids: Vec<&str> = user_ids.into_iter().collect();
        let stored: Vec<Document> = self
            .inner
            .users
            .find(doc! { "userId": { "$in": &user_ids } })
            .await
            .map_err(storage)?
            .try_collect()
            .await
            .map_err(storage)?;
        let created: Vec<&str> = events
            .iter()
            .filter(|e| e.kind == EventType::Created)
            .map(|e| e.id.as_str())
            .collect();
        let billed: Vec<Document> = if created.is_empty() {
            Vec::new()
        } else {
            self.inner
                .billings
                .find(doc! { "sourceEventId": { "$in": &created } })
                .projection(doc! { "sourceEventId": 1 })
                .await
                .map_err(storage)?
                .try_collect()
                .await
                .map_err(storage)?
        };
        let text = |d: &Document, key: &str| d.get_str(key).ok().map(str::to_owned);
        Ok(BatchState {
            seen: seen.iter().filter_map(|d| text(d, "_id")).collect(),
            // An unreadable document is left out here; the event then reads it itself, and
            // its error goes where that event's error goes.
            users: stored
                .iter()
                .filter_map(|d| docs::user(d).ok())
                .map(|u| (u.user_id.as_str().to_owned(), u))
                .collect(),
            billed: billed
                .iter()
                .filter_map(|d| text(d, "sourceEventId"))
                .collect(),
        })
    }

    /// Applies one event. `known` is the user as the batch knows it (used on the first
    /// attempt); returns the outcome and the user as it is after the event.
    async fn apply_event(
        &self,
        event: &CustomerEvent,
        decide: &(impl Fn(&CustomerEvent, Option<&User>) -> Effect + Sync),
        mut known: Option<Option<User>>,
        billed: bool,
    ) -> Result<(EventOutcome, Option<User>), StorageError> {
        let key = UserKey::from(event.user_id.clone());
        let mut previous: Option<User> = None;
        for _ in 0..MAX_ATTEMPTS {
            let current = match known.take() {
                Some(user) => user,
                None => self.find_user_doc(&key).await?,
            };
            // Unchanged since the last attempt: the guard failed on how a value is stored, not
            // on a change (see `docs::write_changes`).
            let guarded = previous.is_none() || previous != current;
            let (after, billing) = match decide(event, current.as_ref()) {
                Effect::CreateUser { user, billing } => {
                    match self.inner.users.insert_one(docs::new_user_doc(&user)).await {
                        Ok(_) => {}
                        // Created meanwhile (by the API, say): decide again on what is there.
                        Err(e) if is_duplicate_key(&e) => continue,
                        Err(e) => return Err(storage(e)),
                    }
                    (Some(user), billing)
                }
                Effect::UpdateUser { user, billing } => {
                    let Some(old) = current.clone() else { continue };
                    let fields = docs::user_fields(&old);
                    let written = docs::write_changes(
                        &self.inner.users,
                        old.id,
                        fields,
                        docs::user_fields(&user),
                        guarded,
                    )
                    .await
                    .map_err(storage)?;
                    if !written {
                        previous = current;
                        continue;
                    }
                    (Some(user), billing)
                }
                Effect::DeleteUser => match self.delete_user(&key).await {
                    Ok(_) | Err(DeleteUserError::NotFound) => (None, None),
                    Err(DeleteUserError::Unavailable(e)) => {
                        return Err(StorageError::Unavailable(e));
                    }
                    Err(DeleteUserError::Unknown(e)) => return Err(unknown(e)),
                },
                Effect::Skip { reason } => return Ok((EventOutcome::Skipped { reason }, current)),
            };
            let Some(draft) = billing.filter(|_| !billed) else {
                return Ok((EventOutcome::Applied, after));
            };
            return match self.create_for_checked_user(draft, Some(&event.id)).await {
                Ok(_) => Ok((EventOutcome::Applied, after)),
                Err(CreateBillingError::Unavailable(e)) => Err(StorageError::Unavailable(e)),
                Err(CreateBillingError::Unknown(e)) => Err(unknown(e)),
                // Its billing exists: created by an earlier delivery of this very event.
                Err(CreateBillingError::Duplicate(_)) if self.event_billed(event).await? => {
                    Ok((EventOutcome::Applied, after))
                }
                Err(refused) => Ok((
                    EventOutcome::Rejected {
                        reason: refused.to_string(),
                    },
                    after,
                )),
            };
        }
        Err(unknown(anyhow::anyhow!(
            "user `{}` kept changing while event {} was applied",
            event.user_id,
            event.id
        )))
    }

    async fn event_billed(&self, event: &CustomerEvent) -> Result<bool, StorageError> {
        Ok(self
            .inner
            .billings
            .find_one(doc! { "sourceEventId": event.id.as_str() })
            .await
            .map_err(storage)?
            .is_some())
    }
}

impl EventRepository for MongoStore {
    async fn apply_events<D>(
        &self,
        events: Vec<CustomerEvent>,
        decide: D,
    ) -> Result<Vec<EventOutcome>, StorageError>
    where
        D: Fn(&CustomerEvent, Option<&User>) -> Effect + Send + Sync + 'static,
    {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.ensure_indexes().await?;
        let mut state = self.batch_state(&events).await?;
        let mut outcomes = Vec::with_capacity(events.len());
        let mut done: HashSet<&str> = HashSet::new();
        let mut entries: Vec<Document> = Vec::new();
        for event in &events {
            let id = event.id.as_str();
            if state.seen.contains(id) || done.contains(id) {
                outcomes.push(EventOutcome::Duplicate);
                continue;
            }
            let uid = event.user_id.as_str();
            let known = Some(state.users.get(uid).cloned());
            let (outcome, after) = self
                .apply_event(event, &decide, known, state.billed.contains(id))
                .await?;
            match after {
                Some(user) => state.users.insert(uid.to_owned(), user),
                None => state.users.remove(uid),
            };
            if !matches!(outcome, EventOutcome::Rejected { .. }) {
                done.insert(id);
                entries.push(doc! {
                    "_id": id,
                    "type": event.kind.as_str(),
                    "userId": uid,
                    "processedAt": Bson::DateTime(date(chrono::Utc::now())),
                });
            }
            outcomes.push(outcome);
        }
        if !entries.is_empty() {
            match self
                .inner
                .processed_events
                .insert_many(entries)
                .ordered(false)
                .await
            {
                Ok(_) => {}
                Err(e) if only_duplicates(&e) => {}
                Err(e) => return Err(storage(e)),
            }
        }
        Ok(outcomes)
    }
}
