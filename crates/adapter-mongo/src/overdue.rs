//! The overdue sweep: `Billing.Overdue` once per due date for the unpaid billings whose due
//! date has passed.
//!
//! A billing that has had it carries the due date it had it for, `overdueFor` (a field the
//! previous service does not know and that the document reader ignores); an update that moves
//! the due date removes it (`updates.rs`), so the new date gets its own event. The sweep reads
//! the billings without the mark, oldest due date first, `{overdueFor: null, dueDate: {$lt:
//! now}, isPaid: {$ne: true}}` off the `{overdueFor, dueDate, _id}` index, and marks each with
//! an update guarded by the values it read: only the sweep whose update matched records the
//! event, so racing sweeps record each billing once, and a billing paid or changed since it
//! was read is left for the next sweep.
//! - With transactions, the read, the marks and the events are one transaction.
//! - Without, the marks come first and the events after them: a crash in between loses the
//!   events of the billings marked.

use billing_domain::{Billing, BillingEventType, Limit, StorageError, Timestamp};
use futures_util::TryStreamExt;
use mongodb::ClientSession;
use mongodb::bson::{Bson, Document, doc};

use crate::MongoStore;
use crate::docs::{self, date};
use crate::errors::storage;
use crate::outbox::Pending;
use crate::transactions::{Failed, with_transaction};

fn candidates(now: Timestamp) -> Document {
    doc! {
        "overdueFor": null,
        "dueDate": { "$lt": date(now) },
        // Mongoose's default for a missing isPaid is false.
        "isPaid": { "$ne": true },
    }
}

/// Matches `d` only while it is as read and unmarked; compares the stored values themselves,
/// so however they are stored they match.
fn unchanged(d: &Document) -> Document {
    let stored = |key: &str| d.get(key).cloned().unwrap_or(Bson::Null);
    doc! {
        "_id": stored("_id"),
        "overdueFor": null,
        "isPaid": { "$ne": true },
        "dueDate": stored("dueDate"),
        "updatedAt": stored("updatedAt"),
    }
}

fn mark(d: &Document) -> Document {
    doc! { "$set": { "overdueFor": d.get("dueDate").cloned().unwrap_or(Bson::Null) } }
}

/// The marked billings that can be read; one that cannot keeps its mark (so it does not hold
/// the head of every sweep) and gets no event.
fn readable(marked: &[Document]) -> Vec<Billing> {
    marked
        .iter()
        .filter_map(|d| {
            docs::billing(d)
                .inspect_err(|e| {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "no Billing.Overdue for an unreadable billing"
                    );
                })
                .ok()
        })
        .collect()
}

impl MongoStore {
    pub(crate) async fn sweep_overdue(
        &self,
        now: Timestamp,
        limit: Limit,
    ) -> Result<u64, StorageError> {
        if !self.transactions() {
            return self.sweep_in_order(now, limit).await;
        }
        let swept = with_transaction(self.client(), |mut session| async move {
            let attempt = self.sweep_once(now, limit, Some(&mut session)).await;
            (session, attempt.map(Ok::<_, std::convert::Infallible>))
        })
        .await;
        swept.map_err(|failed| match failed {
            Failed::Refused(never) => match never {},
            Failed::Driver(e) => storage(e),
            Failed::KeptConflicting => StorageError::Unavailable(anyhow::anyhow!(
                "the overdue sweep kept conflicting with other changes"
            )),
        })
    }

    async fn sweep_in_order(&self, now: Timestamp, limit: Limit) -> Result<u64, StorageError> {
        self.sweep_once(now, limit, None).await.map_err(storage)
    }

    /// Reads, marks and records, in `session`'s transaction when there is one.
    async fn sweep_once(
        &self,
        now: Timestamp,
        limit: Limit,
        mut session: Option<&mut ClientSession>,
    ) -> mongodb::error::Result<u64> {
        let due = self
            .overdue_candidates(now, limit, session.as_deref_mut())
            .await?;
        let mut marked = Vec::with_capacity(due.len());
        for d in due {
            let mut update = self.inner.billings.update_one(unchanged(&d), mark(&d));
            if let Some(s) = session.as_deref_mut() {
                update = update.session(s);
            }
            if update.await?.modified_count == 1 {
                marked.push(d);
            }
        }
        let billings = readable(&marked);
        let events: Vec<Pending<'_>> = billings
            .iter()
            .map(|b| Pending::new(BillingEventType::Overdue, b, now))
            .collect();
        self.record(&events, session).await?;
        Ok(events.len() as u64)
    }

    async fn overdue_candidates(
        &self,
        now: Timestamp,
        limit: Limit,
        session: Option<&mut ClientSession>,
    ) -> mongodb::error::Result<Vec<Document>> {
        let find = self
            .inner
            .billings
            .find(candidates(now))
            .sort(doc! { "dueDate": 1, "_id": 1 })
            .limit(i64::from(limit.get()))
            .batch_size(limit.get());
        match session {
            Some(s) => find.session(&mut *s).await?.stream(s).try_collect().await,
            None => find.await?.try_collect().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_compares_the_stored_values_and_a_missing_one_as_null() {
        let due = Bson::String("2025-10-15".to_owned());
        let d = doc! { "_id": 7, "dueDate": due.clone() };
        assert_eq!(
            unchanged(&d),
            doc! {
                "_id": 7, "overdueFor": null, "isPaid": { "$ne": true },
                "dueDate": due.clone(), "updatedAt": null,
            }
        );
        assert_eq!(mark(&d), doc! { "$set": { "overdueFor": due } });
    }
}
