//! The whole service with its consumer on: customer events produced to a real (Kafka-wire)
//! broker take effect, show in the metrics and readiness, and the ordered stop leaves the group.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

pub fn brokers() -> String {
    std::env::var("TEST_KAFKA_BROKERS").expect(
        "TEST_KAFKA_BROKERS is not set: run ./scripts/test.sh, which starts a Kafka-wire broker",
    )
}

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

pub async fn produce(topic: &str, key: &str, value: &serde_json::Value) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("message.timeout.ms", "10000")
        .create()
        .expect("a producer");
    let payload = value.to_string();
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .expect("the broker takes the message");
}

/// Polls `check` until it holds, for up to 180 s (group joins on the test broker take
/// seconds, more under load).
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 180 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Settings that consume `topic` from the test broker in a new group, with the group timeouts
/// the test broker needs.
pub fn consume(s: &mut app::Settings, topic: &str) {
    s.kafka = Some(adapter_kafka::KafkaSettings {
        topic: topic.to_owned(),
        group_id: unique("group"),
        session_timeout_ms: 6000,
        max_poll_interval_ms: 7000,
        heartbeat_interval_ms: 1000,
        ..app::Settings::kafka_defaults(&brokers())
    });
}

/// The sum of `billing_events_total{source="kafka", ...}` series whose labels include `label`
/// (all of them for `""`).
pub fn kafka_events(metrics: &str, label: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("billing_events_total{") && l.contains(r#"source="kafka""#))
        .filter(|l| l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_events_from_kafka_take_effect_and_show_in_metrics_and_readiness() {
    let topic = unique("customers");
    // The topic exists before the consumer subscribes: the broker creates it on first produce.
    produce(
        &topic,
        "kafka-user-1",
        &json!({ "event": "Customer.Created", "data": { "userId": "kafka-user-1", "name": "Ana" },
                 "timestamp": "2025-10-01T09:15:00Z" }),
    )
    .await;
    let mut app = TestApp::spawn_with(|s| consume(s, &topic)).await;

    // The user and then its billing (on MongoDB they are two writes): wait for the billing.
    eventually("the Created event's user and billing", async || {
        match app
            .client
            .get(app.url("/api/users/kafka-user-1/billings"))
            .send()
            .await
        {
            Ok(r) if r.status() == StatusCode::OK => r
                .json::<serde_json::Value>()
                .await
                .is_ok_and(|b| b.as_array().is_some_and(|a| !a.is_empty())),
            _ => false,
        }
    })
    .await;
    let billings = app.get("/api/users/kafka-user-1/billings").await;
    assert_eq!(billings.items().len(), 1);
    assert_eq!(
        billings.items()[0]["generationDate"],
        "2025-10-01T09:15:00.000Z"
    );
    assert_eq!(billings.items()[0]["dueDate"], "2025-10-15T09:15:00.000Z");

    produce(
        &topic,
        "kafka-user-1",
        &json!({ "type": "Customer.Suspended", "payload": { "userId": "kafka-user-1" } }),
    )
    .await;
    eventually("the suspension", async || {
        app.get("/api/users/kafka-user-1").await.body["isActive"] == false
    })
    .await;

    let ready = app.get("/readyz").await;
    ready.assert_status(StatusCode::OK);
    assert_eq!(ready.body["consumer"], "running");
    let metrics = app.get("/metrics").await.text;
    for event_type in ["Customer.Created", "Customer.Suspended"] {
        let series = format!(
            r#"billing_events_total{{source="kafka",type="{event_type}",outcome="applied"}} 1"#
        );
        assert!(metrics.contains(&series), "{series} not in:\n{metrics}");
    }
    // The ordered stop returns once the consumer has committed and left its group.
    app.stop().await;
}
