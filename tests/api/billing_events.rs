//! Billing events, end to end: each kind of change is published to the billing events topic
//! with the body GET returns, listed in the billing's history, overdue is emitted once with two
//! instances, and a service killed with SIGKILL while it writes loses no acknowledged event.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Resp, TestApp};
use crate::kafka::{brokers, consume, eventually, unique};

const PARTITIONS: i32 = 4;

/// A new topic for the relay to publish to, and a reader of it from its beginning.
async fn billing_events_topic() -> (String, StreamConsumer) {
    let name = unique("billing-events");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("an admin client");
    admin
        .create_topics(
            &[NewTopic::new(&name, PARTITIONS, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("the broker answers CreateTopics");
    let reader: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a reader");
    let mut partitions = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        partitions
            .add_partition_offset(&name, p, Offset::Beginning)
            .expect("a partition");
    }
    reader.assign(&partitions).expect("assigned");
    (name, reader)
}

/// Reads `n` messages (up to 180 s): `(key, message)`.
async fn read(reader: &StreamConsumer, n: usize) -> Vec<(String, Value)> {
    let mut read = Vec::new();
    while read.len() < n {
        let m = tokio::time::timeout(Duration::from_secs(180), reader.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} billing events arrived", read.len()))
            .expect("the topic is readable");
        let key = String::from_utf8_lossy(m.key().expect("a key")).into_owned();
        let value = serde_json::from_slice(m.payload().expect("a payload")).expect("JSON");
        read.push((key, value));
    }
    read
}

fn with_relay(s: &mut app::Settings, topic: &str) {
    consume(s, &unique("customers"));
    if let Some(kafka) = s.kafka.as_mut() {
        kafka.billing_events_topic = topic.to_owned();
    }
}

fn billing_id(b: &Value) -> String {
    b["billingId"].as_str().expect("a billingId").to_owned()
}

async fn get(app: &TestApp, path: &str) -> Value {
    let res: Resp = app.get(path).await;
    res.assert_status(StatusCode::OK);
    res.body
}

async fn history(app: &TestApp, id: &str) -> Vec<Value> {
    app.walk(&format!("/api/billings/{id}/events?limit=2"))
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_change_is_published_with_the_body_get_returns_and_kept_as_history() {
    let (topic, reader) = billing_events_topic().await;
    let app = TestApp::spawn_with(|s| with_relay(s, &topic)).await;
    app.create_user_id("ev-1").await;
    let due =
        json!({ "userId": "ev-1", "dueDate": "2099-01-01", "serviceId": "s", "totalInvoice": 10 });
    let id = billing_id(&app.create_billing_with(due.clone()).await);
    let path = format!("/api/billings/{id}");
    let mut expected = vec![("Billing.Created", get(&app, &path).await)];
    let changes: [(&str, Value); 3] = [
        ("Billing.Updated", json!({ "dueDate": "2099-02-01" })),
        ("Billing.Unpaid", json!({ "isPaid": false })),
        ("Billing.Updated", json!({ "totalInvoice": 20 })),
    ];
    app.post_empty(&format!("{path}/pay"))
        .await
        .assert_status(StatusCode::OK);
    expected.push(("Billing.Paid", get(&app, &path).await));
    for (kind, body) in changes {
        app.put(&path, &body).await.assert_status(StatusCode::OK);
        expected.push((kind, get(&app, &path).await));
    }
    // A PUT that changes nothing, and paying a paid billing again, emit nothing.
    app.put(&path, &json!({ "totalInvoice": 20 }))
        .await
        .assert_status(StatusCode::OK);
    let last = get(&app, &path).await;
    app.delete(&path).await.assert_status(StatusCode::OK);
    expected.push(("Billing.Deleted", last));
    // A user's deletion deletes their billings: one event each.
    let other = billing_id(&app.create_billing_with(due).await);
    let other_body = get(&app, &format!("/api/billings/{other}")).await;
    app.delete("/api/users/ev-1")
        .await
        .assert_status(StatusCode::OK);

    let messages = read(&reader, expected.len() + 2).await;
    assert!(
        messages.iter().all(|(key, _)| key == "ev-1"),
        "keyed by userId"
    );
    let of_first: Vec<&Value> = messages
        .iter()
        .map(|(_, m)| m)
        .filter(|m| m["data"]["billingId"] == id.as_str())
        .collect();
    let kinds: Vec<&str> = of_first
        .iter()
        .map(|m| m["event"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = expected.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, want, "in the order of the changes");
    for (message, (_, body)) in of_first.iter().zip(&expected) {
        assert_eq!(&message["data"], body, "the body GET returned then");
        assert!(message["id"].as_str().is_some_and(|i| i.len() == 36));
        assert!(message["timestamp"].as_str().is_some());
    }
    let of_other: Vec<(&str, &Value)> = messages
        .iter()
        .filter(|(_, m)| m["data"]["billingId"] == other.as_str())
        .map(|(_, m)| (m["event"].as_str().unwrap(), &m["data"]))
        .collect();
    assert_eq!(
        of_other,
        [
            ("Billing.Created", &other_body),
            ("Billing.Deleted", &other_body)
        ]
    );
    // The history of the deleted billing lists what was published, oldest first.
    let listed = history(&app, &id).await;
    let published: Vec<Value> = of_first.into_iter().cloned().collect();
    assert_eq!(listed, published);
    app.get("/api/billings/000999999/events")
        .await
        .assert_error(StatusCode::NOT_FOUND, "BILLING_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_emit_overdue_once_per_billing() {
    let sweep_often = |s: &mut app::Settings| s.billing_events.overdue_sweep_seconds = 1;
    let one = TestApp::spawn_with(sweep_often).await;
    let storage = one.settings().storage.clone();
    let two = TestApp::spawn_with(|s| {
        sweep_often(s);
        s.storage = storage;
    })
    .await;
    one.create_user_id("late").await;
    let mut ids = BTreeSet::new();
    for (i, app) in [&one, &two, &one, &two].into_iter().enumerate() {
        let billing = app
            .create_billing_with(json!({ "userId": "late", "dueDate": format!("2024-0{}-01", i + 1), "serviceId": "s", "totalInvoice": 1 }))
            .await;
        ids.insert(billing_id(&billing));
    }
    let paid = billing_id(
        &one.create_billing_with(json!({ "userId": "late", "dueDate": "2024-01-01", "serviceId": "s", "totalInvoice": 1, "isPaid": true }))
            .await,
    );
    let overdue = async |app: &TestApp, id: &str| {
        history(app, id)
            .await
            .iter()
            .filter(|e| e["event"] == "Billing.Overdue")
            .count()
    };
    for id in &ids {
        eventually("Billing.Overdue for each billing past due", async || {
            overdue(&one, id).await > 0
        })
        .await;
    }
    // Both instances keep sweeping: give them a few more rounds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for id in &ids {
        assert_eq!(overdue(&two, id).await, 1, "once for {id}");
    }
    assert_eq!(
        overdue(&one, &paid).await,
        0,
        "a paid billing is not overdue"
    );
}

/// A free local port, for a service started as a process.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The service's binary, built beside this test binary (`cargo test --workspace` builds it).
fn service_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let binary = dir.join("billing");
    assert!(
        binary.exists(),
        "{} is missing: build it first (cargo build --bin billing; scripts/test.sh does)",
        binary.display()
    );
    binary
}

/// A service started as a process, which the test can SIGKILL.
#[derive(Clone)]
struct Remote {
    base: String,
    client: reqwest::Client,
}

impl Remote {
    /// The answer's body when it was a success; `None` when the service did not answer (it was
    /// killed). Anything else fails the test.
    async fn post(&self, path: &str, body: &Value) -> Option<Value> {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .ok()?;
        let status = res.status();
        let body: Value = res.json().await.ok()?;
        assert!(status.is_success(), "{path}: {status} {body}");
        Some(body)
    }

    async fn is_up(&self) -> bool {
        self.client
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_killed_while_it_writes_loses_no_acknowledged_event() {
    let (topic, reader) = billing_events_topic().await;
    // The store the restarted service will use; the killed one is a process on the same one.
    let mut after = TestApp::spawn().await;
    after.stop().await;
    let storage = after.settings().storage.clone();
    let port = free_port();
    let mut command = std::process::Command::new(service_binary());
    command
        .env_clear()
        .env("PORT", port.to_string())
        .env("BIND_ADDRESS", "127.0.0.1")
        .env("DATABASE_PATH", &storage.database_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(uri) = &storage.mongodb_uri {
        command.env("MONGODB_URI", uri);
    }
    let mut child = command.spawn().expect("the service starts");
    let victim = Remote {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
    };
    eventually("the service to answer", async || victim.is_up().await).await;
    let user = json!({ "userId": "k9", "name": "Kill Nine" });
    assert!(victim.post("/api/users", &user).await.is_some());

    // Writers until the kill: every answer they got is an acknowledged change.
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let app = victim.clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let body = json!({ "userId": "k9", "dueDate": "2099-01-01", "serviceId": "s", "totalInvoice": 1 });
                while let Some(created) = app.post("/api/billings", &body).await {
                    let pay = format!("/api/billings/{}/pay", billing_id(&created));
                    acknowledged.push(("Billing.Created", created));
                    match app.post(&pay, &json!({})).await {
                        Some(paid) => acknowledged.push(("Billing.Paid", paid)),
                        None => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    child.kill().expect("SIGKILL");
    child.wait().expect("the killed service is reaped");
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("a writer"));
    }
    assert!(
        acknowledged.len() > 4,
        "the writers got going: {}",
        acknowledged.len()
    );

    after.restart_with(|s| with_relay(s, &topic)).await;
    let mut published: BTreeMap<(String, String), Value> = BTreeMap::new();
    for (_, m) in read_all_of(&reader, &after, &acknowledged).await {
        let key = (
            m["data"]["billingId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            m["event"].as_str().unwrap_or_default().to_owned(),
        );
        published.insert(key, m["data"].clone());
    }
    for (kind, body) in &acknowledged {
        let key = (billing_id(body), (*kind).to_owned());
        assert_eq!(
            published.get(&key),
            Some(body),
            "the acknowledged {kind} of {} was published with its body",
            key.0
        );
    }
}

/// Reads until every event the store holds for the acknowledged billings has arrived.
async fn read_all_of(
    reader: &StreamConsumer,
    app: &TestApp,
    acknowledged: &[(&str, Value)],
) -> Vec<(String, Value)> {
    let ids: BTreeSet<String> = acknowledged.iter().map(|(_, b)| billing_id(b)).collect();
    let mut total = 0;
    for id in &ids {
        total += history(app, id).await.len();
    }
    let mut messages = Vec::new();
    let mut ours = 0;
    while ours < total {
        let next = read(reader, 1).await;
        ours += next
            .iter()
            .filter(|(_, v)| ids.contains(v["data"]["billingId"].as_str().unwrap_or("")))
            .count();
        messages.extend(next);
    }
    messages
}
