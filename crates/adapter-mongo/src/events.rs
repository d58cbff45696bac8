//! Customer events on MongoDB. Without transactions the effect and the inbox entry cannot be
//! one atomic write, so the effect comes first and is idempotent, and the inbox entry
//! (`processed_events`) after it: a redelivery after a crash in between finds the effect
//! already there and changes nothing.
//! - user upserts and updates carry the event's values, and writing them twice is writing them
//!   once (the event's partition keeps them in order);
//! - the initial billing carries its event's id (`sourceEventId`, unique): it is created once;
//! - deleting a deleted user deletes nothing.

use billing_domain::{
    CreateBillingError, CustomerEvent, DeleteUserError, Effect, EventOutcome, EventRepository,
    StorageError, User, UserKey, UserRepository,
};
use mongodb::bson::doc;

use crate::MongoStore;
use crate::docs::{self, date};
use crate::errors::{is_duplicate_key, storage};
use crate::users::MAX_ATTEMPTS;

fn unknown(e: anyhow::Error) -> StorageError {
    StorageError::Unknown(e)
}

impl MongoStore {
    async fn apply_event(
        &self,
        event: &CustomerEvent,
        decide: &(impl Fn(&CustomerEvent, Option<&User>) -> Effect + Sync),
    ) -> Result<EventOutcome, StorageError> {
        let key = UserKey::from(event.user_id.clone());
        let mut previous: Option<User> = None;
        for _ in 0..MAX_ATTEMPTS {
            let current = self.find_user_doc(&key).await?;
            // Unchanged since the last attempt: the guard failed on how a value is stored, not
            // on a change (see `docs::write_changes`).
            let guarded = previous.is_none() || previous != current;
            let billing = match decide(event, current.as_ref()) {
                Effect::CreateUser { user, billing } => {
                    match self.inner.users.insert_one(docs::new_user_doc(&user)).await {
                        Ok(_) => {}
                        // Created meanwhile (by the API, say): decide again on what is there.
                        Err(e) if is_duplicate_key(&e) => continue,
                        Err(e) => return Err(storage(e)),
                    }
                    billing
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
                    billing
                }
                Effect::DeleteUser => match self.delete_user(&key).await {
                    Ok(_) | Err(DeleteUserError::NotFound) => None,
                    Err(DeleteUserError::Unavailable(e)) => {
                        return Err(StorageError::Unavailable(e));
                    }
                    Err(DeleteUserError::Unknown(e)) => return Err(unknown(e)),
                },
                Effect::Skip { reason } => return Ok(EventOutcome::Skipped { reason }),
            };
            let Some(draft) = billing else {
                return Ok(EventOutcome::Applied);
            };
            let existing = self
                .inner
                .billings
                .find_one(doc! { "sourceEventId": event.id.as_str() })
                .await
                .map_err(storage)?;
            if existing.is_some() {
                return Ok(EventOutcome::Applied);
            }
            return match self.create(draft, Some(&event.id)).await {
                Ok(_) => Ok(EventOutcome::Applied),
                Err(CreateBillingError::Unavailable(e)) => Err(StorageError::Unavailable(e)),
                Err(CreateBillingError::Unknown(e)) => Err(unknown(e)),
                Err(refused) => Ok(EventOutcome::Rejected {
                    reason: refused.to_string(),
                }),
            };
        }
        Err(unknown(anyhow::anyhow!(
            "user `{}` kept changing while event {} was applied",
            event.user_id,
            event.id
        )))
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
        self.ensure_indexes().await?;
        let mut outcomes = Vec::with_capacity(events.len());
        for event in &events {
            let seen = self
                .inner
                .processed_events
                .find_one(doc! { "_id": event.id.as_str() })
                .await
                .map_err(storage)?;
            if seen.is_some() {
                outcomes.push(EventOutcome::Duplicate);
                continue;
            }
            let outcome = self.apply_event(event, &decide).await?;
            if !matches!(outcome, EventOutcome::Rejected { .. }) {
                let entry = doc! {
                    "_id": event.id.as_str(),
                    "type": event.kind.as_str(),
                    "userId": event.user_id.as_str(),
                    "processedAt": date(chrono::Utc::now()),
                };
                match self.inner.processed_events.insert_one(entry).await {
                    Ok(_) => {}
                    Err(e) if is_duplicate_key(&e) => {}
                    Err(e) => return Err(storage(e)),
                }
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}
