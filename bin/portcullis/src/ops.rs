//! The gateway's control operations, shared by the admin API, SIGHUP and the file watcher:
//! reload with an audit record, the running config, metrics.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use admin::{Control, ReloadOutcome};
use gateway::{Gateway, ReloadError};
use sha2::{Digest, Sha256};
use store::{AnyStore, Outcome};

/// The operations, over one gateway and its store.
pub(crate) struct Ops {
    pub(crate) gateway: Arc<Gateway>,
    pub(crate) store: AnyStore,
}

impl Ops {
    /// Reloads and writes the audit record.
    pub(crate) async fn reload_as(&self, actor: &str, source_ip: &str) -> ReloadOutcome {
        let target = self.gateway.config_path().display().to_string();
        let (outcome, result, detail) = match self.gateway.reload().await {
            Ok(r) => {
                tracing::info!(actor, apis = r.apis, routes = r.routes, "config reloaded");
                for name in &r.restart_needed {
                    tracing::warn!(setting = name, "this setting changed but takes effect only after a restart");
                }
                let detail = format!("{} APIs, {} routes", r.apis, r.routes);
                let restart_needed = r.restart_needed.iter().map(|s| (*s).to_owned()).collect();
                (ReloadOutcome::Reloaded { apis: r.apis, routes: r.routes, restart_needed }, Outcome::Success, detail)
            }
            Err(e) => {
                let errors = match &e {
                    ReloadError::Config(c) => c.0.iter().map(ToString::to_string).collect(),
                    other => vec![other.to_string()],
                };
                tracing::error!(actor, error = %e, "config reload refused; the previous config keeps serving");
                let detail = errors.join("; ");
                (ReloadOutcome::Refused { errors }, Outcome::Failure, detail)
            }
        };
        admin::write_audit(&self.store, actor, source_ip, "config.reload", &target, result, detail).await;
        outcome
    }

    /// Watches the config file (by content) and certificate files (by modification time).
    pub(crate) async fn watch_files(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let path = self.gateway.config_path().to_owned();
        let digest = |p: &std::path::Path| std::fs::read(p).ok().map(Sha256::digest);
        let mut last = digest(&path);
        loop {
            let rt = self.gateway.runtime();
            if !rt.compiled.config.reload.watch {
                return;
            }
            let every = rt.compiled.config.reload.poll_interval.as_std();
            drop(rt);
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
            let now = digest(&path);
            if now.is_some() && now != last {
                last = now;
                tracing::info!(file = %path.display(), "config file changed");
                self.reload_as("system:file-watch", "").await;
            }
            match self.gateway.certs().reload_if_changed() {
                Ok(true) => tracing::info!("certificate files changed; reloaded"),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "certificate reload refused; the previous certificates keep serving")
                }
            }
        }
    }
}

impl Control for Ops {
    fn reload<'a>(
        &'a self,
        actor: &'a str,
        source_ip: &'a str,
    ) -> Pin<Box<dyn Future<Output = ReloadOutcome> + Send + 'a>> {
        Box::pin(self.reload_as(actor, source_ip))
    }

    fn running_config(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.gateway.runtime().compiled.config).unwrap_or_default();
        admin::redact_config(&mut v);
        v
    }

    fn metrics(&self) -> String {
        self.gateway.metrics().encode()
    }
}
