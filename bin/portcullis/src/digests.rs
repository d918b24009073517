//! The audit digest writer: every `audit.digest_interval`, the node that takes the store's
//! `audit-digest` lease signs a digest of the records written since the last one. A failure is
//! logged and retried at the next interval; nothing is lost, since the next digest covers
//! everything since the last.

use std::time::Duration;

use store::{AnyStore, Store as _};
use tokio::sync::watch;

/// Runs until `shutdown`.
pub(crate) async fn sign_every(every: Duration, store: AnyStore, kms: kms::Kms, mut shutdown: watch::Receiver<bool>) {
    // Unique enough to tell nodes apart: the process id and the start time in nanoseconds.
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let node = format!("{}-{started}", std::process::id());
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let now = now_ms();
        let lease = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1000) / 2;
        match store.try_lock_certificate("audit-digest", &node, now, now.saturating_add(lease)).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "audit digest: the store is unavailable");
                continue;
            }
        }
        let result = match admin::SigningKey::load(&store, &kms, now).await {
            Ok(key) => admin::write_digest(&store, &key, now).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(Some(seq)) => tracing::info!(seq, "audit digest signed"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "audit digest not written; the next one covers these records"),
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
