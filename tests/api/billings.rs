//! `/api/billings`.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_payment_consistent, billing_body, field_of, seq, timestamp};

fn path(b: &Value) -> String {
    format!("/api/billings/{}", b["billingId"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_billing_sets_the_server_fields_and_numbers_it_from_000000001() {
    let app = TestApp::spawn().await;
    let user = app.create_user_id("u1").await;
    let before = Utc::now();
    let res = app
        .post(
            "/api/billings",
            &json!({
                "userId": "u1",
                "dueDate": "2025-10-15",
                "serviceId": "svc-9",
                "totalInvoice": 125_000,
            }),
        )
        .await;
    let after = Utc::now();
    res.assert_status(StatusCode::CREATED);
    let b = &res.body;
    assert_eq!(b["billingId"], "000000001");
    assert_eq!(b["userId"], "u1");
    assert_eq!(b["dueDate"], "2025-10-15T00:00:00.000Z");
    assert_eq!(b["serviceId"], "svc-9");
    assert_eq!(b["totalInvoice"], 125_000);
    assert_eq!(b["isPaid"], false);
    assert!(b["paymentDate"].is_null());
    assert_eq!(b["phone"], user["phone"]);
    let id = b["_id"].as_str().unwrap();
    assert!(id.len() == 24 && id.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(b["_id"], user["_id"]);
    let generated = timestamp(&b["generationDate"]);
    let floor = before - chrono::Duration::milliseconds(1);
    assert!(
        floor <= generated && generated <= after,
        "generationDate {generated} is when the request was served ({before}..{after})"
    );
    assert_eq!(timestamp(&b["createdAt"]), timestamp(&b["updatedAt"]));

    let second = app.create_billing("u1").await;
    assert_eq!(second["billingId"], "000000002");
    assert_ne!(second["_id"], b["_id"]);

    let fetched = app.get("/api/billings/000000001").await;
    fetched.assert_status(StatusCode::OK);
    assert_eq!(fetched.body, *b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_are_read_as_rfc_3339_or_plain_dates_and_written_in_utc_with_milliseconds() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    for (sent, written) in [
        ("2025-10-15", "2025-10-15T00:00:00.000Z"),
        ("2025-10-01T09:15:00Z", "2025-10-01T09:15:00.000Z"),
        ("2025-10-01T09:15:00.5Z", "2025-10-01T09:15:00.500Z"),
        ("2025-10-01T09:15:00.123-05:00", "2025-10-01T14:15:00.123Z"),
        ("2025-10-01T09:15:00+02:00", "2025-10-01T07:15:00.000Z"),
    ] {
        let mut body = billing_body("u1");
        body["dueDate"] = json!(sent);
        body["paymentDate"] = json!(sent);
        let b = app.create_billing_with(body).await;
        assert_eq!(b["dueDate"], written, "dueDate {sent}");
        assert_eq!(b["paymentDate"], written, "paymentDate {sent}");
        for server_set in ["generationDate", "createdAt", "updatedAt"] {
            timestamp(&b[server_set]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_keeps_the_phone_its_user_had_when_it_was_created() {
    let app = TestApp::spawn().await;
    app.create_user(
        json!({ "userId": "u1", "phone": { "codeNumber": "+1", "phoneNumber": 5_551_234 } }),
    )
    .await;
    let old = app.create_billing("u1").await;
    assert_eq!(
        old["phone"],
        json!({ "codeNumber": "+1", "phoneNumber": 5_551_234 })
    );
    app.put(
        "/api/users/u1",
        &json!({ "phone": { "codeNumber": "+57", "phoneNumber": 3_001_112_233_u64 } }),
    )
    .await
    .assert_status(StatusCode::OK);
    let new = app.create_billing("u1").await;
    assert_eq!(
        new["phone"],
        json!({ "codeNumber": "+57", "phoneNumber": 3_001_112_233_u64 })
    );
    assert_eq!(app.get(&path(&old)).await.body["phone"], old["phone"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_numeric_service_id_is_stored_as_its_decimal_string() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let mut body = billing_body("u1");
    body["serviceId"] = json!(42);
    let b = app.create_billing_with(body).await;
    assert_eq!(b["serviceId"], "42");
    assert_eq!(app.get(&path(&b)).await.body["serviceId"], "42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_numeric_string_total_invoice_is_accepted_and_returned_as_a_number() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let mut body = billing_body("u1");
    body["totalInvoice"] = json!("125000");
    let b = app.create_billing_with(body).await;
    assert_eq!(b["totalInvoice"], 125_000);
    let res = app
        .put(&path(&b), &json!({ "totalInvoice": "99000" }))
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["totalInvoice"], 99_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_invoice_may_be_anything_from_zero_to_ten_to_the_fifteenth() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    for total in [0_u64, 1, 1_000_000_000_000_000] {
        let mut body = billing_body("u1");
        body["totalInvoice"] = json!(total);
        let b = app.create_billing_with(body).await;
        assert_eq!(b["totalInvoice"], total);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_without_a_user_id_is_a_400_naming_user_id() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let mut body = billing_body("u1");
    body.as_object_mut().unwrap().remove("userId");
    app.post("/api/billings", &body).await.assert_field_error(
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        "userId",
    );
    assert!(app.get("/api/billings").await.items().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_without_a_due_date_is_a_400_naming_due_date() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let mut body = billing_body("u1");
    body.as_object_mut().unwrap().remove("dueDate");
    let res = app.post("/api/billings", &body).await;
    res.assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "dueDate");
    assert!(!res.fields().contains(&"userId".to_owned()));
    assert!(app.get("/api/billings").await.items().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_for_an_unknown_user_is_a_404() {
    let app = TestApp::spawn().await;
    app.post("/api/billings", &billing_body("nobody"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    assert!(app.get("/api/billings").await.items().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_for_an_inactive_user_is_a_400_user_inactive() {
    let app = TestApp::spawn().await;
    app.create_user(json!({ "userId": "sleepy", "isActive": false }))
        .await;
    app.post("/api/billings", &billing_body("sleepy"))
        .await
        .assert_error(StatusCode::CONFLICT, "USER_INACTIVE");
    assert!(app.get("/api/billings").await.items().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_is_fetched_with_its_user_embedded_on_expand_user() {
    let app = TestApp::spawn().await;
    let user = app.create_user_id("u1").await;
    let b = app.create_billing("u1").await;
    let res = app.get(&format!("{}?expand=user", path(&b))).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["user"], user);
    let mut without_user = res.body.clone();
    without_user.as_object_mut().unwrap().remove("user");
    assert_eq!(without_user, b);
    let plain = app.get(&path(&b)).await;
    assert!(plain.body.get("user").is_none());
    app.get(&format!("{}?expand=everything", path(&b)))
        .await
        .assert_field_error(StatusCode::BAD_REQUEST, "INVALID_QUERY", "expand");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_a_billing_changes_only_the_fields_sent() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let b = app.create_billing("u1").await;
    let res = app
        .put(
            &path(&b),
            &json!({ "dueDate": "2025-12-01T10:30:00.000Z", "serviceId": 7 }),
        )
        .await;
    res.assert_status(StatusCode::OK);
    let u = &res.body;
    assert_eq!(u["dueDate"], "2025-12-01T10:30:00.000Z");
    assert_eq!(u["serviceId"], "7");
    for same in [
        "_id",
        "billingId",
        "userId",
        "generationDate",
        "totalInvoice",
        "isPaid",
        "paymentDate",
        "phone",
        "createdAt",
    ] {
        assert_eq!(u[same], b[same], "{same} is unchanged");
    }
    assert!(timestamp(&u["updatedAt"]) >= timestamp(&b["updatedAt"]));
    assert_eq!(app.get(&path(&b)).await.body, *u);

    let res = app.put(&path(&b), &json!({ "totalInvoice": 1 })).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["totalInvoice"], 1);
    assert_eq!(res.body["dueDate"], "2025-12-01T10:30:00.000Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_fetched_and_put_back_whole_with_a_change_is_accepted() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let b = app.create_billing("u1").await;
    let mut whole = app.get(&path(&b)).await.body;
    whole["totalInvoice"] = json!(777);
    let res = app.put(&path(&b), &whole).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["totalInvoice"], 777);

    // A paid one too: its isPaid and paymentDate come back as they were.
    app.post_empty(&format!("{}/pay", path(&b)))
        .await
        .assert_status(StatusCode::OK);
    let mut whole = app.get(&path(&b)).await.body;
    whole["serviceId"] = json!("svc-2");
    let res = app.put(&path(&b), &whole).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["serviceId"], "svc-2");
    assert_eq!(res.body["isPaid"], true);
    assert_eq!(res.body["paymentDate"], whole["paymentDate"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_server_set_billing_field_is_immutable_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    app.create_user_id("u2").await;
    let b = app.create_billing("u1").await;
    let other_object_id = if b["_id"] == "65a1b2c3d4e5f60718293a4b" {
        "65a1b2c3d4e5f60718293a4c"
    } else {
        "65a1b2c3d4e5f60718293a4b"
    };
    for (field, value) in [
        ("billingId", json!("000000099")),
        ("_id", json!(other_object_id)),
        ("userId", json!("u2")),
        ("generationDate", json!("2020-01-01T00:00:00.000Z")),
        ("createdAt", json!("2020-01-01T00:00:00.000Z")),
        (
            "phone",
            json!({ "codeNumber": "+1", "phoneNumber": 5_551_234 }),
        ),
    ] {
        let mut body = json!({ "totalInvoice": 1, "isPaid": true });
        body[field] = value;
        app.put(&path(&b), &body).await.assert_field_error(
            StatusCode::CONFLICT,
            "IMMUTABLE_FIELD",
            field,
        );
        assert_eq!(
            app.get(&path(&b)).await.body,
            b,
            "a refused update with {field} changed nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_through_an_update_sets_the_payment_date_and_unpaying_clears_it() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let b = app.create_billing("u1").await;

    let before = Utc::now() - chrono::Duration::milliseconds(1);
    let paid = app.put(&path(&b), &json!({ "isPaid": true })).await;
    let after = Utc::now();
    paid.assert_status(StatusCode::OK);
    assert_eq!(paid.body["isPaid"], true);
    let date = timestamp(&paid.body["paymentDate"]);
    assert!(before <= date && date <= after, "paid now: {date}");

    let unpaid = app.put(&path(&b), &json!({ "isPaid": false })).await;
    unpaid.assert_status(StatusCode::OK);
    assert_eq!(unpaid.body["isPaid"], false);
    assert!(unpaid.body["paymentDate"].is_null());

    let dated = app
        .put(
            &path(&b),
            &json!({ "isPaid": true, "paymentDate": "2025-10-05" }),
        )
        .await;
    dated.assert_status(StatusCode::OK);
    assert_eq!(dated.body["isPaid"], true);
    assert_eq!(dated.body["paymentDate"], "2025-10-05T00:00:00.000Z");

    // A payment date alone or a null one: the two fields still agree afterwards.
    for body in [
        json!({ "paymentDate": "2025-10-06T08:00:00Z" }),
        json!({ "paymentDate": null }),
    ] {
        let res = app.put(&path(&b), &body).await;
        res.assert_status(StatusCode::OK);
        assert_payment_consistent(&res.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_paid_false_with_a_payment_date_is_a_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let b = app.create_billing("u1").await;
    let res = app
        .put(
            &path(&b),
            &json!({ "isPaid": false, "paymentDate": "2025-10-02", "totalInvoice": 5 }),
        )
        .await;
    res.assert_field_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "paymentDate");
    assert_eq!(app.get(&path(&b)).await.body, b);

    let mut body = billing_body("u1");
    body["isPaid"] = json!(false);
    body["paymentDate"] = json!("2025-10-02");
    app.post("/api/billings", &body).await.assert_field_error(
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        "paymentDate",
    );
    assert_eq!(app.get("/api/billings").await.items().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_created_as_paid_gets_a_payment_date() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let mut body = billing_body("u1");
    body["isPaid"] = json!(true);
    let b = app.create_billing_with(body).await;
    assert_eq!(b["isPaid"], true);
    assert_payment_consistent(&b);

    let mut body = billing_body("u1");
    body["isPaid"] = json!(true);
    body["paymentDate"] = json!("2025-10-03T12:00:00.000Z");
    let b = app.create_billing_with(body).await;
    assert_eq!(b["paymentDate"], "2025-10-03T12:00:00.000Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_a_billing_without_a_body_marks_it_paid_now() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let b = app.create_billing("u1").await;
    let before = Utc::now() - chrono::Duration::milliseconds(1);
    let res = app.post_empty(&format!("{}/pay", path(&b))).await;
    let after = Utc::now();
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["isPaid"], true);
    let date = timestamp(&res.body["paymentDate"]);
    assert!(before <= date && date <= after, "paid now: {date}");
    assert_eq!(res.body["billingId"], b["billingId"]);
    assert_eq!(res.body["totalInvoice"], b["totalInvoice"]);
    assert_eq!(app.get(&path(&b)).await.body, res.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_a_billing_with_a_payment_date_uses_that_date() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let b = app.create_billing("u1").await;
    let res = app
        .post(
            &format!("{}/pay", path(&b)),
            &json!({ "paymentDate": "2025-10-07T09:15:00Z" }),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["isPaid"], true);
    assert_eq!(res.body["paymentDate"], "2025-10-07T09:15:00.000Z");
    let empty_object = app.post(&format!("{}/pay", path(&b)), &json!({})).await;
    empty_object.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_a_paid_billing_returns_it_unchanged_with_200() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let b = app.create_billing("u1").await;
    let pay = format!("{}/pay", path(&b));
    let first = app
        .post(&pay, &json!({ "paymentDate": "2025-10-07" }))
        .await;
    first.assert_status(StatusCode::OK);
    let again = app.post_empty(&pay).await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.body, first.body);
    let with_other_date = app
        .post(&pay, &json!({ "paymentDate": "2030-01-01" }))
        .await;
    with_other_date.assert_status(StatusCode::OK);
    assert_eq!(with_other_date.body, first.body);
    assert_eq!(app.get(&path(&b)).await.body, first.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_billing_answers_deleted_and_it_is_gone() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let b = app.create_billing("u1").await;
    let kept = app.create_billing("u1").await;
    let res = app.delete(&path(&b)).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body, json!({ "message": "Deleted" }));
    app.get(&path(&b))
        .await
        .assert_error(StatusCode::NOT_FOUND, "BILLING_NOT_FOUND");
    app.delete(&path(&b))
        .await
        .assert_error(StatusCode::NOT_FOUND, "BILLING_NOT_FOUND");
    assert_eq!(app.get("/api/billings").await.items(), &vec![kept.clone()]);
    assert_eq!(app.get("/api/users/u1/billings").await.items(), &vec![kept]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billings_are_listed_newest_first() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    app.create_user_id("u2").await;
    let mut created = Vec::new();
    for i in 0..6 {
        created.push(
            app.create_billing(if i % 2 == 0 { "u1" } else { "u2" })
                .await,
        );
    }
    created.reverse();
    let res = app.get("/api/billings").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.items(), &created);
    assert_eq!(
        field_of(res.items(), "billingId"),
        (1..=6).rev().map(seq).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billings_are_filtered_by_user_paid_state_overdue_and_due_dates() {
    let app = TestApp::spawn().await;
    app.create_user_id("a").await;
    app.create_user_id("b").await;
    let due = |user: &str, date: &str| {
        let mut body = billing_body(user);
        body["dueDate"] = json!(date);
        body
    };
    // 1: a, overdue. 2: a, past due but paid. 3: a, due in the future. 4: b, overdue.
    let b1 = app.create_billing_with(due("a", "2020-01-10")).await;
    let mut paid = due("a", "2020-02-10");
    paid["isPaid"] = json!(true);
    let b2 = app.create_billing_with(paid).await;
    let b3 = app.create_billing_with(due("a", "2999-01-01")).await;
    let b4 = app.create_billing_with(due("b", "2020-03-01")).await;
    let ids = |v: &[&Value]| -> Vec<String> {
        v.iter()
            .map(|b| b["billingId"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases: [(&str, Vec<String>); 10] = [
        ("userId=a", ids(&[&b3, &b2, &b1])),
        ("userId=b", ids(&[&b4])),
        ("isPaid=true", ids(&[&b2])),
        ("isPaid=false", ids(&[&b4, &b3, &b1])),
        ("overdue=true", ids(&[&b4, &b1])),
        ("dueBefore=2020-02-01", ids(&[&b1])),
        ("dueAfter=2020-02-01", ids(&[&b4, &b3, &b2])),
        (
            "dueAfter=2020-01-15T00:00:00Z&dueBefore=2020-12-31",
            ids(&[&b4, &b2]),
        ),
        ("userId=a&overdue=true", ids(&[&b1])),
        ("userId=a&isPaid=false&dueAfter=2021-01-01", ids(&[&b3])),
    ];
    for (query, expected) in cases {
        let res = app.get(&format!("/api/billings?{query}")).await;
        res.assert_status(StatusCode::OK);
        assert_eq!(field_of(res.items(), "billingId"), expected, "?{query}");
    }
    let res = app.get("/api/users/a/billings?isPaid=false").await;
    assert_eq!(field_of(res.items(), "billingId"), ids(&[&b3, &b1]));
    let res = app.get("/api/billings/user/a?overdue=true").await;
    assert_eq!(field_of(res.items(), "billingId"), ids(&[&b1]));
    let res = app.get("/api/billings?userId=nobody").await;
    res.assert_status(StatusCode::OK);
    assert!(res.items().is_empty());
}
