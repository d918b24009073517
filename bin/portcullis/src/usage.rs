//! Writing metered usage to the store: every `usage.flush_interval`, and once more at shutdown
//! after the last request has drained. A write that fails keeps its counts for the next one,
//! so a store outage delays usage records but does not lose them; a crash loses at most one
//! interval.

use std::sync::Arc;
use std::time::Duration;

use gateway::Metering;
use store::{AnyStore, Store as _, UsageRecord};
use tokio::sync::watch;

/// Flushes every `every` until `stopped` turns true, and once more then.
pub(crate) async fn flush_every(
    every: Duration,
    metering: Arc<Metering>,
    store: AnyStore,
    mut stopped: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => { flush(&metering, &store).await; }
            // What is counted so far is written as soon as shutdown starts, in case the drain
            // outlasts the supervisor's patience; the rest follows after the drain.
            _ = stopped.changed() => {
                flush(&metering, &store).await;
                return;
            }
        }
    }
}

/// Writes the tally in one transaction; on failure puts it back. Returns whether all was written.
pub(crate) async fn flush(metering: &Metering, store: &AnyStore) -> bool {
    let counts = metering.usage.take();
    if counts.is_empty() {
        return true;
    }
    let deltas: Vec<UsageRecord> = counts
        .iter()
        .map(|(k, n)| UsageRecord {
            plan_id: k.plan.to_string(),
            key_id: k.key_id.to_string(),
            day: k.day.to_string(),
            api: k.api.to_string(),
            stage: k.stage.to_string(),
            route: k.route.to_string(),
            count: i64::try_from(*n).unwrap_or(i64::MAX),
            customer_id: k.customer_id.to_string(),
        })
        .collect();
    match store.usage_add(&deltas).await {
        Ok(()) => true,
        Err(e) => {
            let pending: u64 = counts.iter().map(|(_, n)| n).sum();
            tracing::warn!(error = %e, pending, "cannot write usage records yet; they are kept for the next try");
            metering.usage.restore(counts);
            false
        }
    }
}

/// The last flush at shutdown, tried a few times.
pub(crate) async fn flush_at_shutdown(metering: &Metering, store: &AnyStore) {
    for attempt in 0..5u32 {
        if flush(metering, store).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
    }
    let lost: u64 = metering.usage.take().iter().map(|(_, n)| n).sum();
    tracing::error!(requests = lost, "usage records could not be written before shutdown and are lost");
}
