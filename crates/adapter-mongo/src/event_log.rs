//! The billing events as the port reads them: each billing's history, the relay's queue, and
//! what it marks published and prunes. The writes that record them are in `outbox.rs` (and
//! its callers), the overdue sweep in `overdue.rs`, the leases in `leases.rs`.

use billing_domain::{
    BillingEvent, BillingEventRepository, BillingId, EventSeq, Limit, Listing, PageRequest,
    StorageError, Timestamp,
};
use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};

use crate::docs::{self, date};
use crate::errors::storage;
use crate::outbox::{self, stored_seq};
use crate::{MongoStore, list_page};

fn position(d: &Document) -> Option<EventSeq> {
    d.get("_id").and_then(docs::as_u64).map(EventSeq)
}

impl BillingEventRepository for MongoStore {
    async fn billing_events(
        &self,
        id: &BillingId,
        page: &PageRequest<EventSeq>,
    ) -> Result<Listing<BillingEvent, EventSeq>, StorageError> {
        let after = page
            .position
            .cursor()
            .map(|seq| doc! { "_id": { "$gt": stored_seq(*seq) } });
        list_page(
            &self.inner.billing_events,
            doc! { "billingId": id.as_str() },
            after,
            doc! { "_id": 1 },
            page,
            outbox::event,
            position,
        )
        .await
    }

    async fn unpublished_events(&self, limit: Limit) -> Result<Vec<BillingEvent>, StorageError> {
        let found: Vec<Document> = self
            .inner
            .billing_events
            .find(doc! { "published": false })
            .sort(doc! { "_id": 1 })
            .limit(i64::from(limit.get()))
            .batch_size(limit.get())
            .await
            .map_err(storage)?
            .try_collect()
            .await
            .map_err(storage)?;
        // An unreadable event (never one this service wrote) is left where it is, and takes
        // a place in every page of the queue until someone removes it: the relay goes on.
        Ok(found
            .iter()
            .filter_map(|d| {
                outbox::event(d)
                    .inspect_err(|e| {
                        tracing::warn!(error = format!("{e:#}"), "skipping an unreadable event");
                    })
                    .ok()
            })
            .collect())
    }

    async fn mark_published(&self, seqs: &[EventSeq], at: Timestamp) -> Result<(), StorageError> {
        // A number past i64 was never stored: leaving it out ignores it, as unknown ones are.
        let ids: Vec<i64> = seqs
            .iter()
            .filter_map(|s| i64::try_from(s.0).ok())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.inner
            .billing_events
            .update_many(
                doc! { "_id": { "$in": ids }, "published": false },
                outbox::published(at),
            )
            .await
            .map_err(storage)?;
        Ok(())
    }

    async fn record_overdue(&self, now: Timestamp, limit: Limit) -> Result<u64, StorageError> {
        self.sweep_overdue(now, limit).await
    }

    async fn prune_events(
        &self,
        before: Timestamp,
        unpublished_too: bool,
    ) -> Result<u64, StorageError> {
        let mut filter = doc! { "at": { "$lt": date(before) } };
        if !unpublished_too {
            filter.insert("published", true);
        }
        let deleted = self
            .inner
            .billing_events
            .delete_many(filter)
            .await
            .map_err(storage)?;
        Ok(deleted.deleted_count)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StorageError> {
        self.lease(name, holder, now, until).await
    }
}
