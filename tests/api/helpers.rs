//! The harness: a whole service on a free port over a fresh database file, a client, and small
//! helpers to make requests and check their answers.

use std::future::Future;
use std::pin::Pin;

use app::settings::{HttpSettings, StorageSettings};
use app::{Application, Settings};
use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinHandle;

type StopFn = Box<dyn FnOnce(bool) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A server started by [`TestApp`]: how to stop it, and the task serving it.
struct Running {
    stop: StopFn,
    task: JoinHandle<std::io::Result<()>>,
}

/// One service, on its own database file, for one test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub address: String,
    pub client: Client,
    settings: Settings,
    running: Option<Running>,
    /// Keeps the database directory alive as long as the app.
    _dir: TempDir,
}

fn new_client() -> Client {
    Client::builder()
        // A safety net against a hung server, not an assertion about speed: a busy machine
        // running the Python MongoDB-wire server serialises hundreds of conflicting creations
        // slowly, and that must not fail a test about what they create.
        .timeout(std::time::Duration::from_secs(900))
        .build()
        .expect("the HTTP client builds")
}

async fn start(settings: &Settings) -> (String, Running) {
    let mut app = Application::build(settings)
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    // The service's own ordered stop: the consumer (when there is one) first, then HTTP.
    let stopper = app.stopper();
    let stop: StopFn = Box::new(move |graceful| Box::pin(stopper.stop(graceful)));
    let task = tokio::spawn(app.run_until_stopped());
    (address, Running { stop, task })
}

/// `SYSTEM_TESTS_STORE=mongodb` runs the suite on MongoDB (`TEST_MONGODB_URI`, a fresh
/// database per test) instead of the embedded store: every endpoint must behave the same.
fn mongodb_uri() -> Option<String> {
    match std::env::var("SYSTEM_TESTS_STORE").as_deref() {
        Ok("mongodb") => {}
        Ok("sqlite") | Err(_) => return None,
        Ok(other) => panic!("SYSTEM_TESTS_STORE={other}: expected sqlite or mongodb"),
    }
    Some(fresh_mongodb_uri().0)
}

/// Whether the store under test keeps dates in the year 0000. MongoDB does (a BSON date is any
/// 64-bit count of milliseconds), but the MongoDB-wire test server decodes dates into Python's
/// `datetime`, which starts at year 1, and refuses the whole command: on it, the year-0000 cases
/// are left to the embedded store and to the domain's tests.
pub fn stores_year_zero() -> bool {
    std::env::var("SYSTEM_TESTS_STORE").as_deref() != Ok("mongodb")
}

/// A URI of the test MongoDB server on a database no other test uses, and that database's name.
pub fn fresh_mongodb_uri() -> (String, String) {
    let uri = std::env::var("TEST_MONGODB_URI").expect(
        "TEST_MONGODB_URI is not set: run ./scripts/test.sh, which starts a MongoDB-wire server",
    );
    let database = format!("system_{}", uuid_like());
    let (base, query) = uri.split_once('?').unwrap_or((&uri, ""));
    (
        format!("{}/{database}?{query}", base.trim_end_matches('/')),
        database,
    )
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestApp {
    /// A fresh service on a fresh, empty database.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], with settings adjusted by `adjust` (a MongoDB URI, say).
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let defaults = Settings::default();
        let mut settings = Settings {
            http: HttpSettings {
                port: 0,
                bind_address: "127.0.0.1".to_owned(),
                workers: 2,
                // The Python MongoDB-wire test server serialises conflicting transactions
                // slowly; the suite checks behaviour, not speed, so the timeout must not be what
                // fails.
                request_timeout_seconds: 600,
                ..defaults.http.clone()
            },
            storage: StorageSettings {
                database_path: dir.path().join("billing.db"),
                mongodb_uri: mongodb_uri(),
                ..defaults.storage.clone()
            },
            ..defaults
        };
        adjust(&mut settings);
        let (address, running) = start(&settings).await;
        Self {
            address,
            client: new_client(),
            settings,
            running: Some(running),
            _dir: dir,
        }
    }

    /// Stops the service gracefully and waits until it has stopped.
    pub async fn stop(&mut self) {
        // Dropping the client closes its idle keep-alive connections, so the graceful stop
        // has nothing to wait for.
        self.client = new_client();
        if let Some(running) = self.running.take() {
            (running.stop)(true).await;
            running
                .task
                .await
                .expect("the server task does not panic")
                .expect("the server stops cleanly");
        }
    }

    /// Stops the service gracefully and starts a new one on the same database file.
    pub async fn restart(&mut self) {
        self.restart_with(|_| {}).await;
    }

    /// Stops the service and starts a new one on the same database, with settings adjusted
    /// by `adjust`.
    pub async fn restart_with(&mut self, adjust: impl FnOnce(&mut Settings)) {
        self.stop().await;
        adjust(&mut self.settings);
        let (address, running) = start(&self.settings).await;
        self.address = address;
        self.running = Some(running);
    }

    /// The settings it runs with (a second instance on the same store copies `storage`).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends a request; `body` is sent as is, with `Content-Type: application/json`.
    ///
    /// The request is built at once, so the future borrows nothing and may run concurrently
    /// with others (or be spawned).
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> impl Future<Output = Resp> + Send + use<> {
        let mut req = self.client.request(method, self.url(path));
        if let Some(body) = body {
            req = req.header(CONTENT_TYPE, "application/json").body(body);
        }
        async move { Resp::read(req.send().await.expect("the request is answered")).await }
    }

    pub fn get(&self, path: &str) -> impl Future<Output = Resp> + Send + use<> {
        self.send(Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> impl Future<Output = Resp> + Send + use<> {
        self.send(Method::POST, path, Some(body.to_string().into_bytes()))
    }

    pub fn post_empty(&self, path: &str) -> impl Future<Output = Resp> + Send + use<> {
        self.send(Method::POST, path, None)
    }

    pub fn put(&self, path: &str, body: &Value) -> impl Future<Output = Resp> + Send + use<> {
        self.send(Method::PUT, path, Some(body.to_string().into_bytes()))
    }

    pub fn delete(&self, path: &str) -> impl Future<Output = Resp> + Send + use<> {
        self.send(Method::DELETE, path, None)
    }

    /// Creates a user from `body`, asserting 201.
    pub fn create_user(&self, body: Value) -> impl Future<Output = Value> + Send + use<> {
        let res = self.post("/api/users", &body);
        async move {
            let res = res.await;
            res.assert_status(StatusCode::CREATED);
            res.body
        }
    }

    /// Creates an active user with this `userId`, a name and a phone.
    pub fn create_user_id(&self, user_id: &str) -> impl Future<Output = Value> + Send + use<> {
        self.create_user(json!({
            "userId": user_id,
            "name": format!("User {user_id}"),
            "phone": { "codeNumber": "+57", "phoneNumber": 3_104_156_262_u64 },
        }))
    }

    /// Creates a billing from `body`, asserting 201.
    pub fn create_billing_with(&self, body: Value) -> impl Future<Output = Value> + Send + use<> {
        let res = self.post("/api/billings", &body);
        async move {
            let res = res.await;
            res.assert_status(StatusCode::CREATED);
            res.body
        }
    }

    /// Creates an unpaid billing for `user_id`, asserting 201.
    pub fn create_billing(&self, user_id: &str) -> impl Future<Output = Value> + Send + use<> {
        self.create_billing_with(billing_body(user_id))
    }

    /// Every item of a list, following `Link: rel="next"` from `path` to the end.
    pub async fn walk(&self, path: &str) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut next = Some(path.to_owned());
        while let Some(path) = next {
            let res = self.get(&path).await;
            res.assert_status(StatusCode::OK);
            pages += 1;
            assert!(pages <= 10_000, "the next links never end");
            items.extend(res.items().iter().cloned());
            next = res.next_link();
        }
        (items, pages)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            // `stop` sends the command at once; the completion is not awaited here.
            drop((running.stop)(false));
        }
    }
}

/// A valid body for `POST /api/billings`.
pub fn billing_body(user_id: &str) -> Value {
    json!({
        "userId": user_id,
        "dueDate": "2025-10-15",
        "serviceId": "svc-1",
        "totalInvoice": 125_000,
    })
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON; `Null` when it is not JSON.
    pub body: Value,
}

impl Resp {
    pub async fn read(res: reqwest::Response) -> Self {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("the body is readable");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        // Only a real storage failure may produce a 5xx, and this suite causes none.
        assert!(
            !status.is_server_error(),
            "no request of this suite is answered with a 5xx: {status} {text}"
        );
        Self {
            status,
            headers,
            text,
            body,
        }
    }

    pub fn assert_status(&self, status: StatusCode) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("a readable header"))
    }

    /// The body of a list answer.
    pub fn items(&self) -> &Vec<Value> {
        self.body
            .as_array()
            .unwrap_or_else(|| panic!("a list answer is a JSON array: {}", self.text))
    }

    /// The target of `Link: <...>; rel="next"`, as a path with its query.
    pub fn next_link(&self) -> Option<String> {
        let link = self.header("link")?;
        let next = link
            .split(',')
            .find(|part| part.contains("rel=\"next\""))
            .unwrap_or_else(|| panic!("a Link header without rel=\"next\": {link}"));
        let start = next.find('<').expect("a Link target starts with <") + 1;
        let end = next.find('>').expect("a Link target ends with >");
        let target = &next[start..end];
        Some(match target.strip_prefix("http") {
            // An absolute link: keep the path and query.
            Some(_) => {
                let after_scheme = &target[target.find("://").expect("a scheme") + 3..];
                after_scheme[after_scheme.find('/').unwrap_or(after_scheme.len())..].to_owned()
            }
            None => target.to_owned(),
        })
    }

    /// Asserts an error answer: the status, `{"error": "<sentence>", "code": code}`, and every
    /// entry of `details` (when present) having a `field` and a `message`.
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        self.assert_status(status);
        assert!(
            self.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "an error is JSON: {:?}",
            self.headers
        );
        let error = self.body["error"].as_str();
        assert!(
            error.is_some_and(|e| !e.trim().is_empty()),
            "an error body has an `error` sentence: {}",
            self.text
        );
        assert_eq!(
            self.body["code"].as_str(),
            Some(code),
            "error code; body: {}",
            self.text
        );
        if let Some(details) = self.body.get("details") {
            let details = details.as_array().expect("`details` is an array");
            for d in details {
                assert!(d["field"].is_string(), "a detail names a field: {d}");
                assert!(d["message"].is_string(), "a detail has a message: {d}");
            }
        }
    }

    /// Asserts an error answer whose `details` name `field`.
    pub fn assert_field_error(&self, status: StatusCode, code: &str, field: &str) {
        self.assert_error(status, code);
        assert!(
            self.fields().iter().any(|f| f == field),
            "the error names `{field}`; body: {}",
            self.text
        );
    }

    /// The fields named in `details`.
    pub fn fields(&self) -> Vec<String> {
        self.body["details"]
            .as_array()
            .map(|ds| {
                ds.iter()
                    .filter_map(|d| d["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A date as the API writes it: RFC 3339, UTC (`Z`), milliseconds.
pub fn timestamp(v: &Value) -> DateTime<Utc> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("a date is a string: {v}"));
    assert!(
        s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.',
        "a date is written like 2025-10-01T09:15:00.000Z, not {s}"
    );
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// `key` of every item, in order.
pub fn field_of(items: &[Value], key: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            i[key]
                .as_str()
                .unwrap_or_else(|| panic!("`{key}` is a string in {i}"))
                .to_owned()
        })
        .collect()
}

/// A billingId from the sequence.
pub fn seq(n: u64) -> String {
    format!("{n:09}")
}

/// Asserts that `isPaid` and `paymentDate` agree.
pub fn assert_payment_consistent(billing: &Value) {
    let paid = billing["isPaid"].as_bool().expect("isPaid is a boolean");
    if paid {
        timestamp(&billing["paymentDate"]);
    } else {
        assert!(
            billing["paymentDate"].is_null(),
            "an unpaid billing has no paymentDate: {billing}"
        );
    }
}

/// The query parameters of a path, percent-decoded.
pub fn query_params(path_and_query: &str) -> Vec<(String, String)> {
    let Some((_, query)) = path_and_query.split_once('?') else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
                out.push(u8::from_str_radix(hex, 16).expect("a percent escape"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8")
}
