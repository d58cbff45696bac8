//! Secrets given to the service (a password in `MONGODB_URI`, the SASL password, API tokens)
//! never appear in its logs or in its error bodies, even at debug level.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::deploy::root;

const MONGO_PASSWORD: &str = "S3cr3t-Mongo-Pass";
const KAFKA_PASSWORD: &str = "S3cr3t-Kafka-Pass";
const API_TOKEN: &str = "S3cr3t-Api-Token-1";

struct Service(Child);

impl Drop for Service {
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

/// A plain HTTP/1.1 request over a socket; returns the whole answer.
fn http(port: u16, request: &str) -> String {
    use std::io::Write;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.write_all(request.as_bytes());
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

fn get(port: u16, path: &str, token: &str) -> String {
    http(
        port,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    )
}

#[test]
fn secrets_never_appear_in_logs_or_error_bodies() {
    let port = free_port();
    let closed = free_port();
    let log = tempfile_path("secrets.log");
    let out = std::fs::File::create(&log).expect("a log file");
    let service = Service(
        Command::new(env!("CARGO_BIN_EXE_billing"))
            .current_dir(root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .env("BIND_ADDRESS", "127.0.0.1")
            .env(
                "MONGODB_URI",
                format!(
                    "mongodb://billing:{MONGO_PASSWORD}@127.0.0.1:{closed}/db?directConnection=true"
                ),
            )
            .env("STORAGE_TIMEOUT_MS", "300")
            .env("KAFKA_BROKERS", format!("127.0.0.1:{closed}"))
            .env("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext")
            .env("KAFKA_SASL_MECHANISM", "PLAIN")
            .env("KAFKA_SASL_USERNAME", "billing")
            .env("KAFKA_SASL_PASSWORD", KAFKA_PASSWORD)
            .env("API_TOKENS", format!("{API_TOKEN}:write"))
            .env("RUST_LOG", "debug")
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::from(out.try_clone().expect("a second handle")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start the service"),
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    while !http(
        port,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .contains("200 OK")
    {
        assert!(
            Instant::now() < deadline,
            "the service did not start: {}",
            read(&log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut bodies = String::new();
    // Storage is down: the error path, with the URI's client in play.
    bodies.push_str(&get(port, "/api/users", API_TOKEN));
    bodies.push_str(&get(port, "/api/billings/000000001", API_TOKEN));
    bodies.push_str(&get(port, "/api/users", "wrong-token-123"));
    bodies.push_str(&get(port, "/readyz", API_TOKEN));
    assert!(bodies.contains("STORAGE_UNAVAILABLE"), "{bodies}");
    assert!(bodies.contains("UNAUTHORIZED"), "{bodies}");
    // Let the consumer fail to reach its broker at least once, so that path is logged too.
    while !read(&log).contains("kafka brokers unreachable") {
        assert!(
            Instant::now() < deadline,
            "the consumer never tried: {}",
            read(&log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(service);

    let logs = read(&log);
    assert!(
        logs.contains("request"),
        "the service logged requests: {logs}"
    );
    for secret in [MONGO_PASSWORD, KAFKA_PASSWORD, API_TOKEN] {
        assert!(!logs.contains(secret), "{secret} is in the logs:\n{logs}");
        assert!(
            !bodies.contains(secret),
            "{secret} is in a response:\n{bodies}"
        );
    }
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("billing-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir.join(name)
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
