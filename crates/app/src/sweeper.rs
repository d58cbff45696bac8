//! The billing events' upkeep, on every instance: the overdue sweep every
//! `OVERDUE_SWEEP_SECONDS`, and, with `BILLING_EVENTS_RETENTION_DAYS`, the removal of old
//! events. The store makes both safe to run on several instances at once: a billing gets its
//! `Billing.Overdue` once however many sweeps race.

use std::sync::Arc;
use std::time::Duration;

use billing_domain::{BillingService, Limit, Repository};
use tokio::sync::watch;

/// Billings marked overdue per store call: a sweep repeats it until a call finds fewer.
const SWEEP_BATCH: u32 = 500;

#[derive(Debug, Clone, Copy)]
pub struct SweepOptions {
    pub every: Duration,
    /// `None`: events are kept forever.
    pub retention: Option<Duration>,
    /// Whether a relay publishes the events: without one, retention removes unpublished
    /// events too (nothing would ever publish them).
    pub relayed: bool,
}

/// Sweeps until `shutdown` turns true.
pub async fn run<R: Repository>(
    service: Arc<BillingService<R>>,
    options: SweepOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let batch = Limit::new(SWEEP_BATCH).unwrap_or_default();
    loop {
        sweep(&service, batch).await;
        if let Some(retention) = options.retention {
            match service
                .prune_billing_events(retention, !options.relayed)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "billing events past their retention removed"),
                Err(e) => tracing::warn!(error = %e, "old billing events not removed yet"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(options.every) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

async fn sweep<R: Repository>(service: &BillingService<R>, batch: Limit) {
    loop {
        match service.record_overdue(batch).await {
            Ok(n) if n < u64::from(batch.get()) => {
                if n > 0 {
                    tracing::info!(billings = n, "Billing.Overdue recorded");
                }
                return;
            }
            Ok(n) => tracing::info!(billings = n, "Billing.Overdue recorded; more to sweep"),
            Err(e) => {
                tracing::warn!(error = %e, "the overdue sweep failed; it runs again next time");
                return;
            }
        }
    }
}
