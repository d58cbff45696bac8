use std::time::Duration;

use rdkafka::ClientConfig;
use serde::{Deserialize, Deserializer};

/// Where a consumer group new to the topic (no committed offsets) starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoOffsetReset {
    /// The beginning of each partition: the whole topic is read.
    #[default]
    Earliest,
    /// The end of each partition when it is first assigned: only what is produced from then on.
    Latest,
}

impl AutoOffsetReset {
    /// The value of `KAFKA_AUTO_OFFSET_RESET` (and of librdkafka's `auto.offset.reset`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Earliest => "earliest",
            Self::Latest => "latest",
        }
    }

    /// `earliest` or `latest`; nothing else (librdkafka's synonyms, `smallest` say, included).
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Earliest, Self::Latest]
            .into_iter()
            .find(|v| v.as_str() == raw)
    }
}

impl<'de> Deserialize<'de> for AutoOffsetReset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom("must be earliest or latest"))
    }
}

/// How the consume loop groups messages into storage batches: tuning, not configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// At most this many messages are applied in one storage batch.
    pub size: usize,
    /// How long a batch waits for more messages after its first.
    pub wait: Duration,
}

impl Default for Batching {
    /// Big enough that one transaction carries a burst; short enough that a lone event waits
    /// no longer than a human notices.
    fn default() -> Self {
        Self {
            size: 500,
            wait: Duration::from_millis(20),
        }
    }
}

/// How to reach the broker and the topic. Every field but `batching` is one `KAFKA_*`
/// variable; their defaults are the service's configuration's (`config/default.toml`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// `KAFKA_BROKERS`, comma-separated `host:port`; empty when not given.
    #[serde(default, deserialize_with = "absent_is_empty")]
    pub brokers: String,
    /// `KAFKA_TOPIC`.
    pub topic: String,
    /// `KAFKA_GROUP_ID`.
    pub group_id: String,
    /// `KAFKA_CLIENT_ID`.
    pub client_id: String,
    /// `KAFKA_BILLING_EVENTS_TOPIC`: where the relay publishes the billing events.
    pub billing_events_topic: String,
    /// `KAFKA_DLQ_TOPIC`: `<topic>.dlq` when unset (see [`KafkaSettings::dead_letter_topic`]).
    pub dlq_topic: Option<String>,
    /// `KAFKA_MAX_RETRIES`: failed connection attempts before readiness says `degraded`.
    pub max_retries: u32,
    /// `KAFKA_SECURITY_PROTOCOL` (`plaintext`, `ssl`, `sasl_plaintext`, `sasl_ssl`).
    pub security_protocol: Option<String>,
    /// `KAFKA_SASL_MECHANISM` (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`).
    pub sasl_mechanism: Option<String>,
    /// `KAFKA_SASL_USERNAME`.
    pub sasl_username: Option<String>,
    /// `KAFKA_SASL_PASSWORD`. Never logged.
    pub sasl_password: Option<String>,
    /// `KAFKA_SSL_CA_LOCATION`: a PEM file of CA certificates.
    pub ssl_ca_location: Option<String>,
    /// `KAFKA_SESSION_TIMEOUT_MS`.
    pub session_timeout_ms: u32,
    /// `KAFKA_MAX_POLL_INTERVAL_MS`.
    pub max_poll_interval_ms: u32,
    /// `KAFKA_HEARTBEAT_INTERVAL_MS`.
    pub heartbeat_interval_ms: u32,
    /// `KAFKA_AUTO_OFFSET_RESET`: where a group without committed offsets starts.
    pub auto_offset_reset: AutoOffsetReset,
    #[serde(skip)]
    pub batching: Batching,
}

fn absent_is_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSettings")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .field("group_id", &self.group_id)
            .field("client_id", &self.client_id)
            .field("dlq_topic", &self.dead_letter_topic())
            .field("billing_events_topic", &self.billing_events_topic)
            .field("auto_offset_reset", &self.auto_offset_reset)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field(
                "sasl_password",
                &self.sasl_password.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl KafkaSettings {
    /// `KAFKA_DLQ_TOPIC`, or `<topic>.dlq`.
    pub fn dead_letter_topic(&self) -> String {
        self.dlq_topic
            .clone()
            .unwrap_or_else(|| format!("{}.dlq", self.topic))
    }

    /// What consumer and producer share: brokers, identity, security.
    fn common(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("client.id", &self.client_id)
            // librdkafka logs through its own channel; keep it to warnings.
            .set("log_level", "4");
        let optional = [
            ("security.protocol", &self.security_protocol),
            ("sasl.mechanism", &self.sasl_mechanism),
            ("sasl.username", &self.sasl_username),
            ("sasl.password", &self.sasl_password),
            ("ssl.ca.location", &self.ssl_ca_location),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                c.set(key, v);
            }
        }
        c
    }

    pub(crate) fn consumer_config(&self) -> ClientConfig {
        let mut c = self.common();
        c.set("group.id", &self.group_id)
            // Offsets are committed by hand, after the batch is durable.
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // Only for a group with no committed offset: one that has them continues from them.
            .set("auto.offset.reset", self.auto_offset_reset.as_str())
            .set("session.timeout.ms", self.session_timeout_ms.to_string())
            .set(
                "max.poll.interval.ms",
                self.max_poll_interval_ms.to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                self.heartbeat_interval_ms.to_string(),
            )
            // librdkafka prefetches up to 64 MiB by default, which alone would take the
            // service past its memory budget on a backlog; 8 MiB is still thousands of events
            // ahead of the batch being written.
            .set("queued.max.messages.kbytes", "8192");
        c
    }

    /// Builds (and drops) a consumer and a producer, so that a setting librdkafka refuses (a
    /// misspelt security protocol, say) stops startup instead of a silent consumer.
    ///
    /// # Errors
    /// librdkafka's word on the setting it refuses.
    pub fn check(&self) -> anyhow::Result<()> {
        let _: rdkafka::consumer::BaseConsumer = self.consumer_config().create()?;
        let _: rdkafka::producer::BaseProducer = self.producer_config().create()?;
        Ok(())
    }

    pub(crate) fn producer_config(&self) -> ClientConfig {
        let mut c = self.common();
        // A dead letter or a billing event must not be lost, doubled or reordered by a retry.
        c.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000");
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> KafkaSettings {
        KafkaSettings {
            brokers: "localhost:9092".to_owned(),
            topic: "customers".to_owned(),
            group_id: "billing".to_owned(),
            client_id: "billing".to_owned(),
            dlq_topic: None,
            billing_events_topic: "billing-events".to_owned(),
            max_retries: 5,
            security_protocol: None,
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
            session_timeout_ms: 45_000,
            max_poll_interval_ms: 300_000,
            heartbeat_interval_ms: 3_000,
            auto_offset_reset: AutoOffsetReset::Earliest,
            batching: Batching::default(),
        }
    }

    #[test]
    fn a_new_group_starts_from_the_earliest_offset_unless_told_latest() {
        let mut settings = settings();
        assert_eq!(
            settings.consumer_config().get("auto.offset.reset"),
            Some("earliest")
        );
        settings.auto_offset_reset = AutoOffsetReset::Latest;
        assert_eq!(
            settings.consumer_config().get("auto.offset.reset"),
            Some("latest")
        );
    }

    #[test]
    fn the_dead_letter_topic_is_the_topic_dot_dlq_unless_named() {
        let mut settings = settings();
        assert_eq!(settings.dead_letter_topic(), "customers.dlq");
        settings.dlq_topic = Some("elsewhere".to_owned());
        assert_eq!(settings.dead_letter_topic(), "elsewhere");
    }

    #[test]
    fn only_earliest_and_latest_are_offset_resets() {
        assert_eq!(
            AutoOffsetReset::parse("earliest"),
            Some(AutoOffsetReset::Earliest)
        );
        assert_eq!(
            AutoOffsetReset::parse("latest"),
            Some(AutoOffsetReset::Latest)
        );
        for other in [
            "",
            "smallest",
            "largest",
            "beginning",
            "end",
            "error",
            "Latest",
        ] {
            assert_eq!(AutoOffsetReset::parse(other), None, "{other:?}");
        }
    }
}
