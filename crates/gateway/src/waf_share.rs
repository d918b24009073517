//! Sharing the counts of rate-based WAF rules across nodes on Redis: every second, each node
//! adds what it counted since the last time to one Redis counter per rule, key and 10-second
//! bucket, reads the window's buckets back, and from then on decides on the cluster's total.
//! A node therefore sees the others' requests within about a second (AWS WAF's own rate rules
//! lag by up to half a minute). When Redis is unreachable, each node decides on its own counts
//! and keeps what it could not send for the next round.

use std::sync::Arc;
use std::time::Duration;

use limits::RedisLink;
use sha2::{Digest, Sha256};

use crate::Gateway;

/// How often counts are shared.
const EVERY: Duration = Duration::from_secs(1);

/// Shares rate-based counts until `stopped` turns true.
pub async fn run(
    gw: Arc<Gateway>,
    link: Arc<RedisLink>,
    prefix: String,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        let rt = gw.runtime();
        for acl in &rt.compiled.web_acls {
            for (_, state) in acl.rate_states() {
                if let Err(e) = share(&link, &prefix, state).await {
                    tracing::warn!(error = %e, "WAF rate counts not shared on Redis this round");
                }
            }
        }
    }
}

/// One round for one rule.
async fn share(link: &RedisLink, prefix: &str, state: &waf::RateState) -> Result<(), String> {
    let now_s = u64::try_from(limits::now_us() / 1_000_000).unwrap_or(0);
    // Keys counted here within the window: their totals move with other nodes' requests too.
    let keys = state.active_keys(now_s);
    if keys.is_empty() {
        return Ok(());
    }
    let unsynced = state.take_unsynced();
    let rule = short_hash(state.fingerprint().as_bytes());
    let window = state.window_s();
    let bucket_now = now_s - now_s % waf::BUCKET_S;
    let buckets: Vec<u64> = (0..window / waf::BUCKET_S).map(|i| bucket_now - i * waf::BUCKET_S).collect();
    let name = |key: &[u8], bucket: u64| format!("{prefix}:waf:{rule}:{}:{bucket}", short_hash(key));
    let mut pipe = redis::pipe();
    for (key, bucket, n) in &unsynced {
        let counter = name(key, *bucket);
        pipe.cmd("INCRBY").arg(&counter).arg(*n).ignore();
        pipe.cmd("EXPIRE").arg(&counter).arg(window + 2 * waf::BUCKET_S).ignore();
    }
    for key in &keys {
        let names: Vec<String> = buckets.iter().map(|b| name(key, *b)).collect();
        pipe.cmd("MGET").arg(names);
    }
    let totals: Result<Vec<Vec<Option<u64>>>, String> =
        link.run(|mut conn| async move { pipe.query_async(&mut conn).await }).await;
    match totals {
        Ok(totals) => {
            for (key, counts) in keys.iter().zip(totals) {
                state.set_cluster_total(key, counts.into_iter().flatten().sum(), now_s);
            }
            Ok(())
        }
        Err(e) => {
            state.restore_unsynced(unsynced);
            Err(e)
        }
    }
}

/// The first 16 bytes of SHA-256, in hex: Redis keys never hold a client's key values.
fn short_hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}
