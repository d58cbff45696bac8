//! Leases: `leases {_id: name, holder, expiresAt}`, so that one instance of several does a job
//! (relaying the outbox) until it stops renewing its lease.
//!
//! One `findOneAndUpdate` with upsert takes or renews a lease: it matches the lease when it is
//! the holder's or has expired, and otherwise inserts it, which the unique `_id` refuses
//! when the lease exists: held by someone else. Racing holders of a free lease all try to
//! insert it; one insert wins.

use billing_domain::{StorageError, Timestamp};
use mongodb::bson::doc;
use mongodb::options::ReturnDocument;

use crate::MongoStore;
use crate::docs::date;
use crate::errors::{is_duplicate_key, storage};

impl MongoStore {
    pub(crate) async fn lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StorageError> {
        let taken = self
            .inner
            .leases
            .find_one_and_update(
                // A top-level `$or`, which some planners match to no index: fine on a
                // collection of a few leases.
                doc! {
                    "_id": name,
                    "$or": [{ "holder": holder }, { "expiresAt": { "$lte": date(now) } }],
                },
                doc! { "$set": { "holder": holder, "expiresAt": date(until) } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await;
        match taken {
            Ok(lease) => Ok(lease.is_some_and(|l| l.get_str("holder") == Ok(holder))),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(storage(e)),
        }
    }
}
