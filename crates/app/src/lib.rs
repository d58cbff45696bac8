//! Wiring: settings to a running service (HTTP server, store, event consumer), and an ordered
//! shutdown.

mod commands;
mod instrumented;
pub mod settings;
mod store;
mod sweeper;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use adapter_http::{ApiToken, HttpOptions, Probes};
use adapter_kafka::{ConsumerState, ConsumerStatus, KafkaSettings, RelayOptions};
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
use crate::sweeper::SweepOptions;

/// A built, bound service: HTTP not yet serving; the consumer and the relay (if configured) and
/// the overdue sweep already running.
pub struct Application {
    port: u16,
    server: Server,
    background: Background,
    consumer_status: Arc<ConsumerStatus>,
}

/// A task that runs beside HTTP until told to stop.
struct Task {
    name: &'static str,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// What runs beside HTTP: the consumer and the relay when Kafka is configured, the sweep always.
#[derive(Default)]
struct Background {
    /// Stopped before HTTP: the consumer.
    first: Vec<Task>,
    /// Stopped after HTTP, so that the last requests' events are relayed too.
    last: Vec<Task>,
}

/// Stops the service in order: the consumer first (stop fetching, finish the batch in hand,
/// commit, leave the group), the relay and the sweep, then HTTP (finish requests in flight).
pub struct Stopper {
    http: ServerHandle,
    background: Background,
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

// The spawners are generic over the store on purpose: for a concrete one, rustc looks into its
// futures and cannot prove the tasks `Send` for every lifetime (rust-lang/rust#100013), though
// they are; over `R`, the ports' `Send` bounds are what it checks.
impl Task {
    fn consumer<R: Repository>(
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
        Self {
            name: "consumer",
            stop,
            task,
        }
    }

    fn relay<R: Repository>(kafka: &KafkaSettings, service: &Arc<BillingService<R>>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let holder = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4());
        let task = tokio::spawn(adapter_kafka::relay(
            kafka.clone(),
            Arc::clone(service),
            RelayOptions::new(holder),
            stopped,
        ));
        Self {
            name: "relay",
            stop,
            task,
        }
    }

    fn sweeper<R: Repository>(service: &Arc<BillingService<R>>, options: SweepOptions) -> Self {
        let (stop, stopped) = watch::channel(false);
        let service = Arc::clone(service);
        let task = tokio::spawn(async move {
            sweeper::run(service, options, stopped).await;
            Ok(())
        });
        Self {
            name: "overdue sweep",
            stop,
            task,
        }
    }
}

/// Stops each in order, waiting for it to finish.
async fn stop_all(tasks: Vec<Task>) {
    {
        for task in tasks {
            let _ = task.stop.send(true);
            match task.task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "the {} failed", task.name),
                Err(e) => tracing::error!(error = %e, "the {} task failed", task.name),
            }
        }
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
        let mut background = Background::default();
        let consumer_status = match &settings.kafka {
            Some(kafka) => {
                kafka.check().context(
                    "invalid Kafka settings (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, ...)",
                )?;
                let status = Arc::new(ConsumerStatus::with_metrics(
                    ConsumerState::Connecting,
                    telemetry.events().clone(),
                ));
                background
                    .first
                    .push(Task::consumer(kafka, &service, &status));
                background.last.push(Task::relay(kafka, &service));
                status
            }
            None => {
                tracing::info!(
                    "KAFKA_BROKERS is not set: the customer event consumer and the billing \
                     event relay are off (billing events are still recorded)"
                );
                Arc::new(ConsumerStatus::new(ConsumerState::Disabled))
            }
        };
        let events = &settings.billing_events;
        background.last.push(Task::sweeper(
            &service,
            SweepOptions {
                every: Duration::from_secs(events.overdue_sweep_seconds),
                retention: events
                    .retention_days
                    .map(|days| Duration::from_secs(u64::from(days) * 86_400)),
                relayed: settings.kafka.is_some(),
            },
        ));
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
            background,
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
            background: std::mem::take(&mut self.background),
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
    /// Stops the consumer (waiting for it to commit and leave its group), the relay and the
    /// sweep, then HTTP.
    pub async fn stop(self, graceful: bool) {
        stop_all(self.background.first).await;
        self.http.stop(graceful).await;
        stop_all(self.background.last).await;
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
