//! A message delivered twice (a producer's retry with the same bytes) has its effect once.

use serde_json::json;

use crate::support::{
    Msg, Producer, Running, Snapshot, Style, Topic, count, sqlite_service, unique,
};

#[tokio::test]
async fn a_duplicate_message_creates_no_second_billing() {
    let topic = Topic::create("duplicates").await;
    let (service, _dir) = sqlite_service();
    let producer = Producer::new();
    let created = Msg::event(
        Style::UserService,
        "Customer.Created",
        json!({ "userId": "twice", "name": "Ana" }),
    );
    let other = Msg::event(
        Style::UserService,
        "Customer.Created",
        json!({ "userId": "once", "name": "Beto" }),
    );
    // Back to back, so most likely in one batch...
    producer
        .send(&topic.name, &[created.clone(), created.clone(), other])
        .await;
    let consumer = Running::start(&service, topic.settings(&unique("duplicates")));
    consumer.wait_handled(3).await;
    // ...and once more after the first copy is applied and committed: a later batch.
    producer.send(&topic.name, &[created]).await;
    consumer.wait_handled(4).await;
    let status = consumer.stop().await;

    let s = Snapshot::of(&service).await;
    assert_eq!(
        s.billings_of("twice").len(),
        1,
        "one billing for the message sent three times: {:?}",
        s.billings
    );
    assert_eq!(s.billings_of("once").len(), 1);
    assert_eq!(s.billings.len(), 2);
    assert_eq!(s.users.len(), 2);
    let created = |outcome| count(&status, "Customer.Created", outcome);
    assert_eq!(
        (created("applied"), created("duplicate")),
        (2, 2),
        "{:?}",
        status.counts()
    );
}
