//! Data and the billingId sequence survive a restart on the same database file.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, billing_body, field_of, seq};

async fn everything(app: &TestApp) -> (Value, Value) {
    let users = app.get("/api/users?limit=500").await;
    users.assert_status(StatusCode::OK);
    let billings = app.get("/api/billings?limit=500").await;
    billings.assert_status(StatusCode::OK);
    (users.body, billings.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_billings_payments_and_deletions_survive_a_restart() {
    let mut app = TestApp::spawn().await;
    app.create_user(json!({
        "userId": "u1",
        "name": "Ana",
        "email": "ana@telecomx.co",
        "address": { "city": "Bogotá", "country": "CO" },
        "phone": { "codeNumber": "+57", "phoneNumber": 3_104_156_262_u64 },
    }))
    .await;
    app.create_user(json!({ "userId": "u2", "isActive": false }))
        .await;
    app.create_user_id("gone").await;
    let b1 = app.create_billing("u1").await;
    let b2 = app.create_billing("u1").await;
    let b3 = app.create_billing("gone").await;
    app.post(
        &format!("/api/billings/{}/pay", b1["billingId"].as_str().unwrap()),
        &json!({ "paymentDate": "2025-10-07T09:15:00.123Z" }),
    )
    .await
    .assert_status(StatusCode::OK);
    app.put(
        &format!("/api/billings/{}", b2["billingId"].as_str().unwrap()),
        &json!({ "totalInvoice": "99", "serviceId": 12 }),
    )
    .await
    .assert_status(StatusCode::OK);
    app.put("/api/users/u1", &json!({ "address": { "city": "Cali" } }))
        .await
        .assert_status(StatusCode::OK);
    app.delete("/api/users/gone")
        .await
        .assert_status(StatusCode::OK);
    let before = everything(&app).await;
    let old_address = app.address.clone();

    app.restart().await;
    assert_ne!(app.address, old_address, "a new server is listening");

    let after = everything(&app).await;
    assert_eq!(
        after, before,
        "the same users and billings, field for field"
    );
    let u1 = app.get("/api/users/u1").await;
    assert_eq!(
        u1.body["address"],
        json!({ "city": "Cali", "country": "CO" })
    );
    let paid = app
        .get(&format!(
            "/api/billings/{}",
            b1["billingId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(paid.body["isPaid"], true);
    assert_eq!(paid.body["paymentDate"], "2025-10-07T09:15:00.123Z");
    app.get("/api/users/gone")
        .await
        .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    app.get(&format!(
        "/api/billings/{}",
        b3["billingId"].as_str().unwrap()
    ))
    .await
    .assert_error(StatusCode::NOT_FOUND, "BILLING_NOT_FOUND");
    app.post("/api/billings", &billing_body("u2"))
        .await
        .assert_error(StatusCode::CONFLICT, "USER_INACTIVE");
    app.post("/api/users", &json!({ "userId": "u1" }))
        .await
        .assert_error(StatusCode::CONFLICT, "USER_ID_TAKEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_billing_id_sequence_continues_across_restarts_and_never_reuses_an_id() {
    let mut app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    for n in 1..=3 {
        assert_eq!(app.create_billing("u1").await["billingId"], seq(n));
    }
    // The highest id goes away: the sequence, not the data, says what comes next.
    app.delete(&format!("/api/billings/{}", seq(3)))
        .await
        .assert_status(StatusCode::OK);

    app.restart().await;
    assert_eq!(app.create_billing("u1").await["billingId"], seq(4));

    app.restart().await;
    assert_eq!(app.create_billing("u1").await["billingId"], seq(5));
    let listed = app.get("/api/billings").await;
    assert_eq!(
        field_of(listed.items(), "billingId"),
        [seq(5), seq(4), seq(2), seq(1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_billing_acknowledged_under_concurrency_is_there_after_a_restart() {
    let mut app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let created = join_all((0..64).map(|_| app.create_billing("u1"))).await;
    app.restart().await;
    for b in &created {
        let res = app
            .get(&format!(
                "/api/billings/{}",
                b["billingId"].as_str().unwrap()
            ))
            .await;
        res.assert_status(StatusCode::OK);
        assert_eq!(res.body, *b);
    }
    let listed = app.get("/api/billings?limit=500&page=1").await;
    assert_eq!(listed.header("x-total-count"), Some("64"));
    assert_eq!(app.create_billing("u1").await["billingId"], seq(65));
}
