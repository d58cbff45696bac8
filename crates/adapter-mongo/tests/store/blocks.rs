//! `BILLING_ID_BLOCK` with two instances on one database: each takes its numbers a block at a
//! time from the shared counter, so the numbers never repeat and increase per instance.

use adapter_mongo::MongoStore;
use billing_domain::{BillingDraft, BillingRepository, UserRepository};

use crate::{TIMEOUT, fresh_database, prepared, test_uri};

async fn instance(database: &str, block: u32) -> MongoStore {
    prepared(MongoStore::connect_to(&test_uri(), Some(database), TIMEOUT).await)
        .await
        .with_billing_id_block(block)
}

async fn create(store: &MongoStore, template: &BillingDraft, n: u8) -> u64 {
    let mut id = [0x68u8; 12];
    id[11] = n;
    let draft = BillingDraft {
        id: billing_domain::DocumentId::from_bytes(id),
        ..template.clone()
    };
    let billing = store.create_billing(draft).await.expect("a billing");
    billing.billing_id.as_str().parse().expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_with_blocks_of_ten_never_give_a_number_twice() {
    let database = fresh_database();
    let (a, b) = (instance(&database, 10).await, instance(&database, 10).await);
    let template = billing_domain::testing::round_trips::sample_draft();
    a.create_user(billing_domain::testing::round_trips::sample_user())
        .await
        .expect("a user");
    let mut from_a = Vec::new();
    let mut from_b = Vec::new();
    for n in 0..12 {
        from_a.push(create(&a, &template, 2 * n).await);
        from_b.push(create(&b, &template, 2 * n + 1).await);
    }
    // a took 1-10, b 11-20; a then 21-30, b 31-40.
    assert_eq!(from_a, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 21, 22]);
    assert_eq!(from_b, [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 31, 32]);
    // An instance with blocks of one, beside them, takes the next number of the counter.
    let c = instance(&database, 1).await;
    assert_eq!(create(&c, &template, 100).await, 41);
}
