//! The port contract suite of `billing-domain`, run against the SQLite store, each test on a
//! fresh database file in its own temporary directory.

use adapter_sqlite::SqliteStore;

billing_domain::repository_contract_tests!(guarded: async || {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path().join("billing.db")).expect("open the store");
    (store, dir)
});

/// A database written by the first version of the schema (text columns, required billing
/// fields, `payment_date` alone for the payment) opens, and every value reads back as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded_in_place_and_reads_back_as_before() {
    use billing_domain::{
        BillingId, BillingRepository, Number, Scalar, UserKey, UserRepository, parse_timestamp,
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("billing.db");
    let old = rusqlite::Connection::open(&path).expect("open");
    old.execute_batch(
        "CREATE TABLE users (id TEXT PRIMARY KEY, user_id TEXT NOT NULL UNIQUE, name TEXT,
            email TEXT, city TEXT, country TEXT, zip_code TEXT, address TEXT,
            code_number TEXT NOT NULL, phone_number INTEGER, is_active INTEGER NOT NULL,
            created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;
         CREATE TABLE billings (id TEXT PRIMARY KEY, billing_id TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL, generation_date INTEGER NOT NULL, due_date INTEGER NOT NULL,
            service_id TEXT NOT NULL, total_invoice INTEGER NOT NULL, payment_date INTEGER,
            code_number TEXT NOT NULL, phone_number INTEGER, created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL) STRICT;
         CREATE INDEX billings_by_generation ON billings (generation_date DESC, id DESC);
         CREATE TABLE counters (id TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT;
         INSERT INTO counters VALUES ('billingId', 2);
         CREATE TABLE processed_events (id TEXT PRIMARY KEY, processed_at INTEGER NOT NULL) STRICT;
         INSERT INTO users VALUES ('65a1b2c3d4e5f60718293a4b', 'cust-1', 'Ana', 'ana@x.co',
            'Bogotá', 'CO', '110111', 'Cra 7', '+57', 3104156262, 1, 1700000000000,
            1700000000000);
         INSERT INTO billings VALUES ('66a1b2c3d4e5f60718293a4b', '000000001', 'cust-1',
            1700000000000, 1701000000000, '1', 125000, NULL, '+57', 3104156262, 1700000000000,
            1700000000000);
         INSERT INTO billings VALUES ('66a1b2c3d4e5f60718293a4c', '000000002', 'cust-1',
            1700000000001, 1701000000000, '2', 99000, 1700500000000, '+57', 3104156262,
            1700000000001, 1700500000000);",
    )
    .expect("a version 1 database");
    drop(old);

    let store = SqliteStore::open(&path).expect("the upgrade opens the store");
    let user = store
        .find_user(&UserKey::parse("cust-1").expect("key"))
        .await
        .expect("find")
        .expect("the user is kept");
    assert_eq!(user.name, Some(Scalar::text("Ana").expect("text")));
    assert_eq!(
        user.phone.phone_number,
        Some(Scalar::Number(Number::Int(3_104_156_262)))
    );
    let unpaid = store
        .find_billing(&BillingId::parse("000000001").expect("id"))
        .await
        .expect("find")
        .expect("the billing is kept");
    assert!(!unpaid.payment.is_paid && unpaid.payment.date.is_none());
    assert_eq!(unpaid.total_invoice, Some(Number::Int(125_000)));
    let paid = store
        .find_billing(&BillingId::parse("000000002").expect("id"))
        .await
        .expect("find")
        .expect("the billing is kept");
    assert!(paid.payment.is_paid);
    assert_eq!(
        paid.payment.date,
        Some(parse_timestamp("2023-11-20T17:06:40Z").expect("date"))
    );
    drop(store);
    // Opening again finds the current version and changes nothing.
    let again = SqliteStore::open(&path).expect("opens again");
    let listed = again
        .list_billings(&billing_domain::BillingQuery::new(
            parse_timestamp("2025-01-01").expect("date"),
        ))
        .await
        .expect("listed");
    assert_eq!(listed.items.len(), 2);
}
