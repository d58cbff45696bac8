//! Replaying the whole topic (a second consumer group from the earliest offset, over the same
//! store) changes nothing.

use std::sync::Arc;

use billing_domain::{BillingService, Repository};
use serde_json::json;

use crate::support::{
    Msg, Producer, Running, Snapshot, Style, Topic, memory_service, sqlite_service, unique,
};

/// A history with every kind of event, both envelopes, a duplicate, an event for an unknown
/// user, an unknown type and a malformed message.
fn history() -> Vec<Msg> {
    let mut m = Vec::new();
    for i in 0..6 {
        let style = if i % 2 == 0 {
            Style::Documented
        } else {
            Style::UserService
        };
        m.push(Msg::event(
            style,
            "Customer.Created",
            json!({ "userId": format!("r-{i}"), "name": format!("User {i}") }),
        ));
    }
    let d = |kind: &str, payload| Msg::event(Style::Documented, kind, payload);
    let u = |kind: &str, payload| Msg::event(Style::UserService, kind, payload);
    m.extend([
        d(
            "Customer.Updated",
            json!({ "userId": "r-0", "name": "Renamed", "address": { "city": "Cali" } }),
        ),
        u("Customer.Suspended", json!({ "userId": "r-1" })),
        d("Customer.Reactivated", json!({ "userId": "r-1" })),
        u("Customer.Deleted", json!({ "userId": "r-2" })),
        d(
            "Customer.Created",
            json!({ "userId": "r-2", "name": "Again", "totalInvoice": 5_000 }),
        ),
        u("Customer.Suspended", json!({ "userId": "r-3" })),
        d("Customer.Suspended", json!({ "userId": "ghost" })),
        u(
            "Customer.Updated",
            json!({ "userId": "new-r", "name": "New" }),
        ),
        d("Customer.Deleted", json!({ "userId": "r-5" })),
        d("Customer.Archived", json!({ "userId": "r-0" })),
        Msg::raw(Some("r-0"), "this is not JSON"),
    ]);
    // The same bytes again: a producer's retry.
    m.push(m[4].clone());
    m
}

async fn replaying_twice_ends_in_the_same_state<R: Repository>(service: Arc<BillingService<R>>) {
    let topic = Topic::create("replay").await;
    let messages = history();
    Producer::new().send(&topic.name, &messages).await;

    let first = Running::start(&service, topic.settings(&unique("replay-first")));
    first.wait_handled(messages.len() as u64).await;
    first.stop().await;
    let once = Snapshot::of(&service).await;
    // The history did what it says, so the comparison below is about something.
    assert_eq!(once.users.len(), 6, "{:?}", once.users);
    assert_eq!(once.billings.len(), 5, "{:?}", once.billings);
    assert!(once.user("r-5").is_none() && once.user("ghost").is_none());
    assert!(!once.user("r-3").expect("r-3").is_active);
    let [again] = once.billings_of("r-2")[..] else {
        panic!("r-2's new billing only: {:?}", once.billings_of("r-2"));
    };
    assert_eq!(
        again.total_invoice,
        Some(billing_domain::Number::Int(5_000))
    );

    let replay = Running::start(&service, topic.settings(&unique("replay-second")));
    replay.wait_handled(messages.len() as u64).await;
    let status = replay.stop().await;
    let twice = Snapshot::of(&service).await;
    assert_eq!(twice, once, "the replay changed the store");
    let applied: u64 = status
        .counts()
        .iter()
        .filter(|((_, outcome), _)| *outcome == "applied")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(applied, 0, "nothing applied twice: {:?}", status.counts());
}

#[tokio::test]
async fn replaying_the_whole_topic_twice_ends_in_the_same_state_on_sqlite() {
    let (service, _dir) = sqlite_service();
    replaying_twice_ends_in_the_same_state(service).await;
}

#[tokio::test]
async fn replaying_the_whole_topic_twice_ends_in_the_same_state_in_memory() {
    replaying_twice_ends_in_the_same_state(memory_service()).await;
}
