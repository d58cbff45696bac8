//! A user's events (one key, so one partition) take effect in the order they were produced,
//! while the partitions proceed side by side.

use serde_json::json;

use crate::support::{Msg, Producer, Running, Snapshot, Style, Topic, sqlite_service, unique};

const USERS: usize = 12;

#[tokio::test]
async fn per_user_order_holds_so_the_last_update_wins_and_the_suspension_sticks() {
    let topic = Topic::create("ordering").await;
    let (service, _dir) = sqlite_service();
    let user = |i: usize| format!("ord-{i:02}");
    let steps: [fn(String) -> Msg; 4] = [
        |id| {
            Msg::event(
                Style::Documented,
                "Customer.Created",
                json!({ "userId": id, "name": "Start" }),
            )
        },
        |id| {
            Msg::event(
                Style::UserService,
                "Customer.Updated",
                json!({ "userId": id, "name": "A" }),
            )
        },
        |id| {
            Msg::event(
                Style::Documented,
                "Customer.Updated",
                json!({ "userId": id, "name": "B" }),
            )
        },
        |id| {
            Msg::event(
                Style::UserService,
                "Customer.Suspended",
                json!({ "userId": id }),
            )
        },
    ];
    // Round-robin: every user's first event, then every user's second, ...
    let messages: Vec<Msg> = steps
        .iter()
        .flat_map(|step| (0..USERS).map(move |i| step(user(i))))
        .collect();
    Producer::new().send(&topic.name, &messages).await;

    let mut settings = topic.settings(&unique("ordering"));
    // Small batches: a user's events span several of them.
    settings.batching.size = 5;
    let consumer = Running::start(&service, settings);
    consumer.wait_handled(messages.len() as u64).await;
    let status = consumer.stop().await;
    assert!(
        status
            .counts()
            .keys()
            .all(|(_, outcome)| *outcome == "applied"),
        "{:?}",
        status.counts()
    );

    let s = Snapshot::of(&service).await;
    assert_eq!(s.users.len(), USERS);
    for i in 0..USERS {
        let id = user(i);
        let u = s.user(&id).expect("the user exists");
        assert_eq!(
            u.name.as_ref().and_then(billing_domain::Scalar::as_text),
            Some("B"),
            "{id}: the last name given"
        );
        assert!(!u.is_active, "{id}: suspended last");
        assert_eq!(
            s.billings_of(&id).len(),
            1,
            "{id}: the billing of its Created"
        );
    }
}
