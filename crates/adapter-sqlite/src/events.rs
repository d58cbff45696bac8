//! Customer events: a whole batch is one writer job, so one transaction and one sync; each
//! event runs in its own savepoint with its inbox entry, so its effect and the record that it
//! happened are one atomic unit.

use billing_domain::{
    CreateBillingError, CustomerEvent, Effect, EventOutcome, EventRepository, StorageError,
    Subject, UserKey,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::errors::storage;
use crate::writer::run_cached;
use crate::{SqliteStore, billings, users};

/// An error that undoes one event only, or a storage failure that undoes the batch.
enum Failure {
    Rejected(String),
    Storage(StorageError),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Self::Storage(storage(e))
    }
}

fn seen(conn: &Connection, event: &CustomerEvent) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM processed_events WHERE id = ?1")?
        .query_row([event.id.as_str()], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

/// What the store knows of the event's user.
fn subject(conn: &Connection, event: &CustomerEvent) -> rusqlite::Result<Subject> {
    let user = users::find(conn, &UserKey::from(event.user_id.clone()))?;
    let deleted_at = match user {
        Some(_) => None,
        None => users::tombstone(conn, &event.user_id)?,
    };
    Ok(Subject {
        user,
        deleted_at,
        has_billings: users::has_billings(conn, &event.user_id)?,
    })
}

fn apply(
    conn: &Connection,
    event: &CustomerEvent,
    decide: &impl Fn(&CustomerEvent, &Subject) -> Effect,
) -> Result<EventOutcome, Failure> {
    let subject = subject(conn, event)?;
    // The user as stored once the effect is written, for the billing that goes with it.
    let (user, billing) = match decide(event, &subject) {
        Effect::CreateUser { user, billing } => {
            users::write(conn, &user, true)?;
            (user, billing)
        }
        Effect::UpdateUser { user, billing } => {
            if subject.user.as_ref() != Some(&user) {
                users::write(conn, &user, false)?;
            }
            (user, billing)
        }
        Effect::DeleteUser { at } => {
            if let Some(user) = &subject.user {
                users::delete(conn, user, at)?;
            }
            return Ok(EventOutcome::Applied);
        }
        Effect::Skip { reason } => return Ok(EventOutcome::Skipped { reason }),
    };
    if let Some(draft) = billing {
        billings::create_for(conn, draft, &user).map_err(|e| match e {
            CreateBillingError::Storage(e) => Failure::Storage(e),
            refused => Failure::Rejected(refused.to_string()),
        })?;
    }
    Ok(EventOutcome::Applied)
}

fn apply_batch(
    conn: &Connection,
    events: &[CustomerEvent],
    decide: &impl Fn(&CustomerEvent, &Subject) -> Effect,
    now_ms: i64,
) -> Result<Vec<EventOutcome>, StorageError> {
    let mut outcomes = Vec::with_capacity(events.len());
    for event in events {
        if seen(conn, event).map_err(storage)? {
            outcomes.push(EventOutcome::Duplicate);
            continue;
        }
        run_cached(conn, "SAVEPOINT event").map_err(storage)?;
        match apply(conn, event, decide) {
            Ok(outcome) => {
                conn.prepare_cached(
                    "INSERT INTO processed_events (id, processed_at) VALUES (?1, ?2)",
                )
                .and_then(|mut s| s.execute(params![event.id.as_str(), now_ms]))
                .and_then(|_| run_cached(conn, "RELEASE event"))
                .map_err(storage)?;
                outcomes.push(outcome);
            }
            Err(Failure::Rejected(reason)) => {
                conn.execute_batch("ROLLBACK TO event; RELEASE event")
                    .map_err(storage)?;
                outcomes.push(EventOutcome::Rejected { reason });
            }
            Err(Failure::Storage(e)) => return Err(e),
        }
    }
    Ok(outcomes)
}

impl EventRepository for SqliteStore {
    async fn apply_events<D>(
        &self,
        events: Vec<CustomerEvent>,
        decide: D,
    ) -> Result<Vec<EventOutcome>, StorageError>
    where
        D: Fn(&CustomerEvent, &Subject) -> Effect + Send + Sync + 'static,
    {
        let now_ms = chrono::Utc::now().timestamp_millis();
        self.writer()
            .write(move |conn| apply_batch(conn, &events, &decide, now_ms))
            .await
    }
}
