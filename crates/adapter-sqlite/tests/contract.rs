//! The port contract suite of `billing-domain`, run against the SQLite store, each test on a
//! fresh database file in its own temporary directory.

use adapter_sqlite::SqliteStore;

billing_domain::repository_contract_tests!(guarded: async || {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path().join("billing.db")).expect("open the store");
    (store, dir)
});
