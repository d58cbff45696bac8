//! An event type this service does not handle is skipped and counted, not dead-lettered.

use serde_json::json;

use crate::support::{
    Msg, Producer, Running, Snapshot, Style, Topic, count, sqlite_service, unique,
};

#[tokio::test]
async fn an_unknown_event_type_is_skipped_and_counted() {
    let topic = Topic::create("unknown-types").await;
    let (service, _dir) = sqlite_service();
    let messages = [
        Msg::event(
            Style::Documented,
            "Customer.Archived",
            json!({ "userId": "known", "name": "Never" }),
        ),
        // Unknown even without a payload: the type decides first.
        Msg::raw(
            Some("known"),
            r#"{"event":"Customer.Merged","timestamp":"2025-09-01T08:00:00Z"}"#,
        ),
        Msg::event(
            Style::UserService,
            "Customer.Created",
            json!({ "userId": "known", "name": "Ana" }),
        ),
    ];
    Producer::new().send(&topic.name, &messages).await;

    let consumer = Running::start(&service, topic.settings(&unique("unknown-types")));
    consumer.wait_handled(messages.len() as u64).await;
    let status = consumer.stop().await;

    // Unknown types are counted together: one series per made-up type would grow without end.
    assert_eq!(
        count(&status, "other", "skipped"),
        2,
        "{:?}",
        status.counts()
    );
    assert_eq!(
        count(&status, "Customer.Created", "applied"),
        1,
        "{:?}",
        status.counts()
    );
    assert!(
        status
            .counts()
            .keys()
            .all(|(_, outcome)| *outcome != "dead-lettered"),
        "nothing dead-lettered: {:?}",
        status.counts()
    );
    let s = Snapshot::of(&service).await;
    let user = s.user("known").expect("the later good message applied");
    assert_eq!(
        user.name.as_ref().and_then(billing_domain::Scalar::as_text),
        Some("Ana"),
        "not the skipped event's name"
    );
    assert_eq!(s.billings_of("known").len(), 1);
}
