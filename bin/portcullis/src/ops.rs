//! The gateway's control operations, shared by the admin API, SIGHUP and the file watcher:
//! reload with an audit record, the running config, metrics.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use admin::{Control, ReloadOutcome};
use gateway::{Gateway, ReloadError};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use store::{AnyStore, Outcome};

/// The operations, over one gateway and its store.
pub(crate) struct Ops {
    gateway: Arc<Gateway>,
    store: AnyStore,
    /// The alarms, whose config part a reload replaces.
    alarms: Arc<alarms::Alarms>,
    /// Digest of the config file as last loaded, so the watcher does not reload (and audit)
    /// again what SIGHUP or the admin API just loaded.
    loaded: Mutex<Option<ConfigDigest>>,
    /// This node's name.
    node: String,
}

type ConfigDigest = sha2::digest::Output<Sha256>;

fn digest(path: &Path) -> Option<ConfigDigest> {
    std::fs::read(path).ok().map(Sha256::digest)
}

impl Ops {
    pub(crate) fn new(gateway: Arc<Gateway>, store: AnyStore, alarms: Arc<alarms::Alarms>) -> Self {
        let loaded = Mutex::new(digest(gateway.config_path()));
        alarms.set_config(&gateway.runtime().compiled.alarms);
        let node = gateway.runtime().compiled.config.node();
        Self { gateway, store, alarms, loaded, node }
    }

    /// This node's name.
    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    /// The gateway.
    pub(crate) fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// The alarms.
    pub(crate) fn alarms(&self) -> &Arc<alarms::Alarms> {
        &self.alarms
    }

    /// Serves the newest published config version if it is newer than the one served. A
    /// version that does not compile here is logged and the current config keeps serving.
    pub(crate) async fn serve_latest(&self) {
        use store::ClusterStore as _;
        match self.store.config_latest().await {
            Ok(Some(v)) if v.version > self.gateway.config_version() => {
                if let Err(e) = self.serve_version(v.version, v.document).await {
                    tracing::error!(version = v.version, error = %e, "published config refused on this node");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the published config; the current one keeps serving"),
        }
    }

    async fn serve_version(&self, version: i64, document: String) -> Result<(), String> {
        let published = gateway::Published { version, document };
        match self.gateway.serve_published(published).await {
            Ok(None) => Ok(()),
            Ok(Some(r)) => {
                self.alarms.set_config(&self.gateway.runtime().compiled.alarms);
                tracing::info!(version, apis = r.apis, routes = r.routes, "serving published config");
                for name in &r.restart_needed {
                    tracing::warn!(setting = name, "this setting changed but takes effect only after a restart");
                }
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Reloads and writes the audit record.
    pub(crate) async fn reload_as(&self, actor: &admin::AuditActor) -> ReloadOutcome {
        *self.loaded.lock() = digest(self.gateway.config_path());
        let target = self.gateway.config_path().display().to_string();
        let (outcome, result, detail) = match self.gateway.reload().await {
            Ok(r) => {
                self.alarms.set_config(&self.gateway.runtime().compiled.alarms);
                tracing::info!(actor = %actor.arn, apis = r.apis, routes = r.routes, "config reloaded");
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
                tracing::error!(actor = %actor.arn, error = %e, "config reload refused; the previous config keeps serving");
                let detail = errors.join("; ");
                (ReloadOutcome::Refused { errors }, Outcome::Failure, detail)
            }
        };
        admin::write_audit(&self.store, actor, "config.reload", &target, result, detail).await;
        outcome
    }

    /// Watches the config file (by content) and certificate files (by modification time).
    pub(crate) async fn watch_files(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let path = self.gateway.config_path().to_owned();
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
            if now.is_some() && now != *self.loaded.lock() {
                tracing::info!(file = %path.display(), "config file changed");
                self.reload_as(&admin::AuditActor::named("system:file-watch")).await;
            }
            let rt = self.gateway.runtime();
            match self.gateway.tls().reload_if_changed(&rt.compiled.config, self.gateway.certs()) {
                Ok(false) => {}
                Ok(true) => tracing::info!("trust stores or CRLs changed; reloaded"),
                Err(e) => tracing::error!(error = %e, "trust-store reload refused; the previous ones keep serving"),
            }
            drop(rt);
            let (outcome, detail) = match self.gateway.certs().reload_if_changed() {
                Ok(false) => continue,
                Ok(true) => {
                    tracing::info!("certificate files changed; reloaded");
                    (Outcome::Success, String::new())
                }
                Err(e) => {
                    tracing::error!(error = %e, "certificate reload refused; the previous certificates keep serving");
                    (Outcome::Failure, e.to_string())
                }
            };
            admin::write_audit(
                &self.store,
                &admin::AuditActor::named("system:file-watch"),
                "certificate.reload",
                "tls.certificates",
                outcome,
                detail,
            )
            .await;
        }
    }
}

impl Control for Ops {
    fn check_published(&self, name: &str, document: &str) -> Result<(), Vec<String>> {
        gateway::compile_published(name, document, self.gateway.config_path())
            .map(drop)
            .map_err(|e| e.0.iter().map(ToString::to_string).collect())
    }

    fn serve_published(
        &self,
        version: i64,
        document: String,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(self.serve_version(version, document))
    }

    fn config_version(&self) -> i64 {
        self.gateway.config_version()
    }

    fn pool_sessions_revoked(&self, pool: &str) {
        self.gateway.forget_pool_sessions(Some(pool));
    }

    fn node_name(&self) -> String {
        self.node.clone()
    }

    fn heartbeat_ms(&self) -> i64 {
        let every = self.gateway.runtime().compiled.config.cluster.heartbeat.as_std();
        i64::try_from(every.as_millis()).unwrap_or(i64::MAX)
    }

    fn reload<'a>(&'a self, actor: &'a admin::AuditActor) -> Pin<Box<dyn Future<Output = ReloadOutcome> + Send + 'a>> {
        Box::pin(self.reload_as(actor))
    }

    fn running_config(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.gateway.runtime().compiled.config).unwrap_or_default();
        admin::redact_config(&mut v);
        v
    }

    fn metrics(&self) -> String {
        self.gateway.metrics().encode()
    }

    fn waf_samples(&self, acl: &str, rule: Option<&str>, max: usize) -> Option<serde_json::Value> {
        let rt = self.gateway.runtime();
        rt.compiled.web_acls.iter().any(|a| a.name() == acl).then_some(())?;
        serde_json::to_value(self.gateway.waf_samples().list(acl, rule, max)).ok()
    }

    fn user_pools(&self) -> Vec<std::sync::Arc<model::UserPoolConfig>> {
        self.gateway.runtime().compiled.user_pools.clone()
    }

    fn signing_keys_rotated<'a>(
        &'a self,
        pool: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            if let Err(e) = self.gateway.reload_pool_keys(pool).await {
                tracing::warn!(pool, error = %e, "user pool: keys not read again after the rotation");
            }
        })
    }

    fn file_certificates(&self) -> Vec<admin::CertView> {
        let certs = self.gateway.certs().inventory();
        certs
            .into_iter()
            .map(|c| admin::CertView {
                name: c.name,
                source: c.source.to_owned(),
                issuer: c.issuer,
                not_after_ms: c.not_after_ms,
                updated_at_ms: None,
            })
            .collect()
    }

    fn install_certificate(&self, name: &str, chain_pem: &str, key_pem: &str) -> Result<(String, i64), String> {
        let facts = gateway::leaf_facts(chain_pem)?;
        if !gateway::covers(chain_pem, name) {
            return Err(format!("the certificate's names do not include {name}"));
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        if i128::from(facts.1) <= i128::try_from(now).unwrap_or(i128::MAX) {
            return Err("the certificate has expired".into());
        }
        self.gateway.certs().install(name, chain_pem, key_pem).map_err(|e| e.to_string())?;
        self.gateway.metrics().certificate_expiry(name, "import", facts.1 / 1000);
        Ok(facts)
    }

    fn remove_certificate(&self, name: &str) {
        self.gateway.certs().uninstall(name);
    }

    fn usage_plans(&self) -> Vec<admin::PlanView> {
        let rt = self.gateway.runtime();
        rt.compiled
            .plans
            .iter()
            .map(|p| admin::PlanView {
                id: p.id.to_string(),
                name: p.name.clone(),
                description: p.description.clone(),
                throttle: p.throttle.map(|t| (t.rate(), t.burst())),
                quota: p.quota.clone(),
                api_stages: p.api_stages.clone(),
            })
            .collect()
    }

    fn signing_settings(&self) -> admin::SigningSettings {
        let iam = &self.gateway.runtime().compiled.config.iam;
        admin::SigningSettings {
            region: iam.region.clone(),
            skew_secs: i64::try_from(iam.clock_skew.as_std().as_secs()).unwrap_or(300),
            debug: iam.signature_debug,
        }
    }
}
