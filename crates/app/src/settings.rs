//! Configuration: `config/default.toml`, then `config/<APP_ENV>.toml` when present, then
//! environment variables (after `.env` is loaded, by `main`). Environment variables keep the
//! previous service's names (`PORT`, `MONGODB_URI`, ...): each setting's key is its variable's
//! name in lower case.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `PORT`: the HTTP port.
    pub port: u16,
    /// `BIND_ADDRESS`: the address to listen on.
    pub bind_address: String,
    /// `HTTP_WORKERS`: HTTP worker threads; 0 means one per CPU.
    pub http_workers: usize,
    /// `DATABASE_PATH`: the embedded store's file.
    pub database_path: PathBuf,
    /// `MONGODB_URI`: when set, the production MongoDB store instead of the embedded one.
    #[serde(deserialize_with = "empty_is_none")]
    pub mongodb_uri: Option<String>,
    /// `STORAGE_TIMEOUT_MS`: how long a request waits for an unreachable store before it
    /// fails with 503 (MongoDB's server selection and connect timeouts, unless the URI sets them).
    pub storage_timeout_ms: u64,
    /// `KAFKA_BROKERS`: comma-separated; unset = no consumer.
    #[serde(deserialize_with = "empty_is_none")]
    pub kafka_brokers: Option<String>,
    pub kafka_topic: String,
    pub kafka_group_id: String,
    pub kafka_client_id: String,
    /// `KAFKA_DLQ_TOPIC`: `<topic>.dlq` when unset.
    #[serde(deserialize_with = "empty_is_none")]
    pub kafka_dlq_topic: Option<String>,
    pub kafka_max_retries: u32,
    #[serde(deserialize_with = "empty_is_none")]
    pub kafka_security_protocol: Option<String>,
    #[serde(deserialize_with = "empty_is_none")]
    pub kafka_sasl_mechanism: Option<String>,
    #[serde(deserialize_with = "empty_is_none")]
    pub kafka_sasl_username: Option<String>,
    #[serde(deserialize_with = "empty_is_none")]
    pub kafka_sasl_password: Option<String>,
    #[serde(deserialize_with = "empty_is_none")]
    pub kafka_ssl_ca_location: Option<String>,
    pub kafka_session_timeout_ms: u32,
    pub kafka_max_poll_interval_ms: u32,
    pub kafka_heartbeat_interval_ms: u32,
    /// `KAFKA_AUTO_OFFSET_RESET`: where a consumer group new to the topic starts, `earliest`
    /// (the whole topic) or `latest` (only what is produced after it joined).
    pub kafka_auto_offset_reset: String,
    /// `INITIAL_BILLING_DUE_DAYS`: a `Customer.Created` billing is due this many days later.
    pub initial_billing_due_days: u32,
    /// `INITIAL_BILLING_AMOUNT`: its amount when the event gives none.
    pub initial_billing_amount: u64,
    /// `API_TOKENS`: comma-separated `token:scope` (`read` or `write`); unset = open API.
    #[serde(deserialize_with = "empty_is_none")]
    pub api_tokens: Option<String>,
    /// `CORS_ORIGINS`: comma-separated origins allowed to call the API from a browser; `*` for any.
    #[serde(deserialize_with = "empty_is_none")]
    pub cors_origins: Option<String>,
    /// `REQUEST_TIMEOUT_SECONDS`: a request still unanswered then gets 503 `REQUEST_TIMEOUT`.
    pub request_timeout_seconds: u64,
    /// `SHUTDOWN_GRACE_SECONDS`: how long requests in flight may finish after a stop signal.
    pub shutdown_grace_seconds: u64,
    /// `LOG_FORMAT`: `pretty` or `json`.
    pub log_format: String,
}

impl Default for Settings {
    /// The values of `config/default.toml`, for tests and embedding.
    fn default() -> Self {
        Self {
            port: 3000,
            bind_address: "0.0.0.0".to_owned(),
            http_workers: 0,
            database_path: PathBuf::from("./data/billing.db"),
            mongodb_uri: None,
            storage_timeout_ms: 5000,
            kafka_brokers: None,
            kafka_topic: "customers".to_owned(),
            kafka_group_id: "telecomx-billing-consumer".to_owned(),
            kafka_client_id: "telecomx-billing-service".to_owned(),
            kafka_dlq_topic: None,
            kafka_max_retries: 5,
            kafka_security_protocol: None,
            kafka_sasl_mechanism: None,
            kafka_sasl_username: None,
            kafka_sasl_password: None,
            kafka_ssl_ca_location: None,
            kafka_session_timeout_ms: 45_000,
            kafka_max_poll_interval_ms: 300_000,
            kafka_heartbeat_interval_ms: 3_000,
            kafka_auto_offset_reset: adapter_kafka::AutoOffsetReset::default()
                .as_str()
                .to_owned(),
            initial_billing_due_days: 14,
            initial_billing_amount: 100_000,
            api_tokens: None,
            cors_origins: None,
            request_timeout_seconds: 30,
            shutdown_grace_seconds: 30,
            log_format: "pretty".to_owned(),
        }
    }
}

/// Secrets stay out of logs: the URI's password and the SASL password are redacted.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("port", &self.port)
            .field("bind_address", &self.bind_address)
            .field("database_path", &self.database_path)
            .field("mongodb_uri", &self.mongodb_uri.as_deref().map(redact_uri))
            .field("kafka_brokers", &self.kafka_brokers)
            .field("kafka_topic", &self.kafka_topic)
            .field(
                "kafka_sasl_password",
                &self.kafka_sasl_password.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// `mongodb://user:secret@host` to `mongodb://user:<redacted>@host`.
pub fn redact_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:<redacted>@{host}")
        }
        None => uri.to_owned(),
    }
}

fn empty_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<String>::deserialize(d)?;
    Ok(v.filter(|s| !s.trim().is_empty()))
}

/// Every setting, as the environment variable that sets it.
pub const VARIABLES: &[&str] = &[
    "PORT",
    "BIND_ADDRESS",
    "HTTP_WORKERS",
    "DATABASE_PATH",
    "MONGODB_URI",
    "STORAGE_TIMEOUT_MS",
    "KAFKA_BROKERS",
    "KAFKA_TOPIC",
    "KAFKA_GROUP_ID",
    "KAFKA_CLIENT_ID",
    "KAFKA_DLQ_TOPIC",
    "KAFKA_MAX_RETRIES",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CA_LOCATION",
    "KAFKA_SESSION_TIMEOUT_MS",
    "KAFKA_MAX_POLL_INTERVAL_MS",
    "KAFKA_HEARTBEAT_INTERVAL_MS",
    "KAFKA_AUTO_OFFSET_RESET",
    "INITIAL_BILLING_DUE_DAYS",
    "INITIAL_BILLING_AMOUNT",
    "API_TOKENS",
    "CORS_ORIGINS",
    "REQUEST_TIMEOUT_SECONDS",
    "SHUTDOWN_GRACE_SECONDS",
    "LOG_FORMAT",
];

impl Settings {
    /// Loads the layers from `config_dir` and the process environment.
    ///
    /// # Errors
    /// When a file cannot be read or a value has the wrong type; the message names the
    /// environment variable.
    pub fn load(config_dir: &Path) -> anyhow::Result<Self> {
        let env = std::env::var("APP_ENV").unwrap_or_else(|_| "development".to_owned());
        let mut builder = config::Config::builder()
            .add_source(config::File::from(config_dir.join("default.toml")).required(true))
            .add_source(config::File::from(config_dir.join(format!("{env}.toml"))).required(false));
        // Only our variables: the rest of the environment (PATH, HOME, ...) is none of ours.
        for var in VARIABLES {
            if let Ok(value) = std::env::var(var) {
                builder = builder
                    .set_override(var.to_lowercase(), value)
                    .with_context(|| format!("cannot read environment variable {var}"))?;
            }
        }
        let config = builder
            .build()
            .with_context(|| format!("cannot read configuration from {}", config_dir.display()))?;
        let settings: Self = config.try_deserialize().map_err(|e| {
            let message = e.to_string();
            // The longest name the message mentions (`kafka_topic`, not `port` inside it).
            let var = VARIABLES
                .iter()
                .filter(|v| message.contains(&v.to_lowercase()))
                .max_by_key(|v| v.len());
            match var {
                Some(var) => anyhow::anyhow!("invalid value for {var}: {message}"),
                None => anyhow::anyhow!("invalid configuration: {message}"),
            }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types alone do not.
    ///
    /// # Errors
    /// Naming the first variable whose value is out of range.
    pub fn validate(&self) -> anyhow::Result<()> {
        let checks = [
            (
                "STORAGE_TIMEOUT_MS",
                self.storage_timeout_ms > 0,
                "must be above 0",
            ),
            (
                "KAFKA_MAX_RETRIES",
                self.kafka_max_retries > 0,
                "must be above 0",
            ),
            (
                "KAFKA_TOPIC",
                !self.kafka_topic.trim().is_empty(),
                "must not be empty",
            ),
            (
                "KAFKA_GROUP_ID",
                !self.kafka_group_id.trim().is_empty(),
                "must not be empty",
            ),
            (
                "KAFKA_AUTO_OFFSET_RESET",
                adapter_kafka::AutoOffsetReset::parse(&self.kafka_auto_offset_reset).is_some(),
                "must be earliest or latest",
            ),
            (
                "INITIAL_BILLING_AMOUNT",
                billing_domain::Amount::new(self.initial_billing_amount).is_ok(),
                "must be at most 1000000000000000",
            ),
            (
                "REQUEST_TIMEOUT_SECONDS",
                self.request_timeout_seconds > 0,
                "must be above 0",
            ),
            (
                "LOG_FORMAT",
                matches!(self.log_format.as_str(), "pretty" | "json"),
                "must be pretty or json",
            ),
            (
                "API_TOKENS",
                self.api_tokens
                    .as_deref()
                    .is_none_or(|t| adapter_http::ApiToken::parse_list(t).is_ok()),
                "must be comma-separated token:scope entries (scope read or write, tokens of 8 or more characters)",
            ),
            (
                "INITIAL_BILLING_DUE_DAYS",
                self.initial_billing_due_days <= 3650,
                "must be at most 3650",
            ),
        ];
        match checks.iter().find(|(_, ok, _)| !ok) {
            Some((var, _, why)) => Err(anyhow::anyhow!("invalid value for {var}: {why}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_reset_other_than_earliest_or_latest_is_refused_naming_the_variable() {
        for good in ["earliest", "latest"] {
            let settings = Settings {
                kafka_auto_offset_reset: good.to_owned(),
                ..Settings::default()
            };
            assert!(settings.validate().is_ok(), "{good}");
        }
        for bad in ["smallest", "Latest", "", "none"] {
            let settings = Settings {
                kafka_auto_offset_reset: bad.to_owned(),
                ..Settings::default()
            };
            let error = settings.validate().expect_err(bad).to_string();
            assert!(
                error.contains("KAFKA_AUTO_OFFSET_RESET") && error.contains("earliest or latest"),
                "{bad:?}: {error}"
            );
        }
    }
}
