//! Wiring: settings to a running service.

pub mod settings;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use adapter_sqlite::SqliteStore;
use anyhow::Context;
use billing_domain::{BillingService, ObjectIdGenerator, SystemClock};

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
    ///
    /// # Errors
    /// When the store cannot be opened or the port cannot be bound.
    pub fn build(settings: &Settings) -> anyhow::Result<Self> {
        if settings.mongodb_uri.is_some() {
            anyhow::bail!(
                "MONGODB_URI is set, but this build has no MongoDB store yet; unset it to use the \
                 embedded store"
            );
        }
        let store = SqliteStore::open(&settings.database_path).with_context(|| {
            format!(
                "cannot open DATABASE_PATH {}",
                settings.database_path.display()
            )
        })?;
        let service = Arc::new(BillingService::new(
            store,
            Arc::new(SystemClock),
            Arc::new(ObjectIdGenerator::default()),
        ));
        let address = format!("{}:{}", settings.bind_address, settings.port);
        let listener = TcpListener::bind(&address)
            .with_context(|| format!("cannot listen on {address} (BIND_ADDRESS, PORT)"))?;
        let port = listener.local_addr()?.port();
        let workers = match settings.http_workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        let server = adapter_http::server(listener, service, workers)?;
        tracing::info!(
            port,
            store = "sqlite",
            path = %settings.database_path.display(),
            "billing service listening"
        );
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
