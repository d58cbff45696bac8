//! The operator's user service, as it really sends: events that validate almost nothing,
//! consumed from the Kafka-wire broker by the whole service. Nothing of a known type is
//! dead-lettered for the form of a field, every value is kept as sent, `null` clears, and a
//! replay of the whole topic changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::kafka::{consume, eventually, kafka_events, produce, unique};

/// A user-service envelope at `minute` past 2025-09-01T08:00Z, with its own id.
fn event(kind: &str, minute: u32, data: Value) -> Value {
    json!({
        "id": format!("us-{}-{kind}-{minute}", data["userId"]),
        "event": kind,
        "data": data,
        "timestamp": format!("2025-09-01T08:{minute:02}:00.000Z"),
    })
}

/// What the user service sends for customers whose records it never checked.
fn history() -> Vec<(String, Value)> {
    let long = format!("Carrera 7 # 71-21, {}", "interior ".repeat(440));
    let events = vec![
        event(
            "Customer.Created",
            1,
            json!({
                "userId": "us-odd", "name": 42, "email": "ana(at)example",
                "address": { "city": "Bogotá", "zipCode": 110_111, "address": long, "country": "" },
                "phone": { "codeNumber": "57", "phoneNumber": 0 },
            }),
        ),
        event(
            "Customer.Created",
            2,
            json!({
                "userId": "us-big", "name": "Big",
                "phone": { "codeNumber": 57, "phoneNumber": 9_007_199_254_740_993_u64 },
            }),
        ),
        event(
            "Customer.Created",
            3,
            json!({ "userId": 1001, "name": "Numeric id" }),
        ),
        event(
            "Customer.Created",
            4,
            json!({
                "userId": "us-text-phone", "isActive": "true",
                "phone": { "phoneNumber": "+57 (310) 415-6262" }, "createdBy": { "id": 7 },
            }),
        ),
        event(
            "Customer.Updated",
            5,
            json!({ "userId": "us-odd", "email": null, "address": { "zipCode": null } }),
        ),
        event(
            "Customer.Updated",
            6,
            json!({ "userId": "us-unknown", "name": "From an update" }),
        ),
        event(
            "Customer.Created",
            7,
            json!({ "userId": "us-bill", "serviceId": 7, "totalInvoice": -12.5, "dueDate": "2025-09-20T00:00:00" }),
        ),
        event(
            "Customer.Suspended",
            8,
            json!({ "userId": "us-big", "name": { "ignored": true } }),
        ),
    ];
    events
        .into_iter()
        .map(|e| {
            let key = e["data"]["userId"].to_string();
            (key, e)
        })
        .collect()
}

async fn user(app: &TestApp, id: &str) -> Value {
    let res = app.get(&format!("/api/users/{id}")).await;
    res.assert_status(StatusCode::OK);
    res.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_value_the_user_service_sends_is_kept_as_sent_and_nothing_is_dead_lettered() {
    let topic = unique("user-service");
    let history = history();
    for (key, value) in &history {
        produce(&topic, key, value).await;
    }
    let mut app = TestApp::spawn_with(|s| consume(s, &topic)).await;
    eventually("every event to be handled", async || {
        kafka_events(&app.get("/metrics").await.text, "") >= history.len() as u64
    })
    .await;
    let metrics = app.get("/metrics").await.text;
    assert_eq!(
        kafka_events(&metrics, r#"outcome="dead-lettered""#),
        0,
        "nothing dead-lettered:\n{metrics}"
    );
    assert_eq!(
        kafka_events(&metrics, r#"outcome="applied""#),
        history.len() as u64,
        "every event applied:\n{metrics}"
    );

    let odd = user(&app, "us-odd").await;
    assert_eq!(odd["name"], 42);
    assert!(odd.get("email").is_none(), "cleared by null: {odd}");
    assert_eq!(odd["address"]["city"], "Bogotá");
    assert_eq!(odd["address"]["country"], "");
    assert!(odd["address"].get("zipCode").is_none(), "cleared by null");
    assert_eq!(
        odd["address"]["address"],
        history[0].1["data"]["address"]["address"]
    );
    assert_eq!(
        odd["phone"],
        json!({ "codeNumber": "57", "phoneNumber": 0 })
    );

    let big = user(&app, "us-big").await;
    assert_eq!(
        big["phone"],
        json!({ "codeNumber": 57, "phoneNumber": 9_007_199_254_740_993_u64 })
    );
    assert_eq!(big["isActive"], false);
    assert_eq!(big["name"], "Big", "a Suspended reads only its userId");

    assert_eq!(user(&app, "1001").await["name"], "Numeric id");
    let text_phone = user(&app, "us-text-phone").await;
    assert_eq!(text_phone["phone"]["phoneNumber"], "+57 (310) 415-6262");
    assert_eq!(text_phone["isActive"], true);

    let unknown = user(&app, "us-unknown").await;
    assert_eq!(unknown["name"], "From an update");
    assert!(
        app.get("/api/users/us-unknown/billings")
            .await
            .items()
            .is_empty()
    );

    let billed = app.get("/api/users/us-bill/billings").await;
    let [billing] = &billed.items()[..] else {
        panic!("one initial billing: {}", billed.text);
    };
    assert_eq!(billing["serviceId"], 7);
    assert_eq!(billing["totalInvoice"], -12.5);
    assert_eq!(billing["dueDate"], "2025-09-20T00:00:00.000Z");
    for created in ["us-odd", "us-big", "1001", "us-text-phone"] {
        let listed = app.get(&format!("/api/users/{created}/billings")).await;
        assert_eq!(listed.items().len(), 1, "{created} has its initial billing");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_consumer_group_replaying_the_whole_topic_changes_nothing() {
    let topic = unique("user-service-replay");
    let mut history = history();
    history.extend([
        (
            "\"us-gone\"".to_owned(),
            event(
                "Customer.Created",
                10,
                json!({ "userId": "us-gone", "name": "Gone" }),
            ),
        ),
        (
            "\"us-gone\"".to_owned(),
            event("Customer.Deleted", 11, json!({ "userId": "us-gone" })),
        ),
        (
            "\"us-big\"".to_owned(),
            event("Customer.Reactivated", 12, json!({ "userId": "us-big" })),
        ),
        (
            "\"us-big\"".to_owned(),
            event("Customer.Suspended", 13, json!({ "userId": "us-big" })),
        ),
    ]);
    for (key, value) in &history {
        produce(&topic, key, value).await;
    }
    let mut app = TestApp::spawn_with(|s| consume(s, &topic)).await;
    eventually("the first group to handle every event", async || {
        kafka_events(&app.get("/metrics").await.text, "") >= history.len() as u64
    })
    .await;
    let users_before = app.get("/api/users?limit=500").await.body;
    let billings_before = app.get("/api/billings?limit=500").await.body;
    app.stop().await;

    // A group new to the topic, as when the service takes over from another consumer: the
    // inbox would catch a replay of the same message ids, so the replay carries new ids, as
    // another producer's retry or a re-publication would.
    let replayed = unique("user-service-replayed");
    for (key, value) in &history {
        let mut again = value.clone();
        again["id"] = json!(format!("{}-again", value["id"].as_str().unwrap_or("")));
        produce(&replayed, key, &again).await;
    }
    app.restart_with(|s| consume(s, &replayed)).await;
    eventually("the new group to handle every event", async || {
        kafka_events(&app.get("/metrics").await.text, "") >= history.len() as u64
    })
    .await;
    let metrics = app.get("/metrics").await.text;
    assert_eq!(kafka_events(&metrics, r#"outcome="dead-lettered""#), 0);
    assert_eq!(app.get("/api/users?limit=500").await.body, users_before);
    assert_eq!(
        app.get("/api/billings?limit=500").await.body,
        billings_before
    );
    let gone = app.get("/api/users/us-gone").await;
    gone.assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    assert_eq!(user(&app, "us-big").await["isActive"], false);
    app.stop().await;
}
