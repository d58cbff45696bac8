//! A billing's update and its deletion, each with the events it records (`outbox.rs`).
//!
//! An update reads the billing, applies the patch, and writes what changed guarded by the
//! values read (optimistic concurrency, as `docs::update_guarded` does for users), then records
//! [`BillingEventType::of_update`]. With transactions the write and its events are one
//! transaction (four operations: the read, the write, the events, the commit); without, the
//! events follow the write (three). An update that changes nothing writes nothing, and one
//! that makes no event needs no transaction. Moving the due date removes the overdue sweep's
//! mark (`overdue.rs`), so the new date gets its own `Billing.Overdue`.

use billing_domain::{
    Billing, BillingEventType, BillingId, BillingPatch, DeleteBillingError, StorageError,
    Timestamp, UpdateBillingError,
};
use mongodb::bson::{Document, doc};
use mongodb::error::Error;

use crate::MongoStore;
use crate::docs::{self, MAX_ATTEMPTS, oid};
use crate::errors::{op, storage};
use crate::outbox::Pending;
use crate::transactions::{Failed, with_transaction};

/// The filter and update that take the stored billing from `current` to `next`, guarded by
/// `current`'s values when `guarded`; `None` when nothing changes. (A billing's fields are
/// all top-level, so none is a path into a parent that may not be an object.)
fn change(current: &Billing, next: &Billing, guarded: bool) -> Option<(Document, Document)> {
    let (guard, mut update) =
        docs::diff(docs::billing_fields(current), docs::billing_fields(next))?;
    let mut filter = if guarded { guard } else { Document::new() };
    filter.insert("_id", oid(current.id));
    if current.due_date != next.due_date {
        match update.get_document_mut("$unset") {
            Ok(unset) => {
                unset.insert("overdueFor", "");
            }
            Err(_) => {
                update.insert("$unset", doc! { "overdueFor": "" });
            }
        }
    }
    Some((filter, update))
}

/// The guarded write matched nothing: the billing changed (or went) since it was read.
struct Moved;

impl MongoStore {
    pub(crate) async fn update(
        &self,
        id: &BillingId,
        patch: &BillingPatch,
        now: Timestamp,
    ) -> Result<Billing, UpdateBillingError> {
        let mut previous: Option<Billing> = None;
        for _ in 0..MAX_ATTEMPTS {
            let current = self
                .find_billing_doc(id)
                .await?
                .ok_or(UpdateBillingError::NotFound)?;
            let next = patch.apply(&current, now)?;
            // Unchanged since the last attempt: the guard failed on how a value is stored, not
            // on a change (see `docs::write_changes`).
            let guarded = previous.as_ref() != Some(&current);
            let Some((filter, update)) = change(&current, &next, guarded) else {
                return Ok(next);
            };
            let kinds = BillingEventType::of_update(&current, &next);
            let events: Vec<Pending<'_>> =
                kinds.iter().map(|k| Pending::new(*k, &next, now)).collect();
            if self
                .write_update(filter, update, &events)
                .await
                .map_err(op::<UpdateBillingError>)?
            {
                return Ok(next);
            }
            previous = Some(current);
        }
        Err(StorageError::Unknown(anyhow::anyhow!(
            "billing {id} kept changing concurrently; gave up after {MAX_ATTEMPTS} attempts"
        ))
        .into())
    }

    /// Writes the update and records `events`; false when the guard matched nothing.
    async fn write_update(
        &self,
        filter: Document,
        update: Document,
        events: &[Pending<'_>],
    ) -> Result<bool, Error> {
        if events.is_empty() || !self.transactions() {
            let written = self.inner.billings.update_one(filter, update).await?;
            if written.matched_count == 0 {
                return Ok(false);
            }
            self.record(events, None).await?;
            return Ok(true);
        }
        let (filter, update) = (&filter, &update);
        let written = with_transaction(self.client(), |mut session| async move {
            let attempt = async {
                let written = self
                    .inner
                    .billings
                    .update_one(filter.clone(), update.clone())
                    .session(&mut session)
                    .await?;
                if written.matched_count == 0 {
                    return Ok(Err(Moved));
                }
                self.record(events, Some(&mut session)).await?;
                Ok(Ok(()))
            }
            .await;
            (session, attempt)
        })
        .await;
        match written {
            Ok(()) => Ok(true),
            Err(Failed::Refused(Moved)) => Ok(false),
            Err(Failed::Driver(e)) => Err(e),
            Err(Failed::KeptConflicting) => Err(Error::custom(
                "the update kept conflicting with concurrent changes".to_owned(),
            )),
        }
    }

    /// Removes the billing with `findOneAndDelete`, which gives it as it was for its
    /// `Billing.Deleted`: with transactions in one with the event (three operations), without
    /// followed by it (two).
    pub(crate) async fn delete(
        &self,
        id: &BillingId,
        at: Timestamp,
    ) -> Result<(), DeleteBillingError> {
        let filter = doc! { "billingId": id.as_str() };
        if !self.transactions() {
            let gone = self
                .inner
                .billings
                .find_one_and_delete(filter)
                .await
                .map_err(op::<DeleteBillingError>)?
                .ok_or(DeleteBillingError::NotFound)?;
            return self
                .record_deleted(&[gone], at, None)
                .await
                .map_err(op::<DeleteBillingError>);
        }
        let filter = &filter;
        let deleted = with_transaction(self.client(), |mut session| async move {
            let attempt = async {
                let Some(gone) = self
                    .inner
                    .billings
                    .find_one_and_delete(filter.clone())
                    .session(&mut session)
                    .await?
                else {
                    return Ok(Err(DeleteBillingError::NotFound));
                };
                self.record_deleted(&[gone], at, Some(&mut session)).await?;
                Ok(Ok(()))
            }
            .await;
            (session, attempt)
        })
        .await;
        deleted.map_err(|failed| match failed {
            Failed::Refused(refused) => refused,
            Failed::Driver(e) => op(e),
            Failed::KeptConflicting => storage(Error::custom(
                "the deletion kept conflicting with concurrent changes".to_owned(),
            ))
            .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_domain::{DocumentId, Payment, Phone, UserId, parse_timestamp};

    fn billing() -> Billing {
        let t = parse_timestamp("2025-10-01T00:00:00Z").expect("a date");
        Billing {
            id: DocumentId::parse("65a1b2c3d4e5f60718293a4b").expect("an id"),
            billing_id: BillingId::from_sequence(1),
            user_id: UserId::parse("u1").expect("a userId"),
            generation_date: t,
            due_date: Some(t),
            service_id: None,
            total_invoice: None,
            payment: Payment::UNPAID,
            phone: Phone::default(),
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn moving_the_due_date_removes_the_overdue_mark_and_other_changes_keep_it() {
        let before = billing();
        let later = parse_timestamp("2025-11-01T00:00:00Z").expect("a date");
        let mut moved = before.clone();
        moved.due_date = Some(later);
        let (filter, update) = change(&before, &moved, true).expect("a change");
        assert_eq!(
            update.get_document("$unset"),
            Ok(&doc! { "overdueFor": "" })
        );
        assert!(
            filter.contains_key("dueDate"),
            "guarded by the old date: {filter}"
        );
        let mut cleared = before.clone();
        cleared.due_date = None;
        let (_, update) = change(&before, &cleared, true).expect("a change");
        assert_eq!(
            update.get_document("$unset"),
            Ok(&doc! { "dueDate": "", "overdueFor": "" })
        );
        let mut paid = before.clone();
        paid.payment = Payment::paid(later);
        let (filter, update) = change(&before, &paid, false).expect("a change");
        assert!(!update.contains_key("$unset"), "{update}");
        assert_eq!(filter, doc! { "_id": oid(before.id) });
        assert!(change(&before, &before, true).is_none());
    }
}
