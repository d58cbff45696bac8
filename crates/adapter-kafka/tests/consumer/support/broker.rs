//! The broker side: topics, a producer, the consumer under test, and a dead-letter reader.

use std::sync::Arc;
use std::time::Duration;

use adapter_kafka::{AutoOffsetReset, Batching, ConsumerState, ConsumerStatus, KafkaSettings};
use billing_domain::{BillingService, Repository};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Msg, brokers, eventually, init_logs, unique};

/// What the broker gives a topic it creates on first produce.
pub const PARTITIONS: i32 = 4;

/// The group timeouts the test broker needs (see `shared/test-services.md`).
const SESSION_TIMEOUT_MS: u32 = 6_000;
const MAX_POLL_INTERVAL_MS: u32 = 7_000;
const HEARTBEAT_INTERVAL_MS: u32 = 1_000;

/// A consumer of `topic` at `brokers` in `group`, with the short group timeouts the test broker
/// needs and the default batching.
pub fn consumer_settings(brokers: String, topic: &str, group: &str) -> KafkaSettings {
    KafkaSettings {
        brokers,
        topic: topic.to_owned(),
        group_id: group.to_owned(),
        client_id: "billing-consumer-tests".to_owned(),
        dlq_topic: None,
        billing_events_topic: "billing-events".to_owned(),
        max_retries: 5,
        security_protocol: None,
        sasl_mechanism: None,
        sasl_username: None,
        sasl_password: None,
        ssl_ca_location: None,
        session_timeout_ms: SESSION_TIMEOUT_MS,
        max_poll_interval_ms: MAX_POLL_INTERVAL_MS,
        heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS,
        auto_offset_reset: AutoOffsetReset::Earliest,
        batching: Batching::default(),
    }
}

/// A topic and its dead-letter topic, both new, for one test.
#[derive(Debug)]
pub struct Topic {
    pub name: String,
    pub dlq: String,
}

async fn partition_count(topic: &str) -> Result<usize, String> {
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .create()
            .map_err(|e| format!("metadata client: {e}"))?;
        let metadata = client
            .fetch_metadata(Some(&topic), Duration::from_secs(5))
            .map_err(|e| format!("metadata of {topic}: {e}"))?;
        match metadata.topics().first() {
            Some(t) if t.error().is_none() => Ok(t.partitions().len()),
            Some(t) => Err(format!("metadata of {topic}: {:?}", t.error())),
            None => Err(format!("no metadata for {topic}")),
        }
    })
    .await
    .map_err(|e| format!("metadata task: {e}"))?
}

impl Topic {
    /// Creates `<label>-<unique>` and `<that>.dlq` with four partitions each, and waits until
    /// the broker lists them.
    pub async fn create(label: &str) -> Self {
        init_logs();
        let name = unique(label);
        let dlq = format!("{name}.dlq");
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .create()
            .expect("an admin client");
        let topics = [
            NewTopic::new(&name, PARTITIONS, TopicReplication::Fixed(1)),
            NewTopic::new(&dlq, PARTITIONS, TopicReplication::Fixed(1)),
        ];
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = admin
            .create_topics(&topics, &options)
            .await
            .expect("the broker answers CreateTopics");
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => panic!("cannot create topic {topic}: {code:?}"),
            }
        }
        for topic in [&name, &dlq] {
            eventually(
                &format!("the broker to list topic {topic}"),
                async || match partition_count(topic).await? {
                    n if n == PARTITIONS as usize => Ok(()),
                    n => Err(format!("{n} partitions")),
                },
            )
            .await;
        }
        Self { name, dlq }
    }

    /// Settings for a consumer of this topic in `group`, with the short group timeouts.
    pub fn settings(&self, group: &str) -> KafkaSettings {
        KafkaSettings {
            dlq_topic: Some(self.dlq.clone()),
            ..consumer_settings(brokers(), &self.name, group)
        }
    }
}

/// Produces test messages; awaits every delivery.
#[derive(Clone)]
pub struct Producer {
    inner: FutureProducer,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").finish_non_exhaustive()
    }
}

impl Producer {
    pub fn new() -> Self {
        let inner = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("acks", "all")
            // One request in flight: a retry cannot reorder a partition.
            .set("max.in.flight.requests.per.connection", "1")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000")
            .create()
            .expect("a producer");
        Self { inner }
    }

    /// Sends `messages` to `topic` in order (each partition keeps their order) and waits until
    /// the broker has them all.
    pub async fn send(&self, topic: &str, messages: &[Msg]) {
        let mut deliveries = Vec::with_capacity(messages.len());
        for m in messages {
            let mut record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(topic).payload(m.value.as_slice());
            if let Some(key) = &m.key {
                record = record.key(key.as_bytes());
            }
            match self.inner.send_result(record) {
                Ok(delivery) => deliveries.push(delivery),
                Err((e, _)) => panic!("cannot enqueue a message for {topic}: {e}"),
            }
        }
        for delivery in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => panic!("the broker refused a message for {topic}: {e}"),
                Err(_) => panic!("the producer dropped a delivery report for {topic}"),
            }
        }
    }
}

/// The consumer under test, running as a task.
#[derive(Debug)]
pub struct Running {
    pub status: Arc<ConsumerStatus>,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub fn start<R: Repository>(service: &Arc<BillingService<R>>, settings: KafkaSettings) -> Self {
        let status = Arc::new(ConsumerStatus::default());
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(adapter_kafka::run(
            settings,
            Arc::clone(service),
            Arc::clone(&status),
            shutdown,
        ));
        Self { status, stop, task }
    }

    /// Messages handled so far, whatever the outcome.
    pub fn handled(&self) -> u64 {
        self.status.counts().values().sum()
    }

    pub fn describe(&self) -> String {
        format!(
            "state {:?}, partitions {:?}, assignments {}, counts {:?}, task finished: {}",
            self.status.state(),
            self.status.partitions(),
            self.status.assignments(),
            self.status.counts(),
            self.task.is_finished()
        )
    }

    /// Waits until at least `n` messages have been handled.
    pub async fn wait_handled(&self, n: u64) {
        eventually(
            &format!("the consumer to handle {n} messages"),
            async || {
                if self.handled() >= n {
                    Ok(())
                } else {
                    Err(self.describe())
                }
            },
        )
        .await;
    }

    /// Watches the state until `done` holds, and returns the states seen on the way, in order,
    /// repeats collapsed, without the `disabled` of a task that has not started yet.
    pub async fn states_until(
        &self,
        what: &str,
        done: impl Fn(&ConsumerStatus) -> bool,
    ) -> Vec<ConsumerState> {
        let mut seen: Vec<ConsumerState> = Vec::new();
        eventually(what, async || {
            let state = self.status.state();
            if state != ConsumerState::Disabled && seen.last() != Some(&state) {
                seen.push(state);
            }
            if done(&self.status) {
                Ok(())
            } else {
                Err(format!("states seen {seen:?}; {}", self.describe()))
            }
        })
        .await;
        seen
    }

    /// Still consuming: the task has not ended and the status does not say stopped.
    pub fn is_alive(&self) -> bool {
        !self.task.is_finished() && self.status.state() != ConsumerState::Stopped
    }

    /// Tells the consumer to stop and waits until it has (it must not fail).
    pub async fn stop(self) -> Arc<ConsumerStatus> {
        let _ = self.stop.send(true);
        // A safety net against a hung consumer, not a claim about how fast it stops.
        match tokio::time::timeout(Duration::from_secs(60), self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => panic!("the consumer ended with an error: {e:#}"),
            Ok(Err(e)) => panic!("the consumer task failed: {e}"),
            Err(_) => panic!("the consumer did not stop within 60 s of being told to"),
        }
        assert_eq!(self.status.state(), ConsumerState::Stopped);
        self.status
    }
}

pub fn count(status: &ConsumerStatus, event_type: &str, outcome: &str) -> u64 {
    status
        .counts()
        .iter()
        .filter(|((t, o), _)| t == event_type && *o == outcome)
        .map(|(_, n)| n)
        .sum()
}

/// Reads a dead-letter topic from its beginning, with a consumer (and group) of its own.
pub struct DeadLetters {
    consumer: StreamConsumer,
    topic: String,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl DeadLetters {
    pub fn open(topic: &Topic) -> Self {
        Self::reading(&topic.dlq)
    }

    /// A reader of any topic from its beginning (the relay's, say).
    pub fn reading(topic: &str) -> Self {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("group.id", unique("dlq-reader"))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", SESSION_TIMEOUT_MS.to_string())
            .set("max.poll.interval.ms", MAX_POLL_INTERVAL_MS.to_string())
            .set("heartbeat.interval.ms", HEARTBEAT_INTERVAL_MS.to_string())
            .create()
            .expect("a dead-letter reader");
        // Every partition from its beginning, assigned directly: no group join to wait for.
        let mut partitions = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            partitions
                .add_partition_offset(topic, p, Offset::Beginning)
                .expect("a partition to read");
        }
        consumer
            .assign(&partitions)
            .expect("the dead-letter partitions");
        Self {
            consumer,
            topic: topic.to_owned(),
        }
    }

    /// Waits until `n` dead letters have been read (up to 30 s) and returns them.
    pub async fn read(&self, n: usize) -> Vec<OwnedMessage> {
        let mut read = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while read.len() < n {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(m)) => read.push(m.detach()),
                Ok(Err(e)) => panic!("cannot read {}: {e}", self.topic),
                Err(_) => panic!(
                    "timed out waiting for {n} dead letters on {}; read {}: {:?}",
                    self.topic,
                    read.len(),
                    read.iter().map(summary).collect::<Vec<_>>()
                ),
            }
        }
        read
    }
}

/// The value of header `name`, as text.
pub fn header(m: &OwnedMessage, name: &str) -> Option<String> {
    m.headers()?
        .iter()
        .find(|h| h.key == name)
        .map(|h| String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned())
}

fn summary(m: &OwnedMessage) -> String {
    format!(
        "key {:?}, value {:?}, x-error {:?}",
        m.key().map(String::from_utf8_lossy),
        m.payload().map(String::from_utf8_lossy),
        header(m, "x-error")
    )
}
