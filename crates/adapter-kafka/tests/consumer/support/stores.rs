//! The service over each store, and what is in a store.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use adapter_memory::{FixedClock, MemoryStore, SequentialIds};
use adapter_mongo::MongoStore;
use adapter_sqlite::SqliteStore;
use billing_domain::{
    Billing, BillingId, BillingQuery, BillingService, Limit, PageRequest, Position, Repository,
    Timestamp, User, UserQuery, parse_timestamp,
};
use tempfile::TempDir;

/// A service over `repo`, with a fixed clock and sequential ids.
pub fn with_store<R: Repository>(repo: R) -> Arc<BillingService<R>> {
    Arc::new(BillingService::new(
        repo,
        Arc::new(FixedClock::default()),
        Arc::new(SequentialIds::new()),
    ))
}

/// A fresh SQLite store in a temporary directory (kept alive by the returned `TempDir`).
pub fn sqlite_store() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("billing.db")).expect("the SQLite store opens");
    (store, dir)
}

pub fn sqlite_service() -> (Arc<BillingService<SqliteStore>>, TempDir) {
    let (store, dir) = sqlite_store();
    (with_store(store), dir)
}

/// A store on a fresh database of the MongoDB server named by `TEST_MONGODB_URI`, its indexes
/// created. Without that server the test fails: it must not pass without having run.
pub async fn mongo_store() -> MongoStore {
    let uri = std::env::var("TEST_MONGODB_URI")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "TEST_MONGODB_URI is not set: this test needs the MongoDB-wire test server; run \
                 ./scripts/test.sh (or `source scripts/test-services.sh && start_test_services` \
                 first)"
            )
        });
    let database = super::unique("kafka").replace('-', "_");
    let store = MongoStore::connect_to(&uri, Some(&database), Duration::from_secs(10))
        .await
        .expect("connect to the test MongoDB");
    store.migrate().await.expect("create the indexes");
    store
}

pub fn memory_service() -> Arc<BillingService<MemoryStore>> {
    with_store(MemoryStore::new())
}

pub fn ts(raw: &str) -> Timestamp {
    parse_timestamp(raw).expect("a valid timestamp")
}

fn page<C>(n: u32) -> PageRequest<C> {
    PageRequest {
        limit: Limit::new(Limit::MAX).expect("the maximum limit is valid"),
        position: Position::Page(NonZeroU32::new(n).expect("pages start at 1")),
    }
}

/// Everything in a store: all users (in `_id` order) and all billings (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub users: Vec<User>,
    pub billings: Vec<Billing>,
}

impl Snapshot {
    pub async fn of<R: Repository>(service: &BillingService<R>) -> Self {
        let mut users = Vec::new();
        for n in 1.. {
            let query = UserQuery {
                is_active: None,
                page: page(n),
            };
            let listing = service.list_users(&query).await.expect("users list");
            let full = listing.items.len() == Limit::MAX as usize;
            users.extend(listing.items);
            if !full {
                break;
            }
        }
        let mut billings = Vec::new();
        for n in 1.. {
            let mut query = BillingQuery::new(service.now());
            query.page = page(n);
            let listing = service.list_billings(&query).await.expect("billings list");
            let full = listing.items.len() == Limit::MAX as usize;
            billings.extend(listing.items);
            if !full {
                break;
            }
        }
        Self { users, billings }
    }

    pub fn user(&self, user_id: &str) -> Option<&User> {
        user(&self.users, user_id)
    }

    pub fn billings_of(&self, user_id: &str) -> Vec<&Billing> {
        self.billings
            .iter()
            .filter(|b| b.user_id.as_str() == user_id)
            .collect()
    }

    /// A one-line account, for failure messages.
    pub fn summary(&self) -> String {
        format!(
            "{} users, {} billings",
            self.users.len(),
            self.billings.len()
        )
    }
}

fn user<'a>(users: &'a [User], user_id: &str) -> Option<&'a User> {
    users.iter().find(|u| u.user_id.as_str() == user_id)
}

/// The billing ids, sorted.
pub fn billing_ids(billings: &[Billing]) -> Vec<BillingId> {
    let mut ids: Vec<BillingId> = billings.iter().map(|b| b.billing_id.clone()).collect();
    ids.sort();
    ids
}
