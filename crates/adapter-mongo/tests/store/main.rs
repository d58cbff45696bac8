//! The MongoDB store's tests: the port contract suite of `billing-domain`, the operations each
//! use case costs, the number blocks of several instances, and `mongodb+srv://` URIs. Each
//! test runs on a fresh database of the server named by `TEST_MONGODB_URI`
//! (`./scripts/test.sh` starts one), a single-node replica set; the contract suite and the
//! budgets run again on a standalone server, without transactions (`standalone.rs`).

mod blocks;
mod round_trips;
mod srv;
mod standalone;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use adapter_mongo::MongoStore;

fn test_uri() -> String {
    std::env::var("TEST_MONGODB_URI").unwrap_or_else(|_| {
        panic!(
            "TEST_MONGODB_URI is not set: run ./scripts/test.sh, which starts a MongoDB-wire \
             test server, or point it at a MongoDB server"
        )
    })
}

/// A database name no other test (or earlier run against the same server) uses.
fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "contract_{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn fresh_store() -> MongoStore {
    prepared(MongoStore::connect_to(&test_uri(), Some(&fresh_database()), TIMEOUT).await).await
}

/// A fresh store on the standalone server: no transactions.
async fn fresh_standalone_store() -> MongoStore {
    let store =
        prepared(MongoStore::connect_to(standalone::uri(), Some(&fresh_database()), TIMEOUT).await)
            .await;
    assert!(
        !store.transactions(),
        "the standalone server has no transactions"
    );
    store
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// A store just connected, with its indexes.
async fn prepared(connected: anyhow::Result<MongoStore>) -> MongoStore {
    let store = connected.expect("connect to the test MongoDB");
    store.migrate().await.expect("create the indexes");
    store
}

billing_domain::repository_contract_tests!(fresh_store);

/// The event contract again, with every event written on its own: the bulk of one event and
/// the batch of many take the same paths through `bulk.rs`, and must end the same.
mod one_event_per_bulk {
    async fn fresh_store() -> adapter_mongo::MongoStore {
        super::fresh_store().await.with_event_bulk(1)
    }

    billing_domain::repository_contract_tests!(events: fresh_store);
}

/// The whole contract again without transactions: every write then orders its steps (and
/// records its events right after the change) instead of making them one transaction.
mod without_transactions {
    billing_domain::repository_contract_tests!(super::fresh_standalone_store);
}
