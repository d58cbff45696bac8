//! Requests the HTTP library refuses before any route runs (it cannot parse them, their head is
//! too large or too slow): still answered with the documented JSON error, over a raw socket,
//! since no HTTP client sends such bytes.

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

/// One answer read off the wire: the server closes the connection after each of these.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn exchange(app: &TestApp, request: &[u8]) -> Answer {
    let addr = app.address.trim_start_matches("http://");
    let mut socket = TcpStream::connect(addr).await.expect("connected");
    // The server may answer (and close) before it has read everything: a write error then is
    // not the test's concern, the answer is.
    let _ = socket.write_all(request).await;
    let mut raw = Vec::new();
    socket.read_to_end(&mut raw).await.expect("an answer");
    let text = String::from_utf8(raw).expect("an HTTP/1.1 answer is text here");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("a JSON body ({e}): {text}"));
    Answer {
        status,
        headers,
        body,
    }
}

fn assert_error(answer: &Answer, status: StatusCode, code: &str, what: &str) {
    assert_eq!(answer.status, status.as_u16(), "{what}: {:?}", answer.body);
    assert_eq!(answer.body["code"], code, "{what}");
    assert!(
        answer.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: a sentence for people: {:?}",
        answer.body
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{what}"
    );
    assert!(
        answer
            .header("x-request-id")
            .is_some_and(|id| !id.is_empty()),
        "{what}: a request id to quote"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_http_layer_cannot_read_is_a_400_malformed_request_in_json_and_writes_nothing()
 {
    let app = TestApp::spawn().await;
    let head = |extra: &str| {
        format!(
            "POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}\r\n{{\"userId\":\"wire\"}}"
        )
        .into_bytes()
    };
    let long_path = format!(
        "GET /api/users/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(100_000)
    );
    let cases: [(&str, Vec<u8>); 6] = [
        // The library reads a request line past its buffer as broken, not as too long.
        ("a 100 KB path", long_path.into_bytes()),
        ("a negative Content-Length", head("Content-Length: -5\r\n")),
        (
            "a Content-Length past 2^64",
            head("Content-Length: 18446744073709551616\r\n"),
        ),
        (
            "two different Content-Lengths",
            head("Content-Length: 17\r\nContent-Length: 3\r\n"),
        ),
        (
            "a NUL in a header",
            head("X-A: a\0b\r\nContent-Length: 17\r\n"),
        ),
        ("no request line", b"\x01\x02\x03 nonsense\r\n\r\n".to_vec()),
    ];
    for (what, request) in cases {
        let answer = exchange(&app, &request).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST", what);
    }
    app.get("/api/users/wire")
        .await
        .assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_past_the_limit_is_a_431_headers_too_large_in_json() {
    let app = TestApp::spawn().await;
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..100)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect::<String>()
    );
    let answer = exchange(&app, many_headers.as_bytes()).await;
    assert_error(
        &answer,
        StatusCode::from_u16(431).unwrap(),
        "HEADERS_TOO_LARGE",
        "100 headers",
    );
    app.get("/healthz").await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_never_ends_is_a_408_request_head_timeout_in_json() {
    let app = TestApp::spawn().await;
    // The head is never finished: the server gives up on it after its own timeout, answers and
    // closes, which is what ends the read.
    let answer = exchange(&app, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
    assert_error(
        &answer,
        StatusCode::REQUEST_TIMEOUT,
        "REQUEST_HEAD_TIMEOUT",
        "an unfinished head",
    );
}
