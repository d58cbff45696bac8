use billing_domain::{
    Billing, BillingCursor, BillingDraft, BillingId, BillingPatch, BillingQuery, BillingRepository,
    CreateBillingError, DeleteBillingError, Listing, MessageId, Position, StorageError, Timestamp,
    UpdateBillingError, User, UserKey,
};
use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::options::ReturnDocument;

use crate::docs::{self, as_u64, date, oid};
use crate::errors::{is_duplicate_key, op, storage, unreadable};
use crate::users::MAX_ATTEMPTS;
use crate::{MongoStore, read_listing};

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
        Some(false) => {
            and.push(doc! { "$or": [ { "isPaid": true }, { "dueDate": { "$gte": now } } ] })
        }
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

    /// Creates a billing in steps ordered so that no billing outlives a check it failed:
    ///
    /// 1. check that the user exists and is active (a refusal here consumes no number);
    /// 2. take the next number with one atomic `$inc` on `counters`, as the previous service
    ///    did (concurrent creations never share a number);
    /// 3. insert the billing, with the user's phone;
    /// 4. check the user again: if they were suspended or deleted since step 1, remove the
    ///    billing and refuse. A suspension or deletion is thereby ordered either before the
    ///    billing (refused) or after it (the billing was created while the user was active, and a
    ///    deletion's final sweep removes it).
    ///
    /// The counter stays outside any transaction (as it always was): a transaction around it
    /// would make every concurrent creation conflict on one document. What a crash can leave:
    /// between steps 2 and 3, an unused number (a gap, never a duplicate); between 3 and 4, a
    /// billing for a user suspended in that same instant.
    pub(crate) async fn create(
        &self,
        draft: BillingDraft,
        source_event: Option<&MessageId>,
    ) -> Result<Billing, CreateBillingError> {
        let key = UserKey::from(draft.user_id.clone());
        let user = self.find_user_doc(&key).await?;
        if let Some(refused) = refusal(user.clone(), &draft) {
            return Err(refused);
        }
        let phone = user.map(|u| u.phone).unwrap_or_default();
        let number = self.next_billing_number().await?;
        let billing = draft
            .clone()
            .into_billing(BillingId::from_sequence(number), phone);
        let mut document = docs::new_billing_doc(&billing);
        if let Some(event) = source_event {
            // The event that created it: a unique index makes an event's billing unique.
            document.insert("sourceEventId", event.as_str());
        }
        match self.inner.billings.insert_one(document).await {
            Ok(_) => {}
            Err(e) if is_duplicate_key(&e) => {
                return Err(CreateBillingError::Duplicate(billing.billing_id));
            }
            Err(e) => return Err(op(e)),
        }
        if let Some(refused) = refusal(self.find_user_doc(&key).await?, &draft) {
            self.inner
                .billings
                .delete_one(doc! { "_id": oid(billing.id) })
                .await
                .map_err(op::<CreateBillingError>)?;
            return Err(refused);
        }
        Ok(billing)
    }
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
        let mut filter = filter(q);
        let total = match q.page.position {
            Position::Page(_) => Some(
                self.inner
                    .billings
                    .count_documents(filter.clone())
                    .await
                    .map_err(storage)?,
            ),
            Position::After(_) => None,
        };
        if let Position::After(c) = &q.page.position {
            filter = doc! { "$and": [filter, after(c)] };
        }
        let cursor = self
            .inner
            .billings
            .find(filter)
            .sort(doc! { "generationDate": -1, "_id": -1 })
            .skip(q.page.position.offset(q.page.limit))
            .limit(i64::from(q.page.limit.get()) + 1)
            .await
            .map_err(storage)?;
        let found: Vec<Document> = cursor.try_collect().await.map_err(storage)?;
        Ok(read_listing(
            found,
            docs::billing,
            q.page.limit,
            BillingCursor::of,
            total,
        ))
    }

    async fn update_billing(
        &self,
        id: &BillingId,
        patch: BillingPatch,
        now: Timestamp,
    ) -> Result<Billing, UpdateBillingError> {
        for _ in 0..MAX_ATTEMPTS {
            let billing = self
                .find_billing_doc(id)
                .await?
                .ok_or(UpdateBillingError::NotFound)?;
            let next = patch.apply(&billing, now)?;
            let Some((mut filter, update)) =
                docs::diff(docs::billing_fields(&billing), docs::billing_fields(&next))
            else {
                return Ok(next);
            };
            filter.insert("_id", oid(billing.id));
            let result = self
                .inner
                .billings
                .update_one(filter, update)
                .await
                .map_err(op::<UpdateBillingError>)?;
            if result.matched_count == 1 {
                return Ok(next);
            }
        }
        Err(UpdateBillingError::Unknown(anyhow::anyhow!(
            "billing kept changing concurrently; gave up after {MAX_ATTEMPTS} attempts"
        )))
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
