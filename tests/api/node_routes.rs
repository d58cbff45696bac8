//! The previous Node service's routes (`/billings...`) answer its clients as it did: the bodies
//! it took, the shapes it gave back, `{"error": ...}` on failures.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The body the Node service's README shows for `POST /billings`, server-set fields and all.
fn node_example(user_id: &str) -> Value {
    json!({
        "userId": user_id,
        "billingId": "bill-1696150000000",
        "generationDate": "2025-10-01T09:15:00",
        "dueDate": "2025-10-15T00:00:00",
        "serviceId": "1",
        "totalInvoice": 125_000,
        "isPaid": false,
        "paymentDate": null,
    })
}

fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_example_body_creates_a_billing_with_the_server_fields_set_by_the_server() {
    let app = TestApp::spawn().await;
    app.create_user_id("node-1").await;
    let res = app.post("/billings", &node_example("node-1")).await;
    res.assert_status(StatusCode::CREATED);
    let b = &res.body;
    assert_eq!(
        b["billingId"], "000000001",
        "the sequence, not the body's id"
    );
    assert_ne!(b["generationDate"], "2025-10-01T09:15:00.000Z");
    assert_eq!(
        b["dueDate"], "2025-10-15T00:00:00.000Z",
        "no offset means UTC"
    );
    assert_eq!(
        (&b["serviceId"], &b["totalInvoice"]),
        (&json!("1"), &json!(125_000))
    );
    assert_eq!(
        (&b["isPaid"], &b["paymentDate"]),
        (&json!(false), &Value::Null)
    );
    let fetched = app.get("/api/billings/000000001").await;
    assert_eq!(fetched.body, *b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_and_amount_are_optional_and_unknown_fields_are_ignored_on_post_billings() {
    let app = TestApp::spawn().await;
    app.create_user_id("node-1").await;
    let res = app
        .post(
            "/billings",
            &json!({ "userId": "node-1", "dueDate": "2025-11-01", "notes": "ignored", "__v": 3 }),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.body["serviceId"], Value::Null);
    assert_eq!(res.body["totalInvoice"], Value::Null);
    assert!(res.body.get("notes").is_none());
    let listed = app.get("/api/billings").await;
    assert_eq!(listed.items()[0]["totalInvoice"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_operators_and_the_rules_of_the_fields_it_sets_are_still_refused() {
    let app = TestApp::spawn().await;
    app.create_user_id("node-1").await;
    for (body, field) in [
        (
            json!({ "userId": { "$gt": "" }, "dueDate": "2025-11-01" }),
            "userId.$gt",
        ),
        (
            json!({ "userId": "node-1", "dueDate": "2025-11-01", "x": [{ "$where": "1" }] }),
            "x[0].$where",
        ),
        (json!({ "userId": "node-1" }), "dueDate"),
        (
            json!({ "userId": "node-1", "dueDate": "2025-11-01", "totalInvoice": -5 }),
            "totalInvoice",
        ),
    ] {
        let res = app.post("/billings", &body).await;
        res.assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", field);
        assert!(
            res.body["error"].is_string(),
            "the Node error key: {}",
            res.text
        );
    }
    app.post(
        "/billings",
        &json!({ "userId": "nobody", "dueDate": "2025-11-01" }),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    assert!(
        app.get("/api/billings").await.items().is_empty(),
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_billings_lists_every_billing_in_insertion_order() {
    let app = TestApp::spawn().await;
    for user in ["a", "b"] {
        app.create_user_id(user).await;
    }
    let mut created = Vec::new();
    for (user, due) in [
        ("a", "2025-12-01"),
        ("b", "2025-10-01"),
        ("a", "2025-11-01"),
    ] {
        let mut body = node_example(user);
        body["dueDate"] = json!(due);
        created.push(app.post("/billings", &body).await.body);
    }
    let all = app.get("/billings").await;
    all.assert_status(StatusCode::OK);
    assert_eq!(all.header("content-type"), Some("application/json"));
    assert_eq!(*all.items(), created);
    // Empty store or not, it is a JSON array.
    let empty = TestApp::spawn().await;
    assert_eq!(empty.get("/billings").await.body, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_billings_streams_lists_longer_than_a_page_whole() {
    let app = TestApp::spawn().await;
    let users = ["m-0", "m-1", "m-2", "m-3"];
    for user in users {
        app.create_user_id(user).await;
    }
    // More than one page of the stream (500), so its pages join into one array. Creations for
    // one user serialise, so they are spread over a few, a handful at a time.
    let total = 620;
    let mut done = 0;
    while done < total {
        let batch: Vec<_> = (done..(done + 16).min(total))
            .map(|i| app.post("/billings", &node_example(users[i % users.len()])))
            .collect();
        done += batch.len();
        for res in futures_util::future::join_all(batch).await {
            res.assert_status(StatusCode::CREATED);
        }
    }
    let all = app.get("/billings").await;
    let ids: Vec<&str> = all
        .items()
        .iter()
        .map(|b| b["_id"].as_str().expect("an _id"))
        .collect();
    assert_eq!(ids.len(), total);
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, ids, "every billing once, in _id (insertion) order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_billing_by_id_answers_the_node_shape_with_the_users_phone_now() {
    let app = TestApp::spawn().await;
    app.create_user(json!({
        "userId": "node-1",
        "address": { "city": "Cali", "country": "CO" },
        "phone": { "codeNumber": "+57", "phoneNumber": 3_001_112_233_u64 },
    }))
    .await;
    let created = app.post("/billings", &node_example("node-1")).await.body;
    app.put(
        "/api/users/node-1",
        &json!({ "phone": { "phoneNumber": 3_209_998_877_u64 } }),
    )
    .await
    .assert_status(StatusCode::OK);

    let res = app.get("/billings/000000001").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(keys(&res.body), ["billing", "user"]);
    let billing = &res.body["billing"];
    assert_eq!(
        keys(billing),
        [
            "billingId",
            "dueDate",
            "generationDate",
            "isPaid",
            "paymentDate",
            "phone",
            "serviceId",
            "totalInvoice",
            "userId"
        ]
    );
    for key in keys(billing) {
        assert_eq!(billing[key], created[key], "{key}");
    }
    assert_eq!(
        res.body["user"],
        json!({
            "userId": "node-1",
            "address": { "city": "Cali", "country": "CO" },
            "currentPhone": { "codeNumber": "+57", "phoneNumber": 3_209_998_877_u64 },
            "isActive": true,
        })
    );
    let missing = app.get("/billings/000000099").await;
    missing.assert_error(StatusCode::NOT_FOUND, "BILLING_NOT_FOUND");
    assert_eq!(missing.body["error"], "Billing not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_billing_answers_the_whole_document_and_ignores_what_the_server_sets() {
    let app = TestApp::spawn().await;
    app.create_user_id("node-1").await;
    let created = app.post("/billings", &node_example("node-1")).await.body;
    let res = app
        .put(
            "/billings/000000001",
            &json!({
                "totalInvoice": 99_000, "isPaid": true, "paymentDate": "2025-10-05T10:00:00",
                "generationDate": "2020-01-01", "createdAt": "2020-01-01", "_id": "x", "extra": 1,
                "billingId": "000000001", "userId": "node-1",
            }),
        )
        .await;
    res.assert_status(StatusCode::OK);
    let b = &res.body;
    assert_eq!(b["totalInvoice"], 99_000);
    assert_eq!(
        (&b["isPaid"], &b["paymentDate"]),
        (&json!(true), &json!("2025-10-05T10:00:00.000Z"))
    );
    for same in [
        "_id",
        "generationDate",
        "createdAt",
        "billingId",
        "userId",
        "phone",
    ] {
        assert_eq!(b[same], created[same], "{same}");
    }
    assert!(b.get("extra").is_none());
    assert_eq!(app.get("/api/billings/000000001").await.body, *b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_billing_still_refuses_changing_its_billing_id_or_user_id() {
    let app = TestApp::spawn().await;
    for user in ["node-1", "node-2"] {
        app.create_user_id(user).await;
    }
    let created = app.post("/billings", &node_example("node-1")).await.body;
    for (body, field) in [
        (json!({ "billingId": "000000042" }), "billingId"),
        (json!({ "userId": "node-2", "totalInvoice": 1 }), "userId"),
    ] {
        app.put("/billings/000000001", &body)
            .await
            .assert_field_error(StatusCode::CONFLICT, "IMMUTABLE_FIELD", field);
    }
    app.put(
        "/billings/000000001",
        &json!({ "dueDate": { "$set": "x" } }),
    )
    .await
    .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "dueDate.$set");
    assert_eq!(app.get("/api/billings/000000001").await.body, created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_billing_answers_deleted_and_a_users_list_is_newest_first_or_empty() {
    let app = TestApp::spawn().await;
    app.create_user_id("node-1").await;
    for _ in 0..3 {
        app.post("/billings", &node_example("node-1"))
            .await
            .assert_status(StatusCode::CREATED);
    }
    let res = app.delete("/billings/000000002").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body, json!({ "message": "Deleted" }));
    app.delete("/billings/000000002")
        .await
        .assert_error(StatusCode::NOT_FOUND, "BILLING_NOT_FOUND");

    let mine = app.get("/billings/user/node-1").await;
    mine.assert_status(StatusCode::OK);
    let ids: Vec<&str> = mine
        .items()
        .iter()
        .map(|b| b["billingId"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids, ["000000003", "000000001"]);
    let nobody = app.get("/billings/user/nobody").await;
    nobody.assert_status(StatusCode::OK);
    assert_eq!(nobody.body, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_strings_are_ignored_on_the_node_routes_as_the_node_service_ignored_them() {
    let app = TestApp::spawn().await;
    app.create_user_id("node-1").await;
    app.post("/billings", &node_example("node-1"))
        .await
        .assert_status(StatusCode::CREATED);
    for path in ["/billings?page=2&sort=x", "/billings/user/node-1?limit=abc"] {
        let res = app.get(path).await;
        res.assert_status(StatusCode::OK);
        assert_eq!(res.items().len(), 1, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_takes_a_date_time_without_an_offset_as_utc_too() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let res = app
        .post(
            "/api/billings",
            &json!({ "userId": "u1", "dueDate": "2025-10-15T12:30:00", "serviceId": "1", "totalInvoice": 1 }),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.body["dueDate"], "2025-10-15T12:30:00.000Z");
}
