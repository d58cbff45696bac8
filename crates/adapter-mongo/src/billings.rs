use std::sync::{Mutex, PoisonError};

use billing_domain::{
    Billing, BillingCursor, BillingDraft, BillingEventType, BillingId, BillingPatch, BillingQuery,
    BillingRepository, CreateBillingError, DeleteBillingError, DocumentId, Limit, Listing,
    MessageId, PageRequest, Position, StorageError, Timestamp, UpdateBillingError, User, UserKey,
    timestamp_from_millis,
};
use mongodb::bson::{Document, doc};
use mongodb::options::ReturnDocument;

use crate::docs::{self, as_u64, date, oid};
use crate::errors::{is_duplicate_key, op, storage, unreadable};
use crate::outbox::Pending;
use crate::transactions::{Failed, with_transaction};
use crate::{MongoStore, all_of, list_page, raw_id};

fn filter(q: &BillingQuery) -> Document {
    let mut clauses: Vec<Document> = Vec::new();
    if let Some(u) = &q.user_id {
        clauses.push(doc! { "userId": u.as_str() });
    }
    match q.is_paid {
        Some(true) => clauses.push(doc! { "isPaid": true }),
        // Mongoose's default for a missing isPaid is false.
        Some(false) => clauses.push(doc! { "isPaid": { "$ne": true } }),
        None => {}
    }
    let now = date(q.now);
    match q.overdue {
        Some(true) => clauses.push(doc! { "isPaid": { "$ne": true }, "dueDate": { "$lt": now } }),
        // Null matches a missing due date too: such a billing is never overdue.
        Some(false) => clauses.push(doc! { "$or": [
            { "isPaid": true }, { "dueDate": { "$gte": now } }, { "dueDate": null },
        ] }),
        None => {}
    }
    if let Some(t) = q.due_before {
        clauses.push(doc! { "dueDate": { "$lt": date(t) } });
    }
    if let Some(t) = q.due_after {
        clauses.push(doc! { "dueDate": { "$gte": date(t) } });
    }
    all_of(clauses)
}

/// Where a billing document stands in list order, whether or not it can be read.
fn position(d: &Document) -> Option<BillingCursor> {
    let generation_date = match d.get("generationDate") {
        Some(mongodb::bson::Bson::DateTime(t)) => {
            timestamp_from_millis(t.timestamp_millis()).ok()?
        }
        _ => return None,
    };
    Some(BillingCursor {
        generation_date,
        id: raw_id(d)?,
    })
}

fn after(c: &BillingCursor) -> Document {
    let g = date(c.generation_date);
    doc! { "$or": [
        { "generationDate": { "$lt": g } },
        { "generationDate": g, "_id": { "$lt": oid(c.id) } },
    ] }
}

/// Why `user` cannot have a new billing now, if it cannot.
fn refusal(user: Option<&User>, draft: &BillingDraft) -> Option<CreateBillingError> {
    match user {
        None => Some(CreateBillingError::UserNotFound(draft.user_id.clone())),
        Some(u) if !u.is_active => Some(CreateBillingError::UserInactive(u.user_id.clone())),
        Some(_) => None,
    }
}

impl MongoStore {
    /// Advances the counter by `step` with one atomic `$inc` (upsert) and returns the new
    /// `seq`: the numbers `seq - step + 1 ..= seq` are the caller's.
    async fn advance_counter(&self, step: u64) -> Result<u64, StorageError> {
        let step = i64::try_from(step).map_err(|_| {
            unreadable::<StorageError>(anyhow::anyhow!(
                "a billing number block does not fit the counter"
            ))
        })?;
        // Two first-ever upserts can race; the loser sees a duplicate key (or, on some servers,
        // no document) and simply tries again, now finding the counter.
        for _ in 0..3 {
            let counter = self
                .inner
                .counters
                .find_one_and_update(
                    doc! { "_id": "billingId" },
                    doc! { "$inc": { "seq": step } },
                )
                .upsert(true)
                .return_document(ReturnDocument::After)
                .await;
            match counter {
                Ok(Some(counter)) => {
                    return counter.get("seq").and_then(as_u64).ok_or_else(|| {
                        unreadable::<StorageError>(anyhow::anyhow!(
                            "counters.billingId.seq is not a number"
                        ))
                    });
                }
                Ok(None) => {}
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(storage(e)),
            }
        }
        Err(unreadable::<StorageError>(anyhow::anyhow!(
            "the billingId counter could not be advanced"
        )))
    }

    /// Takes `count` billing numbers, increasing: first what is left of this instance's block,
    /// then from the counter, in one `$inc` of whole blocks (`BILLING_ID_BLOCK`; with a block
    /// of 1, exactly `count`, so the numbers stay consecutive across instances). The numbers of
    /// a block this instance does not use before it stops are never given: gaps, not
    /// duplicates.
    pub(crate) async fn reserve_numbers(&self, count: u64) -> Result<Vec<u64>, StorageError> {
        let mut numbers = self.inner.block.take(count);
        let missing = count - numbers.len() as u64;
        if missing > 0 {
            let block = u64::from(self.inner.block.size());
            let step = missing.div_ceil(block) * block;
            let last = self.advance_counter(step).await?;
            let first = last + 1 - step;
            numbers.extend(first..first + missing);
            self.inner.block.keep(first + missing..last + 1);
        }
        Ok(numbers)
    }

    pub(crate) async fn find_billing_doc(
        &self,
        id: &BillingId,
    ) -> Result<Option<Billing>, StorageError> {
        self.inner
            .billings
            .find_one(doc! { "billingId": id.as_str() })
            .await
            .map_err(storage)?
            .map(|d| docs::billing(&d))
            .transpose()
            .map_err(StorageError::Unknown)
    }

    /// Creates a billing only while its user exists and is active, and takes its number only
    /// once the user has been seen so (a refusal consumes no number). The counter stays
    /// outside any transaction: inside one, every concurrent creation would conflict on that
    /// one document. A crash or a refusal after the number is taken leaves an unused number (a
    /// gap), never a duplicate.
    ///
    /// - With transactions (replica set, sharded cluster), five operations: in a transaction,
    ///   one `findOneAndUpdate` of the user that reads it and marks it (`lastBilling`, the new
    ///   billing's `_id`: never the value already there, so it is a real write), the `$inc`
    ///   outside it, the insert, its `Billing.Created` (`outbox.rs`), the commit. The write
    ///   makes a concurrent suspension or deletion conflict with the creation, so one of them
    ///   is retried and they cannot interleave.
    /// - Without (standalone), five too: read the user, `$inc`, insert, then read the user
    ///   again and remove the billing if they were suspended or deleted meanwhile, and record
    ///   the event once the billing stays (a crash just before loses the event). A
    ///   deletion's final sweep removes what a creation inserted just before the user went.
    ///   What this cannot prevent: a billing visible for the instant between its insert and
    ///   its removal, and, after a crash in that instant, a billing for a user suspended in
    ///   that same instant.
    pub(crate) async fn create(
        &self,
        draft: BillingDraft,
        source_event: Option<&MessageId>,
    ) -> Result<Billing, CreateBillingError> {
        self.ensure_indexes().await?;
        if self.transactions() {
            self.create_in_transaction(&draft, source_event).await
        } else {
            self.create_then_recheck(&draft, source_event).await
        }
    }

    async fn next_id(&self) -> Result<BillingId, StorageError> {
        let numbers = self.reserve_numbers(1).await?;
        numbers
            .first()
            .map(|n| BillingId::from_sequence(*n))
            .ok_or_else(|| {
                unreadable::<StorageError>(anyhow::anyhow!("no billing number was reserved"))
            })
    }

    async fn create_then_recheck(
        &self,
        draft: &BillingDraft,
        source_event: Option<&MessageId>,
    ) -> Result<Billing, CreateBillingError> {
        let key = UserKey::from(draft.user_id.clone());
        let user = self.find_user_doc(&key).await?;
        if let Some(refused) = refusal(user.as_ref(), draft) {
            return Err(refused);
        }
        let phone = user.map(|u| u.phone).unwrap_or_default();
        let billing = draft.clone().into_billing(self.next_id().await?, phone);
        match self
            .inner
            .billings
            .insert_one(billing_document(&billing, source_event))
            .await
        {
            Ok(_) => {}
            Err(e) if is_duplicate_key(&e) => {
                return Err(CreateBillingError::Duplicate(billing.billing_id));
            }
            Err(e) => return Err(op(e)),
        }
        if let Some(refused) = refusal(self.find_user_doc(&key).await?.as_ref(), draft) {
            self.inner
                .billings
                .delete_one(doc! { "_id": oid(billing.id) })
                .await
                .map_err(op::<CreateBillingError>)?;
            return Err(refused);
        }
        // Only once the billing is sure to stay: a creation undone records nothing.
        self.record(&[created(&billing)], None)
            .await
            .map_err(op::<CreateBillingError>)?;
        Ok(billing)
    }

    async fn create_in_transaction(
        &self,
        draft: &BillingDraft,
        source_event: Option<&MessageId>,
    ) -> Result<Billing, CreateBillingError> {
        // Taken once, on the first attempt that finds the user active, and kept across the
        // attempts a conflict makes: a retry must not take another number.
        let number: Mutex<Option<BillingId>> = Mutex::new(None);
        let number = &number;
        let created = with_transaction(self.client(), |mut session| async move {
            let attempt = async {
                let found = self
                    .inner
                    .users
                    .find_one_and_update(
                        doc! { "userId": draft.user_id.as_str() },
                        doc! { "$set": { "lastBilling": oid(draft.id) } },
                    )
                    .session(&mut session)
                    .await?;
                let user = match found.map(|d| docs::user(&d)).transpose() {
                    Ok(user) => user,
                    Err(e) => return Ok(Err(StorageError::Unknown(e).into())),
                };
                let user = match (refusal(user.as_ref(), draft), user) {
                    (None, Some(user)) => user,
                    (Some(refused), _) => return Ok(Err(refused)),
                    (None, None) => {
                        return Ok(Err(CreateBillingError::UserNotFound(draft.user_id.clone())));
                    }
                };
                let taken = number
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                let id = match taken {
                    Some(id) => id,
                    None => match self.next_id().await {
                        Ok(id) => {
                            *number.lock().unwrap_or_else(PoisonError::into_inner) =
                                Some(id.clone());
                            id
                        }
                        Err(e) => return Ok(Err(e.into())),
                    },
                };
                let billing = draft.clone().into_billing(id, user.phone);
                match self
                    .inner
                    .billings
                    .insert_one(billing_document(&billing, source_event))
                    .session(&mut session)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_duplicate_key(&e) => {
                        return Ok(Err(CreateBillingError::Duplicate(billing.billing_id)));
                    }
                    Err(e) => return Err(e),
                }
                self.record(&[created(&billing)], Some(&mut session))
                    .await?;
                Ok(Ok(billing))
            }
            .await;
            (session, attempt)
        })
        .await;
        created.map_err(|failed| match failed {
            Failed::Refused(refused) => refused,
            Failed::Driver(e) => op(e),
            // Creations for one user conflict with each other too: a store that never lets
            // one through is as good as unavailable.
            Failed::KeptConflicting => StorageError::Unavailable(anyhow::anyhow!(
                "the creation kept conflicting with other changes of user `{}`",
                draft.user_id
            ))
            .into(),
        })
    }
}

/// A new billing's `Billing.Created`, dated its creation.
pub(crate) fn created(billing: &Billing) -> Pending<'_> {
    Pending::new(BillingEventType::Created, billing, billing.created_at)
}

pub(crate) fn billing_document(billing: &Billing, source_event: Option<&MessageId>) -> Document {
    let mut document = docs::new_billing_doc(billing);
    if let Some(event) = source_event {
        // The event that created it: a unique index makes an event's billing unique.
        document.insert("sourceEventId", event.as_str());
    }
    document
}

impl BillingRepository for MongoStore {
    async fn create_billing(&self, draft: BillingDraft) -> Result<Billing, CreateBillingError> {
        self.create(draft, None).await
    }

    async fn find_billing(&self, id: &BillingId) -> Result<Option<Billing>, StorageError> {
        self.find_billing_doc(id).await
    }

    async fn list_billings(
        &self,
        q: &BillingQuery,
    ) -> Result<Listing<Billing, BillingCursor>, StorageError> {
        let after = q.page.position.cursor().map(after);
        list_page(
            &self.inner.billings,
            filter(q),
            after,
            doc! { "generationDate": -1, "_id": -1 },
            &q.page,
            docs::billing,
            position,
        )
        .await
    }

    async fn scan_billings(
        &self,
        after: Option<DocumentId>,
        limit: Limit,
    ) -> Result<Listing<Billing, DocumentId>, StorageError> {
        list_page(
            &self.inner.billings,
            Document::new(),
            after.map(|a| doc! { "_id": { "$gt": oid(a) } }),
            doc! { "_id": 1 },
            &PageRequest {
                limit,
                position: after.map_or(Position::First, Position::After),
            },
            docs::billing,
            raw_id,
        )
        .await
    }

    async fn update_billing(
        &self,
        id: &BillingId,
        patch: BillingPatch,
        now: Timestamp,
    ) -> Result<Billing, UpdateBillingError> {
        self.update(id, &patch, now).await
    }

    async fn delete_billing(
        &self,
        id: &BillingId,
        at: Timestamp,
    ) -> Result<(), DeleteBillingError> {
        self.delete(id, at).await
    }
}
