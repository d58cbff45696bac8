//! Storage down for a while, then back: the consumer keeps retrying the batch it holds, without
//! skipping or committing it, and once storage is back every event arrives exactly once.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use billing_domain::{BillingId, BillingService, Repository};
use serde_json::json;

use crate::support::{
    FlakyStore, Msg, Producer, Running, Snapshot, Style, Topic, billing_ids, count, eventually,
    sqlite_store, unique, with_store,
};

const EVENTS: usize = 30;

async fn nothing_is_lost<S: Repository + Clone>(store: S) {
    let topic = Topic::create("storage-outage").await;
    let store = FlakyStore::new(store);
    let outage = store.outage();
    let service: Arc<BillingService<FlakyStore<S>>> = with_store(store.clone());

    outage.store(true, Ordering::SeqCst);
    let messages: Vec<Msg> = (0..EVENTS)
        .map(|i| {
            Msg::event(
                Style::UserService,
                "Customer.Created",
                json!({ "userId": format!("o-{i:02}"), "name": format!("Customer {i}") }),
            )
        })
        .collect();
    Producer::new().send(&topic.name, &messages).await;
    let consumer = Running::start(&service, topic.settings(&unique("storage-outage")));

    // Storage refuses the consumer's batch again and again: it is retrying, not giving up.
    eventually(
        "the consumer to retry against the failed storage",
        async || {
            if store.refused() >= 3 {
                Ok(())
            } else {
                Err(format!(
                    "{} refusals; consumer {}",
                    store.refused(),
                    consumer.describe()
                ))
            }
        },
    )
    .await;
    let during = Snapshot::of(&service).await;
    assert!(
        during.users.is_empty() && during.billings.is_empty(),
        "nothing applied while storage is down: {}",
        during.summary()
    );
    assert!(
        consumer.is_alive(),
        "the consumer survives the outage: {}",
        consumer.describe()
    );
    assert_eq!(
        consumer.handled(),
        0,
        "nothing counted as handled: {}",
        consumer.describe()
    );

    outage.store(false, Ordering::SeqCst);
    eventually("every event to arrive once storage is back", async || {
        let s = Snapshot::of(&service).await;
        if s.billings.len() >= EVENTS {
            Ok(())
        } else {
            Err(format!("{}; consumer {}", s.summary(), consumer.describe()))
        }
    })
    .await;
    consumer.wait_handled(EVENTS as u64).await;
    let status = consumer.stop().await;

    let s = Snapshot::of(&service).await;
    assert_eq!(s.users.len(), EVENTS);
    for i in 0..EVENTS {
        let id = format!("o-{i:02}");
        assert_eq!(s.billings_of(&id).len(), 1, "{id} has exactly one billing");
    }
    let expected: Vec<BillingId> = (1..=EVENTS as u64).map(BillingId::from_sequence).collect();
    assert_eq!(billing_ids(&s.billings), expected);
    assert_eq!(
        count(&status, "Customer.Created", "applied"),
        EVENTS as u64,
        "each event applied once: {:?}",
        status.counts()
    );
}

#[tokio::test]
async fn storage_down_for_a_while_then_back_loses_nothing_on_sqlite() {
    let (store, _dir) = sqlite_store();
    nothing_is_lost(store).await;
}

#[tokio::test]
async fn storage_down_for_a_while_then_back_loses_nothing_in_memory() {
    nothing_is_lost(adapter_memory::MemoryStore::new()).await;
}
