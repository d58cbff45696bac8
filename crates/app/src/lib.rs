//! Wiring: settings to a running service.

pub mod settings;

use std::net::TcpListener;
use std::sync::Arc;

use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use adapter_mongo::MongoStore;
use adapter_sqlite::SqliteStore;
use anyhow::Context;
use billing_domain::{BillingService, ObjectIdGenerator, Repository, SystemClock};

pub use settings::Settings;

/// A built, bound, not yet running service.
pub struct Application {
    port: u16,
    server: Server,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the store, binds the port (0 picks a free one) and prepares the HTTP server.
    /// With `MONGODB_URI` set the store is MongoDB, which need not be up yet: the service
    /// answers 503 until it is, and creates its indexes as soon as it is.
    ///
    /// # Errors
    /// When the store cannot be opened (SQLite) or its URI parsed (MongoDB), or the port
    /// cannot be bound.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let address = format!("{}:{}", settings.bind_address, settings.port);
        let listener = TcpListener::bind(&address)
            .with_context(|| format!("cannot listen on {address} (BIND_ADDRESS, PORT)"))?;
        let port = listener.local_addr()?.port();
        let server = match &settings.mongodb_uri {
            Some(uri) => {
                let timeout = Duration::from_millis(settings.storage_timeout_ms.max(1));
                let store = MongoStore::connect(uri, timeout).await?;
                store.migrate_in_background();
                tracing::info!(
                    port,
                    store = "mongodb",
                    database = store.database_name(),
                    "billing service listening"
                );
                serve(listener, store, settings)?
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
                serve(listener, store, settings)?
            }
        };
        Ok(Self { port, server })
    }

    pub const fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through [`Application::handle`].
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn serve<R: Repository>(
    listener: TcpListener,
    store: R,
    settings: &Settings,
) -> anyhow::Result<Server> {
    let service = Arc::new(BillingService::new(
        store,
        Arc::new(SystemClock),
        Arc::new(ObjectIdGenerator::default()),
    ));
    let workers = match settings.http_workers {
        0 => std::thread::available_parallelism().map_or(2, usize::from),
        n => n,
    };
    Ok(adapter_http::server(listener, service, workers)?)
}
