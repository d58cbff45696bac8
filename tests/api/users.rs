//! `GET /` and `/api/users`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, field_of, timestamp};

fn is_object_id(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_answers_ok_true_for_old_probes() {
    let app = TestApp::spawn().await;
    let res = app.get("/").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body, json!({ "ok": true }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_user_answers_201_with_the_user_and_its_server_fields() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/api/users",
            &json!({
                "userId": "cust-42_a.b:c",
                "name": "Ana María",
                "email": "ana@telecomx.co",
                "address": { "city": "Bogotá", "country": "CO", "zipCode": "110111", "address": "Cra 7 # 1-2" },
                "phone": { "codeNumber": "+1", "phoneNumber": 5_551_234_u64 },
            }),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    let u = &res.body;
    assert!(
        is_object_id(u["_id"].as_str().unwrap()),
        "_id: {}",
        u["_id"]
    );
    assert_eq!(u["userId"], "cust-42_a.b:c");
    assert_eq!(u["name"], "Ana María");
    assert_eq!(u["email"], "ana@telecomx.co");
    assert_eq!(
        u["address"],
        json!({ "city": "Bogotá", "country": "CO", "zipCode": "110111", "address": "Cra 7 # 1-2" })
    );
    assert_eq!(
        u["phone"],
        json!({ "codeNumber": "+1", "phoneNumber": 5_551_234 })
    );
    assert_eq!(u["isActive"], true);
    assert_eq!(timestamp(&u["createdAt"]), timestamp(&u["updatedAt"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_is_active_with_the_default_country_code_when_not_told_otherwise() {
    let app = TestApp::spawn().await;
    let u = app
        .create_user(json!({ "userId": "u1", "phone": { "phoneNumber": 3_001_112_233_u64 } }))
        .await;
    assert_eq!(u["isActive"], true);
    assert_eq!(u["phone"]["codeNumber"], "+57");
    assert_eq!(u["phone"]["phoneNumber"], 3_001_112_233_u64);
    let inactive = app
        .create_user(json!({ "userId": "u2", "isActive": false }))
        .await;
    assert_eq!(inactive["isActive"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_created_without_a_user_id_gets_a_generated_uuid_v4() {
    let app = TestApp::spawn().await;
    let a = app.create_user(json!({ "name": "Ana" })).await;
    let b = app.create_user(json!({})).await;
    for u in [&a, &b] {
        let id = u["userId"].as_str().unwrap();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "a hyphenated UUID: {id}"
        );
        assert!(id.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
        assert!(parts[2].starts_with('4'), "version 4: {id}");
        assert!(
            parts[3].starts_with(['8', '9', 'a', 'b', 'A', 'B']),
            "RFC 4122 variant: {id}"
        );
    }
    assert_ne!(a["userId"], b["userId"]);
    let fetched = app
        .get(&format!("/api/users/{}", a["userId"].as_str().unwrap()))
        .await;
    fetched.assert_status(StatusCode::OK);
    assert_eq!(fetched.body, a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_user_id_is_a_409_and_leaves_the_first_user_as_it_was() {
    let app = TestApp::spawn().await;
    let first = app
        .create_user(json!({ "userId": "taken", "name": "First" }))
        .await;
    let res = app
        .post(
            "/api/users",
            &json!({ "userId": "taken", "name": "Second" }),
        )
        .await;
    res.assert_field_error(StatusCode::CONFLICT, "USER_ID_TAKEN", "userId");
    let now = app.get("/api/users/taken").await;
    assert_eq!(now.body, first);
    assert_eq!(app.get("/api/users").await.items().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_is_found_by_user_id_and_by_object_id() {
    let app = TestApp::spawn().await;
    let u = app.create_user_id("alice").await;
    let by_user_id = app.get("/api/users/alice").await;
    by_user_id.assert_status(StatusCode::OK);
    assert_eq!(by_user_id.body, u);
    let by_object_id = app
        .get(&format!("/api/users/{}", u["_id"].as_str().unwrap()))
        .await;
    by_object_id.assert_status(StatusCode::OK);
    assert_eq!(by_object_id.body, u);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_listed_in_creation_order_and_filtered_by_is_active() {
    let app = TestApp::spawn().await;
    app.create_user(json!({ "userId": "a" })).await;
    app.create_user(json!({ "userId": "b", "isActive": false }))
        .await;
    app.create_user(json!({ "userId": "c" })).await;
    let all = app.get("/api/users").await;
    all.assert_status(StatusCode::OK);
    assert_eq!(field_of(all.items(), "userId"), ["a", "b", "c"]);
    let active = app.get("/api/users?isActive=true").await;
    assert_eq!(field_of(active.items(), "userId"), ["a", "c"]);
    let inactive = app.get("/api/users?isActive=false").await;
    assert_eq!(field_of(inactive.items(), "userId"), ["b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_a_user_merges_address_and_phone_field_by_field() {
    let app = TestApp::spawn().await;
    let before = app
        .create_user(json!({
            "userId": "u1",
            "name": "Ana",
            "address": { "city": "Bogotá", "country": "CO", "zipCode": "110111" },
            "phone": { "codeNumber": "+57", "phoneNumber": 3_104_156_262_u64 },
        }))
        .await;
    let res = app
        .put(
            "/api/users/u1",
            &json!({ "address": { "city": "Cali" }, "phone": { "phoneNumber": 3_009_998_877_u64 } }),
        )
        .await;
    res.assert_status(StatusCode::OK);
    let u = &res.body;
    assert_eq!(
        u["address"],
        json!({ "city": "Cali", "country": "CO", "zipCode": "110111" })
    );
    assert_eq!(
        u["phone"],
        json!({ "codeNumber": "+57", "phoneNumber": 3_009_998_877_u64 })
    );
    assert_eq!(u["name"], "Ana");
    assert_eq!(u["_id"], before["_id"]);
    assert_eq!(u["createdAt"], before["createdAt"]);
    assert!(timestamp(&u["updatedAt"]) >= timestamp(&before["updatedAt"]));
    assert_eq!(app.get("/api/users/u1").await.body, *u);

    let res = app
        .put(
            "/api/users/u1",
            &json!({ "phone": { "codeNumber": "+1" }, "name": "Ana B" }),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(
        res.body["phone"],
        json!({ "codeNumber": "+1", "phoneNumber": 3_009_998_877_u64 })
    );
    assert_eq!(res.body["name"], "Ana B");
    assert_eq!(res.body["address"]["city"], "Cali");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_fetched_and_put_back_whole_with_a_change_is_accepted() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let mut fetched = app.get("/api/users/u1").await.body;
    fetched["name"] = json!("Renamed");
    fetched["address"] = json!({ "city": "Medellín" });
    let res = app.put("/api/users/u1", &fetched).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["name"], "Renamed");
    assert_eq!(res.body["address"]["city"], "Medellín");
    for field in ["_id", "userId", "createdAt"] {
        assert_eq!(res.body[field], fetched[field], "{field} is unchanged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_server_set_user_field_is_immutable_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let u = app.create_user_id("u1").await;
    let other_id = if u["_id"] == "65a1b2c3d4e5f60718293a4b" {
        "65a1b2c3d4e5f60718293a4c"
    } else {
        "65a1b2c3d4e5f60718293a4b"
    };
    for (field, value) in [
        ("userId", json!("someone-else")),
        ("_id", json!(other_id)),
        ("createdAt", json!("2020-01-01T00:00:00.000Z")),
    ] {
        let mut body = json!({ "name": "Changed", "address": { "city": "Cali" } });
        body[field] = value;
        let res = app.put("/api/users/u1", &body).await;
        res.assert_field_error(StatusCode::CONFLICT, "IMMUTABLE_FIELD", field);
        let after = app.get("/api/users/u1").await;
        assert_eq!(
            after.body, u,
            "a refused update with {field} changed nothing"
        );
    }
    assert_eq!(app.get("/api/users/someone-else").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_is_updated_and_deleted_through_its_object_id_too() {
    let app = TestApp::spawn().await;
    let u = app.create_user_id("u1").await;
    let path = format!("/api/users/{}", u["_id"].as_str().unwrap());
    let res = app.put(&path, &json!({ "name": "By object id" })).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["userId"], "u1");
    assert_eq!(res.body["name"], "By object id");
    let res = app.delete(&path).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(
        res.body,
        json!({ "message": "Deleted", "deletedBillings": 0 })
    );
    app.get("/api/users/u1")
        .await
        .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_removes_the_user_and_all_their_billings_and_says_how_many() {
    let app = TestApp::spawn().await;
    app.create_user_id("gone").await;
    app.create_user_id("stays").await;
    let b1 = app.create_billing("gone").await;
    let b2 = app.create_billing("gone").await;
    let kept = app.create_billing("stays").await;

    let res = app.delete("/api/users/gone").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(
        res.body,
        json!({ "message": "Deleted", "deletedBillings": 2 })
    );

    app.get("/api/users/gone")
        .await
        .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    for b in [&b1, &b2] {
        let path = format!("/api/billings/{}", b["billingId"].as_str().unwrap());
        app.get(&path)
            .await
            .assert_error(StatusCode::NOT_FOUND, "BILLING_NOT_FOUND");
    }
    assert!(
        app.get("/api/billings?userId=gone")
            .await
            .items()
            .is_empty()
    );
    let all = app.get("/api/billings").await;
    assert_eq!(all.items(), &vec![kept]);
    app.delete("/api/users/gone")
        .await
        .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_billings_are_listed_newest_first_on_both_paths() {
    let app = TestApp::spawn().await;
    let u = app.create_user_id("u1").await;
    app.create_user_id("other").await;
    let mut created = Vec::new();
    for _ in 0..4 {
        created.push(app.create_billing("u1").await);
        app.create_billing("other").await;
    }
    created.reverse();
    let object_id = u["_id"].as_str().unwrap();
    for path in [
        "/api/users/u1/billings".to_owned(),
        "/api/billings/user/u1".to_owned(),
        format!("/api/users/{object_id}/billings"),
    ] {
        let res = app.get(&path).await;
        res.assert_status(StatusCode::OK);
        assert_eq!(res.items(), &created, "{path} lists newest first");
        let dates: Vec<_> = res
            .items()
            .iter()
            .map(|b| timestamp(&b["generationDate"]))
            .collect();
        assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{path}: {dates:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_user_can_be_reactivated_and_billed_again() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let res = app
        .put("/api/users/u1", &json!({ "isActive": false }))
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.body["isActive"], false);
    app.post("/api/billings", &crate::helpers::billing_body("u1"))
        .await
        .assert_error(StatusCode::CONFLICT, "USER_INACTIVE");
    let res = app.put("/api/users/u1", &json!({ "isActive": true })).await;
    assert_eq!(res.body["isActive"], true);
    let b = app.create_billing("u1").await;
    assert_eq!(b["billingId"], "000000001");
}
