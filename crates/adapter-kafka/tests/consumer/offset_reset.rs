//! `KAFKA_AUTO_OFFSET_RESET=latest`: a group new to the topic reads only what is produced after
//! it joined; what the topic held before is left alone. (`earliest`, the default, is what every
//! other test uses: see `replay.rs` for a whole topic read by a new group.)

use adapter_kafka::{AutoOffsetReset, ConsumerState};
use serde_json::json;

use crate::support::{
    Msg, Producer, Running, Snapshot, Style, Topic, count, eventually, sqlite_service, unique,
};

/// Every message produced after the join goes to this key's partition, so that once one of
/// them is applied, all that follow it are too (one partition is read in order).
const KEY: &str = "after-the-join";

fn created(user: &str, key: &str) -> Msg {
    let event = Msg::event(
        Style::Documented,
        "Customer.Created",
        json!({ "userId": user, "name": user }),
    );
    Msg::raw(Some(key), event.value)
}

#[tokio::test]
async fn a_new_group_starting_from_the_latest_offset_applies_only_events_produced_after_it_joined()
{
    let topic = Topic::create("latest").await;
    let (service, _dir) = sqlite_service();
    let producer = Producer::new();
    // Before: on every partition, the later events' partition included.
    let mut before: Vec<Msg> = (0..12)
        .map(|i| {
            Msg::event(
                Style::Documented,
                "Customer.Created",
                json!({ "userId": format!("before-{i}") }),
            )
        })
        .collect();
    before.extend((0..5).map(|i| created(&format!("before-on-key-{i}"), KEY)));
    // One at a time: the test broker (Tansu 0.6) gives as a partition's end the offset after
    // the first message of its last record batch, so a last batch of several messages would
    // leave all but its first after "latest".
    for m in &before {
        producer.send(&topic.name, std::slice::from_ref(m)).await;
    }

    let mut settings = topic.settings(&unique("latest"));
    settings.auto_offset_reset = AutoOffsetReset::Latest;
    let consumer = Running::start(&service, settings);
    eventually("the consumer to be assigned its partitions", async || {
        if consumer.status.state() == ConsumerState::Running
            && !consumer.status.partitions().is_empty()
        {
            Ok(())
        } else {
            Err(consumer.describe())
        }
    })
    .await;

    // librdkafka looks the end of a partition up once it is assigned, with a round trip of its
    // own: an event produced in between is before "latest". Probe until one produced now is
    // applied; from then on the partition's position is set.
    let mut probes = 0;
    eventually(
        "an event produced after the join to be applied",
        async || {
            probes += 1;
            producer
                .send(&topic.name, &[created(&format!("probe-{probes}"), KEY)])
                .await;
            let s = Snapshot::of(&service).await;
            if s.users
                .iter()
                .any(|u| u.user_id.as_str().starts_with("probe-"))
            {
                Ok(())
            } else {
                Err(format!(
                    "{probes} probes sent; {}; consumer {}",
                    s.summary(),
                    consumer.describe()
                ))
            }
        },
    )
    .await;
    let after: Vec<Msg> = (0..10)
        .map(|i| created(&format!("after-{i}"), KEY))
        .collect();
    producer.send(&topic.name, &after).await;
    eventually(
        "every event produced after the join to be applied",
        async || {
            let s = Snapshot::of(&service).await;
            if (0..10).all(|i| s.user(&format!("after-{i}")).is_some()) {
                Ok(())
            } else {
                Err(format!("{}; consumer {}", s.summary(), consumer.describe()))
            }
        },
    )
    .await;
    let status = consumer.stop().await;

    let s = Snapshot::of(&service).await;
    let stale: Vec<&str> = s
        .users
        .iter()
        .map(|u| u.user_id.as_str())
        .filter(|id| id.starts_with("before-"))
        .collect();
    assert!(
        stale.is_empty(),
        "events produced before the join were applied: {stale:?}"
    );
    let probes_applied = s
        .users
        .iter()
        .filter(|u| u.user_id.as_str().starts_with("probe-"))
        .count() as u64;
    assert_eq!(
        count(&status, "Customer.Created", "applied"),
        probes_applied + 10,
        "only the probes and the later events: {:?}",
        status.counts()
    );
}
