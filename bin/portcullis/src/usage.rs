//! Writing metered usage to the store: every `usage.flush_interval`, and once more at shutdown
//! after the last request has drained. Each flush seals what was counted into a batch
//! (journaled in `data_dir/usage`, see [`limits::UsageTally`]) and sends every sealed batch;
//! the store counts a batch id once, so a batch sent again after a lost answer or a crash is
//! not counted twice. A store outage delays usage records but loses none, and a killed node
//! sends what it had counted when it starts again.

use std::sync::Arc;
use std::time::Duration;

use gateway::Metering;
use store::{AnyStore, ClusterStore as _, StoreError, UsageRecord};
use tokio::sync::watch;

/// Flushes every `every` until `stopped` turns true, and once more then.
pub(crate) async fn flush_every(
    every: Duration,
    metering: Arc<Metering>,
    store: AnyStore,
    node: String,
    mut stopped: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => { flush(&metering, &store, &node).await; }
            // What is counted so far is written as soon as shutdown starts, in case the drain
            // outlasts the supervisor's patience; the rest follows after the drain.
            _ = stopped.changed() => {
                flush(&metering, &store, &node).await;
                return;
            }
        }
    }
}

/// Seals the tally and sends every batch waiting, oldest first, in one transaction each.
/// Returns whether all were written.
pub(crate) async fn flush(metering: &Metering, store: &AnyStore, node: &str) -> bool {
    let batches = match metering.usage.seal() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot seal the usage journal; trying again at the next flush");
            return false;
        }
    };
    let now_ms = telemetry::now_ms();
    for batch in batches {
        let deltas: Vec<UsageRecord> = batch.counts.iter().map(|(k, n)| record(k, *n)).collect();
        match store.usage_add_batch(&batch.id, node, &deltas, now_ms).await {
            Ok(fresh) => {
                if !fresh {
                    tracing::info!(batch = %batch.id, "usage batch was already counted; not counted again");
                }
                if let Err(e) = metering.usage.sent(&batch.id) {
                    tracing::error!(batch = %batch.id, error = %e, "cannot delete a sent usage batch");
                }
            }
            // Nothing reached the database: the batch may still be merged with later counts.
            Err(StoreError::Offline) => return pending(metering),
            Err(e) => {
                metering.usage.mark_tried(&batch.id);
                tracing::warn!(error = %e, "cannot write usage records yet; they are kept for the next try");
                return pending(metering);
            }
        }
    }
    true
}

fn pending(metering: &Metering) -> bool {
    tracing::debug!(requests = metering.usage.unwritten(), "usage records waiting for the store");
    false
}

fn record(k: &limits::UsageKey, n: u64) -> UsageRecord {
    UsageRecord {
        plan_id: k.plan.to_string(),
        key_id: k.key_id.to_string(),
        day: k.day.to_string(),
        api: k.api.to_string(),
        stage: k.stage.to_string(),
        route: k.route.to_string(),
        count: i64::try_from(n).unwrap_or(i64::MAX),
        customer_id: k.customer_id.to_string(),
    }
}

/// The last flush at shutdown, tried a few times. What is still not written stays in the
/// journal directory for the next start.
pub(crate) async fn flush_at_shutdown(metering: &Metering, store: &AnyStore, node: &str) {
    for attempt in 0..5u32 {
        if flush(metering, store, node).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
    }
    let left = metering.usage.unwritten();
    tracing::warn!(requests = left, "usage records not written before shutdown; they are sent at the next start");
}
