//! What each use case costs in operations on MongoDB (each one a round trip), counted by the
//! driver on this test's own client: a budget no machine's speed changes. Once on the test
//! server as it runs (a single-node replica set: with transactions), once on the standalone
//! server (`standalone.rs`: without).
//!
//! Every write now records its billing events (`outbox.rs`): one more insert for the events of
//! each change, whatever their number, inside the change's transaction where there is one.

use adapter_mongo::{CommandCount, MongoStore};
use billing_domain::testing::round_trips::{
    EVENTS, RoundTrips, measure, sample_draft, sample_user,
};
use billing_domain::{
    BillingDraft, BillingEventRepository, BillingId, BillingRepository, DocumentId, Limit,
    UserRepository, parse_timestamp,
};

use crate::{TIMEOUT, fresh_database, prepared, standalone, test_uri};

/// How many overdue billings the sweep's budget is measured on.
const OVERDUE: u32 = 10;

/// Operations of the billing-event use cases.
#[derive(Debug)]
struct Outbox {
    /// `DELETE /api/billings/:billingId`.
    delete_billing: u64,
    /// One sweep that records [`OVERDUE`] billings' `Billing.Overdue`.
    overdue_sweep: u64,
    /// One relay round: the queue, then marking what it gave published.
    relay: u64,
}

async fn counting(uri: &str) -> (MongoStore, CommandCount) {
    let (store, commands) = MongoStore::connect_counting(uri, Some(&fresh_database()), TIMEOUT)
        .await
        .expect("connect to the test MongoDB");
    (prepared(Ok(store)).await, commands)
}

async fn measure_outbox(uri: &str) -> Outbox {
    let (store, commands) = counting(uri).await;
    store.create_user(sample_user()).await.expect("a user");
    for n in 0..=OVERDUE {
        let mut id = [0x69u8; 12];
        id[8..].copy_from_slice(&n.to_be_bytes());
        let draft = BillingDraft {
            id: DocumentId::from_bytes(id),
            ..sample_draft()
        };
        store.create_billing(draft).await.expect("a billing");
    }
    let t = |raw| parse_timestamp(raw).expect("a date");
    let before = commands.get();
    store
        .delete_billing(
            &BillingId::from_sequence(u64::from(OVERDUE) + 1),
            t("2025-10-16"),
        )
        .await
        .expect("deleted");
    let delete_billing = commands.get() - before;

    let before = commands.get();
    let limit = Limit::new(100).expect("a limit");
    let recorded = store
        .record_overdue(t("2025-10-20"), limit)
        .await
        .expect("swept");
    let overdue_sweep = commands.get() - before;
    assert_eq!(recorded, u64::from(OVERDUE));

    let before = commands.get();
    let queue = store.unpublished_events(limit).await.expect("the queue");
    let seqs: Vec<_> = queue.iter().map(|e| e.seq).collect();
    store
        .mark_published(&seqs, t("2025-10-21"))
        .await
        .expect("marked");
    let relay = commands.get() - before;
    // Created and Overdue for ten, Created and Deleted for the eleventh.
    assert_eq!(queue.len(), 2 * (OVERDUE as usize + 1));
    assert!(
        store
            .unpublished_events(limit)
            .await
            .expect("the queue")
            .is_empty()
    );
    Outbox {
        delete_billing,
        overdue_sweep,
        relay,
    }
}

async fn measure_all(uri: &str, transactions: bool) -> (RoundTrips, Outbox) {
    let (store, commands) = counting(uri).await;
    assert_eq!(store.transactions(), transactions, "the server at {uri}");
    let counted = measure(&store, || commands.get()).await;
    let outbox = measure_outbox(uri).await;
    eprintln!("transactions: {transactions}: {counted:?} {outbox:?}");
    (counted, outbox)
}

fn at_most_a_tenth_per_event(counted: &RoundTrips) {
    assert!(
        counted.created_events * 10 <= u64::from(EVENTS),
        "at most 0.1 operations per event in bulk: {counted:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_use_case_keeps_to_its_budget_of_database_operations() {
    let (counted, outbox) = measure_all(&test_uri(), true).await;
    // In a transaction, the user (read and marked) and the insert, the event, the commit; the
    // counter outside it.
    assert!(counted.create_billing <= 5, "{counted:?}");
    assert_eq!(counted.find_billing, 1, "{counted:?}");
    assert_eq!(counted.user_billings, 2, "{counted:?}");
    // The read; then in a transaction the guarded write, its `Billing.Paid`, the commit.
    assert!(counted.pay_billing <= 4, "{counted:?}");
    // The read; then in a transaction the billings read (for their `Billing.Deleted`) and
    // deleted, the user, the tombstone, the events, the commit.
    assert!(counted.delete_user <= 7, "{counted:?}");
    // The users, the billings, their events and the inbox: 0.02 per event.
    at_most_a_tenth_per_event(&counted);
    // `findOneAndDelete` (the billing as it was), the event, the commit.
    assert!(outbox.delete_billing <= 3, "{outbox:?}");
    // In one transaction: the read, one guarded mark per billing, the events, the commit.
    assert!(outbox.overdue_sweep <= u64::from(OVERDUE) + 3, "{outbox:?}");
    assert_eq!(outbox.relay, 2, "{outbox:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_transactions_each_use_case_keeps_to_its_budget_too() {
    let (counted, outbox) = measure_all(standalone::uri(), false).await;
    // The user, the counter, the insert, the user again (suspended meanwhile?), the event.
    assert!(counted.create_billing <= 5, "{counted:?}");
    assert_eq!(counted.find_billing, 1, "{counted:?}");
    assert_eq!(counted.user_billings, 2, "{counted:?}");
    // The read, the guarded write, its `Billing.Paid`.
    assert!(counted.pay_billing <= 3, "{counted:?}");
    // The read; the billings' ids, a `findOneAndDelete` each (only the operation that removed
    // a billing may record its deletion), the tombstone, the user, the final sweep's ids, the
    // events: 6 + one per billing.
    assert!(counted.delete_user <= 8, "{counted:?}");
    at_most_a_tenth_per_event(&counted);
    assert!(outbox.delete_billing <= 2, "{outbox:?}");
    // The read, one guarded mark per billing, the events.
    assert!(outbox.overdue_sweep <= u64::from(OVERDUE) + 2, "{outbox:?}");
    assert_eq!(outbox.relay, 2, "{outbox:?}");
}
