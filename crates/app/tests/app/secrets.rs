//! Secrets given to the service (a password in `MONGODB_URI`, the SASL password, API tokens)
//! never appear in its logs or in its error bodies, even at debug level.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::deploy::root;
use crate::support::{Service, free_port, http, read, wait_until_healthy};

const MONGO_PASSWORD: &str = "S3cr3t-Mongo-Pass";
const KAFKA_PASSWORD: &str = "S3cr3t-Kafka-Pass";
const API_TOKEN: &str = "S3cr3t-Api-Token-1";

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

    wait_until_healthy(port, || read(&log));
    let deadline = Instant::now() + Duration::from_secs(30);
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
