//! Customer events on MongoDB. Without transactions the effect and the inbox entry cannot be
//! one atomic write, so the effect comes first and is idempotent, and the inbox entry
//! (`processed_events`) after it: a redelivery after a crash in between finds the effect
//! already there and changes nothing.
//! - user upserts and updates carry the event's values, and writing them twice is writing them
//!   once (the event's partition keeps them in order);
//! - `Created` bills only a user without billings, and the initial billing carries its event's
//!   id (`sourceEventId`, unique): it is created once;
//! - deleting a deleted user deletes nothing, and its tombstone is written before the user goes.
//!
//! A batch is read in four queries (its inbox entries, its users, their tombstones, which of
//! its `Created` users have billings) and written in bulk (`bulk.rs`). What follows here is the
//! way a batch the bulk cannot carry is applied: one event at a time, each with its own writes,
//! and the inbox entries of all of them in one write at the end.

use std::collections::{HashMap, HashSet};

use billing_domain::{
    CreateBillingError, CustomerEvent, DeleteUserError, Effect, EventOutcome, EventRepository,
    EventType, StorageError, Subject, Timestamp, User, UserKey, UserRepository,
    timestamp_from_millis,
};
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};

use crate::docs::MAX_ATTEMPTS;
use crate::docs::{self, date};
use crate::errors::{is_duplicate_key, storage};
use crate::{MongoStore, bulk};

fn unknown(e: anyhow::Error) -> StorageError {
    StorageError::Unknown(e)
}

/// What a batch needs to know before it starts, read in one query each; kept up to date as
/// the batch's events take effect.
pub(crate) struct BatchState {
    /// Ids already in the inbox.
    pub(crate) seen: HashSet<String>,
    /// The users the batch names, as stored; absent = no such user.
    pub(crate) users: HashMap<String, User>,
    /// When the batch's deleted `userId`s were deleted.
    pub(crate) tombstones: HashMap<String, Timestamp>,
    /// The `userId`s of `Created` events that have a billing.
    pub(crate) billed: HashSet<String>,
}

impl BatchState {
    fn subject(&self, event: &CustomerEvent, user: Option<User>) -> Subject {
        let uid = event.user_id.as_str();
        Subject {
            deleted_at: if user.is_none() {
                self.tombstones.get(uid).copied()
            } else {
                None
            },
            user,
            has_billings: self.billed.contains(uid),
        }
    }
}

/// Whether an `insert_many` failed only on keys that exist (entries already in the inbox).
pub(crate) fn only_duplicates(e: &mongodb::error::Error) -> bool {
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

pub(crate) async fn all(cursor: mongodb::Cursor<Document>) -> Result<Vec<Document>, StorageError> {
    cursor.try_collect().await.map_err(storage)
}

impl MongoStore {
    async fn batch_state(&self, events: &[CustomerEvent]) -> Result<BatchState, StorageError> {
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        let seen = all(self
            .inner
            .processed_events
            .find(doc! { "_id": { "$in": &ids } })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(storage)?)
        .await?;
        let user_ids: HashSet<&str> = events.iter().map(|e| e.user_id.as_str()).collect();
        let user_ids: Vec<&str> = user_ids.into_iter().collect();
        let stored = all(self
            .inner
            .users
            .find(doc! { "userId": { "$in": &user_ids } })
            .await
            .map_err(storage)?)
        .await?;
        let tombstones = all(self
            .inner
            .deleted_users
            .find(doc! { "_id": { "$in": &user_ids } })
            .await
            .map_err(storage)?)
        .await?;
        let creating: HashSet<&str> = events
            .iter()
            .filter(|e| e.kind == EventType::Created)
            .map(|e| e.user_id.as_str())
            .collect();
        let billed: Vec<Bson> = if creating.is_empty() {
            Vec::new()
        } else {
            let creating: Vec<&str> = creating.into_iter().collect();
            self.inner
                .billings
                .distinct("userId", doc! { "userId": { "$in": creating } })
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
            tombstones: tombstones
                .iter()
                .filter_map(|d| {
                    let at = d.get_datetime("deletedAt").ok()?;
                    Some((
                        text(d, "_id")?,
                        timestamp_from_millis(at.timestamp_millis()).ok()?,
                    ))
                })
                .collect(),
            billed: billed
                .iter()
                .filter_map(|b| b.as_str().map(str::to_owned))
                .collect(),
        })
    }

    /// Applies one event. `known` is the user as the batch knows it (used on the first
    /// attempt); returns the outcome, and what the event did: the user after it, and whether
    /// it billed or deleted them.
    async fn apply_event(
        &self,
        event: &CustomerEvent,
        decide: &(impl Fn(&CustomerEvent, &Subject) -> Effect + Sync),
        state: &BatchState,
    ) -> Result<(EventOutcome, Done), StorageError> {
        let key = UserKey::from(event.user_id.clone());
        let mut known = Some(state.users.get(event.user_id.as_str()).cloned());
        let mut previous: Option<User> = None;
        for _ in 0..MAX_ATTEMPTS {
            let current = match known.take() {
                Some(user) => user,
                None => self.find_user_doc(&key).await?,
            };
            // Unchanged since the last attempt: the guard failed on how a value is stored, not
            // on a change (see `docs::write_changes`).
            let guarded = previous.is_none() || previous != current;
            let (after, billing) = match decide(event, &state.subject(event, current.clone())) {
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
                    let written = docs::write_changes(
                        &self.inner.users,
                        old.id,
                        docs::user_fields(&old),
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
                Effect::DeleteUser { at } => {
                    return match self.delete_user(&key, at).await {
                        Ok(_) | Err(DeleteUserError::NotFound) => {
                            Ok((EventOutcome::Applied, Done::Deleted(at)))
                        }
                        Err(DeleteUserError::Storage(e)) => Err(e),
                    };
                }
                Effect::Skip { reason } => {
                    return Ok((EventOutcome::Skipped { reason }, Done::Kept(current)));
                }
            };
            let Some(draft) = billing else {
                return Ok((EventOutcome::Applied, Done::Kept(after)));
            };
            return match self.create(draft, Some(&event.id)).await {
                Ok(_) => Ok((EventOutcome::Applied, Done::Billed(after))),
                Err(CreateBillingError::Storage(e)) => Err(e),
                // Its billing exists: created by an earlier delivery of this very event.
                Err(CreateBillingError::Duplicate(_)) if self.event_billed(event).await? => {
                    Ok((EventOutcome::Applied, Done::Billed(after)))
                }
                Err(refused) => Ok((
                    EventOutcome::Rejected {
                        reason: refused.to_string(),
                    },
                    Done::Kept(after),
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

/// The inbox entry that says `event` was applied.
pub(crate) fn inbox_entry(event: &CustomerEvent) -> Document {
    doc! {
        "_id": event.id.as_str(),
        "type": event.kind.as_str(),
        "userId": event.user_id.as_str(),
        "processedAt": Bson::DateTime(date(chrono::Utc::now())),
    }
}

/// What an event did to its user, for the rest of the batch.
enum Done {
    /// The user as it is now (`None`: there is none).
    Kept(Option<User>),
    /// The user as it is now, and it has a billing.
    Billed(Option<User>),
    /// Deleted, with a tombstone dated so.
    Deleted(Timestamp),
}

impl EventRepository for MongoStore {
    async fn apply_events<D>(
        &self,
        events: Vec<CustomerEvent>,
        decide: D,
    ) -> Result<Vec<EventOutcome>, StorageError>
    where
        D: Fn(&CustomerEvent, &Subject) -> Effect + Send + Sync + 'static,
    {
        self.ensure_indexes().await?;
        let mut outcomes = Vec::with_capacity(events.len());
        for bulk in events.chunks(self.inner.event_bulk.max(1)) {
            let mut state = self.batch_state(bulk).await?;
            if let Some(plan) = bulk::plan(bulk, &decide, &state) {
                if let Some(done) = self.write_plan(plan).await? {
                    outcomes.extend(done);
                    continue;
                }
                // What the bulk wrote before it gave way is read again, not written twice.
                state = self.batch_state(bulk).await?;
            }
            outcomes.extend(self.apply_one_by_one(bulk, &decide, state).await?);
        }
        Ok(outcomes)
    }
}

impl MongoStore {
    async fn apply_one_by_one(
        &self,
        events: &[CustomerEvent],
        decide: &(impl Fn(&CustomerEvent, &Subject) -> Effect + Sync),
        mut state: BatchState,
    ) -> Result<Vec<EventOutcome>, StorageError> {
        let mut outcomes = Vec::with_capacity(events.len());
        let mut done: HashSet<&str> = HashSet::new();
        let mut entries: Vec<Document> = Vec::new();
        for event in events {
            let id = event.id.as_str();
            if state.seen.contains(id) || done.contains(id) {
                outcomes.push(EventOutcome::Duplicate);
                continue;
            }
            let uid = event.user_id.as_str().to_owned();
            let (outcome, effect) = self.apply_event(event, decide, &state).await?;
            match effect {
                Done::Kept(Some(user)) => {
                    state.users.insert(uid, user);
                }
                Done::Kept(None) => {
                    state.users.remove(&uid);
                }
                Done::Billed(user) => {
                    state.billed.insert(uid.clone());
                    match user {
                        Some(user) => state.users.insert(uid, user),
                        None => state.users.remove(&uid),
                    };
                }
                Done::Deleted(at) => {
                    state.users.remove(&uid);
                    state.billed.remove(&uid);
                    state.tombstones.insert(uid, at);
                }
            }
            if !matches!(outcome, EventOutcome::Rejected { .. }) {
                done.insert(id);
                entries.push(inbox_entry(event));
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
