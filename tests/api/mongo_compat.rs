//! Drop-in compatibility with the previous Node/Mongoose service's database: documents shaped
//! exactly as Mongoose writes them are inserted with the raw driver, then read and changed
//! through our API; and what our API writes is checked as raw BSON. These run on MongoDB
//! whatever `SYSTEM_TESTS_STORE` says.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, DateTime as BsonDate, Document, doc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fresh_mongodb_uri};

pub async fn raw(uri: &str, database: &str) -> mongodb::Database {
    mongodb::Client::with_uri_str(uri)
        .await
        .expect("a raw driver client")
        .database(database)
}

/// A fresh database, left as the previous service would have left it (`mongoose` documents
/// in it, if any), then the service started on it.
async fn spawn_on_mongodb(mongoose: bool) -> (TestApp, mongodb::Database) {
    let (uri, database) = fresh_mongodb_uri();
    let db = raw(&uri, &database).await;
    if mongoose {
        insert_mongoose_documents(&db).await;
    }
    let app = TestApp::spawn_with(|s| s.storage.mongodb_uri = Some(uri)).await;
    (app, db)
}

/// 2023-10-01T09:06:40Z, as Mongoose stores dates.
fn mongoose_date() -> BsonDate {
    BsonDate::from_millis(1_696_151_200_000)
}

async fn insert_mongoose_documents(db: &mongodb::Database) -> ObjectId {
    let user_oid = ObjectId::new();
    let d = mongoose_date();
    db.collection::<Document>("users")
        .insert_one(doc! {
            "_id": user_oid, "userId": "legacy-1", "name": "Ana Gómez", "email": "ana@example.com",
            "address": { "city": "Bogotá", "country": "CO", "zipCode": "110111", "address": "Cra 7 # 71-21" },
            // Mongoose writes `Number` as a double.
            "phone": { "codeNumber": "+57", "phoneNumber": 3_104_156_262.0_f64 },
            "isActive": true, "createdAt": d, "updatedAt": d, "__v": 0_i32,
            "segment": "gold",
        })
        .await
        .expect("insert a Mongoose user");
    db.collection::<Document>("billings")
        .insert_many([
            doc! {
                "_id": ObjectId::new(), "userId": "legacy-1", "billingId": "bill-1696150000000",
                "generationDate": d, "dueDate": BsonDate::from_millis(1_697_360_800_000),
                "serviceId": "1", "totalInvoice": 125_000.0_f64, "isPaid": false, "paymentDate": Bson::Null,
                "phone": { "codeNumber": "+57", "phoneNumber": 3_104_156_262.0_f64 },
                "createdAt": d, "updatedAt": d, "__v": 0_i32, "notes": "first invoice",
            },
            doc! {
                "_id": ObjectId::new(), "userId": "legacy-1", "billingId": "000000042",
                "generationDate": BsonDate::from_millis(1_698_800_000_000),
                "dueDate": BsonDate::from_millis(1_700_000_000_000),
                "serviceId": "2", "totalInvoice": 99_000_i32, "isPaid": true,
                "paymentDate": BsonDate::from_millis(1_699_000_000_000),
                "phone": { "codeNumber": "+57", "phoneNumber": 3_104_156_262_i64 },
                "createdAt": BsonDate::from_millis(1_698_800_000_000),
                "updatedAt": BsonDate::from_millis(1_699_000_000_000), "__v": 0_i32,
            },
        ])
        .await
        .expect("insert Mongoose billings");
    db.collection::<Document>("counters")
        .insert_one(doc! { "_id": "billingId", "seq": 42.0_f64 })
        .await
        .expect("insert the Mongoose counter");
    user_oid
}

pub async fn raw_one(db: &mongodb::Database, collection: &str, filter: Document) -> Document {
    db.collection::<Document>(collection)
        .find_one(filter)
        .await
        .expect("find")
        .expect("the document exists")
}

/// `d` without the overdue sweep's mark, `overdueFor`: the one field the service adds to a
/// billing nobody changed (README, "MongoDB"), when the billing is unpaid past its due date.
pub fn without_overdue_mark(mut d: Document) -> Document {
    d.remove("overdueFor");
    d
}

fn element_type(d: &Document, path: &str) -> Option<mongodb::bson::spec::ElementType> {
    let mut current = d;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = current.get(part)?;
        if parts.peek().is_none() {
            return Some(value.element_type());
        }
        current = value.as_document()?;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_written_by_mongoose_read_correctly_through_the_api() {
    let (app, db) = spawn_on_mongodb(true).await;
    let user_oid = raw_one(&db, "users", doc! { "userId": "legacy-1" })
        .await
        .get_object_id("_id")
        .expect("an ObjectId");

    let user = app.get("/api/users/legacy-1").await;
    user.assert_status(StatusCode::OK);
    assert_eq!(user.body["_id"], user_oid.to_hex());
    assert_eq!(
        user.body["phone"],
        json!({ "codeNumber": "+57", "phoneNumber": 3_104_156_262_u64 })
    );
    assert_eq!(user.body["createdAt"], "2023-10-01T09:06:40.000Z");
    assert_eq!(user.body["address"]["city"], "Bogotá");
    app.get(&format!("/api/users/{}", user_oid.to_hex()))
        .await
        .assert_status(StatusCode::OK);

    let legacy = app.get("/api/billings/bill-1696150000000").await;
    legacy.assert_status(StatusCode::OK);
    assert_eq!(legacy.body["totalInvoice"], 125_000);
    assert_eq!(legacy.body["isPaid"], false);
    assert_eq!(legacy.body["paymentDate"], Value::Null);
    let paid = app.get("/api/billings/000000042").await;
    assert_eq!(paid.body["totalInvoice"], 99_000);
    assert_eq!(paid.body["isPaid"], true);
    assert!(paid.body["paymentDate"].is_string());

    let listed = app.get("/api/users/legacy-1/billings").await;
    let ids: Vec<&str> = listed
        .items()
        .iter()
        .filter_map(|b| b["billingId"].as_str())
        .collect();
    assert_eq!(ids, ["000000042", "bill-1696150000000"], "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_through_the_api_keep_fields_mongoose_wrote_that_we_do_not_know() {
    let (app, db) = spawn_on_mongodb(true).await;

    app.put(
        "/api/users/legacy-1",
        &json!({ "name": "Ana María", "address": { "city": "Cali" } }),
    )
    .await
    .assert_status(StatusCode::OK);
    let user = raw_one(&db, "users", doc! { "userId": "legacy-1" }).await;
    assert_eq!(user.get_str("name"), Ok("Ana María"));
    assert_eq!(
        user.get_document("address").and_then(|a| a.get_str("city")),
        Ok("Cali")
    );
    assert_eq!(
        user.get_document("address")
            .and_then(|a| a.get_str("zipCode")),
        Ok("110111")
    );
    assert_eq!(
        user.get_str("segment"),
        Ok("gold"),
        "an unknown field survives"
    );
    assert_eq!(user.get_i32("__v"), Ok(0));
    assert_eq!(
        element_type(&user, "updatedAt"),
        Some(mongodb::bson::spec::ElementType::DateTime)
    );
    assert!(user.get_datetime("updatedAt").expect("a date") > &mongoose_date());

    app.post_empty("/api/billings/bill-1696150000000/pay")
        .await
        .assert_status(StatusCode::OK);
    let billing = raw_one(&db, "billings", doc! { "billingId": "bill-1696150000000" }).await;
    assert_eq!(billing.get_bool("isPaid"), Ok(true));
    assert_eq!(
        element_type(&billing, "paymentDate"),
        Some(mongodb::bson::spec::ElementType::DateTime)
    );
    assert_eq!(billing.get_str("notes"), Ok("first invoice"));
    assert_eq!(
        billing.get_f64("totalInvoice"),
        Ok(125_000.0),
        "unchanged fields are not rewritten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_billings_continue_the_mongoose_sequence_and_are_written_as_mongoose_writes_them() {
    let (app, db) = spawn_on_mongodb(true).await;

    let created = app
        .post(
            "/api/billings",
            &json!({ "userId": "legacy-1", "dueDate": "2025-10-15", "serviceId": 3, "totalInvoice": "125000" }),
        )
        .await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(
        created.body["billingId"], "000000043",
        "the counter at 42.0 goes on"
    );

    let counter = raw_one(&db, "counters", doc! { "_id": "billingId" }).await;
    assert_eq!(
        counter
            .get("seq")
            .and_then(Bson::as_f64)
            .or_else(|| counter.get_i64("seq").ok().map(|v| v as f64))
            .or_else(|| counter.get_i32("seq").ok().map(f64::from)),
        Some(43.0)
    );

    let billing = raw_one(&db, "billings", doc! { "billingId": "000000043" }).await;
    use mongodb::bson::spec::ElementType::{
        Boolean, DateTime, Double, Int32, Null, ObjectId as Oid, String as Str,
    };
    for (path, expected) in [
        ("_id", Oid),
        ("userId", Str),
        ("billingId", Str),
        ("generationDate", DateTime),
        ("dueDate", DateTime),
        ("serviceId", Str),
        ("totalInvoice", Double),
        ("isPaid", Boolean),
        ("paymentDate", Null),
        ("phone.codeNumber", Str),
        ("phone.phoneNumber", Double),
        ("createdAt", DateTime),
        ("updatedAt", DateTime),
        ("__v", Int32),
    ] {
        assert_eq!(element_type(&billing, path), Some(expected), "{path}");
    }
    assert_eq!(billing.get_str("serviceId"), Ok("3"));
    assert_eq!(billing.get_f64("totalInvoice"), Ok(125_000.0));
    assert_eq!(billing.get_i32("__v"), Ok(0));
    assert_eq!(
        billing
            .get_datetime("dueDate")
            .map(|d| d.timestamp_millis()),
        Ok(1_760_486_400_000),
        "2025-10-15 is midnight UTC"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_created_through_the_api_is_a_document_mongoose_reads() {
    let (app, db) = spawn_on_mongodb(false).await;
    app.post(
        "/api/users",
        &json!({ "userId": "new-1", "name": "Carlos", "phone": { "phoneNumber": 3_157_894_561_u64 }, "address": { "city": "Cali" } }),
    )
    .await
    .assert_status(StatusCode::CREATED);
    let user = raw_one(&db, "users", doc! { "userId": "new-1" }).await;
    use mongodb::bson::spec::ElementType::{
        Boolean, DateTime, Double, Int32, ObjectId as Oid, String as Str,
    };
    for (path, expected) in [
        ("_id", Oid),
        ("userId", Str),
        ("name", Str),
        ("address.city", Str),
        ("phone.codeNumber", Str),
        ("phone.phoneNumber", Double),
        ("isActive", Boolean),
        ("createdAt", DateTime),
        ("updatedAt", DateTime),
        ("__v", Int32),
    ] {
        assert_eq!(element_type(&user, path), Some(expected), "{path}");
    }
    assert!(
        user.get("email").is_none(),
        "absent optional fields are not written as null"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexes_exist_once_the_service_has_started() {
    let (_app, db) = spawn_on_mongodb(false).await;
    let users: Vec<String> = db
        .collection::<Document>("users")
        .list_index_names()
        .await
        .expect("indexes");
    assert!(users.contains(&"userId_1".to_owned()), "{users:?}");
    let billings: Vec<String> = db
        .collection::<Document>("billings")
        .list_index_names()
        .await
        .expect("indexes");
    // Each list's sort with its `_id` tie-break: a user's billings, all billings.
    for index in [
        "billingId_1",
        "userId_1_generationDate_-1__id_-1",
        "generationDate_-1__id_-1",
        "dueDate_1",
    ] {
        assert!(
            billings.contains(&index.to_owned()),
            "{index} missing from {billings:?}"
        );
    }
    let unique = db
        .run_command(doc! { "listIndexes": "users" })
        .await
        .expect("listIndexes");
    let batch = unique
        .get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .expect("a first batch");
    assert!(batch.iter().any(|i| {
        i.as_document().is_some_and(|i| {
            i.get_str("name") == Ok("userId_1") && i.get_bool("unique") == Ok(true)
        })
    }));
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_mongodb_down_requests_get_503_and_the_service_recovers_when_it_returns() {
    let launcher = std::env::var("TEST_SECANTUSD")
        .expect("TEST_SECANTUSD is not set: run ./scripts/test.sh, which installs the server");
    let port = free_port();
    let uri = format!("mongodb://127.0.0.1:{port}/outage?directConnection=true&retryWrites=false");
    let app = TestApp::spawn_with(|s| {
        s.storage.mongodb_uri = Some(uri);
        s.storage.timeout_ms = 500;
    })
    .await;

    // The service started without its store; requests that need it fail fast, not hang.
    let started = Instant::now();
    let res = app
        .client
        .get(app.url("/api/users"))
        .send()
        .await
        .expect("answered");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.expect("a JSON error");
    assert_eq!(body["code"], "STORAGE_UNAVAILABLE");
    assert!(started.elapsed() < Duration::from_secs(10));
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("answered");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    app.get("/healthz").await.assert_status(StatusCode::OK);

    // MongoDB comes up: the service recovers by itself.
    let server = Server(
        Command::new(launcher)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--storage-path",
                ":memory:",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a MongoDB-wire server"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
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
        assert!(Instant::now() < deadline, "the service did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.post("/api/users", &json!({ "userId": "after-outage" }))
        .await
        .assert_status(StatusCode::CREATED);

    // And it goes down again: readiness follows, requests fail fast again.
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let res = app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("answered");
        if res.status() == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "readiness did not notice the outage"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let res = app
        .client
        .get(app.url("/api/users"))
        .send()
        .await
        .expect("answered");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}

/// The MongoDB driver's own tasks must outlive the runtime that started the service: requests
/// still in flight on the HTTP workers when that runtime stops used to panic inside the driver
/// (`cmap/connection_requester.rs`, a `SendError` unwrapped).
#[test]
fn requests_in_flight_when_the_starting_runtime_stops_do_not_panic_an_http_worker() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let worker_panics = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&worker_panics);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("actix-server worker"))
        {
            counted.fetch_add(1, Ordering::SeqCst);
        }
        previous(info);
    }));

    let service = tokio::runtime::Runtime::new().expect("a runtime for the service");
    let (uri, _) = fresh_mongodb_uri();
    let app = service.block_on(TestApp::spawn_with(|s| s.storage.mongodb_uri = Some(uri)));
    let address = app.address.clone();
    service.block_on(app.create_user_id("in-flight"));
    // Keep the service's handles from being stopped in order: the runtime just goes.
    std::mem::forget(app);

    let clients = tokio::runtime::Runtime::new().expect("a runtime for the clients");
    let requests = clients.spawn(async move {
        let client = reqwest::Client::new();
        let sends = (0..40).map(|_| {
            client
                .post(format!("{address}/api/billings"))
                .json(&crate::helpers::billing_body("in-flight"))
                .send()
        });
        futures_util::future::join_all(sends).await
    });
    std::thread::sleep(Duration::from_millis(300));
    service.shutdown_timeout(Duration::from_secs(1));
    // Whatever the answers (some done, some refused), the workers must not have panicked.
    let _ = clients.block_on(requests);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        worker_panics.load(Ordering::SeqCst),
        0,
        "an HTTP worker panicked"
    );
}
