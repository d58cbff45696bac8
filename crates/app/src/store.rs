//! The store the settings name: MongoDB with `MONGODB_URI`, else the embedded SQLite file. One
//! type for both, so that serving, `migrate` and `seed` open it the same way, and the HTTP
//! routes and the consumer are built once, not once per store.

use std::time::Duration;

use adapter_mongo::MongoStore;
use adapter_sqlite::SqliteStore;
use anyhow::Context;
use billing_domain::{
    Billing, BillingCursor, BillingDraft, BillingEvent, BillingEventRepository, BillingId,
    BillingPatch, BillingQuery, BillingRepository, CreateBillingError, CreateUserError,
    CustomerEvent, DeleteBillingError, DeleteUserError, DocumentId, Effect, EventOutcome,
    EventRepository, EventSeq, Limit, Listing, PageRequest, StorageError, Subject, Timestamp,
    UpdateBillingError, UpdateUserError, User, UserCursor, UserKey, UserPatch, UserQuery,
    UserRepository,
};

use crate::Settings;

/// One of the stores, cheap to clone.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Mongo(MongoStore),
}

impl Store {
    /// Opens the store of `settings.storage`. SQLite is created and brought up to date here;
    /// MongoDB is connected lazily (it need not be up yet), and prepared by
    /// [`Store::migrate`] or [`Store::prepare_for_serving`].
    ///
    /// # Errors
    /// When the SQLite file cannot be opened or its schema applied, or the MongoDB URI cannot be
    /// parsed (or, for `mongodb+srv://`, its SRV records cannot be resolved).
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let storage = &settings.storage;
        match &storage.mongodb_uri {
            Some(uri) => Ok(Self::Mongo(
                MongoStore::connect(uri, Self::timeout(settings))
                    .await?
                    .with_billing_id_block(storage.billing_id_block),
            )),
            None => SqliteStore::open(&storage.database_path)
                .map(Self::Sqlite)
                .with_context(|| {
                    format!(
                        "cannot open DATABASE_PATH {}",
                        storage.database_path.display()
                    )
                }),
        }
    }

    fn timeout(settings: &Settings) -> Duration {
        Duration::from_millis(settings.storage.timeout_ms.max(1))
    }

    /// Creates what the store needs before it serves: MongoDB's indexes and counter (SQLite's
    /// schema was applied by [`Store::open`]).
    ///
    /// # Errors
    /// When MongoDB cannot be reached or refuses an index.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(_) => Ok(()),
            Self::Mongo(store) => store.migrate().await,
        }
    }

    /// [`Store::migrate`] for a service about to serve: MongoDB is given `settings`' storage
    /// timeout to be prepared, so that no request runs before the unique indexes exist when it
    /// is up; when it is not, the service starts anyway and keeps trying in the background.
    pub async fn prepare_for_serving(&self, settings: &Settings) {
        let Self::Mongo(store) = self else { return };
        match tokio::time::timeout(Self::timeout(settings), store.migrate()).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => tracing::warn!(error = format!("{e:#}"), "MongoDB not ready at startup"),
            Err(_) => tracing::warn!("MongoDB did not answer at startup"),
        }
        store.migrate_in_background();
    }

    /// Whether the store can serve now, and why not (readiness).
    ///
    /// # Errors
    /// The reason, for `/readyz`.
    pub async fn readiness(&self) -> Result<(), String> {
        match self {
            Self::Sqlite(store) if store.ping().await => Ok(()),
            Self::Sqlite(_) => Err("the SQLite database does not answer".to_owned()),
            Self::Mongo(store) => store.readiness().await,
        }
    }

    /// What to say of it at startup: the kind of store, and where.
    pub fn describe(&self) -> (&'static str, String) {
        match self {
            Self::Sqlite(store) => ("sqlite", store.path().display().to_string()),
            Self::Mongo(store) => ("mongodb", store.database_name().to_owned()),
        }
    }
}

/// Each port call goes to the store in hand.
macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Store::Sqlite($store) => $call.await,
            Store::Mongo($store) => $call.await,
        }
    };
}

impl UserRepository for Store {
    async fn create_user(&self, user: User) -> Result<User, CreateUserError> {
        delegate!(self, s => s.create_user(user))
    }

    async fn find_user(&self, key: &UserKey) -> Result<Option<User>, StorageError> {
        delegate!(self, s => s.find_user(key))
    }

    async fn list_users(&self, q: &UserQuery) -> Result<Listing<User, UserCursor>, StorageError> {
        delegate!(self, s => s.list_users(q))
    }

    async fn update_user(
        &self,
        key: &UserKey,
        patch: UserPatch,
        now: Timestamp,
    ) -> Result<User, UpdateUserError> {
        delegate!(self, s => s.update_user(key, patch, now))
    }

    async fn delete_user(&self, key: &UserKey, at: Timestamp) -> Result<u64, DeleteUserError> {
        delegate!(self, s => s.delete_user(key, at))
    }
}

impl BillingRepository for Store {
    async fn create_billing(&self, draft: BillingDraft) -> Result<Billing, CreateBillingError> {
        delegate!(self, s => s.create_billing(draft))
    }

    async fn find_billing(&self, id: &BillingId) -> Result<Option<Billing>, StorageError> {
        delegate!(self, s => s.find_billing(id))
    }

    async fn list_billings(
        &self,
        q: &BillingQuery,
    ) -> Result<Listing<Billing, BillingCursor>, StorageError> {
        delegate!(self, s => s.list_billings(q))
    }

    async fn scan_billings(
        &self,
        after: Option<DocumentId>,
        limit: Limit,
    ) -> Result<Listing<Billing, DocumentId>, StorageError> {
        delegate!(self, s => s.scan_billings(after, limit))
    }

    async fn update_billing(
        &self,
        id: &BillingId,
        patch: BillingPatch,
        now: Timestamp,
    ) -> Result<Billing, UpdateBillingError> {
        delegate!(self, s => s.update_billing(id, patch, now))
    }

    async fn delete_billing(
        &self,
        id: &BillingId,
        at: Timestamp,
    ) -> Result<(), DeleteBillingError> {
        delegate!(self, s => s.delete_billing(id, at))
    }
}

impl BillingEventRepository for Store {
    async fn billing_events(
        &self,
        id: &BillingId,
        page: &PageRequest<EventSeq>,
    ) -> Result<Listing<BillingEvent, EventSeq>, StorageError> {
        delegate!(self, s => s.billing_events(id, page))
    }

    async fn unpublished_events(&self, limit: Limit) -> Result<Vec<BillingEvent>, StorageError> {
        delegate!(self, s => s.unpublished_events(limit))
    }

    async fn mark_published(&self, seqs: &[EventSeq], at: Timestamp) -> Result<(), StorageError> {
        delegate!(self, s => s.mark_published(seqs, at))
    }

    async fn record_overdue(&self, now: Timestamp, limit: Limit) -> Result<u64, StorageError> {
        delegate!(self, s => s.record_overdue(now, limit))
    }

    async fn prune_events(
        &self,
        before: Timestamp,
        unpublished_too: bool,
    ) -> Result<u64, StorageError> {
        delegate!(self, s => s.prune_events(before, unpublished_too))
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StorageError> {
        delegate!(self, s => s.acquire_lease(name, holder, now, until))
    }
}

impl EventRepository for Store {
    async fn apply_events<D>(
        &self,
        events: Vec<CustomerEvent>,
        decide: D,
    ) -> Result<Vec<EventOutcome>, StorageError>
    where
        D: Fn(&CustomerEvent, &Subject) -> Effect + Send + Sync + 'static,
    {
        delegate!(self, s => s.apply_events(events, decide))
    }
}
