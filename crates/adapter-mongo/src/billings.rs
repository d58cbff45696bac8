use billing_domain::{
    Billing, BillingCursor, BillingDraft, BillingId, BillingPatch, BillingQuery, BillingRepository,
    CreateBillingError, DeleteBillingError, DocumentId, Limit, Listing, MessageId, PageRequest,
    Position, StorageError, Timestamp, UpdateBillingError, User, UserKey, timestamp_from_millis,
};
use mongodb::bson::{Document, doc};
use mongodb::options::ReturnDocument;

use crate::docs::{self, as_u64, date, oid};
use crate::errors::{is_duplicate_key, op, storage, unreadable};
use crate::transactions::{Failed, with_transaction};
use crate::{MongoStore, list_page, raw_id};

fn filter(q: &BillingQuery) -> Document {
    // Each condition is its own clause, so two on one field (dueDate) cannot collide.
    let mut and: Vec<Document> = Vec::new();
    if let Some(u) = &q.user_id {
        and.push(doc! { "userId": u.as_str() });
    }
    match q.is_paid {
        Some(true) => and.push(doc! { "isPaid": true }),
        // Mongoose's default for a missing isPaid is false.
        Some(false) => and.push(doc! { "isPaid": { "$ne": true } }),
        None => {}
    }
    let now = date(q.now);
    match q.overdue {
        Some(true) => and.push(doc! { "isPaid": { "$ne": true }, "dueDate": { "$lt": now } }),
        // Null matches a missing due date too: such a billing is never overdue.
        Some(false) => and.push(doc! { "$or": [
            { "isPaid": true }, { "dueDate": { "$gte": now } }, { "dueDate": null },
        ] }),
        None => {}
    }
    if let Some(t) = q.due_before {
        and.push(doc! { "dueDate": { "$lt": date(t) } });
    }
    if let Some(t) = q.due_after {
        and.push(doc! { "dueDate": { "$gte": date(t) } });
    }
    if and.is_empty() {
        Document::new()
    } else {
        doc! { "$and": and }
    }
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
fn refusal(user: Option<User>, draft: &BillingDraft) -> Option<CreateBillingError> {
    match user {
        None => Some(CreateBillingError::UserNotFound(draft.user_id.clone())),
        Some(u) if !u.is_active => Some(CreateBillingError::UserInactive(u.user_id)),
        Some(_) => None,
    }
}

impl MongoStore {
    async fn next_billing_number(&self) -> Result<u64, CreateBillingError> {
        // Two first-ever upserts can race; the loser sees a duplicate key (or, on some servers,
        // no document) and simply tries again, now finding the counter.
        for _ in 0..3 {
            let counter = self
                .inner
                .counters
                .find_one_and_update(doc! { "_id": "billingId" }, doc! { "$inc": { "seq": 1 } })
                .upsert(true)
                .return_document(ReturnDocument::After)
                .await;
            match counter {
                Ok(Some(counter)) => {
                    return counter.get("seq").and_then(as_u64).ok_or_else(|| {
                        unreadable(anyhow::anyhow!("counters.billingId.seq is not a number"))
                    });
                }
                Ok(None) => {}
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(op(e)),
            }
        }
        Err(unreadable(anyhow::anyhow!(
            "the billingId counter could not be advanced"
        )))
    }

    async fn find_billing_doc(&self, id: &BillingId) -> Result<Option<Billing>, StorageError> {
        self.inner
            .billings
            .find_one(doc! { "billingId": id.as_str() })
            .await
            .map_err(storage)?
            .map(|d| docs::billing(&d))
            .transpose()
            .map_err(StorageError::Unknown)
    }

    /// Creates a billing only while its user exists and is active.
    ///
    /// 1. Check the user (a refusal here consumes no number).
    /// 2. Take the next number with one atomic `$inc` on `counters`, as the previous service
    ///    did. The counter stays outside any transaction: inside one, every concurrent creation
    ///    would conflict on that one document. A crash or a refusal after this step leaves an
    ///    unused number (a gap), never a duplicate.
    /// 3. Insert the billing, bound to the user's state:
    ///    - with transactions (replica set, sharded cluster): read the user, write it
    ///      (`lastBillingId`), and insert, in one transaction. The write makes a concurrent
    ///      suspension or deletion conflict with the creation, so one of them is retried and
    ///      they cannot interleave;
    ///    - without (standalone): insert, then check the user again and remove the billing if
    ///      they were suspended or deleted meanwhile. A deletion's final sweep removes what a
    ///      creation inserted just before the user went. What this cannot prevent: a billing
    ///      visible for the instant between its insert and its removal, and, after a crash in
    ///      that instant, a billing for a user suspended in that same instant.
    pub(crate) async fn create(
        &self,
        draft: BillingDraft,
        source_event: Option<&MessageId>,
    ) -> Result<Billing, CreateBillingError> {
        self.ensure_indexes().await?;
        let key = UserKey::from(draft.user_id.clone());
        if let Some(refused) = refusal(self.find_user_doc(&key).await?, &draft) {
            return Err(refused);
        }
        self.create_for_checked_user(draft, source_event).await
    }

    /// Steps 2 and 3 of [`MongoStore::create`], for a caller that has just seen the user active
    /// (step 3 checks again, bound to the insert).
    pub(crate) async fn create_for_checked_user(
        &self,
        draft: BillingDraft,
        source_event: Option<&MessageId>,
    ) -> Result<Billing, CreateBillingError> {
        let id = BillingId::from_sequence(self.next_billing_number().await?);
        if self.transactions() {
            self.insert_in_transaction(&draft, id, source_event).await
        } else {
            self.insert_then_recheck(&draft, id, source_event).await
        }
    }

    async fn insert_then_recheck(
        &self,
        draft: &BillingDraft,
        id: BillingId,
        source_event: Option<&MessageId>,
    ) -> Result<Billing, CreateBillingError> {
        let key = UserKey::from(draft.user_id.clone());
        let phone = self
            .find_user_doc(&key)
            .await?
            .map(|u| u.phone)
            .unwrap_or_default();
        let billing = draft.clone().into_billing(id, phone);
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
        if let Some(refused) = refusal(self.find_user_doc(&key).await?, draft) {
            self.inner
                .billings
                .delete_one(doc! { "_id": oid(billing.id) })
                .await
                .map_err(op::<CreateBillingError>)?;
            return Err(refused);
        }
        Ok(billing)
    }

    async fn insert_in_transaction(
        &self,
        draft: &BillingDraft,
        id: BillingId,
        source_event: Option<&MessageId>,
    ) -> Result<Billing, CreateBillingError> {
        let id = &id;
        let created = with_transaction(self.client(), |mut session| async move {
            let attempt = async {
                let found = self
                    .inner
                    .users
                    .find_one(doc! { "userId": draft.user_id.as_str() })
                    .session(&mut session)
                    .await?;
                let user = match found.map(|d| docs::user(&d)).transpose() {
                    Ok(user) => user,
                    Err(e) => return Ok(Err(StorageError::Unknown(e).into())),
                };
                if let Some(refused) = refusal(user.clone(), draft) {
                    return Ok(Err(refused));
                }
                let Some(user) = user else {
                    return Ok(Err(CreateBillingError::UserNotFound(draft.user_id.clone())));
                };
                self.inner
                    .users
                    .update_one(
                        doc! { "_id": oid(user.id) },
                        doc! { "$set": { "lastBillingId": id.as_str() } },
                    )
                    .session(&mut session)
                    .await?;
                let billing = draft.clone().into_billing(id.clone(), user.phone);
                match self
                    .inner
                    .billings
                    .insert_one(billing_document(&billing, source_event))
                    .session(&mut session)
                    .await
                {
                    Ok(_) => Ok(Ok(billing)),
                    Err(e) if is_duplicate_key(&e) => {
                        Ok(Err(CreateBillingError::Duplicate(billing.billing_id)))
                    }
                    Err(e) => Err(e),
                }
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

fn billing_document(billing: &Billing, source_event: Option<&MessageId>) -> Document {
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
        docs::update_guarded(
            &self.inner.billings,
            || self.find_billing_doc(id),
            |billing| Ok(patch.apply(billing, now)?),
            || UpdateBillingError::NotFound,
        )
        .await
    }

    async fn delete_billing(&self, id: &BillingId) -> Result<(), DeleteBillingError> {
        let result = self
            .inner
            .billings
            .delete_one(doc! { "billingId": id.as_str() })
            .await
            .map_err(op::<DeleteBillingError>)?;
        if result.deleted_count == 0 {
            return Err(DeleteBillingError::NotFound);
        }
        Ok(())
    }
}
