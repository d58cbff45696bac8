//! Every kind of document the previous Node service could write (through its own API, which
//! validated little) reads back through every route as stored; its indexes and its takeover
//! by this service change nothing. These run on MongoDB whatever `SYSTEM_TESTS_STORE` says.

use std::time::{Duration, Instant};

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, DateTime as BsonDate, Document, doc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fresh_mongodb_uri};
use crate::kafka::{consume, eventually, kafka_events, produce, unique};
use crate::mongo_compat::{raw, raw_one, without_overdue_mark};

fn at(millis: i64) -> BsonDate {
    BsonDate::from_millis(millis)
}

const T0: i64 = 1_696_151_200_000;

/// A billing document as Mongoose wrote it, with `overrides` replacing or removing fields
/// (`Bson::Null` in `remove` means "take it out").
fn billing(
    billing_id: &str,
    user_id: &str,
    minute: i64,
    changes: Document,
    remove: &[&str],
) -> Document {
    let mut d = doc! {
        "_id": ObjectId::new(), "userId": user_id, "billingId": billing_id,
        "generationDate": at(T0 + minute * 60_000), "dueDate": at(T0 + 86_400_000 * 14),
        "serviceId": "1", "totalInvoice": 125_000.0_f64, "isPaid": false, "paymentDate": Bson::Null,
        "phone": { "codeNumber": "+57", "phoneNumber": 3_104_156_262.0_f64 },
        "createdAt": at(T0), "updatedAt": at(T0), "__v": 0_i32,
    };
    for (k, v) in changes {
        d.insert(k, v);
    }
    for k in remove {
        d.remove(*k);
    }
    d
}

/// What the Node service's API let through, one document each.
fn node_billings() -> Vec<(&'static str, Document)> {
    vec![
        (
            "no-service",
            billing("n-1", "node-user", 1, doc! {}, &["serviceId"]),
        ),
        (
            "no-amount",
            billing("n-2", "node-user", 2, doc! {}, &["totalInvoice"]),
        ),
        (
            "no-due-date",
            billing("n-3", "node-user", 3, doc! { "dueDate": Bson::Null }, &[]),
        ),
        (
            "fractional",
            billing(
                "n-4",
                "node-user",
                4,
                doc! { "totalInvoice": 99.95_f64 },
                &[],
            ),
        ),
        (
            "negative",
            billing(
                "n-5",
                "node-user",
                5,
                doc! { "totalInvoice": -300_i32 },
                &[],
            ),
        ),
        (
            "paid-without-date",
            billing(
                "n-6",
                "node-user",
                6,
                doc! { "isPaid": true },
                &["paymentDate"],
            ),
        ),
        (
            "unpaid-with-date",
            billing(
                "n-7",
                "node-user",
                7,
                doc! { "paymentDate": at(T0 + 3_600_000) },
                &[],
            ),
        ),
        (
            "odd-phone",
            billing(
                "n-8",
                "node-user",
                8,
                doc! { "phone": { "codeNumber": "57", "phoneNumber": 0_i32 } },
                &[],
            ),
        ),
        (
            "numeric-service",
            billing(
                "n-9",
                "node-user",
                9,
                doc! { "serviceId": 7_i32, "isPaid": Bson::Null },
                &[],
            ),
        ),
        ("user-gone", billing("n-10", "gone-user", 10, doc! {}, &[])),
    ]
}

/// The JSON each route must show for a document: its stored values, null for missing ones.
fn expected(d: &Document) -> Value {
    let date = |key: &str| match d.get(key) {
        Some(Bson::DateTime(t)) => json!(
            t.try_to_rfc3339_string()
                .expect("a date")
                .replace("Z", ".000Z")
                .replace(".000.000Z", ".000Z")
        ),
        _ => Value::Null,
    };
    let number = |v: Option<&Bson>| match v {
        Some(Bson::Double(f)) if f.fract() == 0.0 => json!(*f as i64),
        Some(Bson::Double(f)) => json!(f),
        Some(Bson::Int32(i)) => json!(i),
        Some(Bson::String(s)) => json!(s),
        _ => Value::Null,
    };
    let phone = d.get_document("phone").expect("a phone");
    json!({
        "billingId": d.get_str("billingId").expect("an id"),
        "userId": d.get_str("userId").expect("a user"),
        "generationDate": date("generationDate"),
        "dueDate": date("dueDate"),
        "serviceId": number(d.get("serviceId")),
        "totalInvoice": number(d.get("totalInvoice")),
        "isPaid": d.get_bool("isPaid").unwrap_or(false),
        "paymentDate": date("paymentDate"),
        "phone": { "codeNumber": number(phone.get("codeNumber")), "phoneNumber": number(phone.get("phoneNumber")) },
    })
}

fn subset(of: &Value, keys: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in keys.as_object().expect("an object").keys() {
        out.insert(k.clone(), of[k].clone());
    }
    Value::Object(out)
}

async fn node_database() -> (TestApp, mongodb::Database, Vec<(&'static str, Document)>) {
    let (uri, database) = fresh_mongodb_uri();
    let db = raw(&uri, &database).await;
    db.collection::<Document>("users")
        .insert_one(doc! {
            "_id": ObjectId::new(), "userId": "node-user", "name": 1001_i32, "email": "not an e-mail",
            "address": { "city": "Bogotá", "zipCode": 110_111_i32 },
            "phone": { "codeNumber": "57", "phoneNumber": 0_i32 },
            "isActive": true, "createdAt": at(T0), "updatedAt": at(T0), "__v": 0_i32,
        })
        .await
        .expect("a Node user");
    let billings = node_billings();
    db.collection::<Document>("billings")
        .insert_many(billings.iter().map(|(_, d)| d.clone()))
        .await
        .expect("Node billings");
    // Not a billing at all: no billingId. Lists skip it and say so.
    db.collection::<Document>("billings")
        .insert_one(doc! { "_id": ObjectId::new(), "userId": "node-user", "generationDate": at(T0 + 5 * 60_000 + 1), "note": "a stray document" })
        .await
        .expect("a stray document");
    let app = TestApp::spawn_with(|s| s.storage.mongodb_uri = Some(uri)).await;
    (app, db, billings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_node_billing_reads_back_as_stored_through_every_route() {
    let (app, _db, billings) = node_database().await;
    for (kind, d) in &billings {
        let want = expected(d);
        let id = d.get_str("billingId").expect("an id");
        let got = app.get(&format!("/api/billings/{id}")).await;
        got.assert_status(StatusCode::OK);
        assert_eq!(
            subset(&got.body, &want),
            want,
            "{kind} on /api/billings/:id"
        );
        let node = app.get(&format!("/billings/{id}")).await;
        node.assert_status(StatusCode::OK);
        assert_eq!(node.body["billing"], want, "{kind} on /billings/:id");
    }
    let gone = app.get("/billings/n-10").await;
    assert_eq!(gone.body["user"], json!({}), "the user of n-10 is gone");
    let here = app.get("/billings/n-1").await;
    assert_eq!(
        here.body["user"],
        json!({ "userId": "node-user", "address": { "city": "Bogotá", "zipCode": 110_111 },
                "currentPhone": { "codeNumber": "57", "phoneNumber": 0 }, "isActive": true })
    );
    let user = app.get("/api/users/node-user").await;
    assert_eq!(
        (&user.body["name"], &user.body["email"]),
        (&json!(1001), &json!("not an e-mail"))
    );

    // Lists: every billing, the stray document skipped and counted, the list not cut short.
    let ids = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|b| b["billingId"].as_str().expect("an id").to_owned())
            .collect()
    };
    let mut want: Vec<String> = billings
        .iter()
        .rev()
        .map(|(_, d)| d.get_str("billingId").expect("an id").to_owned())
        .collect();
    let listed = app.get("/api/billings?limit=500").await;
    assert_eq!(ids(listed.items()), want);
    assert_eq!(listed.header("x-skipped-count"), Some("1"));
    let (walked, pages) = app.walk("/api/billings?limit=1").await;
    assert_eq!(
        ids(&walked),
        want,
        "walking one at a time passes the stray document"
    );
    assert!(pages >= want.len());
    want.retain(|id| id != "n-10");
    assert_eq!(
        ids(app
            .get("/api/users/node-user/billings?limit=500")
            .await
            .items()),
        want
    );
    assert_eq!(
        ids(app
            .get("/api/billings/user/node-user?limit=500")
            .await
            .items()),
        want
    );
    let node_list = app.get("/billings/user/node-user").await;
    assert_eq!(ids(node_list.items()), want);
    assert_eq!(node_list.header("x-skipped-count"), Some("1"));
    let all = app.get("/billings").await;
    assert_eq!(
        all.items().len(),
        billings.len(),
        "GET /billings: every billing"
    );

    // Filters judge what is stored: no due date is never overdue, isPaid as stored.
    let overdue = app.get("/api/billings?overdue=false&limit=500").await;
    assert!(ids(overdue.items()).contains(&"n-3".to_owned()));
    let paid = app.get("/api/billings?isPaid=true").await;
    assert_eq!(ids(paid.items()), ["n-6"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_billing_put_back_whole_is_accepted_and_changes_only_what_changed() {
    let (app, db, billings) = node_database().await;
    for (kind, d) in &billings {
        let id = d.get_str("billingId").expect("an id");
        let fetched = app.get(&format!("/api/billings/{id}")).await.body;
        let res = app.put(&format!("/api/billings/{id}"), &fetched).await;
        res.assert_status(StatusCode::OK);
        assert_eq!(res.body, fetched, "{kind}: an echo changes nothing");
        let stored = raw_one(&db, "billings", doc! { "billingId": id }).await;
        assert_eq!(
            &without_overdue_mark(stored),
            d,
            "{kind}: the document is untouched"
        );
    }
    // A change of one field writes that field (and updatedAt) only.
    let mut fetched = app.get("/api/billings/n-4").await.body;
    fetched["dueDate"] = json!("2026-01-31T00:00:00.000Z");
    app.put("/api/billings/n-4", &fetched)
        .await
        .assert_status(StatusCode::OK);
    let stored = raw_one(&db, "billings", doc! { "billingId": "n-4" }).await;
    assert_eq!(
        stored.get_f64("totalInvoice"),
        Ok(99.95),
        "the fractional amount stays"
    );
    // Changing a stored value that breaks the rules into another that does is refused...
    app.put("/api/billings/n-4", &json!({ "totalInvoice": 12.5 }))
        .await
        .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "totalInvoice");
    // ...and paying one works by the rules.
    let paid = app.post_empty("/api/billings/n-6/pay").await;
    assert_eq!(
        (&paid.body["isPaid"], &paid.body["paymentDate"]),
        (&json!(true), &Value::Null),
        "a paid billing stays as it is"
    );
    let user = app.get("/api/users/node-user").await.body;
    app.put("/api/users/node-user", &user)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_mongoose_created_first_are_taken_as_they_are() {
    let (uri, database) = fresh_mongodb_uri();
    let db = raw(&uri, &database).await;
    // As Mongoose sends them: its default names, `background: true`.
    for (collection, indexes) in [
        (
            "users",
            vec![
                doc! { "key": { "userId": 1 }, "name": "userId_1", "unique": true, "background": true },
            ],
        ),
        (
            "billings",
            vec![
                doc! { "key": { "billingId": 1 }, "name": "billingId_1", "unique": true, "background": true },
                doc! { "key": { "userId": 1, "generationDate": -1 }, "name": "userId_1_generationDate_-1", "background": true },
                doc! { "key": { "dueDate": 1 }, "name": "mongoose_due", "background": true },
            ],
        ),
    ] {
        db.run_command(doc! { "createIndexes": collection, "indexes": indexes })
            .await
            .expect("Mongoose's indexes");
    }
    let app = TestApp::spawn_with(|s| s.storage.mongodb_uri = Some(uri)).await;
    let ready = app.get("/readyz").await;
    ready.assert_status(StatusCode::OK);
    app.create_user_id("after-mongoose").await;
    app.create_billing("after-mongoose").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_prepared_is_not_ready_says_why_and_is_retried() {
    let (uri, database) = fresh_mongodb_uri();
    let db = raw(&uri, &database).await;
    // Two users with one userId: the unique index cannot be built.
    for _ in 0..2 {
        db.collection::<Document>("users")
            .insert_one(doc! { "_id": ObjectId::new(), "userId": "twice", "isActive": true, "createdAt": at(T0), "updatedAt": at(T0) })
            .await
            .expect("a duplicate user");
    }
    let app = TestApp::spawn_with(|s| s.storage.mongodb_uri = Some(uri)).await;
    let res = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("answered");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.expect("json");
    assert!(
        body["reason"].as_str().is_some_and(|r| r.contains("index")),
        "the reason names the indexes: {body}"
    );
    let write = app
        .client
        .post(app.url("/api/users"))
        .json(&json!({ "userId": "blocked" }))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        write.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "no write without the unique indexes"
    );

    db.collection::<Document>("users")
        .delete_one(doc! { "userId": "twice" })
        .await
        .expect("the duplicate goes");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let res = app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("answered");
        if res.status() == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the service did not prepare the store again"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    app.create_user_id("unblocked").await;
}

/// A topic the previous service consumed, and its database as that service left it (no inbox,
/// no watermarks, its own billings); this service takes over with a new consumer group that
/// reads the topic from the start. Nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taking_over_from_the_node_consumer_with_a_new_group_changes_nothing() {
    let topic = unique("takeover");
    let minute = |m: i64| T0 + m * 60_000;
    let iso = |m: i64| at(minute(m)).try_to_rfc3339_string().expect("a date");
    let events = [
        (
            "Customer.Created",
            1,
            json!({ "userId": "t-1", "name": "Ana", "phone": { "codeNumber": "+57", "phoneNumber": 3_104_156_262_u64 } }),
        ),
        (
            "Customer.Created",
            2,
            json!({ "userId": "t-2", "name": "Beto" }),
        ),
        (
            "Customer.Updated",
            3,
            json!({ "userId": "t-1", "name": "Ana María" }),
        ),
        ("Customer.Suspended", 4, json!({ "userId": "t-2" })),
        (
            "Customer.Created",
            5,
            json!({ "userId": "t-3", "name": "Caro" }),
        ),
        ("Customer.Deleted", 6, json!({ "userId": "t-3" })),
        ("Customer.Reactivated", 7, json!({ "userId": "t-2" })),
        ("Customer.Suspended", 8, json!({ "userId": "t-2" })),
    ];
    for (i, (kind, m, data)) in events.iter().enumerate() {
        let key = data["userId"].as_str().expect("a user").to_owned();
        produce(&topic, &key, &json!({ "id": format!("node-evt-{i}"), "event": kind, "data": data, "timestamp": iso(*m) })).await;
    }
    // The Node service applied them all: it wrote each user at the time it processed their
    // last event (a little after it was produced), and billed each created user.
    let (uri, database) = fresh_mongodb_uri();
    let db = raw(&uri, &database).await;
    let node_user = |user_id: &str, name: &str, active: bool, created: i64, updated: i64| {
        doc! {
            "_id": ObjectId::new(), "userId": user_id, "name": name, "address": {},
            "phone": { "codeNumber": "+57", "phoneNumber": 3_104_156_262.0_f64 },
            "isActive": active, "createdAt": at(minute(created) + 40), "updatedAt": at(minute(updated) + 40), "__v": 0_i32,
        }
    };
    db.collection::<Document>("users")
        .insert_many([
            node_user("t-1", "Ana María", true, 1, 3),
            node_user("t-2", "Beto", false, 2, 8),
        ])
        .await
        .expect("Node users");
    db.collection::<Document>("billings")
        .insert_many([
            billing("000000001", "t-1", 1, doc! {}, &[]),
            billing("000000002", "t-2", 2, doc! {}, &[]),
        ])
        .await
        .expect("Node billings");
    db.collection::<Document>("counters")
        .insert_one(doc! { "_id": "billingId", "seq": 3.0_f64 })
        .await
        .expect("the Node counter");
    let snapshot = async |db: &mongodb::Database| -> Vec<Vec<Document>> {
        let mut all = Vec::new();
        for collection in ["users", "billings", "counters"] {
            let mut docs: Vec<Document> = Vec::new();
            let mut cursor = db
                .collection::<Document>(collection)
                .find(doc! {})
                .sort(doc! { "_id": 1 })
                .await
                .expect("find");
            while cursor.advance().await.expect("next") {
                docs.push(without_overdue_mark(
                    cursor.deserialize_current().expect("a document"),
                ));
            }
            all.push(docs);
        }
        all
    };
    let before = snapshot(&db).await;

    let mut app = TestApp::spawn_with(|s| {
        s.storage.mongodb_uri = Some(uri);
        consume(s, &topic);
    })
    .await;
    eventually("the new group to handle the whole topic", async || {
        kafka_events(&app.get("/metrics").await.text, "") >= events.len() as u64
    })
    .await;
    let metrics = app.get("/metrics").await.text;
    assert_eq!(
        kafka_events(&metrics, r#"outcome="dead-lettered""#),
        0,
        "{metrics}"
    );
    app.stop().await;
    let after = snapshot(&db).await;
    assert_eq!(after[0], before[0], "users as the Node service left them");
    assert_eq!(
        after[1], before[1],
        "billings as the Node service left them: none twice"
    );
    // The Node service kept no trace of t-3's deletion, so the replay makes t-3 again (a
    // billing number goes) before it deletes them again: the counter may only have moved on.
    let seq = |docs: &[Document]| {
        docs[0]
            .get("seq")
            .and_then(Bson::as_f64)
            .expect("a counter")
    };
    assert!(seq(&after[2]) >= seq(&before[2]));
}
