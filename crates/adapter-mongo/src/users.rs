use std::convert::Infallible;

use billing_domain::{
    CreateUserError, DeleteUserError, Listing, StorageError, Timestamp, UpdateUserError, User,
    UserCursor, UserId, UserKey, UserPatch, UserQuery, UserRepository,
};

use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};

use crate::docs::{self, date, oid};
use crate::errors::{is_duplicate_key, op, storage};
use crate::transactions::{Failed, with_transaction};
use crate::{MongoStore, list_page, raw_id};

fn tombstone(user_id: &UserId, at: Timestamp) -> (Document, Document) {
    (
        doc! { "_id": user_id.as_str() },
        doc! { "$set": { "deletedAt": date(at) } },
    )
}

impl MongoStore {
    pub(crate) async fn find_user_doc(&self, key: &UserKey) -> Result<Option<User>, StorageError> {
        // By userId first: a text that is both a userId and an ObjectId names the userId.
        let mut found = None;
        if let Some(user_id) = key.user_id() {
            found = self
                .inner
                .users
                .find_one(doc! { "userId": user_id.as_str() })
                .await
                .map_err(storage)?;
        }
        if found.is_none()
            && let Some(id) = key.object_id()
        {
            found = self
                .inner
                .users
                .find_one(doc! { "_id": oid(id) })
                .await
                .map_err(storage)?;
        }
        found
            .map(|d| docs::user(&d))
            .transpose()
            .map_err(StorageError::Unknown)
    }

    /// Deletes the user and their billings, dates the tombstone and records a
    /// `Billing.Deleted` per billing, in one transaction: the billings are read, then deleted
    /// (the transaction's snapshot makes them the same ones).
    async fn delete_user_in_transaction(
        &self,
        user: &User,
        at: Timestamp,
    ) -> mongodb::error::Result<Option<u64>> {
        let deleted = with_transaction(&self.inner.client, |mut session| async move {
            let attempt = async {
                let filter = doc! { "userId": user.user_id.as_str() };
                let removed: Vec<Document> = self
                    .inner
                    .billings
                    .find(filter.clone())
                    .session(&mut session)
                    .await?
                    .stream(&mut session)
                    .try_collect()
                    .await?;
                let billings = self
                    .inner
                    .billings
                    .delete_many(filter)
                    .session(&mut session)
                    .await?;
                let users = self
                    .inner
                    .users
                    .delete_one(doc! { "_id": oid(user.id) })
                    .session(&mut session)
                    .await?;
                let (filter, update) = tombstone(&user.user_id, at);
                self.inner
                    .deleted_users
                    .update_one(filter, update)
                    .upsert(true)
                    .session(&mut session)
                    .await?;
                self.record_deleted(&removed, at, Some(&mut session))
                    .await?;
                Ok(Ok::<_, Infallible>(
                    (users.deleted_count == 1).then_some(billings.deleted_count),
                ))
            }
            .await;
            (session, attempt)
        })
        .await;
        deleted.map_err(|failed| match failed {
            Failed::Refused(never) => match never {},
            Failed::Driver(e) => e,
            Failed::KeptConflicting => mongodb::error::Error::custom(
                "the deletion kept conflicting with concurrent changes",
            ),
        })
    }

    /// Deletes the user and their billings without a transaction, in an order whose every
    /// intermediate state is one a client may see: first the billings (a user with fewer
    /// billings is a valid state), then the user, then the billings again, because a billing
    /// creation that checked the user before it went may have inserted one meanwhile (creations
    /// that check after it went remove their own billing: see `billings::create`). Then the
    /// `Billing.Deleted` of every billing removed: a crash before them loses them, and a
    /// creation removed by the final sweep before it recorded its `Billing.Created` leaves a
    /// `Billing.Deleted` without one.
    async fn delete_user_in_order(
        &self,
        user: &User,
        at: Timestamp,
    ) -> mongodb::error::Result<Option<u64>> {
        let mut removed = self.delete_billings_of(&user.user_id).await?;
        // The tombstone before the user goes: a crash in between leaves a tombstone for a user
        // still there, which the user's own watermark outranks, never a deletion without one.
        let (tomb, update) = tombstone(&user.user_id, at);
        self.inner
            .deleted_users
            .update_one(tomb, update)
            .upsert(true)
            .await?;
        let gone = self
            .inner
            .users
            .delete_one(doc! { "_id": oid(user.id) })
            .await?;
        removed.extend(self.delete_billings_of(&user.user_id).await?);
        self.record_deleted(&removed, at, None).await?;
        Ok((gone.deleted_count == 1).then_some(removed.len() as u64))
    }

    /// Deletes the user's billings one `findOneAndDelete` each, and returns them as they were:
    /// without a transaction, only the operation that removed a billing knows it did, and a
    /// billing deleted by a concurrent request must get its `Billing.Deleted` once.
    async fn delete_billings_of(&self, user_id: &UserId) -> mongodb::error::Result<Vec<Document>> {
        let ids: Vec<Document> = self
            .inner
            .billings
            .find(doc! { "userId": user_id.as_str() })
            .projection(doc! { "_id": 1 })
            .await?
            .try_collect()
            .await?;
        let mut removed = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(gone) = self.inner.billings.find_one_and_delete(id).await? {
                removed.push(gone);
            }
        }
        Ok(removed)
    }
}

impl UserRepository for MongoStore {
    async fn create_user(&self, user: User) -> Result<User, CreateUserError> {
        self.ensure_indexes().await?;
        match self.inner.users.insert_one(docs::new_user_doc(&user)).await {
            Ok(_) => Ok(user),
            Err(e) if is_duplicate_key(&e) => Err(CreateUserError::Duplicate(user.user_id)),
            Err(e) => Err(op(e)),
        }
    }

    async fn find_user(&self, key: &UserKey) -> Result<Option<User>, StorageError> {
        self.find_user_doc(key).await
    }

    async fn list_users(&self, q: &UserQuery) -> Result<Listing<User, UserCursor>, StorageError> {
        let mut filter = Document::new();
        match q.is_active {
            // Mongoose documents without the field are active (the schema's default).
            Some(true) => filter.insert("isActive", doc! { "$ne": false }),
            Some(false) => filter.insert("isActive", false),
            None => None,
        };
        let after = q
            .page
            .position
            .cursor()
            .map(|c| doc! { "_id": { "$gt": oid(c.0) } });
        list_page(
            &self.inner.users,
            filter,
            after,
            doc! { "_id": 1 },
            &q.page,
            docs::user,
            |d| raw_id(d).map(UserCursor),
        )
        .await
    }

    async fn update_user(
        &self,
        key: &UserKey,
        patch: UserPatch,
        now: Timestamp,
    ) -> Result<User, UpdateUserError> {
        docs::update_guarded(
            &self.inner.users,
            || self.find_user_doc(key),
            |user| Ok(patch.apply(user, now)?),
            || UpdateUserError::NotFound,
        )
        .await
    }

    async fn delete_user(&self, key: &UserKey, at: Timestamp) -> Result<u64, DeleteUserError> {
        let user = self
            .find_user_doc(key)
            .await?
            .ok_or(DeleteUserError::NotFound)?;
        let outcome = if self.transactions() {
            self.delete_user_in_transaction(&user, at).await
        } else {
            self.delete_user_in_order(&user, at).await
        };
        outcome
            .map_err(op::<DeleteUserError>)?
            .ok_or(DeleteUserError::NotFound)
    }
}
