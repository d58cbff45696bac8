//! The state the consumer reports (readiness shows it): what it is doing, not a guess.

use adapter_kafka::ConsumerState;

use crate::support::{PARTITIONS, Running, Topic, consumer_settings, memory_service, unique};

/// The address of a port nothing listens on.
fn dead_broker() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("its address");
    drop(listener);
    address.to_string()
}

#[tokio::test]
async fn a_consumer_says_connecting_then_joining_then_running_once_the_group_assigns_its_partitions()
 {
    let topic = Topic::create("states").await;
    let consumer = Running::start(&memory_service(), topic.settings(&unique("states")));

    let seen = consumer
        .states_until("the consumer to run its assigned partitions", |s| {
            s.state() == ConsumerState::Running && !s.partitions().is_empty()
        })
        .await;
    // Connecting lasts one metadata round trip, too short to be sure to see; joining lasts
    // the group's join (seconds on the test broker).
    let expected: &[&[ConsumerState]] = &[
        &[ConsumerState::Joining, ConsumerState::Running],
        &[
            ConsumerState::Connecting,
            ConsumerState::Joining,
            ConsumerState::Running,
        ],
    ];
    assert!(expected.contains(&seen.as_slice()), "states seen: {seen:?}");
    let mut partitions = consumer.status.partitions();
    partitions.sort_unstable();
    assert_eq!(
        partitions,
        (0..PARTITIONS).collect::<Vec<_>>(),
        "the group's only member has every partition"
    );
    assert_eq!(consumer.status.assignments(), 1, "{}", consumer.describe());
    let status = consumer.stop().await;
    assert!(status.partitions().is_empty(), "{:?}", status.partitions());
}

#[tokio::test]
async fn a_consumer_whose_brokers_never_answer_says_connecting_then_degraded() {
    let mut settings = consumer_settings(dead_broker(), "customers", &unique("dead-broker"));
    settings.max_retries = 2;
    let consumer = Running::start(&memory_service(), settings);

    let seen = consumer
        .states_until("the consumer to say degraded", |s| {
            s.state() == ConsumerState::Degraded
        })
        .await;
    assert_eq!(
        seen,
        [ConsumerState::Connecting, ConsumerState::Degraded],
        "connecting while fewer than KAFKA_MAX_RETRIES attempts failed, then degraded"
    );
    assert!(
        consumer.is_alive(),
        "it keeps trying: {}",
        consumer.describe()
    );
    assert_eq!(consumer.status.assignments(), 0);
    consumer.stop().await;
}
