//! Wiring: settings to a running service (HTTP server, store, event consumer), and an ordered
//! shutdown.

mod commands;
mod instrumented;
pub mod settings;
mod store;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use adapter_http::{ApiToken, HttpOptions, Probes};
use adapter_kafka::{ConsumerState, ConsumerStatus, KafkaSettings};
use adapter_system::{ObjectIdGenerator, SystemClock};
use anyhow::Context;
use billing_domain::{Amount, BillingService, EventDefaults, Repository};
use telemetry::Telemetry;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use commands::{migrate, seed};
pub use settings::Settings;
pub use store::Store;

use crate::instrumented::Instrumented;

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

impl ConsumerTask {
    /// Generic over the store on purpose: for a concrete one, rustc looks into its futures and
    /// cannot prove the consumer's `Send` for every lifetime (rust-lang/rust#100013), though it
    /// is; over `R`, the ports' `Send` bounds are what it checks.
    fn spawn<R: Repository>(
        kafka: &KafkaSettings,
        service: &Arc<BillingService<R>>,
        status: &Arc<ConsumerStatus>,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(adapter_kafka::run(
            kafka.clone(),
            Arc::clone(service),
            Arc::clone(status),
            stopped,
        ));
        Self { stop, task }
    }
}

impl Application {
    /// Opens the store, binds the port (0 picks a free one), prepares the HTTP server and starts
    /// the event consumer when `KAFKA_BROKERS` is set. With `MONGODB_URI` set the store is
    /// MongoDB, which need not be up yet: the service answers 503 until it is, and creates its
    /// indexes as soon as it is.
    ///
    /// # Errors
    /// When the settings are invalid, the store cannot be opened (see [`Store::open`]), the
    /// Kafka settings are refused by librdkafka, or the port cannot be bound.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        // Checked again here for callers that build settings by hand (tests, embedding).
        settings.validate()?;
        let http = &settings.http;
        let address = format!("{}:{}", http.bind_address, http.port);
        let listener = TcpListener::bind(&address)
            .with_context(|| format!("cannot listen on {address} (BIND_ADDRESS, PORT)"))?;
        let port = listener.local_addr()?.port();
        let store = Store::open(settings).await?;
        store.prepare_for_serving(settings).await;
        let (kind, location) = store.describe();
        tracing::info!(
            port,
            store = kind,
            at = location,
            "billing service listening"
        );

        let telemetry = Telemetry::default();
        let defaults = EventDefaults {
            due_days: settings.initial_billing.due_days,
            amount: Amount::new(settings.initial_billing.amount)
                .context("INITIAL_BILLING_AMOUNT")?,
        };
        let probe = store.clone();
        let service = Arc::new(
            BillingService::new(
                Instrumented::new(store, telemetry.storage().clone()),
                Arc::new(SystemClock),
                Arc::new(ObjectIdGenerator::default()),
            )
            .with_event_defaults(defaults),
        );
        let (consumer, consumer_status) = match &settings.kafka {
            Some(kafka) => {
                kafka.check().context(
                    "invalid Kafka settings (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, ...)",
                )?;
                let status = Arc::new(ConsumerStatus::with_metrics(
                    ConsumerState::Connecting,
                    telemetry.events().clone(),
                ));
                let task = ConsumerTask::spawn(kafka, &service, &status);
                (Some(task), status)
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
            probes(&probe, &consumer_status),
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

fn http_options(s: &Settings) -> anyhow::Result<HttpOptions> {
    let tokens = match &s.auth.api_tokens {
        Some(raw) => {
            ApiToken::parse_list(raw).map_err(|e| anyhow::anyhow!("invalid API_TOKENS: {e}"))?
        }
        None => {
            tracing::warn!("API_TOKENS is not set: the API is open to anyone who can reach it");
            Vec::new()
        }
    };
    let http = &s.http;
    Ok(HttpOptions {
        tokens,
        cors_origins: http
            .cors_origins
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect(),
        request_timeout: Duration::from_secs(http.request_timeout_seconds.max(1)),
        shutdown_grace: Duration::from_secs(http.shutdown_grace_seconds),
        workers: match http.workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        },
    })
}

/// Readiness asks the store itself, past the metrics' decorator.
fn probes(store: &Store, status: &Arc<ConsumerStatus>) -> Probes {
    let store = store.clone();
    let status = Arc::clone(status);
    Probes {
        storage: Arc::new(move || {
            let store = store.clone();
            Box::pin(async move { store.readiness().await })
        }),
        consumer: Arc::new(move || status.state().as_str()),
    }
}
