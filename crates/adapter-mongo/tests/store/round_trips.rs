//! What each use case costs in operations on MongoDB (each one a round trip), counted by the
//! driver on this test's own client: a budget no machine's speed changes. The test server is a
//! single-node replica set, so these are the counts with transactions; the README gives both.

use adapter_mongo::MongoStore;
use billing_domain::testing::round_trips::{EVENTS, measure};

use crate::{TIMEOUT, fresh_database, prepared, test_uri};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_use_case_keeps_to_its_budget_of_database_operations() {
    let (store, commands) =
        MongoStore::connect_counting(&test_uri(), Some(&fresh_database()), TIMEOUT)
            .await
            .expect("connect to the test MongoDB");
    let store = prepared(Ok(store)).await;
    let counted = measure(&store, || commands.get()).await;
    eprintln!("{counted:?}");
    // The user (read and marked), the counter, the insert, the commit.
    assert!(counted.create_billing <= 4, "{counted:?}");
    assert_eq!(counted.find_billing, 1, "{counted:?}");
    assert_eq!(counted.user_billings, 2, "{counted:?}");
    // Read, then the guarded write.
    assert_eq!(counted.pay_billing, 2, "{counted:?}");
    // Read; the billings, the user and the tombstone; the commit.
    assert!(counted.delete_user <= 5, "{counted:?}");
    assert!(
        counted.created_events * 10 <= u64::from(EVENTS),
        "at most 0.1 operations per event in bulk: {counted:?}"
    );
}
