//! Unusable messages (not JSON, no type, no payload, no `userId`, past the bounds against
//! abuse) go to the dead-letter topic as they came, with the reason in a header, and do not
//! block their partition.

use rdkafka::message::Message;
use serde_json::json;

use crate::support::{
    DeadLetters, Msg, Producer, Running, Snapshot, Style, Topic, count, eventually, header,
    sqlite_service, unique,
};

#[tokio::test]
async fn malformed_messages_land_on_the_dlq_with_their_key_and_value_while_later_good_ones_apply() {
    let topic = Topic::create("dead-letters").await;
    let (service, _dir) = sqlite_service();
    // Each bad message with a word its reason must mention. All but one share the good
    // message's key, so they sit in its partition, before it.
    let key = Some("dlq-user");
    let bad = [
        (Msg::raw(key, "{ this is not JSON"), "JSON"),
        (
            Msg::raw(key, r#"{"payload":{"userId":"dlq-user","name":"No type"}}"#),
            "type",
        ),
        (
            Msg::raw(
                key,
                r#"{"type":"Customer.Created","payload":{"name":"No id"}}"#,
            ),
            "userId",
        ),
        (
            Msg::raw(
                key,
                r#"{"type":"Customer.Created","payload":{"userId":{"id":"dlq-user"}}}"#,
            ),
            "userId",
        ),
        (
            Msg::raw(key, r#"{"event":"Customer.Updated","data":"dlq-user"}"#),
            "data",
        ),
        (
            Msg::raw(
                key,
                format!(
                    r#"{{"type":"Customer.Updated","payload":{{"userId":"dlq-user","name":"{}"}}}}"#,
                    "x".repeat(4097)
                ),
            ),
            "4096 characters",
        ),
        (
            Msg::raw(
                key,
                format!(
                    r#"{{"type":"Customer.Updated","payload":{{"userId":"dlq-user","notes":"{}"}}}}"#,
                    "x".repeat(70_000)
                ),
            ),
            "65536",
        ),
        // No key at all.
        (Msg::raw(None, "\u{0}\u{1}binary"), "JSON"),
    ];
    let good = Msg::event(
        Style::Documented,
        "Customer.Created",
        json!({ "userId": "dlq-user", "name": "Ana" }),
    );
    let mut messages: Vec<Msg> = bad.iter().map(|(m, _)| m.clone()).collect();
    messages.push(good);
    Producer::new().send(&topic.name, &messages).await;

    let consumer = Running::start(&service, topic.settings(&unique("dead-letters")));
    let applied = eventually("the good message after the bad ones to apply", async || {
        let s = Snapshot::of(&service).await;
        match (s.user("dlq-user"), s.billings_of("dlq-user").len()) {
            (Some(_), 1) => Ok(s),
            _ => Err(format!("{}; consumer {}", s.summary(), consumer.describe())),
        }
    })
    .await;
    assert_eq!(
        applied
            .user("dlq-user")
            .and_then(|u| u.name.clone())
            .map(|n| n.to_string()),
        Some("Ana".to_owned())
    );

    let letters = DeadLetters::open(&topic).read(bad.len()).await;
    consumer.wait_handled(messages.len() as u64).await;
    let status = consumer.stop().await;

    let mut got: Vec<Msg> = letters
        .iter()
        .map(|m| Msg {
            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            value: m.payload().unwrap_or_default().to_vec(),
        })
        .collect();
    got.sort();
    let mut sent: Vec<Msg> = bad.iter().map(|(m, _)| m.clone()).collect();
    sent.sort();
    assert_eq!(
        got, sent,
        "the dead letters are the bad messages, key and value as sent"
    );
    for (m, word) in &bad {
        let letter = letters
            .iter()
            .find(|l| l.payload().unwrap_or_default() == m.value.as_slice())
            .expect("each bad message has its dead letter");
        let reason = header(letter, "x-error").unwrap_or_else(|| {
            panic!(
                "an x-error header on {:?}",
                String::from_utf8_lossy(&m.value)
            )
        });
        assert!(
            reason.contains(word),
            "the reason for {:?} mentions `{word}`: {reason:?}",
            String::from_utf8_lossy(&m.value)
        );
    }
    assert_eq!(
        status
            .counts()
            .iter()
            .filter(|((_, outcome), _)| *outcome == "dead-lettered")
            .map(|(_, n)| n)
            .sum::<u64>(),
        bad.len() as u64,
        "{:?}",
        status.counts()
    );
    assert_eq!(count(&status, "Customer.Created", "applied"), 1);
}
