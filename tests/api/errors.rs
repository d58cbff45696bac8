//! Error paths: every refusal is a JSON `{"error", "code", "details"}` with the right status, and
//! writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Resp, TestApp, billing_body, field_of, seq};

/// A user `u1` and its billing `000000001`.
async fn app_with_a_billing() -> TestApp {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let b = app.create_billing("u1").await;
    assert_eq!(b["billingId"], "000000001");
    app
}

/// Every route that reads a JSON object body, with a valid body for it.
fn body_routes() -> Vec<(Method, &'static str, Value)> {
    vec![
        (Method::POST, "/api/users", json!({ "userId": "new-user" })),
        (Method::PUT, "/api/users/u1", json!({ "name": "Ana" })),
        (Method::POST, "/api/billings", billing_body("u1")),
        (
            Method::PUT,
            "/api/billings/000000001",
            json!({ "totalInvoice": 5 }),
        ),
        (
            Method::POST,
            "/api/billings/000000001/pay",
            json!({ "paymentDate": "2025-10-07" }),
        ),
    ]
}

async fn send_json(app: &TestApp, method: &Method, path: &str, body: &Value) -> Resp {
    app.send(method.clone(), path, Some(body.to_string().into_bytes()))
        .await
}

/// The state a refused request must leave untouched.
async fn snapshot(app: &TestApp) -> (Value, Value) {
    let users = app.get("/api/users?limit=500").await.body;
    let billings = app.get("/api/billings?limit=500").await.body;
    (users, billings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_400_invalid_json_and_writes_nothing() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    for (method, path, _) in body_routes() {
        for bad in [
            &b"{\"userId\": "[..],
            b"{'a': 1}",
            b"not json",
            b"{\"a\":1}}",
        ] {
            let res = app.send(method.clone(), path, Some(bad.to_vec())).await;
            res.assert_error(StatusCode::BAD_REQUEST, "INVALID_JSON");
        }
    }
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_a_json_object_is_a_400() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    for (method, path, good) in body_routes() {
        for bad in [json!([good.clone()]), json!("text"), json!(42), json!(null)] {
            let res = send_json(&app, &method, path, &bad).await;
            res.assert_error(StatusCode::BAD_REQUEST, "INVALID_JSON");
        }
    }
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_of_the_wrong_type_is_a_400_naming_it() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    let user_cases = [
        ("userId", json!(42)),
        ("name", json!(5)),
        ("isActive", json!("yes")),
        ("address", json!("Cra 7")),
        ("address.city", json!({ "city": 5 })),
        ("phone", json!(3_104_156_262_u64)),
        ("phone.phoneNumber", json!({ "phoneNumber": "call me" })),
        ("phone.codeNumber", json!({ "codeNumber": 57 })),
    ];
    for (field, value) in user_cases {
        // A nested field's case gives the whole object it sits in.
        let top = field.split('.').next().unwrap();
        let mut body = json!({ "userId": "new-user" });
        body[top] = value;
        app.post("/api/users", &body).await.assert_field_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            field,
        );
        if top != "userId" {
            let mut patch = body.clone();
            patch.as_object_mut().unwrap().remove("userId");
            app.put("/api/users/u1", &patch).await.assert_field_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                field,
            );
        }
    }
    let billing_cases = [
        ("userId", json!(5)),
        ("dueDate", json!(20_251_015)),
        ("dueDate", json!("tomorrow")),
        ("dueDate", json!("15/10/2025")),
        ("serviceId", json!(true)),
        ("serviceId", json!({ "id": 1 })),
        ("totalInvoice", json!("abc")),
        ("totalInvoice", json!(true)),
        ("totalInvoice", json!([1])),
        ("isPaid", json!("yes")),
        ("paymentDate", json!(5)),
    ];
    for (field, value) in billing_cases {
        let mut body = billing_body("u1");
        body[field] = value.clone();
        app.post("/api/billings", &body).await.assert_field_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            field,
        );
        if field != "userId" {
            let mut patch = json!({});
            patch[field] = value;
            app.put("/api/billings/000000001", &patch)
                .await
                .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", field);
        }
    }
    app.post(
        "/api/billings/000000001/pay",
        &json!({ "paymentDate": "yesterday" }),
    )
    .await
    .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "paymentDate");
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_field_is_a_400_naming_it() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    let cases: [(Method, &str, Value, &str); 9] = [
        (
            Method::POST,
            "/api/users",
            json!({ "userId": "x", "nickname": "y" }),
            "nickname",
        ),
        (
            Method::POST,
            "/api/users",
            json!({ "userId": "x", "address": { "street": "Cra 7" } }),
            "address.street",
        ),
        (
            Method::POST,
            "/api/users",
            json!({ "userId": "x", "phone": { "ext": 12 } }),
            "phone.ext",
        ),
        (
            Method::PUT,
            "/api/users/u1",
            json!({ "name": "Ana", "nickname": "y" }),
            "nickname",
        ),
        (
            Method::PUT,
            "/api/users/u1",
            json!({ "address": { "city": "Cali", "planet": "Earth" } }),
            "address.planet",
        ),
        (
            Method::POST,
            "/api/billings",
            {
                let mut b = billing_body("u1");
                b["discount"] = json!(10);
                b
            },
            "discount",
        ),
        (
            Method::PUT,
            "/api/billings/000000001",
            json!({ "totalInvoice": 5, "discount": 10 }),
            "discount",
        ),
        (
            Method::PUT,
            "/api/billings/000000001",
            json!({ "isPaid": true, "user": {} }),
            "user",
        ),
        (
            Method::POST,
            "/api/billings/000000001/pay",
            json!({ "amount": 1 }),
            "amount",
        ),
    ];
    for (method, path, body, field) in cases {
        send_json(&app, &method, path, &body)
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", field);
    }
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_query_parameter_is_a_400_naming_it_and_writes_nothing() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    let reads = [
        ("/api/users?sort=name", "sort"),
        ("/api/users?isActive=true&x=1", "x"),
        ("/api/users/u1?verbose=1", "verbose"),
        ("/api/users/u1/billings?foo=bar", "foo"),
        ("/api/billings/user/u1?foo=bar", "foo"),
        ("/api/billings?status=open", "status"),
        ("/api/billings/000000001?foo=bar", "foo"),
    ];
    for (path, field) in reads {
        app.get(path)
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, "INVALID_QUERY", field);
    }
    let writes: [(Method, &str, Option<Value>); 7] = [
        (
            Method::POST,
            "/api/users?dryRun=true",
            Some(json!({ "userId": "x" })),
        ),
        (
            Method::PUT,
            "/api/users/u1?dryRun=true",
            Some(json!({ "name": "Changed" })),
        ),
        (Method::DELETE, "/api/users/u1?dryRun=true", None),
        (
            Method::POST,
            "/api/billings?dryRun=true",
            Some(billing_body("u1")),
        ),
        (
            Method::PUT,
            "/api/billings/000000001?dryRun=true",
            Some(json!({ "totalInvoice": 1 })),
        ),
        (
            Method::POST,
            "/api/billings/000000001/pay?dryRun=true",
            None,
        ),
        (Method::DELETE, "/api/billings/000000001?dryRun=true", None),
    ];
    for (method, path, body) in writes {
        let res = app
            .send(method, path, body.map(|b| b.to_string().into_bytes()))
            .await;
        res.assert_field_error(StatusCode::BAD_REQUEST, "INVALID_QUERY", "dryRun");
    }
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(app.create_billing("u1").await["billingId"], seq(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_with_a_bad_value_is_a_400_naming_it() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    for (path, field) in [
        ("/api/users?isActive=yes", "isActive"),
        ("/api/billings?isPaid=maybe", "isPaid"),
        ("/api/billings?overdue=1", "overdue"),
        ("/api/billings?dueBefore=tomorrow", "dueBefore"),
        ("/api/billings?dueAfter=13/01/2025", "dueAfter"),
        ("/api/billings?userId=", "userId"),
        ("/api/users/u1/billings?isPaid=no", "isPaid"),
        ("/api/billings/user/u1?dueAfter=2025-13-01", "dueAfter"),
    ] {
        app.get(path)
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, "INVALID_QUERY", field);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_range_total_invoice_is_a_400_and_consumes_no_billing_id() {
    let app = app_with_a_billing().await;
    for bad in [
        json!(1_000_000_000_000_001_u64),
        json!("1000000000000001"),
        json!(1e20),
        json!(-1),
        json!("-5"),
        json!(12.5),
        json!("12.5"),
        json!(""),
    ] {
        let mut body = billing_body("u1");
        body["totalInvoice"] = bad.clone();
        app.post("/api/billings", &body).await.assert_field_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "totalInvoice",
        );
        app.put("/api/billings/000000001", &json!({ "totalInvoice": bad }))
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "totalInvoice");
    }
    assert_eq!(
        app.get("/api/billings/000000001").await.body["totalInvoice"],
        125_000
    );
    assert_eq!(app.create_billing("u1").await["billingId"], seq(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_user_values_are_a_400_naming_the_field() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let long_id = "x".repeat(129);
    let long_text = "é".repeat(201);
    let cases = [
        ("userId", json!({ "userId": long_id })),
        ("userId", json!({ "userId": "has space" })),
        ("userId", json!({ "userId": "a/b" })),
        ("userId", json!({ "userId": "" })),
        ("address.city", json!({ "address": { "city": long_text } })),
        (
            "address.zipCode",
            json!({ "address": { "zipCode": long_text } }),
        ),
        (
            "phone.phoneNumber",
            json!({ "phone": { "phoneNumber": 0 } }),
        ),
        (
            "phone.phoneNumber",
            json!({ "phone": { "phoneNumber": -3 } }),
        ),
        (
            "phone.phoneNumber",
            json!({ "phone": { "phoneNumber": 1_000_000_000_000_000_u64 } }),
        ),
        (
            "phone.codeNumber",
            json!({ "phone": { "codeNumber": "57" } }),
        ),
        (
            "phone.codeNumber",
            json!({ "phone": { "codeNumber": "+12345" } }),
        ),
    ];
    for (field, body) in cases {
        app.post("/api/users", &body).await.assert_field_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            field,
        );
    }
    let users = app.get("/api/users").await;
    assert_eq!(field_of(users.items(), "userId"), ["u1"]);
    // The bounds themselves are fine.
    let edge = app
        .create_user(json!({
            "userId": "x".repeat(128),
            "address": { "city": "é".repeat(200) },
            "phone": { "codeNumber": "+1868", "phoneNumber": 999_999_999_999_999_u64 },
        }))
        .await;
    assert_eq!(edge["address"]["city"], "é".repeat(200));
}

/// A JSON object of exactly `size` bytes: `{"name":"A"}` padded with spaces.
fn padded_object(size: usize, fields: &Value) -> Vec<u8> {
    let mut body = fields.to_string().into_bytes();
    let close = body.pop().expect("an object ends with }");
    assert_eq!(close, b'}');
    assert!(body.len() < size);
    body.resize(size - 1, b' ');
    body.push(b'}');
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_64_kib_is_a_413_payload_too_large_and_writes_nothing() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    for (method, path, good) in body_routes() {
        let res = app
            .send(
                method.clone(),
                path,
                Some(padded_object(64 * 1024 + 1, &good)),
            )
            .await;
        res.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
        let res = app
            .send(method, path, Some(padded_object(1024 * 1024, &good)))
            .await;
        res.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    }
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_exactly_64_kib_is_accepted() {
    let app = TestApp::spawn().await;
    let res = app
        .send(
            Method::POST,
            "/api/users",
            Some(padded_object(64 * 1024, &json!({ "userId": "big" }))),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.body["userId"], "big");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_id_is_a_404() {
    let app = app_with_a_billing().await;
    let unused_object_id = "0123456789abcdef01234567";
    for (method, path) in [
        (Method::GET, "/api/users/nobody".to_owned()),
        (Method::GET, format!("/api/users/{unused_object_id}")),
        (Method::GET, "/api/users/bad%20id".to_owned()),
        (Method::PUT, "/api/users/nobody".to_owned()),
        (Method::DELETE, "/api/users/nobody".to_owned()),
        (Method::GET, "/api/users/nobody/billings".to_owned()),
        (Method::GET, "/api/billings/user/nobody".to_owned()),
    ] {
        let body = (method == Method::PUT).then(|| json!({ "name": "x" }).to_string().into_bytes());
        app.send(method, &path, body)
            .await
            .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    }
    for (method, path) in [
        (Method::GET, "/api/billings/000000999"),
        (Method::GET, "/api/billings/bill-1696150000000"),
        (Method::GET, "/api/billings/000000999?expand=user"),
        (Method::PUT, "/api/billings/000000999"),
        (Method::DELETE, "/api/billings/000000999"),
        (Method::POST, "/api/billings/000000999/pay"),
    ] {
        let body =
            (method == Method::PUT).then(|| json!({ "totalInvoice": 1 }).to_string().into_bytes());
        app.send(method, path, body)
            .await
            .assert_error(StatusCode::NOT_FOUND, "BILLING_NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_is_a_405_method_not_allowed() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    for (method, path) in [
        (Method::POST, "/"),
        (Method::DELETE, "/api/users"),
        (Method::PATCH, "/api/users/u1"),
        (Method::POST, "/api/users/u1"),
        (Method::POST, "/api/users/u1/billings"),
        (Method::PUT, "/api/billings"),
        (Method::DELETE, "/api/billings"),
        (Method::PATCH, "/api/billings/000000001"),
        (Method::GET, "/api/billings/000000001/pay"),
        (Method::PUT, "/api/billings/000000001/pay"),
        (Method::DELETE, "/api/billings/user/u1"),
    ] {
        let res = app.send(method.clone(), path, None).await;
        res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    }
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_route_is_a_404_not_found() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::GET, "/api"),
        (Method::GET, "/api/nothing"),
        (Method::POST, "/api/invoices"),
        (Method::GET, "/api/users/u1/invoices"),
        (Method::GET, "/api/billings/1/pay/now"),
        (Method::GET, "/favicon.ico"),
    ] {
        app.send(method, path, None)
            .await
            .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_billing_consumes_no_billing_id() {
    let app = app_with_a_billing().await;
    app.create_user(json!({ "userId": "inactive", "isActive": false }))
        .await;
    let mut unknown_field = billing_body("u1");
    unknown_field["extra"] = json!(1);
    let mut missing_due = billing_body("u1");
    missing_due.as_object_mut().unwrap().remove("dueDate");
    let refusals: [(Vec<u8>, StatusCode, &str); 6] = [
        (
            unknown_field.to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        ),
        (
            missing_due.to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        ),
        (
            billing_body("nobody").to_string().into_bytes(),
            StatusCode::NOT_FOUND,
            "USER_NOT_FOUND",
        ),
        (
            billing_body("inactive").to_string().into_bytes(),
            StatusCode::CONFLICT,
            "USER_INACTIVE",
        ),
        (b"{".to_vec(), StatusCode::BAD_REQUEST, "INVALID_JSON"),
        (
            padded_object(70_000, &billing_body("u1")),
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
    ];
    for (body, status, code) in refusals {
        app.send(Method::POST, "/api/billings", Some(body))
            .await
            .assert_error(status, code);
    }
    let next = app.create_billing("u1").await;
    assert_eq!(next["billingId"], seq(2));
    let all = app.get("/api/billings").await;
    assert_eq!(field_of(all.items(), "billingId"), [seq(2), seq(1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_user_creation_leaves_no_user_and_the_user_id_free() {
    let app = TestApp::spawn().await;
    app.post(
        "/api/users",
        &json!({ "userId": "maybe", "name": "Ana", "unknown": true }),
    )
    .await
    .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "unknown");
    app.post(
        "/api/users",
        &json!({ "userId": "maybe", "phone": { "phoneNumber": 0 } }),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(app.get("/api/users").await.items().is_empty());
    app.get("/api/users/maybe")
        .await
        .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    let u = app.create_user(json!({ "userId": "maybe" })).await;
    assert_eq!(u["userId"], "maybe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_update_changes_nothing() {
    let app = app_with_a_billing().await;
    let user = app.get("/api/users/u1").await.body;
    let billing = app.get("/api/billings/000000001").await.body;
    app.put(
        "/api/users/u1",
        &json!({ "name": "Changed", "address": { "city": "Cali" }, "isActive": "no" }),
    )
    .await
    .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "isActive");
    app.put(
        "/api/billings/000000001",
        &json!({ "serviceId": "svc-2", "isPaid": true, "totalInvoice": -1 }),
    )
    .await
    .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "totalInvoice");
    app.post(
        "/api/billings/000000001/pay",
        &json!({ "paymentDate": "2025-10-07", "note": "x" }),
    )
    .await
    .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "note");
    assert_eq!(app.get("/api/users/u1").await.body, user);
    assert_eq!(app.get("/api/billings/000000001").await.body, billing);
}
