//! Pagination of every list: `limit` with `page` or `after`, `Link: rel="next"`, `X-Total-Count`.

use std::collections::HashSet;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, billing_body, field_of, query_params};

/// Creates `n` billings for `user_id` concurrently; returns them in list order (newest first),
/// as the complete list says.
async fn billings(app: &TestApp, user_id: &str, n: usize) -> Vec<Value> {
    let created = join_all((0..n).map(|_| app.create_billing(user_id))).await;
    assert_eq!(created.len(), n);
    let res = app
        .get(&format!("/api/billings?userId={user_id}&limit=500"))
        .await;
    let all = res.items().clone();
    assert_eq!(all.len(), n);
    all
}

/// Creates `n` more users concurrently; returns every user in list order.
async fn users(app: &TestApp, n: usize) -> Vec<Value> {
    join_all((0..n).map(|i| app.create_user_id(&format!("user-{i:03}")))).await;
    app.get("/api/users?limit=500").await.items().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_list_is_an_empty_array_without_a_next_link() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    app.delete("/api/users/u1")
        .await
        .assert_status(StatusCode::OK);
    app.create_user(json!({ "userId": "lonely", "isActive": false }))
        .await;
    for path in [
        "/api/users?isActive=true",
        "/api/billings",
        "/api/billings?isPaid=true",
        "/api/users/lonely/billings",
        "/api/billings/user/lonely",
    ] {
        let res = app.get(path).await;
        res.assert_status(StatusCode::OK);
        assert_eq!(res.body, json!([]), "{path}");
        assert!(res.header("link").is_none(), "{path} has no next page");
    }
    let res = app.get("/api/billings?page=1").await;
    assert_eq!(res.header("x-total-count"), Some("0"));
    let res = app.get("/api/users?page=1&isActive=true").await;
    assert_eq!(res.header("x-total-count"), Some("0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_holds_fifty_items_by_default_and_at_most_limit() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let all_billings = billings(&app, "u1", 51).await;
    assert_eq!(users(&app, 51).await.len(), 52);

    let res = app.get("/api/billings").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.items()[..], all_billings[..50]);
    assert!(res.next_link().is_some());
    for path in ["/api/users/u1/billings", "/api/billings/user/u1"] {
        let res = app.get(path).await;
        assert_eq!(res.items()[..], all_billings[..50], "{path}");
        assert!(res.next_link().is_some(), "{path}");
    }
    let res = app.get("/api/users").await;
    assert_eq!(res.items().len(), 50);
    assert!(res.next_link().is_some());

    let res = app.get("/api/billings?limit=1").await;
    assert_eq!(res.items()[..], all_billings[..1]);
    let res = app.get("/api/billings?limit=500").await;
    assert_eq!(res.items()[..], all_billings[..]);
    assert!(res.next_link().is_none());
    let res = app.get("/api/users?limit=7").await;
    assert_eq!(res.items().len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_must_be_an_integer_from_1_to_500() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    for path in [
        "/api/billings",
        "/api/users",
        "/api/users/u1/billings",
        "/api/billings/user/u1",
    ] {
        for bad in ["0", "501", "-1", "abc", "1.5", ""] {
            app.get(&format!("{path}?limit={bad}"))
                .await
                .assert_field_error(StatusCode::BAD_REQUEST, "INVALID_QUERY", "limit");
        }
        for good in ["1", "500"] {
            app.get(&format!("{path}?limit={good}"))
                .await
                .assert_status(StatusCode::OK);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_requests_return_their_slice_and_the_total_count() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let all = billings(&app, "u1", 7).await;
    let expected: [&[Value]; 4] = [&all[0..3], &all[3..6], &all[6..7], &[]];
    for (i, slice) in expected.iter().enumerate() {
        let page = i + 1;
        for path in [
            "/api/billings",
            "/api/users/u1/billings",
            "/api/billings/user/u1",
        ] {
            let res = app.get(&format!("{path}?limit=3&page={page}")).await;
            res.assert_status(StatusCode::OK);
            assert_eq!(res.items()[..], **slice, "{path} page {page}");
            assert_eq!(res.header("x-total-count"), Some("7"), "{path} page {page}");
            assert_eq!(
                res.next_link().is_some(),
                page < 3,
                "{path} page {page}: a next link only when a next page exists"
            );
        }
    }
    // The next link from a page leads to the following page.
    let first = app.get("/api/billings?limit=3&page=1").await;
    let second = app.get(&first.next_link().unwrap()).await;
    assert_eq!(second.items()[..], all[3..6]);

    let all_users = users(&app, 5).await;
    assert_eq!(all_users.len(), 6);
    let res = app.get("/api/users?limit=4&page=2").await;
    assert_eq!(res.items()[..], all_users[4..]);
    assert_eq!(res.header("x-total-count"), Some("6"));
    assert!(res.next_link().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_number_with_an_after_cursor_is_that_page_past_the_cursor_with_the_total() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let all = billings(&app, "u1", 8).await;
    let first = app.get("/api/billings?limit=2").await;
    let next = first.next_link().expect("a next page");
    let after = query_params(&next)
        .into_iter()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v)
        .expect("the next link has an after cursor");
    for path in ["/api/billings", "/api/users/u1/billings"] {
        let res = app
            .get(&format!("{path}?limit=2&after={after}&page=2"))
            .await;
        res.assert_status(StatusCode::OK);
        assert_eq!(res.items()[..], all[4..6], "{path}");
        assert_eq!(res.header("x-total-count"), Some("8"), "{path}");
        // The next page follows on from this one by cursor alone.
        let rest = app.get(&res.next_link().expect("a next page")).await;
        assert_eq!(rest.items()[..], all[6..8], "{path}");
        assert!(
            !query_params(&res.next_link().unwrap())
                .iter()
                .any(|(k, _)| k == "page")
        );
    }
    let all_users = users(&app, 4).await;
    let cursor = all_users[0]["_id"].as_str().expect("an _id");
    let res = app
        .get(&format!("/api/users?limit=2&page=2&after={cursor}"))
        .await;
    assert_eq!(res.items()[..], all_users[3..5]);
    assert_eq!(res.header("x-total-count"), Some("5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_must_be_a_positive_integer() {
    let app = TestApp::spawn().await;
    for path in ["/api/billings", "/api/users"] {
        for bad in ["0", "-1", "x", "1.5"] {
            app.get(&format!("{path}?page={bad}"))
                .await
                .assert_field_error(StatusCode::BAD_REQUEST, "INVALID_QUERY", "page");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_link_appears_only_when_a_next_page_exists() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let all = billings(&app, "u1", 4).await;
    let res = app.get("/api/billings?limit=4").await;
    assert_eq!(res.items()[..], all[..]);
    assert!(
        res.header("link").is_none(),
        "exactly limit items: no next page"
    );
    let res = app.get("/api/billings?limit=3").await;
    let next = res.next_link().expect("a next page");
    let last = app.get(&next).await;
    assert_eq!(last.items()[..], all[3..]);
    assert!(
        last.header("link").is_none(),
        "the last page has no next link"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_link_carries_the_filters_the_limit_and_an_after_cursor() {
    let app = TestApp::spawn().await;
    app.create_user_id("a").await;
    app.create_user_id("b").await;
    for user in ["a", "b", "a", "b", "a", "a"] {
        app.create_billing(user).await;
    }
    let mut paid = billing_body("a");
    paid["isPaid"] = json!(true);
    app.create_billing_with(paid).await;

    let res = app
        .get("/api/billings?userId=a&isPaid=false&dueAfter=2025-01-01&limit=2")
        .await;
    res.assert_status(StatusCode::OK);
    let link = res.header("link").expect("a Link header");
    assert!(link.contains("rel=\"next\""), "{link}");
    let next = res.next_link().unwrap();
    assert!(
        next.starts_with("/api/billings?"),
        "the link targets the same list: {next}"
    );
    let params = query_params(&next);
    for (k, v) in [
        ("userId", "a"),
        ("isPaid", "false"),
        ("dueAfter", "2025-01-01"),
        ("limit", "2"),
    ] {
        assert!(
            params.iter().any(|(pk, pv)| pk == k && pv == v),
            "the next link carries {k}={v}: {next}"
        );
    }
    assert!(
        params.iter().any(|(k, v)| k == "after" && !v.is_empty()),
        "the next link carries an after cursor: {next}"
    );
    assert!(!params.iter().any(|(k, _)| k == "page"), "{next}");

    let (items, pages) = app
        .walk("/api/billings?userId=a&isPaid=false&dueAfter=2025-01-01&limit=2")
        .await;
    assert_eq!(pages, 2);
    assert_eq!(items.len(), 4);
    assert!(
        items
            .iter()
            .all(|b| b["userId"] == "a" && b["isPaid"] == false)
    );

    let res = app.get("/api/users?isActive=true&limit=1").await;
    let params = query_params(&res.next_link().unwrap());
    assert!(params.contains(&("isActive".to_owned(), "true".to_owned())));
    assert!(params.contains(&("limit".to_owned(), "1".to_owned())));
    assert!(params.iter().any(|(k, _)| k == "after"));

    let res = app.get("/api/users/a/billings?isPaid=false&limit=1").await;
    let next = res.next_link().unwrap();
    assert!(next.starts_with("/api/users/a/billings?"), "{next}");
    assert!(query_params(&next).contains(&("isPaid".to_owned(), "false".to_owned())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_the_next_links_visits_every_item_exactly_once() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    app.create_user_id("u2").await;
    let mine = billings(&app, "u1", 23).await;
    join_all((0..5).map(|_| app.create_billing("u2"))).await;
    let everything = app.get("/api/billings?limit=500").await.items().clone();
    assert_eq!(everything.len(), 28);
    let all_users = users(&app, 21).await;
    assert_eq!(all_users.len(), 23);

    let cases: [(&str, &[Value], usize); 5] = [
        ("/api/billings?limit=5", &everything, 6),
        ("/api/billings?userId=u1&limit=5", &mine, 5),
        ("/api/users/u1/billings?limit=4", &mine, 6),
        ("/api/billings/user/u1?limit=23", &mine, 1),
        ("/api/users?limit=4", &all_users, 6),
    ];
    for (path, expected, expected_pages) in cases {
        let (items, pages) = app.walk(path).await;
        let ids = field_of(&items, "_id");
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{path}: no item twice");
        assert_eq!(items[..], expected[..], "{path}: every item, in list order");
        assert_eq!(pages, expected_pages, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_still_works_when_its_item_has_been_deleted() {
    let app = TestApp::spawn().await;
    app.create_user_id("u1").await;
    let all = billings(&app, "u1", 6).await;
    let first = app.get("/api/billings?limit=2").await;
    assert_eq!(first.items()[..], all[..2]);
    let next = first.next_link().unwrap();
    // The cursor was taken from the second item; delete it.
    app.delete(&format!(
        "/api/billings/{}",
        all[1]["billingId"].as_str().unwrap()
    ))
    .await
    .assert_status(StatusCode::OK);
    let second = app.get(&next).await;
    second.assert_status(StatusCode::OK);
    assert_eq!(second.items()[..], all[2..4]);

    let all_users = users(&app, 5).await;
    assert_eq!(all_users.len(), 6);
    let first = app.get("/api/users?limit=3").await;
    let next = first.next_link().unwrap();
    app.delete(&format!(
        "/api/users/{}",
        all_users[2]["userId"].as_str().unwrap()
    ))
    .await
    .assert_status(StatusCode::OK);
    let second = app.get(&next).await;
    second.assert_status(StatusCode::OK);
    assert_eq!(second.items()[..], all_users[3..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_after_cursor_the_service_did_not_issue_is_a_400() {
    let app = TestApp::spawn().await;
    for path in ["/api/billings", "/api/users"] {
        app.get(&format!("{path}?after=not-a-cursor"))
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, "INVALID_QUERY", "after");
    }
}
