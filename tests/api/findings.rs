//! The review's findings, each as the behaviour now implemented: dates only in the years
//! 0000-9999 (in UTC) and always written in UTC with milliseconds, a leap second read the same
//! when created and fetched, fractional amounts refused rather than rounded, bodies only as
//! `application/json`, no key given twice, `Allow` on a 405, `HEAD` wherever `GET`, the bearer
//! scheme in any case, invisible and bidirectional names, events' problems naming their field,
//! `null` on the previous service's `PUT`, and the 409s. Every refusal is shown to have changed
//! nothing.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Resp, TestApp, billing_body, field_of, seq, stores_year_zero, timestamp};

/// A user `u1` and its billing `000000001`.
async fn app_with_a_billing() -> TestApp {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let b = app.create_billing("u1").await;
    assert_eq!(b["billingId"], "000000001");
    app
}

/// The state a refused request must leave untouched.
async fn snapshot(app: &TestApp) -> (Value, Value) {
    let users = app.get("/api/users?limit=500").await.body;
    let billings = app.get("/api/billings?limit=500").await.body;
    (users, billings)
}

/// Sends a request built on the app's client (for what the harness does not set: another
/// `Content-Type`, an `Authorization`), and reads the answer as the harness does.
async fn raw(req: RequestBuilder) -> Resp {
    Resp::read(req.send().await.expect("the request is answered")).await
}

/// Sends `text` as it is, as `application/json`: numbers and keys exactly as written.
async fn send_text(app: &TestApp, method: Method, path: &str, text: &str) -> Resp {
    app.send(method, path, Some(text.as_bytes().to_vec())).await
}

/// Dates whose year is outside 0000-9999 once in UTC, or written with other than four digits.
const OUT_OF_RANGE: [&str; 6] = [
    "-0999-01-01",
    "+99999-01-01",
    // Year 10000 in UTC.
    "9999-12-31T23:59:59.999-23:59",
    // Year -1 in UTC.
    "0000-01-01T00:00:00+00:01",
    "10000-01-01",
    "-0001-12-31T23:59:59Z",
];

// --- 1. dates: years 0000-9999 in UTC; written in UTC with milliseconds --------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_outside_the_years_0000_to_9999_is_a_400_naming_its_field_and_writes_nothing() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    for bad in OUT_OF_RANGE {
        let cases: [(Method, &str, Value, &str); 11] = [
            (
                Method::POST,
                "/api/billings",
                {
                    let mut b = billing_body("u1");
                    b["dueDate"] = json!(bad);
                    b
                },
                "dueDate",
            ),
            (
                Method::POST,
                "/api/billings",
                {
                    let mut b = billing_body("u1");
                    b["paymentDate"] = json!(bad);
                    b
                },
                "paymentDate",
            ),
            (
                Method::PUT,
                "/api/billings/000000001",
                json!({ "dueDate": bad }),
                "dueDate",
            ),
            (
                Method::PUT,
                "/api/billings/000000001",
                json!({ "paymentDate": bad }),
                "paymentDate",
            ),
            (
                Method::PUT,
                "/api/billings/000000001",
                json!({ "isPaid": true, "paymentDate": bad }),
                "paymentDate",
            ),
            (
                Method::POST,
                "/api/billings/000000001/pay",
                json!({ "paymentDate": bad }),
                "paymentDate",
            ),
            (
                Method::POST,
                "/billings",
                json!({ "userId": "u1", "dueDate": bad }),
                "dueDate",
            ),
            (
                Method::POST,
                "/billings",
                json!({ "userId": "u1", "dueDate": "2025-10-15", "paymentDate": bad }),
                "paymentDate",
            ),
            (
                Method::PUT,
                "/billings/000000001",
                json!({ "dueDate": bad }),
                "dueDate",
            ),
            (
                Method::PUT,
                "/billings/000000001",
                json!({ "paymentDate": bad }),
                "paymentDate",
            ),
            (
                Method::PUT,
                "/api/users/u1",
                json!({ "createdAt": bad }),
                "createdAt",
            ),
        ];
        for (method, path, body, field) in cases {
            let res = app
                .send(method.clone(), path, Some(body.to_string().into_bytes()))
                .await;
            assert!(
                res.status == StatusCode::BAD_REQUEST,
                "{method} {path} with {field} {bad}: {} {}",
                res.status,
                res.text
            );
            res.assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", field);
        }
    }
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(app.create_billing("u1").await["billingId"], seq(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_just_inside_the_years_round_trips_exactly_in_utc_with_milliseconds() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    for (sent, written) in [
        ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
        ("0000-01-01", "0000-01-01T00:00:00.000Z"),
        ("9999-12-31", "9999-12-31T00:00:00.000Z"),
        ("0000-01-01T05:30:00+05:30", "0000-01-01T00:00:00.000Z"),
        ("9999-12-31T00:00:59.999-23:59", "9999-12-31T23:59:59.999Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999Z"),
        ("0000-01-01T00:00:00", "0000-01-01T00:00:00.000Z"),
    ]
    .into_iter()
    .filter(|(_, written)| stores_year_zero() || !written.starts_with("0000"))
    {
        let mut body = billing_body("u1");
        body["dueDate"] = json!(sent);
        body["paymentDate"] = json!(sent);
        let created = app.create_billing_with(body).await;
        assert_eq!(created["dueDate"], written, "dueDate {sent}");
        assert_eq!(created["paymentDate"], written, "paymentDate {sent}");
        timestamp(&created["dueDate"]);
        let path = format!("/api/billings/{}", created["billingId"].as_str().unwrap());
        assert_eq!(app.get(&path).await.body, created, "{sent} fetched");

        // The same date set by an update, and by a payment of an unpaid billing.
        let fresh = app.create_billing("u1").await;
        let fresh_path = format!("/api/billings/{}", fresh["billingId"].as_str().unwrap());
        let updated = app.put(&fresh_path, &json!({ "dueDate": sent })).await;
        updated.assert_status(StatusCode::OK);
        assert_eq!(updated.body["dueDate"], written, "PUT dueDate {sent}");
        let paid = app
            .post(
                &format!("{fresh_path}/pay"),
                &json!({ "paymentDate": sent }),
            )
            .await;
        paid.assert_status(StatusCode::OK);
        assert_eq!(paid.body["paymentDate"], written, "pay {sent}");
        assert_eq!(paid.body["dueDate"], written);
        assert_eq!(app.get(&fresh_path).await.body, paid.body);
    }
    // Whatever was written reads back in the one form, in the lists too.
    for b in app.get("/api/billings?limit=500").await.items() {
        for field in [
            "generationDate",
            "dueDate",
            "paymentDate",
            "createdAt",
            "updatedAt",
        ] {
            timestamp(&b[field]);
        }
    }
}

/// A documented `Customer.Created` at 2025-09-01T08:00Z for `user_id`, with `extra` in its
/// payload.
fn created_event(user_id: &str, extra: Value) -> Value {
    let mut payload = json!({ "userId": user_id, "name": "Event user" });
    for (k, v) in extra.as_object().expect("an object of payload fields") {
        payload[k] = v.clone();
    }
    json!({
        "id": format!("evt-created-{user_id}"),
        "type": "Customer.Created",
        "payload": payload,
        "timestamp": "2025-09-01T08:00:00.000Z",
    })
}

/// Posts `event`, asserting it was applied.
async fn apply(app: &TestApp, event: &Value) {
    let res = app.post("/api/events", event).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["outcome"], "applied", "{event}: {}", res.text);
}

/// The one billing of `user_id`, as listed and as fetched (which must agree).
async fn first_billing(app: &TestApp, user_id: &str) -> Value {
    let res = app.get(&format!("/api/users/{user_id}/billings")).await;
    res.assert_status(StatusCode::OK);
    let items = res.items();
    assert_eq!(
        items.len(),
        1,
        "one initial billing for {user_id}: {}",
        res.text
    );
    let b = items[0].clone();
    let path = format!("/api/billings/{}", b["billingId"].as_str().unwrap());
    assert_eq!(app.get(&path).await.body, b);
    b
}

/// Whether `v` is a date as the API writes them (`2025-10-01T09:15:00.000Z`), so in the years
/// 0000-9999.
fn in_the_years(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 24
            && s.ends_with('Z')
            && s.as_bytes()[19] == b'.'
            && s.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && chrono::DateTime::parse_from_rfc3339(s).is_ok()
    })
}

/// The one billing of `user_id`, its dates checked to be in the one form.
async fn only_billing(app: &TestApp, user_id: &str) -> Value {
    let b = first_billing(app, user_id).await;
    for field in ["generationDate", "dueDate", "createdAt", "updatedAt"] {
        let t = timestamp(&b[field]);
        assert!(
            (0..=9999).contains(&chrono::Datelike::year(&t)),
            "{user_id}'s {field} is in the years 0000-9999: {b}"
        );
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_date_outside_the_years_is_left_out_and_the_event_still_applied() {
    let app = TestApp::spawn().await;
    // Without dates: the generation date is the event's timestamp, the due date the default.
    apply(&app, &created_event("ev-control", json!({}))).await;
    let control = only_billing(&app, "ev-control").await;
    assert_eq!(control["generationDate"], "2025-09-01T08:00:00.000Z");
    for (i, bad) in OUT_OF_RANGE.iter().enumerate() {
        let user_id = format!("ev-{i}");
        apply(
            &app,
            &created_event(&user_id, json!({ "generationDate": bad, "dueDate": bad })),
        )
        .await;
        let b = only_billing(&app, &user_id).await;
        assert_eq!(
            (&b["generationDate"], &b["dueDate"]),
            (&control["generationDate"], &control["dueDate"]),
            "{bad} is left out"
        );
        assert_eq!(
            app.get(&format!("/api/users/{user_id}")).await.body["name"],
            "Event user"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_date_in_milliseconds_is_kept_only_inside_the_years_0000_to_9999() {
    let app = TestApp::spawn().await;
    apply(&app, &created_event("ev-control", json!({}))).await;
    let control = only_billing(&app, "ev-control").await;
    // The bounds themselves, as milliseconds since the epoch, are kept.
    let (earliest, written) = if stores_year_zero() {
        (-62_167_219_200_000_i64, "0000-01-01T00:00:00.000Z")
    } else {
        (-62_135_596_800_000_i64, "0001-01-01T00:00:00.000Z")
    };
    apply(
        &app,
        &created_event(
            "ev-bounds",
            json!({ "generationDate": earliest, "dueDate": 253_402_300_799_999_i64 }),
        ),
    )
    .await;
    let bounds = only_billing(&app, "ev-bounds").await;
    assert_eq!(bounds["generationDate"], written);
    assert_eq!(bounds["dueDate"], "9999-12-31T23:59:59.999Z");
    // One millisecond past either bound (and far past them) is left out, as an unusable date
    // is: every case is tried before any is judged, so a failure names them all.
    let mut wrong = Vec::new();
    for (i, ms) in [
        253_402_300_800_000_i64,
        -62_167_219_200_001,
        8_000_000_000_000_000,
        -8_000_000_000_000_000,
    ]
    .into_iter()
    .enumerate()
    {
        let user_id = format!("ev-ms-{i}");
        apply(
            &app,
            &created_event(&user_id, json!({ "generationDate": ms, "dueDate": ms })),
        )
        .await;
        let b = first_billing(&app, &user_id).await;
        let kept = (&b["generationDate"], &b["dueDate"]);
        if kept != (&control["generationDate"], &control["dueDate"]) {
            wrong.push(format!(
                "{ms} ms: generationDate {} dueDate {}",
                kept.0, kept.1
            ));
        }
    }
    // The envelope's timestamp in milliseconds, with no date in the payload: the generation
    // date it would give is outside the years too.
    apply(
        &app,
        &json!({
            "id": "evt-ms-timestamp",
            "type": "Customer.Created",
            "payload": { "userId": "ev-ms-ts" },
            "timestamp": 253_402_300_800_000_i64,
        }),
    )
    .await;
    let b = first_billing(&app, "ev-ms-ts").await;
    if !in_the_years(&b["generationDate"]) || !in_the_years(&b["dueDate"]) {
        wrong.push(format!(
            "timestamp 253402300800000 ms: generationDate {} dueDate {}",
            b["generationDate"], b["dueDate"]
        ));
    }
    assert!(
        wrong.is_empty(),
        "dates outside the years 0000-9999 are left out (a payload's giving the dates of an \
         event without them, generationDate {} and dueDate {}; a timestamp's giving now), but \
         were stored: {wrong:#?}",
        control["generationDate"],
        control["dueDate"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_default_due_date_never_falls_past_the_year_9999() {
    let app = TestApp::spawn().await;
    // A generation date a few days before the end of year 9999 and no due date, in the
    // payload or as the envelope's timestamp: the default due date (some days later) must not
    // be an instant the API cannot write.
    apply(
        &app,
        &created_event(
            "ev-late",
            json!({ "generationDate": "9999-12-25T00:00:00Z" }),
        ),
    )
    .await;
    apply(
        &app,
        &json!({
            "id": "evt-late-timestamp",
            "event": "Customer.Created",
            "data": { "userId": "ev-late-ts" },
            "timestamp": "9999-12-31T12:00:00Z",
        }),
    )
    .await;
    let mut wrong = Vec::new();
    for (user_id, generation) in [
        ("ev-late", "9999-12-25T00:00:00.000Z"),
        ("ev-late-ts", "9999-12-31T12:00:00.000Z"),
    ] {
        let b = first_billing(&app, user_id).await;
        assert_eq!(b["generationDate"], generation, "{user_id}");
        if !in_the_years(&b["dueDate"]) {
            wrong.push(format!("{user_id}: dueDate {}", b["dueDate"]));
        }
    }
    assert!(
        wrong.is_empty(),
        "a due date is written like 9999-12-31T23:59:59.999Z, in the years 0000-9999: {wrong:#?}"
    );
}

// --- 2. a leap second ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leap_second_is_the_next_seconds_start_when_created_and_when_fetched() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    for (sent, written) in [
        ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000Z"),
        ("2016-12-31T23:59:60.500Z", "2017-01-01T00:00:00.500Z"),
        ("2016-12-31T23:59:60.999+00:00", "2017-01-01T00:00:00.999Z"),
        ("2016-12-31T23:59:60", "2017-01-01T00:00:00.000Z"),
        ("2016-12-31T18:59:60-05:00", "2017-01-01T00:00:00.000Z"),
    ] {
        let mut body = billing_body("u1");
        body["dueDate"] = json!(sent);
        body["paymentDate"] = json!(sent);
        let created = app.create_billing_with(body).await;
        assert_eq!(created["dueDate"], written, "dueDate {sent}");
        assert_eq!(created["paymentDate"], written, "paymentDate {sent}");
        let path = format!("/api/billings/{}", created["billingId"].as_str().unwrap());
        assert_eq!(app.get(&path).await.body, created, "{sent} fetched");

        let fresh = app.create_billing("u1").await;
        let fresh_path = format!("/api/billings/{}", fresh["billingId"].as_str().unwrap());
        let updated = app.put(&fresh_path, &json!({ "dueDate": sent })).await;
        updated.assert_status(StatusCode::OK);
        assert_eq!(updated.body["dueDate"], written, "PUT {sent}");
        assert_eq!(app.get(&fresh_path).await.body, updated.body);
        let paid = app
            .post(
                &format!("{fresh_path}/pay"),
                &json!({ "paymentDate": sent }),
            )
            .await;
        paid.assert_status(StatusCode::OK);
        assert_eq!(paid.body["paymentDate"], written, "pay {sent}");
        assert_eq!(app.get(&fresh_path).await.body, paid.body);
    }
}

// --- 3. amounts: integers only, never rounded ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fractional_amount_is_a_400_naming_total_invoice_never_rounded_and_writes_nothing() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    for amount in [
        "1e-400",
        "-1e-400",
        "1E-400",
        "125000.00000000001",
        "124999.99999999999999",
        "0.5",
        "125000.5",
        "1.5e-1",
    ] {
        let create = format!(
            r#"{{"userId":"u1","dueDate":"2025-10-15","serviceId":"svc-1","totalInvoice":{amount}}}"#
        );
        let update = format!(r#"{{"totalInvoice":{amount}}}"#);
        let node_create =
            format!(r#"{{"userId":"u1","dueDate":"2025-10-15","totalInvoice":{amount}}}"#);
        for (method, path, text) in [
            (Method::POST, "/api/billings", create.as_str()),
            (Method::PUT, "/api/billings/000000001", update.as_str()),
            (Method::POST, "/billings", node_create.as_str()),
            (Method::PUT, "/billings/000000001", update.as_str()),
        ] {
            let res = send_text(&app, method.clone(), path, text).await;
            assert!(
                res.status == StatusCode::BAD_REQUEST,
                "{method} {path} {text}: {} {}",
                res.status,
                res.text
            );
            res.assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "totalInvoice");
        }
    }
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(
        app.get("/api/billings/000000001").await.body["totalInvoice"],
        125_000
    );
    assert_eq!(app.create_billing("u1").await["billingId"], seq(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integral_amount_however_written_is_accepted_and_written_as_an_integer() {
    let app = app_with_a_billing().await;
    for (amount, value) in [
        ("125000", 125_000_u64),
        ("1.5e5", 150_000),
        ("1.25E5", 125_000),
        ("125000.0", 125_000),
        ("12500000e-2", 125_000),
        ("0e-400", 0),
    ] {
        let create = format!(
            r#"{{"userId":"u1","dueDate":"2025-10-15","serviceId":"svc-1","totalInvoice":{amount}}}"#
        );
        let res = send_text(&app, Method::POST, "/api/billings", &create).await;
        res.assert_status(StatusCode::CREATED);
        // An integer, not `150000.0`: serde_json tells the two apart.
        assert_eq!(res.body["totalInvoice"], json!(value), "POST {amount}");
        let path = format!("/api/billings/{}", res.body["billingId"].as_str().unwrap());
        assert_eq!(app.get(&path).await.body, res.body);

        let update = format!(r#"{{"totalInvoice":{amount}}}"#);
        let res = send_text(&app, Method::PUT, "/api/billings/000000001", &update).await;
        res.assert_status(StatusCode::OK);
        assert_eq!(res.body["totalInvoice"], json!(value), "PUT {amount}");
        assert_eq!(app.get("/api/billings/000000001").await.body, res.body);

        let node = format!(r#"{{"userId":"u1","dueDate":"2025-10-15","totalInvoice":{amount}}}"#);
        let res = send_text(&app, Method::POST, "/billings", &node).await;
        res.assert_status(StatusCode::CREATED);
        assert_eq!(
            res.body["totalInvoice"],
            json!(value),
            "POST /billings {amount}"
        );
    }
}

// --- 4. Content-Type ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_not_declared_as_json_is_a_415_and_writes_nothing() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    let routes: [(Method, &str, Value); 8] = [
        (Method::POST, "/api/users", json!({ "userId": "plain" })),
        (Method::PUT, "/api/users/u1", json!({ "name": "Changed" })),
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
        (
            Method::POST,
            "/billings",
            json!({ "userId": "u1", "dueDate": "2025-10-15" }),
        ),
        (
            Method::PUT,
            "/billings/000000001",
            json!({ "serviceId": null }),
        ),
        (
            Method::POST,
            "/api/events",
            json!({ "type": "Customer.Deleted", "payload": { "userId": "u1" } }),
        ),
    ];
    for (method, path, body) in routes {
        for content_type in [
            Some("text/plain"),
            Some("text/plain; charset=utf-8"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonl"),
            None,
        ] {
            let mut req = app
                .client
                .request(method.clone(), app.url(path))
                .body(body.to_string());
            if let Some(t) = content_type {
                req = req.header(CONTENT_TYPE, t);
            }
            let res = raw(req).await;
            assert!(
                res.status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {path} as {content_type:?}: {} {}",
                res.status,
                res.text
            );
            res.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE");
        }
    }
    // In particular, the deletion sent as text/plain deleted nothing.
    assert_eq!(snapshot(&app).await, before);
    app.get("/api/users/u1").await.assert_status(StatusCode::OK);
    assert_eq!(app.get("/api/billings").await.items().len(), 1);
    app.get("/api/users/plain")
        .await
        .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_with_a_charset_is_accepted_and_a_bodyless_pay_needs_no_content_type() {
    let app = app_with_a_billing().await;
    for (user_id, content_type) in [
        ("with-charset", "application/json; charset=utf-8"),
        ("upper-case", "Application/JSON"),
        ("spaced", "application/json ; charset=UTF-8"),
    ] {
        let res = raw(app
            .client
            .post(app.url("/api/users"))
            .header(CONTENT_TYPE, content_type)
            .body(json!({ "userId": user_id }).to_string()))
        .await;
        res.assert_status(StatusCode::CREATED);
        assert_eq!(res.body["userId"], user_id);
        assert_eq!(
            app.get(&format!("/api/users/{user_id}")).await.body,
            res.body
        );
    }

    // No body and no Content-Type: paid now.
    let res = raw(app.client.post(app.url("/api/billings/000000001/pay"))).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["isPaid"], true);
    timestamp(&res.body["paymentDate"]);
    assert_eq!(app.get("/api/billings/000000001").await.body, res.body);

    // An event with a charset is applied: the user and their billings are deleted.
    let res = raw(app
        .client
        .post(app.url("/api/events"))
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(json!({ "type": "Customer.Deleted", "payload": { "userId": "u1" } }).to_string()))
    .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["outcome"], "applied", "{}", res.text);
    app.get("/api/users/u1")
        .await
        .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    assert!(app.get("/api/billings").await.items().is_empty());
}

// --- 5. duplicate keys --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_given_twice_at_any_depth_is_a_400_invalid_json_and_writes_nothing() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    let cases: [(Method, &str, &str); 13] = [
        (
            Method::POST,
            "/api/users",
            r#"{"userId":"dup","name":"a","name":"b"}"#,
        ),
        (
            Method::POST,
            "/api/users",
            r#"{"userId":"dup","userId":"dup"}"#,
        ),
        (
            Method::POST,
            "/api/users",
            r#"{"userId":"dup","address":{"city":"a","city":"b"}}"#,
        ),
        (
            Method::POST,
            "/api/users",
            r#"{"userId":"dup","phone":{"phoneNumber":1,"phoneNumber":2}}"#,
        ),
        (Method::PUT, "/api/users/u1", r#"{"name":"a","name":"b"}"#),
        (
            Method::PUT,
            "/api/users/u1",
            r#"{"address":{"zipCode":"1","country":"CO","zipCode":"2"}}"#,
        ),
        (
            Method::POST,
            "/api/billings",
            r#"{"userId":"u1","dueDate":"2025-10-15","serviceId":"s","totalInvoice":1,"totalInvoice":2}"#,
        ),
        (
            Method::PUT,
            "/api/billings/000000001",
            r#"{"serviceId":"a","serviceId":"b"}"#,
        ),
        (
            Method::PUT,
            "/api/billings/000000001",
            r#"{"phone":{"codeNumber":"+57","codeNumber":"+57"}}"#,
        ),
        (
            Method::POST,
            "/api/billings/000000001/pay",
            r#"{"paymentDate":"2025-10-07","paymentDate":"2025-10-08"}"#,
        ),
        (
            Method::POST,
            "/billings",
            r#"{"userId":"u1","dueDate":"2025-10-15","dueDate":"2025-10-16"}"#,
        ),
        (
            Method::PUT,
            "/billings/000000001",
            r#"{"serviceId":"a","serviceId":"b"}"#,
        ),
        // Even inside a field the previous service's route ignores.
        (
            Method::PUT,
            "/billings/000000001",
            r#"{"serviceId":"a","extra":{"deep":{"z":1,"z":1}}}"#,
        ),
    ];
    for (method, path, text) in cases {
        let res = send_text(&app, method.clone(), path, text).await;
        assert!(
            res.status == StatusCode::BAD_REQUEST,
            "{method} {path} {text}: {} {}",
            res.status,
            res.text
        );
        res.assert_field_error(StatusCode::BAD_REQUEST, "INVALID_JSON", "body");
    }
    assert_eq!(snapshot(&app).await, before);
    app.get("/api/users/dup")
        .await
        .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    // The same key in two objects is no duplicate.
    let res = send_text(
        &app,
        Method::POST,
        "/billings",
        r#"{"userId":"u1","dueDate":"2025-10-15","extra":[{"k":1},{"k":2}]}"#,
    )
    .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.body["billingId"], seq(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_posted_with_a_key_given_twice_is_a_400_invalid_event_and_writes_nothing() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    for text in [
        r#"{"type":"Customer.Created","type":"Customer.Deleted","payload":{"userId":"u1"}}"#,
        r#"{"type":"Customer.Deleted","payload":{"userId":"u2","userId":"u1"}}"#,
        r#"{"type":"Customer.Updated","payload":{"userId":"u1","address":{"city":"a","city":"b"}}}"#,
    ] {
        let res = send_text(&app, Method::POST, "/api/events", text).await;
        res.assert_field_error(StatusCode::BAD_REQUEST, "INVALID_EVENT", "body");
        assert!(res.text.contains("more than once"), "{text}: {}", res.text);
    }
    assert_eq!(snapshot(&app).await, before);
}

// --- 6. 405 and Allow ---------------------------------------------------------------------------

/// The methods an `Allow` header lists, upper-case and sorted.
fn allowed(res: &Resp) -> Vec<String> {
    let allow = res
        .header("allow")
        .unwrap_or_else(|| panic!("a 405 has an Allow header: {:?}", res.headers));
    let mut methods: Vec<String> = allow
        .split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect();
    methods.sort();
    methods
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_405_lists_the_paths_methods_in_allow_and_changes_nothing() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    let cases: [(Method, &str, &[&str]); 14] = [
        (Method::DELETE, "/healthz", &["GET", "HEAD"]),
        (Method::POST, "/healthz", &["GET", "HEAD"]),
        (Method::POST, "/", &["GET", "HEAD"]),
        (Method::DELETE, "/api/users", &["GET", "HEAD", "POST"]),
        (
            Method::PATCH,
            "/api/users/u1",
            &["DELETE", "GET", "HEAD", "PUT"],
        ),
        (Method::POST, "/api/users/u1/billings", &["GET", "HEAD"]),
        (Method::PUT, "/api/billings", &["GET", "HEAD", "POST"]),
        (
            Method::PATCH,
            "/api/billings/000000001",
            &["DELETE", "GET", "HEAD", "PUT"],
        ),
        (Method::GET, "/api/billings/000000001/pay", &["POST"]),
        (Method::DELETE, "/api/billings/000000001/pay", &["POST"]),
        (Method::DELETE, "/api/billings/user/u1", &["GET", "HEAD"]),
        (Method::GET, "/api/events", &["POST"]),
        (Method::DELETE, "/billings", &["GET", "HEAD", "POST"]),
        (
            Method::PATCH,
            "/billings/000000001",
            &["DELETE", "GET", "HEAD", "PUT"],
        ),
    ];
    for (method, path, allow) in cases {
        let res = app.send(method.clone(), path, None).await;
        res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
        assert_eq!(allowed(&res), allow, "{method} {path}");
    }
    assert_eq!(snapshot(&app).await, before);
}

// --- 7. HEAD ------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_wherever_get_does_with_the_same_status_and_no_body() {
    let app = app_with_a_billing().await;
    let before = snapshot(&app).await;
    for path in [
        "/",
        "/healthz",
        "/openapi.json",
        "/api/users",
        "/api/users?isActive=true",
        "/api/users/u1",
        "/api/users/nobody",
        "/api/users?bogus=1",
        "/api/users/u1/billings",
        "/api/billings",
        "/api/billings/000000001",
        "/api/billings/000000999",
        "/api/billings/user/u1",
        "/billings",
        "/billings/000000001",
        "/billings/user/u1",
    ] {
        let get = app.get(path).await;
        let head = app.send(Method::HEAD, path, None).await;
        assert_eq!(head.status, get.status, "HEAD {path}");
        assert!(
            head.text.is_empty(),
            "HEAD {path} has no body: {}",
            head.text
        );
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "HEAD {path}"
        );
    }
    assert_eq!(snapshot(&app).await, before);
}

// --- 8. the bearer scheme -----------------------------------------------------------------------

const WRITE_TOKEN: &str = "write-token-0123456789";
const READ_TOKEN: &str = "read-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_read_in_any_case_and_a_wrong_token_is_still_a_401() {
    let app = TestApp::spawn_with(|s| {
        s.auth.api_tokens = Some(format!("{WRITE_TOKEN}:write,{READ_TOKEN}:read"));
    })
    .await;
    let get = |authorization: Option<String>| {
        let mut req = app.client.get(app.url("/api/users"));
        if let Some(a) = authorization {
            req = req.header(AUTHORIZATION, a);
        }
        raw(req)
    };
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        get(Some(format!("{scheme} {WRITE_TOKEN}")))
            .await
            .assert_status(StatusCode::OK);
        get(Some(format!("{scheme} {READ_TOKEN}")))
            .await
            .assert_status(StatusCode::OK);
    }
    for scheme in ["bearer", "BEARER"] {
        let user_id = format!("by-{scheme}");
        let res = raw(app
            .client
            .post(app.url("/api/users"))
            .header(AUTHORIZATION, format!("{scheme} {WRITE_TOKEN}"))
            .json(&json!({ "userId": user_id })))
        .await;
        res.assert_status(StatusCode::CREATED);
    }
    for authorization in [
        None,
        Some("bearer wrong-token-0123456789".to_owned()),
        Some("BEARER wrong-token-0123456789".to_owned()),
        Some(format!("bearer {WRITE_TOKEN}x")),
        Some(format!("Basic {WRITE_TOKEN}")),
        Some(format!("bearer{WRITE_TOKEN}")),
        Some(WRITE_TOKEN.to_owned()),
    ] {
        get(authorization.clone())
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        let mut req = app
            .client
            .post(app.url("/api/users"))
            .json(&json!({ "userId": "intruder" }));
        if let Some(a) = &authorization {
            req = req.header(AUTHORIZATION, a);
        }
        raw(req)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
    // A read token may not write, whatever the scheme's case.
    raw(app
        .client
        .post(app.url("/api/users"))
        .header(AUTHORIZATION, format!("bearer {READ_TOKEN}"))
        .json(&json!({ "userId": "reader" })))
    .await
    .assert_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    let res = get(Some(format!("bearer {READ_TOKEN}"))).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(field_of(res.items(), "userId"), ["by-bearer", "by-BEARER"]);
}

// --- 9. names -----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invisible_or_bidirectional_name_is_a_400_naming_it_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let u1 = app
        .create_user(json!({ "userId": "u1", "name": "Ana" }))
        .await;
    let before = snapshot(&app).await;
    for name in [
        // Blank: nothing visible.
        "\u{200b}\u{200b}",
        " \u{200b} ",
        "\u{feff}",
        "\u{2060}\u{3164}",
        // Bidirectional controls.
        "Ana\u{202e}lleH",
        "\u{2066}Ana\u{2069}",
        "Ana\u{200f}",
    ] {
        app.post("/api/users", &json!({ "userId": "hidden", "name": name }))
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "name");
        app.put("/api/users/u1", &json!({ "name": name }))
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "name");
    }
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(app.get("/api/users/u1").await.body, u1);
    app.get("/api/users/hidden")
        .await
        .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    // A zero-width space between visible letters is kept as sent.
    let u = app
        .create_user(json!({ "userId": "zw", "name": "Ana\u{200b}María" }))
        .await;
    assert_eq!(u["name"], "Ana\u{200b}María");
}

// --- 10. event problems name their field --------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_event_is_a_400_invalid_event_naming_its_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    for (text, field) in [
        (
            r#"{"event":"Customer.Created","data":{"userId":2.5}}"#,
            "data.userId",
        ),
        (r#"{"type":"Customer.Created"}"#, "payload"),
        (r#"{}"#, "type"),
        (
            r#"{"type":"Customer.Created","payload":{}}"#,
            "payload.userId",
        ),
        (
            r#"{"type":"Customer.Created","payload":{"userId":{"id":1}}}"#,
            "payload.userId",
        ),
        (r#"{"event":"Customer.Created","data":5}"#, "data"),
        (r#"{"type":5,"payload":{"userId":"u"}}"#, "type"),
        ("not json", "body"),
    ] {
        let res = send_text(&app, Method::POST, "/api/events", text).await;
        assert!(
            res.status == StatusCode::BAD_REQUEST,
            "{text}: {} {}",
            res.status,
            res.text
        );
        res.assert_field_error(StatusCode::BAD_REQUEST, "INVALID_EVENT", field);
    }
    assert!(app.get("/api/users").await.items().is_empty());
    assert!(app.get("/api/billings").await.items().is_empty());
}

// --- 11. null on the previous service's PUT -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_clears_service_id_on_put_billings_but_is_a_400_on_put_api_billings() {
    let app = app_with_a_billing().await;
    app.create_billing("u1").await;

    // This API: `serviceId` (and `totalInvoice`) cannot be cleared.
    let second = app.get("/api/billings/000000002").await.body;
    for body in [
        json!({ "serviceId": null }),
        json!({ "totalInvoice": null }),
    ] {
        let field = body.as_object().unwrap().keys().next().unwrap().clone();
        app.put("/api/billings/000000002", &body)
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", &field);
    }
    assert_eq!(app.get("/api/billings/000000002").await.body, second);

    // The previous service's route: null clears it, as Mongoose did.
    let res = app
        .put("/billings/000000001", &json!({ "serviceId": null }))
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(
        res.body.get("serviceId"),
        Some(&Value::Null),
        "{}",
        res.text
    );
    let fetched = app.get("/api/billings/000000001").await;
    assert_eq!(fetched.body.get("serviceId"), Some(&Value::Null));
    assert_eq!(fetched.body["totalInvoice"], 125_000);
    assert_eq!(fetched.body, res.body);
    let node = app.get("/billings/000000001").await;
    node.assert_status(StatusCode::OK);
    assert_eq!(node.body["billing"].get("serviceId"), Some(&Value::Null));
    // Once cleared, sending back its null on this API is an echo, not a change.
    let echoed = app
        .put("/api/billings/000000001", &json!({ "serviceId": null }))
        .await;
    echoed.assert_status(StatusCode::OK);
    assert_eq!(echoed.body.get("serviceId"), Some(&Value::Null));
    // The other billing is as it was.
    assert_eq!(app.get("/api/billings/000000002").await.body, second);
}

// --- 12. the 409s -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_billings_user_id_is_a_409_immutable_field_and_changes_nothing() {
    let app = app_with_a_billing().await;
    app.create_user_id("u2").await;
    let before = snapshot(&app).await;
    for (path, body, field) in [
        (
            "/api/billings/000000001",
            json!({ "userId": "u2" }),
            "userId",
        ),
        (
            "/api/billings/000000001",
            json!({ "userId": "u2", "totalInvoice": 7 }),
            "userId",
        ),
        (
            "/api/billings/000000001",
            json!({ "billingId": "000000009" }),
            "billingId",
        ),
        ("/billings/000000001", json!({ "userId": "u2" }), "userId"),
    ] {
        app.put(path, &body).await.assert_field_error(
            StatusCode::CONFLICT,
            "IMMUTABLE_FIELD",
            field,
        );
    }
    assert_eq!(snapshot(&app).await, before);
    // Sent back unchanged, it is fine.
    let res = app
        .put(
            "/api/billings/000000001",
            &json!({ "userId": "u1", "totalInvoice": 7 }),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["userId"], "u1");
    assert_eq!(res.body["totalInvoice"], 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_for_a_suspended_user_is_a_409_user_inactive_and_writes_nothing() {
    let app = app_with_a_billing().await;
    app.create_user_id("u2").await;
    apply(
        &app,
        &json!({ "id": "evt-suspend-u2", "type": "Customer.Suspended", "payload": { "userId": "u2" } }),
    )
    .await;
    assert_eq!(app.get("/api/users/u2").await.body["isActive"], false);
    app.create_user(json!({ "userId": "u3", "isActive": false }))
        .await;
    let before = snapshot(&app).await;
    for user_id in ["u2", "u3"] {
        app.post("/api/billings", &billing_body(user_id))
            .await
            .assert_field_error(StatusCode::CONFLICT, "USER_INACTIVE", "userId");
        app.post(
            "/billings",
            &json!({ "userId": user_id, "dueDate": "2025-10-15" }),
        )
        .await
        .assert_field_error(StatusCode::CONFLICT, "USER_INACTIVE", "userId");
    }
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(app.create_billing("u1").await["billingId"], seq(2));
}
