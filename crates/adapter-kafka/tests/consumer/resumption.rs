//! A consumer stopped in the middle of a topic and started again (same group) goes on from
//! where it stopped: nothing lost, nothing doubled.

use billing_domain::BillingId;
use serde_json::json;

use crate::support::{
    Msg, Producer, Running, Snapshot, Style, Topic, billing_ids, count, eventually, sqlite_service,
    unique,
};

/// Produced before the first run.
const FIRST: usize = 120;
/// Produced while no consumer runs, so the second run surely has a backlog.
const LATER: usize = 30;
const TOTAL: usize = FIRST + LATER;

fn created(i: usize) -> Msg {
    Msg::event(
        Style::Documented,
        "Customer.Created",
        json!({ "userId": format!("c-{i:04}"), "name": format!("Customer {i}") }),
    )
}

#[tokio::test]
async fn a_consumer_stopped_mid_topic_and_restarted_resumes_with_nothing_lost_or_doubled() {
    let topic = Topic::create("resumption").await;
    let (service, _dir) = sqlite_service();
    let producer = Producer::new();
    producer
        .send(&topic.name, &(0..FIRST).map(created).collect::<Vec<_>>())
        .await;

    let group = unique("resumption");
    let mut settings = topic.settings(&group);
    // Small batches, so that the stop comes between batches of the topic.
    settings.batching.size = 10;
    let first = Running::start(&service, settings.clone());
    eventually("the first run to apply some events", async || {
        let s = Snapshot::of(&service).await;
        if s.billings.len() >= 20 {
            Ok(())
        } else {
            Err(format!("{}; consumer {}", s.summary(), first.describe()))
        }
    })
    .await;
    let first = first.stop().await;
    let handled_first: u64 = first.counts().values().sum();
    let after_first = Snapshot::of(&service).await;
    assert_eq!(
        after_first.billings.len() as u64,
        handled_first,
        "what the first run handled is what it applied"
    );

    producer
        .send(
            &topic.name,
            &(FIRST..TOTAL).map(created).collect::<Vec<_>>(),
        )
        .await;
    let second = Running::start(&service, settings);
    second.wait_handled(TOTAL as u64 - handled_first).await;
    eventually("every event to be applied", async || {
        let s = Snapshot::of(&service).await;
        if s.billings.len() >= TOTAL {
            Ok(())
        } else {
            Err(format!("{}; consumer {}", s.summary(), second.describe()))
        }
    })
    .await;
    let second = second.stop().await;

    let s = Snapshot::of(&service).await;
    assert_eq!(s.users.len(), TOTAL, "every customer, once");
    for i in 0..TOTAL {
        let id = format!("c-{i:04}");
        assert_eq!(s.billings_of(&id).len(), 1, "{id} has exactly one billing");
    }
    let expected: Vec<BillingId> = (1..=TOTAL as u64).map(BillingId::from_sequence).collect();
    assert_eq!(
        billing_ids(&s.billings),
        expected,
        "billingIds 1..{TOTAL}, no gap, no repeat"
    );
    assert_eq!(
        count(&second, "Customer.Created", "duplicate"),
        0,
        "the second run starts at the first run's committed offsets: {:?}",
        second.counts()
    );
}
