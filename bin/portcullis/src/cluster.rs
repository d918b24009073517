//! Several nodes on one PostgreSQL store: following the changes every node commits (the
//! store's change feed), serving the newest published config, and the heartbeat that
//! `portcullis status` reads.
//!
//! A change notification makes the caches it concerns expire at once; the entries are kept
//! only as the answer of last resort while the store cannot be read. A lost feed means
//! changes may be missed: the caches expire, and while the feed is down the store is treated
//! as offline (calls fail at once; cached answers serve within `cluster.serve_stale_for`).
//! When the feed is back, everything cached expires again and the newest config is read:
//! the node catches up before it trusts its caches again.

use std::sync::Arc;
use std::time::Duration;

use gateway::Metering;
use store::{AnyStore, Change, ChangeFeed, ClusterStore as _, NodeBeat};
use tokio::sync::watch;

use crate::ops::Ops;

/// What the feed's events act on.
pub(crate) struct Follower {
    pub(crate) ops: Arc<Ops>,
    pub(crate) directory: Arc<directory::Directory>,
    pub(crate) metering: Arc<Metering>,
    pub(crate) certificates: Arc<gateway::CertificateManager>,
}

/// Reconnect delays after a failed connection, doubling up to the last.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Follows `feed` until `stopped` turns true.
pub(crate) async fn follow(f: Follower, mut feed: ChangeFeed, mut stopped: watch::Receiver<bool>) {
    let mut retry = RETRY_FIRST;
    let mut reported = false;
    loop {
        let event = tokio::select! {
            e = feed.next() => e,
            _ = stopped.changed() => return,
        };
        match event {
            Ok(Change::Topic(topic)) => f.changed(&topic).await,
            Ok(Change::Subscribed) => {
                tracing::info!("following the store's changes; reading everything cached again");
                retry = RETRY_FIRST;
                reported = false;
                f.catch_up().await;
            }
            Ok(Change::Lost(reason)) => {
                tracing::warn!(reason, "lost the store's change feed; serving from caches until it is back");
                f.expire_caches();
            }
            Err(e) => {
                if !reported {
                    tracing::warn!(error = %e, "cannot reach the store's change feed; trying again");
                    reported = true;
                }
                tokio::select! {
                    () = tokio::time::sleep(retry) => {}
                    _ = stopped.changed() => return,
                }
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

impl Follower {
    /// Acts on a change another node (or this one) committed.
    async fn changed(&self, topic: &str) {
        tracing::debug!(topic, "store change");
        match topic {
            "iam" => self.directory.expire(),
            "api_keys" => self.metering.api_keys.expire(),
            "secrets" => self.reload_pool_keys().await,
            "alarms" => self.sync_alarms().await,
            "certificates" => self.sync_certificates().await,
            "config" => self.ops.serve_latest().await,
            "pool_sessions" => self.ops.gateway().forget_pool_sessions(None),
            // Pool users are read from the store on every sign-in; nothing is cached.
            _ => {}
        }
    }

    /// After (re)subscribing: whatever changed while nobody listened is read again.
    async fn catch_up(&self) {
        self.expire_caches();
        self.ops.gateway().forget_pool_sessions(None);
        self.ops.serve_latest().await;
        self.reload_pool_keys().await;
        self.sync_alarms().await;
        self.sync_certificates().await;
    }

    fn expire_caches(&self) {
        self.directory.expire();
        self.metering.api_keys.expire();
    }

    async fn reload_pool_keys(&self) {
        let gw = self.ops.gateway();
        for pool in gw.runtime().compiled.user_pools.iter().map(|p| p.name.clone()).collect::<Vec<_>>() {
            if let Err(e) = gw.reload_pool_keys(&pool).await {
                tracing::warn!(pool, error = %e, "user pool: cannot read the signing keys again");
            }
        }
    }

    async fn sync_alarms(&self) {
        if let Err(e) = self.ops.alarms().sync().await {
            tracing::warn!(error = %e, "cannot read the alarms again");
        }
    }

    async fn sync_certificates(&self) {
        if let Err(e) = self.certificates.sync().await {
            tracing::warn!(error = %e, "cannot read the certificates again");
        }
    }
}

/// Writes this node's heartbeat every `every` until `stopped` turns true.
pub(crate) async fn beat_every(
    every: Duration,
    ops: Arc<Ops>,
    store: AnyStore,
    address: String,
    mut stopped: watch::Receiver<bool>,
) {
    let started_ms = telemetry::now_ms();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        let beat = NodeBeat {
            name: ops.node().to_owned(),
            address: address.clone(),
            config_version: ops.gateway().config_version(),
            build: env!("CARGO_PKG_VERSION").to_owned(),
            started_ms,
            seen_ms: telemetry::now_ms(),
        };
        match store.node_beat(&beat).await {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot write this node's heartbeat");
            }
            Err(_) => {}
        }
    }
}
