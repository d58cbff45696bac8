//! The operational surface over real sockets, on the in-memory store: auth, request ids,
//! metrics, readiness, timeouts, CORS, and the OpenAPI document covering every route.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use adapter_http::{ApiToken, HttpOptions, Probes};
use adapter_memory::{FixedClock, MemoryStore, SequentialIds};
use billing_domain::BillingService;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use telemetry::Telemetry;

struct Server {
    base: String,
    client: Client,
    handle: actix_web::dev::ServerHandle,
}

impl Server {
    async fn start(options: HttpOptions, probes: Probes) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let service = Arc::new(BillingService::new(
            MemoryStore::default(),
            Arc::new(FixedClock::default()),
            Arc::new(SequentialIds::default()),
        ));
        let server = adapter_http::server(
            listener,
            service,
            HttpOptions {
                workers: 1,
                ..options
            },
            probes,
            Telemetry::default(),
        )
        .expect("server");
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base,
            client: Client::new(),
            handle,
        }
    }

    async fn open() -> Self {
        Self::start(HttpOptions::default(), Probes::default()).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn tokens() -> HttpOptions {
    HttpOptions {
        tokens: ApiToken::parse_list("reader-token-1:read,writer-token-1:write").expect("tokens"),
        ..HttpOptions::default()
    }
}

async fn code(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    let body: Value = res.json().await.expect("a JSON error body");
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn with_api_tokens_the_api_needs_a_bearer_token_of_the_right_scope() {
    let s = Server::start(tokens(), Probes::default()).await;
    let user = json!({ "userId": "auth-1" });
    let post = |token: Option<&str>| {
        let mut req = s.client.post(s.url("/api/users")).json(&user);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(
        code(post(None).await.expect("send")).await,
        (StatusCode::UNAUTHORIZED, "UNAUTHORIZED".into())
    );
    assert_eq!(
        code(post(Some("not-a-token")).await.expect("send")).await,
        (StatusCode::UNAUTHORIZED, "UNAUTHORIZED".into())
    );
    assert_eq!(
        code(post(Some("reader-token-1")).await.expect("send")).await,
        (StatusCode::FORBIDDEN, "FORBIDDEN".into())
    );
    // Refused requests wrote nothing.
    let list = s
        .client
        .get(s.url("/api/users"))
        .bearer_auth("reader-token-1")
        .send()
        .await
        .expect("GET");
    assert_eq!(list.status(), StatusCode::OK);
    assert_eq!(list.json::<Value>().await.expect("json"), json!([]));
    assert_eq!(
        post(Some("writer-token-1")).await.expect("send").status(),
        StatusCode::CREATED
    );
    let list = s
        .client
        .get(s.url("/api/users"))
        .bearer_auth("writer-token-1")
        .send()
        .await
        .expect("GET");
    assert_eq!(
        list.json::<Value>()
            .await
            .expect("json")
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn no_spelling_of_an_api_path_gets_past_the_token_check() {
    let s = Server::start(tokens(), Probes::default()).await;
    for path in [
        "//api/users",
        "/%61pi/users",
        "/api//users",
        "/api/users/",
        "/API/users",
    ] {
        let res = s.client.get(s.url(path)).send().await.expect("GET");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let res = s
        .client
        .delete(s.url("//api/users/someone"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn health_readiness_metrics_spec_and_docs_stay_open_with_api_tokens() {
    let s = Server::start(tokens(), Probes::default()).await;
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/",
    ] {
        assert_eq!(s.get(path).await.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn an_incoming_request_id_is_kept_and_a_missing_one_is_generated() {
    let s = Server::open().await;
    let res = s
        .client
        .get(s.url("/api/users"))
        .header("X-Request-Id", "req-42")
        .send()
        .await
        .expect("GET");
    assert_eq!(res.headers()["x-request-id"], "req-42");
    let res = s.get("/api/users/nobody").await;
    let generated = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    assert_ne!(
        s.get("/api/users").await.headers()["x-request-id"]
            .to_str()
            .expect("ascii"),
        generated
    );
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn request_metrics_count_requests_by_route_and_status() {
    let s = Server::open().await;
    let series = r#"http_requests_total{method="GET",route="/api/users/{id}",status="404"}"#;
    let before = metric(&s.get("/metrics").await.text().await.expect("text"), series);
    for _ in 0..3 {
        assert_eq!(
            s.get("/api/users/nobody").await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let text = s.get("/metrics").await.text().await.expect("text");
    assert_eq!(metric(&text, series), before + 3, "{text}");
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    assert!(
        text.contains(
            r#"http_request_duration_seconds_count{method="GET",route="/api/users/{id}"} 3"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn readiness_follows_the_storage_probe_down_and_back() {
    let up = Arc::new(AtomicBool::new(true));
    let probe = Arc::clone(&up);
    let probes = Probes {
        storage: Arc::new(move || {
            let up = probe.load(Ordering::SeqCst);
            Box::pin(async move {
                if up {
                    Ok(())
                } else {
                    Err("the test says so".to_owned())
                }
            })
        }),
        consumer: Arc::new(|| "running"),
    };
    let s = Server::start(HttpOptions::default(), probes).await;
    let ready = s.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<Value>().await.expect("json"),
        json!({ "status": "ready", "storage": "ok", "consumer": "running" })
    );
    up.store(false, Ordering::SeqCst);
    let down = s.get("/readyz").await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let down = down.json::<Value>().await.expect("json");
    assert_eq!(down["storage"], "unreachable");
    assert_eq!(down["reason"], "the test says so");
    assert_eq!(
        s.get("/healthz").await.status(),
        StatusCode::OK,
        "alive while not ready"
    );
    up.store(true, Ordering::SeqCst);
    assert_eq!(s.get("/readyz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_gets_503_request_timeout() {
    let probes = Probes {
        storage: Arc::new(|| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
        }),
        ..Probes::default()
    };
    let options = HttpOptions {
        request_timeout: Duration::from_millis(200),
        ..HttpOptions::default()
    };
    let s = Server::start(options, probes).await;
    assert_eq!(
        code(s.get("/readyz").await).await,
        (StatusCode::SERVICE_UNAVAILABLE, "REQUEST_TIMEOUT".into())
    );
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    let options = HttpOptions {
        cors_origins: vec!["https://portal.example.com".to_owned()],
        ..HttpOptions::default()
    };
    let s = Server::start(options, Probes::default()).await;
    let preflight = |origin: &str| {
        s.client
            .request(reqwest::Method::OPTIONS, s.url("/api/users"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    let ok = preflight("https://portal.example.com")
        .await
        .expect("OPTIONS");
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://portal.example.com"
    );
    let other = preflight("https://evil.example.com")
        .await
        .expect("OPTIONS");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

fn spec_operations(doc: &Value) -> Vec<(String, String)> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn the_openapi_document_covers_every_route_of_the_service() {
    let s = Server::open().await;
    let doc: Value = s.get("/openapi.json").await.json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = spec_operations(&doc);
    // Every route the issue names is described...
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/api/users"),
        ("POST", "/api/users"),
        ("GET", "/api/users/{id}"),
        ("PUT", "/api/users/{id}"),
        ("DELETE", "/api/users/{id}"),
        ("GET", "/api/users/{id}/billings"),
        ("GET", "/api/billings"),
        ("POST", "/api/billings"),
        ("GET", "/api/billings/{billingId}"),
        ("PUT", "/api/billings/{billingId}"),
        ("DELETE", "/api/billings/{billingId}"),
        ("POST", "/api/billings/{billingId}/pay"),
        ("GET", "/api/billings/user/{userId}"),
        ("POST", "/api/events"),
    ] {
        assert!(
            ops.contains(&(method.to_owned(), path.to_owned())),
            "{method} {path} is not in the spec"
        );
    }
    // ...and every described operation is served: the router neither misses it (404 for an
    // unknown route) nor refuses its method (405).
    for (method, path) in &ops {
        let concrete = path
            .replace("{id}", "someone")
            .replace("{billingId}", "000000001")
            .replace("{userId}", "someone")
            .replace("{file}", "swagger-ui.css");
        let res = s
            .client
            .request(method.parse().expect("method"), s.url(&concrete))
            .json(&json!({}))
            .send()
            .await
            .expect("send");
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !body.contains("\"NOT_FOUND\""),
            "{method} {path} is not routed: {body}"
        );
        let described = &doc["paths"][path][method.to_lowercase()]["responses"];
        assert!(
            described.get(status.as_u16().to_string()).is_some(),
            "{method} {path} answered {status}, which the spec does not list"
        );
    }
    for schema in ["User", "Billing", "NewUser", "NewBilling", "Error", "Event"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

#[tokio::test]
async fn a_known_route_with_another_method_is_405_and_an_unknown_route_404() {
    let s = Server::open().await;
    let res = s
        .client
        .patch(s.url("/api/users"))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(
        code(res).await,
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED".into())
    );
    assert_eq!(
        code(s.get("/api/nothing").await).await,
        (StatusCode::NOT_FOUND, "NOT_FOUND".into())
    );
}

#[tokio::test]
async fn event_metrics_count_events_by_type_and_outcome() {
    let s = Server::open().await;
    let series = r#"billing_events_total{source="http",type="Customer.Created",outcome="applied"}"#;
    let duplicate =
        r#"billing_events_total{source="http",type="Customer.Created",outcome="duplicate"}"#;
    let event = json!({ "type": "Customer.Created", "payload": { "userId": "metrics-1" } });
    for _ in 0..2 {
        let res = s
            .client
            .post(s.url("/api/events"))
            .json(&event)
            .send()
            .await
            .expect("POST");
        assert_eq!(res.status(), StatusCode::OK);
    }
    let text = s.get("/metrics").await.text().await.expect("text");
    assert_eq!(metric(&text, series), 1, "{text}");
    assert_eq!(metric(&text, duplicate), 1, "{text}");
}

#[test]
fn the_readme_error_table_is_the_code_table_row_for_row() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("| code | status | when |")
        .expect("the README has the error table");
    let rows: Vec<&str> = readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    let expected: Vec<String> = adapter_http::ErrorCode::ALL
        .iter()
        .map(|c| {
            format!(
                "| `{}` | {} | {} |",
                c.as_str(),
                c.status().as_u16(),
                c.meaning()
            )
        })
        .collect();
    assert_eq!(rows, expected);
}
