//! Configuration, in layers: the defaults compiled into the binary (`config/default.toml`),
//! then `<CONFIG_DIR or ./config>/default.toml` and `<that folder>/<APP_ENV>.toml` when they
//! exist, then environment variables (after `.env` is loaded, by `main`). The variables keep the
//! previous service's names (`PORT`, `MONGODB_URI`, ...); [`VARIABLES`] lists them, and each
//! sets one key of the files, which group the settings by concern.

use std::path::{Path, PathBuf};

use adapter_kafka::KafkaSettings;
use anyhow::Context;
use serde::{Deserialize, Deserializer};

/// The defaults: the one place each is written. The binary needs no file to run.
const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Where the configuration files are looked for when `CONFIG_DIR` is not set.
const DEFAULT_CONFIG_DIR: &str = "config";

/// Each setting's environment variable, and the key it sets in the configuration files.
const ENVIRONMENT: [(&str, &str); 32] = [
    ("PORT", "http.port"),
    ("BIND_ADDRESS", "http.bind_address"),
    ("HTTP_WORKERS", "http.workers"),
    ("REQUEST_TIMEOUT_SECONDS", "http.request_timeout_seconds"),
    ("SHUTDOWN_GRACE_SECONDS", "http.shutdown_grace_seconds"),
    ("CORS_ORIGINS", "http.cors_origins"),
    ("API_TOKENS", "auth.api_tokens"),
    ("DATABASE_PATH", "storage.database_path"),
    ("MONGODB_URI", "storage.mongodb_uri"),
    ("STORAGE_TIMEOUT_MS", "storage.timeout_ms"),
    ("BILLING_ID_BLOCK", "storage.billing_id_block"),
    ("KAFKA_BROKERS", "kafka.brokers"),
    ("KAFKA_TOPIC", "kafka.topic"),
    ("KAFKA_GROUP_ID", "kafka.group_id"),
    ("KAFKA_CLIENT_ID", "kafka.client_id"),
    ("KAFKA_DLQ_TOPIC", "kafka.dlq_topic"),
    ("KAFKA_BILLING_EVENTS_TOPIC", "kafka.billing_events_topic"),
    ("KAFKA_MAX_RETRIES", "kafka.max_retries"),
    ("KAFKA_SECURITY_PROTOCOL", "kafka.security_protocol"),
    ("KAFKA_SASL_MECHANISM", "kafka.sasl_mechanism"),
    ("KAFKA_SASL_USERNAME", "kafka.sasl_username"),
    ("KAFKA_SASL_PASSWORD", "kafka.sasl_password"),
    ("KAFKA_SSL_CA_LOCATION", "kafka.ssl_ca_location"),
    ("KAFKA_SESSION_TIMEOUT_MS", "kafka.session_timeout_ms"),
    ("KAFKA_MAX_POLL_INTERVAL_MS", "kafka.max_poll_interval_ms"),
    ("KAFKA_HEARTBEAT_INTERVAL_MS", "kafka.heartbeat_interval_ms"),
    ("KAFKA_AUTO_OFFSET_RESET", "kafka.auto_offset_reset"),
    (
        "BILLING_EVENTS_RETENTION_DAYS",
        "billing_events.retention_days",
    ),
    (
        "OVERDUE_SWEEP_SECONDS",
        "billing_events.overdue_sweep_seconds",
    ),
    ("INITIAL_BILLING_DUE_DAYS", "initial_billing.due_days"),
    ("INITIAL_BILLING_AMOUNT", "initial_billing.amount"),
    ("LOG_FORMAT", "log.format"),
];

const fn names<const N: usize>(table: [(&'static str, &'static str); N]) -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = table[i].0;
        i += 1;
    }
    names
}

/// Every setting, as the environment variable that sets it.
pub const VARIABLES: &[&str] = &names(ENVIRONMENT);

/// Everything the service is told, by concern.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub http: HttpSettings,
    #[serde(default)]
    pub auth: AuthSettings,
    pub storage: StorageSettings,
    /// The customer event consumer: `None` when `KAFKA_BROKERS` is unset.
    #[serde(deserialize_with = "consumer_when_brokers_are_set")]
    pub kafka: Option<KafkaSettings>,
    pub billing_events: BillingEventSettings,
    pub initial_billing: InitialBillingSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// `PORT`.
    pub port: u16,
    /// `BIND_ADDRESS`: the address to listen on.
    pub bind_address: String,
    /// `HTTP_WORKERS`: worker threads; 0 means one per CPU.
    pub workers: usize,
    /// `REQUEST_TIMEOUT_SECONDS`: a request still unanswered then gets 503 `REQUEST_TIMEOUT`.
    pub request_timeout_seconds: u64,
    /// `SHUTDOWN_GRACE_SECONDS`: how long requests in flight may finish after a stop signal.
    pub shutdown_grace_seconds: u64,
    /// `CORS_ORIGINS`: comma-separated origins allowed to call the API from a browser; `*` for
    /// any.
    pub cors_origins: Option<String>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// `API_TOKENS`: comma-separated `token:scope` (`read` or `write`); unset = open API.
    pub api_tokens: Option<String>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// `DATABASE_PATH`: the embedded store's file.
    pub database_path: PathBuf,
    /// `MONGODB_URI`: when set, the MongoDB store instead of the embedded one.
    pub mongodb_uri: Option<String>,
    /// `STORAGE_TIMEOUT_MS`: how long a request waits for an unreachable store before it fails
    /// with 503 (MongoDB's server selection and connect timeouts, unless the URI sets them).
    pub timeout_ms: u64,
    /// `BILLING_ID_BLOCK`: billing numbers a MongoDB instance reserves at a time (1: one per
    /// creation, consecutive across instances).
    pub billing_id_block: u32,
}

/// The billing events' history and the overdue sweep.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingEventSettings {
    /// `BILLING_EVENTS_RETENTION_DAYS`: events older than this are removed once published;
    /// unset: kept forever.
    pub retention_days: Option<u32>,
    /// `OVERDUE_SWEEP_SECONDS`: how often unpaid billings past due get their `Billing.Overdue`.
    pub overdue_sweep_seconds: u64,
}

/// The billing a `Customer.Created` event creates when the event does not say.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitialBillingSettings {
    /// `INITIAL_BILLING_DUE_DAYS`: due this many days after its generation.
    pub due_days: u32,
    /// `INITIAL_BILLING_AMOUNT`.
    pub amount: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `LOG_FORMAT`.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people.
    Pretty,
    /// One JSON object a line, for machines.
    Json,
}

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            _ => Err(serde::de::Error::custom("must be pretty or json")),
        }
    }
}

/// The consumer's settings are read (and checked) whether or not `KAFKA_BROKERS` is set, so
/// that a bad value stops startup either way; without brokers there is no consumer.
fn consumer_when_brokers_are_set<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<KafkaSettings>, D::Error> {
    let kafka = KafkaSettings::deserialize(d)?;
    check(&kafka_checks(&kafka)).map_err(serde::de::Error::custom)?;
    Ok((!kafka.brokers.trim().is_empty()).then_some(kafka))
}

/// Secrets stay out of logs.
impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field(
                "api_tokens",
                &self.api_tokens.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The URI's password stays out of logs.
impl std::fmt::Debug for StorageSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageSettings")
            .field("database_path", &self.database_path)
            .field("mongodb_uri", &self.mongodb_uri.as_deref().map(redact_uri))
            .field("timeout_ms", &self.timeout_ms)
            .field("billing_id_block", &self.billing_id_block)
            .finish()
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

impl Default for Settings {
    /// The compiled-in defaults alone: no file, no environment. They cannot be invalid but by a
    /// mistake in `config/default.toml`, which the tests of this module would catch: hence a
    /// panic, not an error.
    fn default() -> Self {
        Self::layered(None, &|_| None)
            .unwrap_or_else(|e| panic!("the compiled-in config/default.toml is invalid: {e:#}"))
    }
}

impl Settings {
    /// Loads the layers, reading the process environment (`CONFIG_DIR` and `APP_ENV` say which
    /// files).
    ///
    /// # Errors
    /// When a file cannot be read or a value is invalid; the message names the environment
    /// variable.
    pub fn load() -> anyhow::Result<Self> {
        Self::load_from(|var| std::env::var(var).ok())
    }

    /// Loads the layers with `env` as the environment.
    ///
    /// # Errors
    /// As [`Settings::load`]; also when `CONFIG_DIR` names no folder.
    pub fn load_from(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let dir = match env("CONFIG_DIR").filter(|d| !d.trim().is_empty()) {
            Some(dir) => {
                let dir = PathBuf::from(dir);
                // Named on purpose: a folder that is not there is a mistake, not a default.
                if !dir.is_dir() {
                    anyhow::bail!(
                        "invalid value for CONFIG_DIR: {} is not a folder",
                        dir.display()
                    );
                }
                dir
            }
            None => PathBuf::from(DEFAULT_CONFIG_DIR),
        };
        Self::layered(Some(&dir), &env)
    }

    /// The consumer's compiled-in defaults, for `brokers` (tests, embedding).
    ///
    /// # Panics
    /// When `brokers` is blank: there is no consumer without brokers.
    pub fn kafka_defaults(brokers: &str) -> KafkaSettings {
        let env = |var: &str| (var == "KAFKA_BROKERS").then(|| brokers.to_owned());
        Self::layered(None, &env)
            .ok()
            .and_then(|s| s.kafka)
            .unwrap_or_else(|| panic!("KAFKA_BROKERS {brokers:?} does not configure a consumer"))
    }

    /// The compiled-in defaults, then the files of `dir` (if any), then `env`.
    fn layered(dir: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        use config::{Config, File, FileFormat};

        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(dir) = dir {
            let app_env = env("APP_ENV")
                .filter(|e| !e.trim().is_empty())
                .unwrap_or_else(|| "development".to_owned());
            builder = builder
                .add_source(File::from(dir.join("default.toml")).required(false))
                .add_source(File::from(dir.join(format!("{app_env}.toml"))).required(false));
        }
        // Only our variables: the rest of the environment (PATH, HOME, ...) is none of ours.
        for (var, key) in ENVIRONMENT {
            if let Some(value) = env(var) {
                // Empty is unset: optional settings are then absent, required ones refused.
                let value = (!value.trim().is_empty()).then_some(value);
                builder = builder
                    .set_override(key, value)
                    .with_context(|| format!("cannot read environment variable {var}"))?;
            }
        }
        let config = builder.build().context("cannot read the configuration")?;
        let settings: Self = config
            .try_deserialize()
            .map_err(|e| explain(&e.to_string(), env))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types alone do not (kept for settings built by hand: tests, embedding).
    ///
    /// # Errors
    /// Naming the first variable whose value is out of range.
    pub fn validate(&self) -> anyhow::Result<()> {
        let checks = [
            (
                "STORAGE_TIMEOUT_MS",
                self.storage.timeout_ms > 0,
                "must be above 0",
            ),
            (
                "BILLING_ID_BLOCK",
                (1..=MAX_BILLING_ID_BLOCK).contains(&self.storage.billing_id_block),
                "must be from 1 to 1000000",
            ),
            (
                "INITIAL_BILLING_AMOUNT",
                billing_domain::Amount::new(self.initial_billing.amount).is_ok(),
                "must be at most 1000000000000000",
            ),
            (
                "INITIAL_BILLING_DUE_DAYS",
                self.initial_billing.due_days <= 3650,
                "must be at most 3650",
            ),
            (
                "REQUEST_TIMEOUT_SECONDS",
                self.http.request_timeout_seconds > 0,
                "must be above 0",
            ),
            (
                "OVERDUE_SWEEP_SECONDS",
                self.billing_events.overdue_sweep_seconds > 0,
                "must be above 0",
            ),
            (
                "BILLING_EVENTS_RETENTION_DAYS",
                self.billing_events.retention_days != Some(0),
                "must be above 0 (unset keeps the events forever)",
            ),
            (
                "API_TOKENS",
                self.auth
                    .api_tokens
                    .as_deref()
                    .is_none_or(|t| adapter_http::ApiToken::parse_list(t).is_ok()),
                "must be comma-separated token:scope entries (scope read or write, tokens of 8 or more characters)",
            ),
        ];
        check(&checks).map_err(anyhow::Error::msg)?;
        match &self.kafka {
            Some(kafka) => check(&kafka_checks(kafka)).map_err(anyhow::Error::msg),
            None => Ok(()),
        }
    }
}

type Check = (&'static str, bool, &'static str);

/// A block past this would leave gaps no operator wants explained.
const MAX_BILLING_ID_BLOCK: u32 = 1_000_000;

fn kafka_checks(kafka: &KafkaSettings) -> [Check; 4] {
    [
        (
            "KAFKA_BILLING_EVENTS_TOPIC",
            !kafka.billing_events_topic.trim().is_empty(),
            "must not be empty",
        ),
        (
            "KAFKA_MAX_RETRIES",
            kafka.max_retries > 0,
            "must be above 0",
        ),
        (
            "KAFKA_TOPIC",
            !kafka.topic.trim().is_empty(),
            "must not be empty",
        ),
        (
            "KAFKA_GROUP_ID",
            !kafka.group_id.trim().is_empty(),
            "must not be empty",
        ),
    ]
}

/// The first check that fails, as a message naming its variable.
fn check(checks: &[Check]) -> Result<(), String> {
    match checks.iter().find(|(_, ok, _)| !ok) {
        Some((var, _, why)) => Err(format!("invalid value for {var}: {why}")),
        None => Ok(()),
    }
}

/// A deserialization error, said in terms of the variable that sets the key it names.
fn explain(message: &str, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Error {
    if message.starts_with("invalid value for ") {
        // One of our checks, already naming its variable; the key config adds is the section's.
        let message = message.split(" for key `").next().unwrap_or(message);
        return anyhow::anyhow!("{message}");
    }
    let var = ENVIRONMENT
        .iter()
        .find(|(_, key)| message.contains(&format!("`{key}`")))
        .map(|(var, _)| *var);
    match var {
        Some(var) if env(var).is_some_and(|v| v.trim().is_empty()) => {
            anyhow::anyhow!("invalid value for {var}: must not be empty")
        }
        Some(var) => anyhow::anyhow!("invalid value for {var}: {message}"),
        None => anyhow::anyhow!("invalid configuration: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use adapter_kafka::AutoOffsetReset;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load_from(move |var| vars.get(var).cloned())
    }

    fn refusal(vars: &[(&str, &str)]) -> String {
        format!("{:#}", load(vars).expect_err("refused"))
    }

    #[test]
    fn the_compiled_in_defaults_are_those_of_config_default_toml() {
        let s = Settings::default();
        assert_eq!(s.http.port, 3000);
        assert_eq!(s.http.bind_address, "0.0.0.0");
        assert_eq!(s.storage.database_path, PathBuf::from("./data/billing.db"));
        assert!(s.storage.mongodb_uri.is_none());
        assert!(s.kafka.is_none(), "no brokers, no consumer");
        assert_eq!(s.log.format, LogFormat::Pretty);
        let kafka = Settings::kafka_defaults("localhost:9092");
        assert_eq!(kafka.topic, "customers");
        assert_eq!(kafka.dead_letter_topic(), "customers.dlq");
        assert_eq!(kafka.auto_offset_reset, AutoOffsetReset::Earliest);
    }

    #[test]
    fn every_variable_sets_its_setting() {
        let s = load(&[
            ("PORT", "8080"),
            ("BIND_ADDRESS", "127.0.0.1"),
            ("HTTP_WORKERS", "3"),
            ("REQUEST_TIMEOUT_SECONDS", "7"),
            ("SHUTDOWN_GRACE_SECONDS", "8"),
            ("CORS_ORIGINS", "*"),
            ("API_TOKENS", "reader-token-1:read"),
            ("DATABASE_PATH", "/tmp/x.db"),
            ("MONGODB_URI", "mongodb://db/x"),
            ("STORAGE_TIMEOUT_MS", "9"),
            ("KAFKA_BROKERS", "k:9092"),
            ("KAFKA_TOPIC", "t"),
            ("KAFKA_GROUP_ID", "g"),
            ("KAFKA_CLIENT_ID", "c"),
            ("KAFKA_DLQ_TOPIC", "d"),
            ("KAFKA_MAX_RETRIES", "10"),
            ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
            ("KAFKA_SASL_MECHANISM", "PLAIN"),
            ("KAFKA_SASL_USERNAME", "u"),
            ("KAFKA_SASL_PASSWORD", "p"),
            ("KAFKA_SSL_CA_LOCATION", "/ca.pem"),
            ("KAFKA_SESSION_TIMEOUT_MS", "11"),
            ("KAFKA_MAX_POLL_INTERVAL_MS", "12"),
            ("KAFKA_HEARTBEAT_INTERVAL_MS", "13"),
            ("KAFKA_AUTO_OFFSET_RESET", "latest"),
            ("INITIAL_BILLING_DUE_DAYS", "15"),
            ("INITIAL_BILLING_AMOUNT", "16"),
            ("LOG_FORMAT", "json"),
        ])
        .expect("loads");
        assert_eq!(
            (s.http.port, s.http.bind_address.as_str(), s.http.workers),
            (8080, "127.0.0.1", 3)
        );
        assert_eq!(
            (
                s.http.request_timeout_seconds,
                s.http.shutdown_grace_seconds
            ),
            (7, 8)
        );
        assert_eq!(s.http.cors_origins.as_deref(), Some("*"));
        assert_eq!(s.auth.api_tokens.as_deref(), Some("reader-token-1:read"));
        assert_eq!(s.storage.database_path, PathBuf::from("/tmp/x.db"));
        assert_eq!(s.storage.mongodb_uri.as_deref(), Some("mongodb://db/x"));
        assert_eq!(s.storage.timeout_ms, 9);
        let k = s.kafka.expect("a consumer");
        assert_eq!(
            (
                k.brokers.as_str(),
                k.topic.as_str(),
                k.group_id.as_str(),
                k.client_id.as_str()
            ),
            ("k:9092", "t", "g", "c")
        );
        assert_eq!((k.dead_letter_topic().as_str(), k.max_retries), ("d", 10));
        assert_eq!(
            (
                k.security_protocol.as_deref(),
                k.sasl_mechanism.as_deref(),
                k.sasl_username.as_deref(),
                k.sasl_password.as_deref(),
                k.ssl_ca_location.as_deref()
            ),
            (
                Some("sasl_ssl"),
                Some("PLAIN"),
                Some("u"),
                Some("p"),
                Some("/ca.pem")
            )
        );
        assert_eq!(
            (
                k.session_timeout_ms,
                k.max_poll_interval_ms,
                k.heartbeat_interval_ms
            ),
            (11, 12, 13)
        );
        assert_eq!(k.auto_offset_reset, AutoOffsetReset::Latest);
        assert_eq!(
            (s.initial_billing.due_days, s.initial_billing.amount),
            (15, 16)
        );
        assert_eq!(s.log.format, LogFormat::Json);
    }

    #[test]
    fn an_empty_variable_leaves_an_optional_setting_unset_and_a_required_one_refused() {
        let s = load(&[("MONGODB_URI", ""), ("KAFKA_BROKERS", " ")]).expect("loads");
        assert!(s.storage.mongodb_uri.is_none());
        assert!(s.kafka.is_none());
        let error = refusal(&[("PORT", "")]);
        assert!(error.contains("PORT") && error.contains("empty"), "{error}");
    }

    #[test]
    fn a_bad_value_is_refused_naming_its_variable() {
        for (var, value) in [
            ("PORT", "eighty"),
            ("HTTP_WORKERS", "-1"),
            ("STORAGE_TIMEOUT_MS", "0"),
            ("KAFKA_MAX_POLL_INTERVAL_MS", "soon"),
            ("KAFKA_TOPIC", " "),
            ("INITIAL_BILLING_AMOUNT", "1000000000000001"),
            ("INITIAL_BILLING_DUE_DAYS", "3651"),
            ("REQUEST_TIMEOUT_SECONDS", "0"),
            ("LOG_FORMAT", "xml"),
            ("API_TOKENS", "short:read"),
        ] {
            let error = refusal(&[(var, value)]);
            assert!(
                error.contains(&format!("invalid value for {var}")),
                "{var}={value:?}: {error}"
            );
        }
    }

    #[test]
    fn a_bad_consumer_setting_is_refused_even_without_brokers() {
        let error = refusal(&[("KAFKA_MAX_RETRIES", "0")]);
        assert!(error.contains("KAFKA_MAX_RETRIES"), "{error}");
    }

    #[test]
    fn an_offset_reset_other_than_earliest_or_latest_is_refused_naming_the_variable() {
        for good in ["earliest", "latest"] {
            assert!(load(&[("KAFKA_AUTO_OFFSET_RESET", good)]).is_ok(), "{good}");
        }
        for bad in ["smallest", "Latest", "", "none"] {
            let error = refusal(&[("KAFKA_AUTO_OFFSET_RESET", bad)]);
            assert!(
                error.contains("KAFKA_AUTO_OFFSET_RESET")
                    && (error.contains("earliest or latest") || bad.is_empty()),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn files_in_config_dir_override_the_defaults_and_app_env_picks_one_more() {
        let dir = tempfile::tempdir().expect("a folder");
        std::fs::write(
            dir.path().join("default.toml"),
            "[http]\nport = 4000\nworkers = 2\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("production.toml"),
            "[http]\nport = 5000\n[log]\nformat = \"json\"\n",
        )
        .expect("write");
        let config_dir = dir.path().to_str().expect("utf-8");
        let s = load(&[("CONFIG_DIR", config_dir)]).expect("loads");
        assert_eq!((s.http.port, s.http.workers), (4000, 2));
        assert_eq!(s.http.bind_address, "0.0.0.0", "the rest stays compiled-in");
        let s = load(&[("CONFIG_DIR", config_dir), ("APP_ENV", "production")]).expect("loads");
        assert_eq!((s.http.port, s.http.workers), (5000, 2));
        assert_eq!(s.log.format, LogFormat::Json);
        let s = load(&[
            ("CONFIG_DIR", config_dir),
            ("APP_ENV", "production"),
            ("PORT", "6000"),
        ])
        .expect("loads");
        assert_eq!(s.http.port, 6000, "the environment comes last");
    }

    #[test]
    fn a_config_dir_that_is_not_a_folder_is_refused_and_a_missing_default_one_is_fine() {
        let error = refusal(&[("CONFIG_DIR", "/nonexistent/billing-config")]);
        assert!(error.contains("CONFIG_DIR"), "{error}");
        // ./config relative to wherever the tests run: present or not, the defaults load.
        assert!(load(&[]).is_ok());
    }

    #[test]
    fn a_file_with_a_key_the_service_does_not_know_is_refused() {
        let dir = tempfile::tempdir().expect("a folder");
        // The flat layout of earlier versions: refused rather than silently ignored.
        std::fs::write(dir.path().join("default.toml"), "port = 4000\n").expect("write");
        let error = refusal(&[("CONFIG_DIR", dir.path().to_str().expect("utf-8"))]);
        assert!(error.contains("unknown field `port`"), "{error}");
    }

    #[test]
    fn secrets_stay_out_of_the_debug_form() {
        let s = load(&[
            ("MONGODB_URI", "mongodb://billing:S3cret@db/x"),
            ("API_TOKENS", "T0ken-Secret:write"),
            ("KAFKA_BROKERS", "k:9092"),
            ("KAFKA_SASL_PASSWORD", "Kafka-S3cret"),
        ])
        .expect("loads");
        let debug = format!("{s:?}");
        for secret in ["S3cret", "T0ken-Secret", "Kafka-S3cret"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }
}
