//! The production store: MongoDB, through the official driver, in the collections and document
//! shapes of the previous Node/Mongoose service (`users`, `billings`, `counters`), so both
//! services can share one database; the collections only this service has are its own
//! (`processed_events`, `deleted_users`, `billing_events`, `leases`).
//!
//! What is atomic, and how:
//! - The `billingId` sequence is `counters {_id: "billingId", seq}`, advanced with one atomic
//!   `$inc` (upsert), exactly as the previous service did: concurrent creations never share a
//!   number, and the sequence is never restarted. With `BILLING_ID_BLOCK` above 1 one `$inc`
//!   reserves a block for this instance (`blocks.rs`).
//! - Creating a billing and deleting a user span documents. When the deployment supports
//!   transactions (a replica set or sharded cluster), they run in one. A standalone server has
//!   none, so the steps are also ordered so that the end state is right whatever interleaves
//!   (see `billings::create` and `users::delete`).
//! - Updates `$set` only the fields that changed, guarded by their old values (optimistic
//!   concurrency), so fields we do not know survive and concurrent updates are not lost.
//! - Every change of a billing records its billing events in `billing_events` (the outbox,
//!   `outbox.rs`), in the change's transaction where there are transactions, right after it
//!   where there are none.

mod billings;
mod blocks;
mod bulk;
mod docs;
mod errors;
mod event_log;
mod events;
mod indexes;
mod leases;
mod outbox;
mod overdue;
mod seq;
mod transactions;
mod updates;
mod users;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use billing_domain::{Listing, PageRequest, StorageError};
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::ErrorKind;
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::{Acknowledgment, ClientOptions, WriteConcern};
use mongodb::{Client, Collection, Database};

pub use errors::is_unavailable;

/// The database used when the URI names none.
pub const DEFAULT_DATABASE: &str = "telecomx-billing";

/// How many commands a store made by [`MongoStore::connect_counting`] has sent.
#[derive(Debug, Clone, Default)]
pub struct CommandCount(Arc<AtomicU64>);

impl CommandCount {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The MongoDB implementation of the billing ports. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MongoStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    db: Database,
    users: Collection<Document>,
    billings: Collection<Document>,
    counters: Collection<Document>,
    /// The ids of the customer events applied so far.
    processed_events: Collection<Document>,
    /// A tombstone per deleted `userId`: `{_id: userId, deletedAt}`.
    deleted_users: Collection<Document>,
    /// The billing events: the outbox, and each billing's history (`outbox.rs`).
    billing_events: Collection<Document>,
    /// `{_id: name, holder, expiresAt}` (`leases.rs`).
    leases: Collection<Document>,
    /// Numbers the billing events.
    seq: seq::SeqGenerator,
    /// Learnt from the server's `hello`; false until then.
    transactions: AtomicBool,
    indexes_ready: AtomicBool,
    /// The billing numbers reserved and not given yet.
    block: blocks::NumberBlock,
    /// At most this many events are written in one bulk (see `bulk.rs`).
    event_bulk: usize,
    /// Why the store could not be prepared last time it was tried, for readiness.
    not_ready: Mutex<Option<String>>,
}

impl MongoStore {
    /// Builds a client for `uri`. Connects lazily: the service starts even when MongoDB is
    /// down, answers 503 meanwhile, and recovers by itself when it returns.
    ///
    /// Options in the URI (TLS, credentials, replica set, `retryWrites`, pool size, timeouts,
    /// write concern) are used as given. Where the URI sets none, writes are journaled with
    /// `w: majority`, and finding a server gives up after `request_timeout` so that a request
    /// fails with 503 instead of hanging.
    ///
    /// A `mongodb+srv://` URI's SRV and TXT records are resolved now.
    ///
    /// # Errors
    /// When the URI cannot be parsed, or its SRV records resolved.
    pub async fn connect(uri: &str, request_timeout: Duration) -> anyhow::Result<Self> {
        Self::connect_to(uri, None, request_timeout).await
    }

    /// Like [`MongoStore::connect`], on `database` instead of the URI's (tests use a fresh one
    /// each).
    ///
    /// # Errors
    /// When the URI cannot be parsed, or its SRV records resolved.
    pub async fn connect_to(
        uri: &str,
        database: Option<&str>,
        request_timeout: Duration,
    ) -> anyhow::Result<Self> {
        Self::connect_with(uri, database, request_timeout, |_| {}).await
    }

    /// Like [`MongoStore::connect_to`], counting the commands the store sends (every
    /// operation is one: a find, an insert, a commit); tests and benchmarks count the
    /// round trips of a use case with it. The driver's own monitoring is not counted.
    ///
    /// # Errors
    /// When the URI cannot be parsed, or its SRV records resolved.
    pub async fn connect_counting(
        uri: &str,
        database: Option<&str>,
        request_timeout: Duration,
    ) -> anyhow::Result<(Self, CommandCount)> {
        let count = CommandCount::default();
        let counter = Arc::clone(&count.0);
        let store = Self::connect_with(uri, database, request_timeout, move |options| {
            options.command_event_handler = Some(EventHandler::callback(move |event| {
                if matches!(event, CommandEvent::Started(_)) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }));
        })
        .await?;
        Ok((store, count))
    }

    async fn connect_with(
        uri: &str,
        database: Option<&str>,
        request_timeout: Duration,
        adjust: impl FnOnce(&mut ClientOptions),
    ) -> anyhow::Result<Self> {
        let mut options = ClientOptions::parse(uri).await.map_err(|e| {
            // A `mongodb+srv://` URI is resolved here, so its failures are DNS's, not the URI's.
            let why = if matches!(*e.kind, ErrorKind::DnsResolve { .. }) {
                "cannot resolve the SRV records of MONGODB_URI"
            } else {
                "MONGODB_URI is not a valid MongoDB connection string"
            };
            anyhow::Error::new(e).context(why)
        })?;
        if options.server_selection_timeout.is_none() {
            options.server_selection_timeout = Some(request_timeout);
        }
        if options.connect_timeout.is_none() {
            options.connect_timeout = Some(request_timeout);
        }
        let write_concern = options.write_concern.take().unwrap_or_default();
        options.write_concern = Some(
            WriteConcern::builder()
                .w(write_concern.w.or(Some(Acknowledgment::Majority)))
                .journal(write_concern.journal.or(Some(true)))
                // Without one, a write waiting for a majority that is gone waits forever, and may
                // still be applied after the request has given up.
                .w_timeout(write_concern.w_timeout.or(Some(request_timeout)))
                .build(),
        );
        if options.app_name.is_none() {
            options.app_name = Some("telecomx-billing".to_owned());
        }
        adjust(&mut options);
        let db_name = database
            .map(str::to_owned)
            .or_else(|| options.default_database.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        // The driver's background tasks (connection pool, server monitors) run on the runtime
        // that makes the client, and every request hands its work to them. On a runtime of
        // their own they outlive whichever runtime started the service: a request still in
        // flight when that one stops (an HTTP worker finishing while its caller's runtime
        // shuts down) gets an error, not a panic in the driver.
        let client = {
            let _driver = driver_runtime().enter();
            Client::with_options(options).context("cannot create the MongoDB client")?
        };
        Ok(Self::with_database(client, &db_name))
    }

    fn with_database(client: Client, name: &str) -> Self {
        let db = client.database(name);
        Self {
            inner: Arc::new(Inner {
                users: db.collection("users"),
                billings: db.collection("billings"),
                counters: db.collection("counters"),
                processed_events: db.collection("processed_events"),
                deleted_users: db.collection("deleted_users"),
                billing_events: db.collection("billing_events"),
                leases: db.collection("leases"),
                seq: seq::SeqGenerator::new(),
                db,
                client,
                transactions: AtomicBool::new(false),
                indexes_ready: AtomicBool::new(false),
                block: blocks::NumberBlock::new(1),
                event_bulk: usize::MAX,
                not_ready: Mutex::new(Some("not prepared yet".to_owned())),
            }),
        }
    }

    /// Reserves billing numbers `size` at a time (`BILLING_ID_BLOCK`; see `blocks.rs`). Set
    /// once, before the store is shared.
    ///
    /// # Panics
    /// When the store has been cloned already.
    #[must_use]
    pub fn with_billing_id_block(mut self, size: u32) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the number block is set before the store is shared")
            .block = blocks::NumberBlock::new(size);
        self
    }

    /// Writes a batch of events in bulks of at most `size` events (at least 1; the whole
    /// batch by default). Tests run the event contract with bulks of one.
    ///
    /// # Panics
    /// When the store has been cloned already.
    #[must_use]
    pub fn with_event_bulk(mut self, size: usize) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the bulk size is set before the store is shared")
            .event_bulk = size.max(1);
        self
    }

    pub fn database_name(&self) -> &str {
        self.inner.db.name()
    }

    /// Asks the server whether it is reachable and whether it supports transactions, and
    /// creates the indexes that are missing (an index with the same keys, whatever its name
    /// or options, is taken as it is: Mongoose may have made it first).
    ///
    /// # Errors
    /// When the server cannot be reached or refuses an index.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let outcome = self.prepare().await;
        let mut not_ready = self
            .inner
            .not_ready
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *not_ready = outcome.as_ref().err().map(|e| format!("{e:#}"));
        outcome
    }

    async fn prepare(&self) -> anyhow::Result<()> {
        let hello = self
            .inner
            .db
            .run_command(doc! { "hello": 1 })
            .await
            .context("MongoDB did not answer `hello`")?;
        let replicated = hello.contains_key("setName") || hello.get_str("msg") == Ok("isdbgrid");
        self.inner.transactions.store(replicated, Ordering::Relaxed);
        indexes::create(&self.inner).await?;
        // Create the counter if this is a new database, so that the first billings do not race
        // to create it; an existing sequence (the previous service's) is left as it is.
        match self
            .inner
            .counters
            .update_one(
                doc! { "_id": "billingId" },
                doc! { "$setOnInsert": { "seq": 0_i32 } },
            )
            .upsert(true)
            .await
        {
            Ok(_) => {}
            Err(e) if errors::is_duplicate_key(&e) => {}
            Err(e) => return Err(e).context("cannot create the billingId counter"),
        }
        self.inner.indexes_ready.store(true, Ordering::Relaxed);
        if !replicated {
            tracing::warn!(
                "MongoDB has no transactions (a standalone server): a billing event is written \
                 right after its change, so a crash between the two loses it; run a replica set \
                 (even of one node) for events that are never lost"
            );
        }
        tracing::info!(
            database = self.database_name(),
            transactions = replicated,
            "MongoDB indexes are in place"
        );
        Ok(())
    }

    /// Runs [`MongoStore::migrate`] until it succeeds, in the background, backing off up to 30 s
    /// between attempts: the service must not depend on MongoDB being up when it starts.
    pub fn migrate_in_background(&self) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(500);
            loop {
                match store.migrate().await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = format!("{e:#}"), retry_in = ?wait, "MongoDB not ready");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(30));
                    }
                }
            }
        });
    }

    /// Writes wait for the unique indexes: without them two equal `userId`s could both be
    /// stored. When the startup migration has not succeeded yet, try it now.
    ///
    /// # Errors
    /// `Unavailable` while the indexes cannot be created.
    pub(crate) async fn ensure_indexes(&self) -> Result<(), billing_domain::StorageError> {
        if self.inner.indexes_ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.migrate()
            .await
            .map_err(billing_domain::StorageError::Unavailable)
    }

    /// Whether the server answers a `ping` now.
    pub async fn ping(&self) -> bool {
        self.inner.db.run_command(doc! { "ping": 1 }).await.is_ok()
    }

    /// Whether the store can serve now, and why not: the server must answer and the indexes
    /// must be in place.
    ///
    /// # Errors
    /// The reason, for `/readyz`.
    pub async fn readiness(&self) -> Result<(), String> {
        if !self.ping().await {
            return Err("MongoDB does not answer".to_owned());
        }
        if self.inner.indexes_ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        let reason = self
            .inner
            .not_ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Err(format!(
            "the MongoDB indexes are not in place: {}",
            reason.unwrap_or_else(|| "not prepared yet".to_owned())
        ))
    }

    /// Whether the deployment has transactions, as [`MongoStore::migrate`] last learnt it
    /// (false before): with them, changes and their events are written atomically.
    pub fn transactions(&self) -> bool {
        self.inner.transactions.load(Ordering::Relaxed)
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }
}

/// The runtime the MongoDB driver's background tasks run on, for the life of the process.
fn driver_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mongodb-driver")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start the MongoDB driver's runtime: {e}"))
    })
}

/// One page of `collection`: the documents matching `filter` (and `after`, the keyset
/// condition of a cursor), in `sort` order; the total of `filter` on page requests. A document
/// that is not an item at all is left out and counted in `skipped`; the next cursor comes from
/// the page's last document whether it could be read or not (`position` reads it from the raw
/// document), so such documents never end a list early.
#[allow(clippy::too_many_arguments)]
async fn list_page<T, C>(
    collection: &Collection<Document>,
    filter: Document,
    after: Option<Document>,
    sort: Document,
    page: &PageRequest<C>,
    read: impl Fn(&Document) -> anyhow::Result<T>,
    position: impl Fn(&Document) -> Option<C>,
) -> Result<Listing<T, C>, StorageError> {
    let total = if page.position.counts_total() {
        Some(
            collection
                .count_documents(filter.clone())
                .await
                .map_err(errors::storage)?,
        )
    } else {
        None
    };
    let filter = match after {
        Some(after) => all_of([filter, after]),
        None => filter,
    };
    let fetch = page.limit.fetch();
    let found: Vec<Document> = collection
        .find(filter)
        .sort(sort)
        .skip(page.position.offset(page.limit))
        .limit(i64::from(fetch))
        // The whole page in one reply.
        .batch_size(fetch)
        .await
        .map_err(errors::storage)?
        .try_collect()
        .await
        .map_err(errors::storage)?;
    Ok(Listing::from_rows(
        found,
        page.limit,
        total,
        position,
        |d| match read(&d) {
            Ok(item) => Some(item),
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "skipping a document that is not an item"
                );
                None
            }
        },
    ))
}

/// The conjunction of `clauses` as one flat filter document: `{a: 1, b: {$lt: 2}}`, not
/// `{$and: [{a: 1}, {b: {$lt: 2}}]}`. Some servers' planners match no index to a top-level
/// `$and` (mongod flattens it first), so `$and` is kept for what cannot be merged: a second
/// condition on a field whose operators overlap the first's (two `$lt`), an equality beside
/// an operator, or a second `$or`.
pub(crate) fn all_of(clauses: impl IntoIterator<Item = Document>) -> Document {
    let mut flat = Document::new();
    let mut rest: Vec<Bson> = Vec::new();
    for clause in clauses {
        for (key, condition) in clause {
            match (flat.get_mut(&key), &condition) {
                (None, _) => {
                    flat.insert(key, condition);
                }
                (Some(Bson::Document(have)), Bson::Document(more))
                    if is_operators(have)
                        && is_operators(more)
                        && more.keys().all(|k| !have.contains_key(k)) =>
                {
                    have.extend(more.clone());
                }
                (Some(_), _) => rest.push(Bson::Document(doc! { key: condition })),
            }
        }
    }
    if !rest.is_empty() {
        flat.insert("$and", rest);
    }
    flat
}

/// Whether `d` is a field's operator document (`{$lt: 2, $gte: 1}`), not a value to equal.
fn is_operators(d: &Document) -> bool {
    !d.is_empty() && d.keys().all(|k| k.starts_with('$'))
}

/// A document's `_id` as ours, when it is an ObjectId.
fn raw_id(d: &Document) -> Option<billing_domain::DocumentId> {
    match d.get("_id") {
        Some(Bson::ObjectId(o)) => Some(billing_domain::DocumentId::from_bytes(o.bytes())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_on_different_fields_make_one_flat_filter() {
        let filter = all_of([
            doc! { "userId": "u1" },
            doc! { "isPaid": { "$ne": true }, "dueDate": { "$lt": 5 } },
            doc! { "dueDate": { "$gte": 1 } },
        ]);
        assert_eq!(
            filter,
            doc! { "userId": "u1", "isPaid": { "$ne": true }, "dueDate": { "$lt": 5, "$gte": 1 } }
        );
    }

    #[test]
    fn conditions_that_cannot_merge_go_to_and_beside_the_flat_ones() {
        let filter = all_of([
            doc! { "dueDate": { "$lt": 5 } },
            doc! { "dueDate": { "$lt": 3 } },
            doc! { "$or": [{ "a": 1 }] },
            doc! { "$or": [{ "b": 1 }] },
            doc! { "isPaid": true },
            doc! { "isPaid": { "$ne": true } },
        ]);
        assert_eq!(
            filter,
            doc! {
                "dueDate": { "$lt": 5 },
                "$or": [{ "a": 1 }],
                "isPaid": true,
                "$and": [
                    { "dueDate": { "$lt": 3 } },
                    { "$or": [{ "b": 1 }] },
                    { "isPaid": { "$ne": true } },
                ],
            }
        );
    }

    #[test]
    fn no_conditions_are_the_empty_filter() {
        assert_eq!(all_of(Vec::new()), Document::new());
    }
}
