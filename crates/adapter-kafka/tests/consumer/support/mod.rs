//! The harness: topics of their own on the test broker, a producer, the consumer under test
//! as a task, stores, and waiting for conditions with a deadline.

mod broker;
mod flaky;
mod messages;
mod stores;

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use broker::{
    DeadLetters, PARTITIONS, Producer, Running, Topic, consumer_settings, count, header,
};
pub use flaky::FlakyStore;
pub use messages::{Msg, Style};
pub use stores::{
    Snapshot, billing_ids, memory_service, mongo_store, sqlite_service, sqlite_store, ts,
    with_store,
};

/// How long a condition may take to come true. A safety net, not a claim about speed.
const DEADLINE: Duration = Duration::from_secs(30);
const POLL_EVERY: Duration = Duration::from_millis(50);

/// The broker the tests talk to.
pub fn brokers() -> String {
    std::env::var("TEST_KAFKA_BROKERS")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "TEST_KAFKA_BROKERS is not set: these tests need the Kafka-wire test broker; \
                 run ./scripts/test.sh (or `source scripts/test-services.sh && \
                 start_test_services` first)"
            )
        })
}

/// A name no other test (nor an earlier run against the same broker) uses.
pub fn unique(label: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{label}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The consumer's log, captured per test (shown when a test fails). `RUST_LOG` overrides.
pub fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("adapter_kafka=info,warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// Polls `check` every 50 ms until it returns `Ok`, for up to 30 s; then fails with `what` and
/// the last state `check` described.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(state) if tokio::time::Instant::now() >= deadline => {
                panic!("timed out after {DEADLINE:?} waiting for {what}; last seen: {state}")
            }
            Err(_) => tokio::time::sleep(POLL_EVERY).await,
        }
    }
}
