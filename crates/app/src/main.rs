use std::process::ExitCode;

use adapter_http::wire::LIBRARY_LOG_TARGET;
use anyhow::Context;
use app::settings::LogFormat;
use app::{Application, Settings};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// The TelecomX billing service: users and their invoices over REST, customer events from
/// Kafka, on an embedded SQLite store or on MongoDB.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP (and consume events when KAFKA_BROKERS is set). The default.
    Serve,
    /// Create the tables (SQLite) or indexes (MongoDB), then exit.
    Migrate,
    /// Load example users and billings, as the previous service's `node src/seed.js` did.
    Seed,
}

fn init_logging(format: LogFormat) {
    let asked = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "info".into());
    let mut filter = EnvFilter::try_new(&asked).unwrap_or_else(|_| "info".into());
    // The HTTP library logs every request it cannot parse at ERROR, one line per request:
    // `wire::Rewriting` reports those at WARN instead, rate-limited. Still there on request.
    if !asked.contains(LIBRARY_LOG_TARGET)
        && let Ok(off) = format!("{LIBRARY_LOG_TARGET}=off").parse()
    {
        filter = filter.add_directive(off);
    }
    if format == LogFormat::Json {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(false)
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes, without a backtrace: this is for an operator.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // A missing .env is normal; a malformed one is an error worth stopping for.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(e) if e.not_found() => {}
        Err(e) => return Err(e).context("cannot read .env"),
    }
    let settings = Settings::load()?;
    init_logging(settings.log.format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&settings).await,
        Command::Migrate => app::migrate(&settings).await,
        Command::Seed => app::seed(&settings).await,
    }
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let mut app = Application::build(settings).await?;
    let stopper = app.stopper();
    let server = tokio::spawn(app.run_until_stopped());
    shutdown_signal().await;
    tracing::info!(
        "shutting down: consumer first, then requests in flight, then the relay and the sweep"
    );
    stopper.stop(true).await;
    server.await??;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
