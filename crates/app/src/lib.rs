//! Wiring: settings to a running service (HTTP server, store, event consumer), and an ordered
//! shutdown.

mod commands;
mod instrumented;
pub mod settings;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use adapter_http::{ApiToken, HttpOptions, Probes};
use adapter_kafka::{ConsumerState, ConsumerStatus, KafkaSettings};
use adapter_mongo::MongoStore;
use adapter_sqlite::SqliteStore;
use adapter_system::{ObjectIdGenerator, SystemClock};
use anyhow::Context;
use billing_domain::{Amount, BillingService, EventDefaults, Repository};
use telemetry::{StorageMetrics, Telemetry};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use commands::{migrate, seed};
pub use settings::Settings;

use crate::instrumented::Instrumented;

/// Asks a store whether it can serve now, and why not (readiness).
type StoragePing = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// A built, bound service: HTTP not yet serving, the consumer (if configured) already running.
pub struct Application {
    port: u16,
    server: Server,
    consumer: Option<ConsumerTask>,
    consumer_status: Arc<ConsumerStatus>,
}

struct ConsumerTask {
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Stops the service in order: the consumer first (stop fetching, finish the batch in hand,
/// commit, leave the group), then HTTP (finish requests in flight).
pub struct Stopper {
    http: ServerHandle,
    consumer: Option<ConsumerTask>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("consumer", &self.consumer_status.state())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Stopper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stopper").finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the store, binds the port (0 picks a free one), prepares the HTTP server and starts
    /// the event consumer when `KAFKA_BROKERS` is set. With `MONGODB_URI` set the store is
    /// MongoDB, which need not be up yet: the service answers 503 until it is, and creates its
    /// indexes as soon as it is.
    ///
    /// # Errors
    /// When the store cannot be opened (SQLite) or its URI parsed (MongoDB), or the port
    /// cannot be bound.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let address = format!("{}:{}", settings.bind_address, settings.port);
        // Checked again here for callers that build settings by hand (tests, embedding).
        settings.validate()?;
        let listener = TcpListener::bind(&address)
            .with_context(|| format!("cannot listen on {address} (BIND_ADDRESS, PORT)"))?;
        let port = listener.local_addr()?.port();
        let telemetry = Telemetry::default();
        match &settings.mongodb_uri {
            Some(uri) => {
                let timeout = Duration::from_millis(settings.storage_timeout_ms.max(1));
                let store = MongoStore::connect(uri, timeout).await?;
                // Indexes first when MongoDB is up, so that no request runs before the unique
                // ones exist; when it is down, the service starts anyway and keeps trying.
                match tokio::time::timeout(timeout, store.migrate()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = format!("{e:#}"), "MongoDB not ready at startup");
                        store.migrate_in_background();
                    }
                    Err(_) => {
                        tracing::warn!("MongoDB did not answer at startup");
                        store.migrate_in_background();
                    }
                }
                tracing::info!(
                    port,
                    store = "mongodb",
                    database = store.database_name(),
                    "billing service listening"
                );
                // Wrapped here, where the store's type is concrete: see `Instrumented`.
                let (store, ping) = instrument(store, telemetry.storage(), |s| async move {
                    s.readiness().await
                });
                Self::assemble(listener, port, store, ping, telemetry, settings)
            }
            None => {
                let store = SqliteStore::open(&settings.database_path).with_context(|| {
                    format!(
                        "cannot open DATABASE_PATH {}",
                        settings.database_path.display()
                    )
                })?;
                tracing::info!(
                    port,
                    store = "sqlite",
                    path = %settings.database_path.display(),
                    "billing service listening"
                );
                // Wrapped here, where the store's type is concrete: see `Instrumented`.
                let (store, ping) = instrument(store, telemetry.storage(), |s| async move {
                    if s.ping().await {
                        Ok(())
                    } else {
                        Err("the SQLite database does not answer".to_owned())
                    }
                });
                Self::assemble(listener, port, store, ping, telemetry, settings)
            }
        }
    }

    fn assemble<R: Repository>(
        listener: TcpListener,
        port: u16,
        store: R,
        ping: StoragePing,
        telemetry: Telemetry,
        settings: &Settings,
    ) -> anyhow::Result<Self> {
        let defaults = EventDefaults {
            due_days: settings.initial_billing_due_days,
            amount: Amount::new(settings.initial_billing_amount)
                .context("INITIAL_BILLING_AMOUNT")?,
        };
        let service = Arc::new(
            BillingService::new(
                store,
                Arc::new(SystemClock),
                Arc::new(ObjectIdGenerator::default()),
            )
            .with_event_defaults(defaults),
        );
        let (consumer, consumer_status) = match kafka_settings(settings) {
            Some(kafka) => {
                kafka.check().context(
                    "invalid Kafka settings (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, ...)",
                )?;
                let status = Arc::new(ConsumerStatus::with_metrics(
                    ConsumerState::Connecting,
                    telemetry.events().clone(),
                ));
                let (stop, stopped) = watch::channel(false);
                let task = tokio::spawn(adapter_kafka::run(
                    kafka,
                    Arc::clone(&service),
                    Arc::clone(&status),
                    stopped,
                ));
                (Some(ConsumerTask { stop, task }), status)
            }
            None => {
                tracing::info!("KAFKA_BROKERS is not set: the customer event consumer is off");
                (None, Arc::new(ConsumerStatus::new(ConsumerState::Disabled)))
            }
        };
        let server = adapter_http::server(
            listener,
            service,
            http_options(settings)?,
            probes(ping, &consumer_status),
            telemetry,
        )?;
        Ok(Self {
            port,
            server,
            consumer,
            consumer_status,
        })
    }

    pub const fn port(&self) -> u16 {
        self.port
    }

    /// A handle to the HTTP server alone.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// What the event consumer is doing.
    pub fn consumer_status(&self) -> Arc<ConsumerStatus> {
        Arc::clone(&self.consumer_status)
    }

    /// The ordered stop of the whole service; take it before [`Application::run_until_stopped`].
    pub fn stopper(&mut self) -> Stopper {
        Stopper {
            http: self.server.handle(),
            consumer: self.consumer.take(),
        }
    }

    /// Serves until stopped.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

impl Stopper {
    /// Stops the consumer (waiting for it to commit and leave its group), then HTTP.
    pub async fn stop(self, graceful: bool) {
        if let Some(consumer) = self.consumer {
            let _ = consumer.stop.send(true);
            match consumer.task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "the consumer failed"),
                Err(e) => tracing::error!(error = %e, "the consumer task failed"),
            }
        }
        self.http.stop(graceful).await;
    }
}

fn kafka_settings(s: &Settings) -> Option<KafkaSettings> {
    let brokers = s.kafka_brokers.clone()?;
    let mut k = KafkaSettings::new(brokers);
    k.topic.clone_from(&s.kafka_topic);
    k.group_id.clone_from(&s.kafka_group_id);
    k.client_id.clone_from(&s.kafka_client_id);
    k.dlq_topic = s
        .kafka_dlq_topic
        .clone()
        .unwrap_or_else(|| format!("{}.dlq", s.kafka_topic));
    k.max_retries = s.kafka_max_retries;
    k.security_protocol.clone_from(&s.kafka_security_protocol);
    k.sasl_mechanism.clone_from(&s.kafka_sasl_mechanism);
    k.sasl_username.clone_from(&s.kafka_sasl_username);
    k.sasl_password.clone_from(&s.kafka_sasl_password);
    k.ssl_ca_location.clone_from(&s.kafka_ssl_ca_location);
    k.session_timeout_ms = s.kafka_session_timeout_ms;
    k.max_poll_interval_ms = s.kafka_max_poll_interval_ms;
    k.heartbeat_interval_ms = s.kafka_heartbeat_interval_ms;
    // Checked by `Settings::validate`, which runs before this.
    k.auto_offset_reset =
        adapter_kafka::AutoOffsetReset::parse(&s.kafka_auto_offset_reset).unwrap_or_default();
    Some(k)
}

/// Wraps `store` to time its calls, and makes its readiness probe.
fn instrument<S, F>(
    store: S,
    metrics: &StorageMetrics,
    ping: fn(S) -> F,
) -> (Instrumented<S>, StoragePing)
where
    S: Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let probe = store.clone();
    let storage: StoragePing = Arc::new(move || Box::pin(ping(probe.clone())));
    (Instrumented::new(store, metrics.clone()), storage)
}

fn http_options(s: &Settings) -> anyhow::Result<HttpOptions> {
    let tokens = match &s.api_tokens {
        Some(raw) => {
            ApiToken::parse_list(raw).map_err(|e| anyhow::anyhow!("invalid API_TOKENS: {e}"))?
        }
        None => {
            tracing::warn!("API_TOKENS is not set: the API is open to anyone who can reach it");
            Vec::new()
        }
    };
    Ok(HttpOptions {
        tokens,
        cors_origins: s
            .cors_origins
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect(),
        request_timeout: Duration::from_secs(s.request_timeout_seconds.max(1)),
        shutdown_grace: Duration::from_secs(s.shutdown_grace_seconds),
        workers: match s.http_workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        },
    })
}

fn probes(storage: StoragePing, status: &Arc<ConsumerStatus>) -> Probes {
    let status = Arc::clone(status);
    Probes {
        storage,
        consumer: Arc::new(move || status.state().as_str()),
    }
}
