//! The gateway as the binary sees it: the current runtime behind an atomic swap, the request
//! entry point, and reload.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::{Request, Response};
use hyper::body::Incoming;
use model::{Compiled, ConfigErrors};
use telemetry::{AccessLog, Metrics};

use crate::body::{ReqBody, ResBody};
use crate::ctx::{ConnInfo, RequestCtx};
use crate::domains::TlsSelector;
use crate::runtime::Runtime;
use crate::tls::{CertStore, TlsError};
use crate::upstream::ClientError;
use crate::{phase, pipeline, rescue};

/// Why a reload was refused. The old config keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new config does not load or compile.
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// Its certificates or trust stores do not load.
    #[error("{0}")]
    Tls(#[from] TlsError),
    /// An upstream client could not be built.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// The config loader task failed.
    #[error("config loader stopped: {0}")]
    Loader(String),
}

/// What a successful reload changed.
#[derive(Debug, Clone)]
pub struct ReloadReport {
    /// APIs now served.
    pub apis: usize,
    /// Routes now served.
    pub routes: usize,
    /// Settings that changed but only take effect after a restart.
    pub restart_needed: Vec<&'static str>,
}

/// A config version published to the store (`portcullis apply`), as this node serves it: the
/// document gives everything but the node's own settings, which come from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The version number.
    pub version: i64,
    /// The config text.
    pub document: String,
}

impl Published {
    /// The name errors give the document in place of a file name.
    pub fn name(&self) -> String {
        format!("config version {}", self.version)
    }

    /// Compiles the document over the node settings of the config file at `path`.
    pub fn compile(&self, path: &Path) -> Result<Compiled, ConfigErrors> {
        compile_published(&self.name(), &self.document, path)
    }
}

/// Compiles a config to publish (named `name` in errors) over the node settings of the config
/// file at `path`, with the process environment for `${VAR}`.
pub fn compile_published(name: &str, document: &str, path: &Path) -> Result<Compiled, ConfigErrors> {
    let local = model::load_file(path)?;
    model::load_published(name, document, |k| std::env::var(k).ok(), &local.config)
}

/// The data plane.
#[derive(Debug)]
pub struct Gateway {
    current: ArcSwap<Runtime>,
    metrics: Arc<Metrics>,
    access_log: AccessLog,
    certs: Arc<CertStore>,
    config_path: PathBuf,
    /// The data directory at start; a new one takes a restart.
    data_dir: PathBuf,
    /// The config the listeners were started with: restart-only settings are compared to it.
    started: model::Config,
    reload_lock: tokio::sync::Mutex<()>,
    /// The published version served, if any; `None` while the node's own file serves.
    published: parking_lot::Mutex<Option<Published>>,
}

/// The directory's settings from the `iam` and `cluster` config sections.
pub fn directory_settings(c: &model::Config) -> directory::Settings {
    directory::Settings {
        account_id: c.iam.account_id.clone(),
        cache_ttl: c.iam.cache_ttl.as_std(),
        serve_stale_for: c.cluster.serve_stale_for.as_std(),
    }
}

/// The Redis settings of the `shared_state` section, if any; they take a restart to change.
pub fn redis_settings(c: &model::Config) -> Option<limits::RedisSettings> {
    let r = c.shared_state.redis.as_ref()?;
    Some(limits::RedisSettings {
        url: r.url.clone(),
        timeout: r.timeout.as_std(),
        on_failure: model::Compiled::failure_mode_of(r.on_failure),
        key_prefix: r.key_prefix.clone(),
        retry_interval: r.retry_interval.as_std(),
        scope: match r.scope {
            model::RedisScope::All => limits::Scope::All,
            model::RedisScope::Plans => limits::Scope::Plans,
        },
    })
}

// === impl Gateway ===

impl Gateway {
    /// Builds the gateway for a compiled config, writing access-log lines to `access_log`.
    pub fn new(
        config_path: &Path,
        compiled: Compiled,
        certs: Arc<CertStore>,
        metrics: Arc<Metrics>,
        access_log: AccessLog,
        services: crate::Services,
    ) -> Result<Arc<Self>, ClientError> {
        let rt = Runtime::build(compiled, None, metrics.clone(), access_log.clone(), services)?;
        let data_dir = rt.compiled.config.data_dir.clone();
        let started = rt.compiled.config.clone();
        Ok(Arc::new(Self {
            data_dir,
            started,
            current: ArcSwap::from_pointee(rt),
            metrics,
            access_log,
            certs,
            config_path: config_path.to_owned(),
            reload_lock: tokio::sync::Mutex::new(()),
            published: parking_lot::Mutex::new(None),
        }))
    }

    /// Records that the config the gateway was built with came from `published`.
    pub fn started_with(&self, published: Published) {
        self.metrics.config_version(published.version);
        *self.published.lock() = Some(published);
    }

    /// The published config version served; 0 while the node's own file serves.
    pub fn config_version(&self) -> i64 {
        self.published.lock().as_ref().map_or(0, |p| p.version)
    }

    /// Serves a published version: compiles it over this node's settings and swaps it in, as
    /// a reload does. A version not newer than the one served is left alone (`Ok(None)`); on
    /// any error the current config keeps serving.
    pub async fn serve_published(&self, published: Published) -> Result<Option<ReloadReport>, ReloadError> {
        let _one_at_a_time = self.reload_lock.lock().await;
        if published.version <= self.config_version() {
            return Ok(None);
        }
        let result = self.reload_locked(Some(published.clone())).await;
        self.metrics.reload(if result.is_ok() { "ok" } else { "failed" });
        let report = result?;
        self.metrics.config_version(published.version);
        *self.published.lock() = Some(published);
        Ok(Some(report))
    }

    /// The sampled requests of the gateway's web ACLs.
    pub fn waf_samples(&self) -> Arc<crate::WafSamples> {
        self.current.load().waf_samples.clone()
    }

    /// Reads user pool `pool`'s signing keys again, if a request opened it on this node.
    pub async fn reload_pool_keys(&self, pool: &str) -> Result<(), identity::pool::PoolError> {
        let rt = self.runtime();
        let Some(index) = rt.compiled.user_pools.iter().position(|p| p.name == pool) else { return Ok(()) };
        let Some(opened) = rt.pool_slots.get(index).and_then(|s| s.opened()) else { return Ok(()) };
        let now_ms = i64::try_from(crate::time_fmt::epoch_ms(std::time::SystemTime::now())).unwrap_or(i64::MAX);
        opened.reload_keys(now_ms).await.map(|_| ())
    }

    /// Forgets what the opened user pools (`pool`, or all) cached about sign-in sessions,
    /// after sessions were revoked elsewhere.
    pub fn forget_pool_sessions(&self, pool: Option<&str>) {
        let rt = self.runtime();
        for (cfg, slot) in rt.compiled.user_pools.iter().zip(&rt.pool_slots) {
            if pool.is_none_or(|p| p == cfg.name) {
                if let Some(opened) = slot.opened() {
                    opened.forget_sessions();
                }
            }
        }
    }

    /// The runtime serving new requests now.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.current.load_full()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The TLS endpoints by domain.
    pub fn tls(&self) -> Arc<TlsSelector> {
        self.current.load().tls.clone()
    }

    /// The certificate store.
    pub fn certs(&self) -> &Arc<CertStore> {
        &self.certs
    }

    /// Waits until the access-log lines queued so far are written and closes the file
    /// segment (at shutdown).
    pub fn flush_access_log(&self) {
        if !self.access_log.close(std::time::Duration::from_secs(5)) {
            tracing::warn!("access-log lines may have been lost at shutdown");
        }
    }

    /// The config file this gateway reloads from.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// A hyper service for one client connection.
    pub fn service(
        self: &Arc<Self>,
        conn: Arc<ConnInfo>,
    ) -> impl hyper::service::Service<
        Request<Incoming>,
        Response = Response<ResBody>,
        Error = Infallible,
        Future = impl std::future::Future<Output = Result<Response<ResBody>, Infallible>> + Send,
    > + Send
           + Clone {
        let gw = self.clone();
        hyper::service::service_fn(move |req| {
            let (gw, conn) = (gw.clone(), conn.clone());
            async move { gw.handle(&conn, req).await }
        })
    }

    /// Handles one request on a connection.
    pub async fn handle(&self, conn: &ConnInfo, req: Request<Incoming>) -> Result<Response<ResBody>, Infallible> {
        let rt = self.current.load_full();
        let limits = &rt.compiled.config.limits;
        let (max, idle) = (limits.max_body_bytes, limits.body_read_timeout.as_std());
        Ok(serve_request(rt, conn, req.map(|b| ReqBody::new(b, max, idle))).await)
    }

    /// Handles a request that has no body, exactly as [`Gateway::handle`] does otherwise.
    /// For benchmarks and in-process tests, which cannot make hyper's body type.
    pub async fn handle_without_body(&self, conn: &ConnInfo, req: Request<()>) -> Response<ResBody> {
        serve_request(self.current.load_full(), conn, req.map(|()| ReqBody::default())).await
    }

    /// Loads the config file again (under the published version, if one serves) and swaps it
    /// in. In-flight requests finish on the old one; on any error nothing changes.
    pub async fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let published = self.published.lock().clone();
        let result = self.reload_locked(published).await;
        self.metrics.reload(if result.is_ok() { "ok" } else { "failed" });
        result
    }

    async fn reload_locked(&self, published: Option<Published>) -> Result<ReloadReport, ReloadError> {
        let path = self.config_path.clone();
        let compiled = tokio::task::spawn_blocking(move || match published {
            Some(p) => p.compile(&path),
            None => model::load_file(&path),
        })
        .await
        .map_err(|e| ReloadError::Loader(e.to_string()))??;
        let old = self.current.load_full();
        let rt = Runtime::build(compiled, Some(&old), self.metrics.clone(), self.access_log.clone(), old.services())?;
        let (new, was) = (&rt.compiled.config, &self.started);
        self.certs.replace(&new.all_certificates(), &self.data_dir)?;
        if let Err(e) = rt.tls.replace(new, &self.certs) {
            // The old domains keep serving with the old certificates.
            let _ = self.certs.replace(&was_certificates(&old), &self.data_dir);
            return Err(e.into());
        }
        let mut restart_needed = Vec::new();
        for (name, changed) in [
            ("listen", new.listen != was.listen),
            ("admin", new.admin.listen != was.admin.listen || new.admin.enabled != was.admin.enabled),
            (
                "http_redirect",
                new.http_redirect.as_ref().map(|r| r.listen) != was.http_redirect.as_ref().map(|r| r.listen),
            ),
            ("data_dir", new.data_dir != was.data_dir),
            ("store", new.store.url != was.store.url),
            ("shared_state", redis_settings(new) != redis_settings(was)),
            ("domains[].acme", acme_domains(new) != acme_domains(was)),
            ("usage.flush_interval", new.usage.flush_interval != was.usage.flush_interval),
            ("usage.journal", new.usage.journal != was.usage.journal),
            ("access_log.stdout", new.access_log.stdout != was.access_log.stdout),
            ("access_log.file", new.access_log.file != was.access_log.file),
            ("node_name", new.node_name != was.node_name),
            ("metrics.retention", new.metrics.retention != was.metrics.retention),
            ("limits.max_connections", new.limits.max_connections != was.limits.max_connections),
            ("limits.header_read_timeout", new.limits.header_read_timeout != was.limits.header_read_timeout),
            ("shutdown.drain_timeout", new.shutdown.drain_timeout != was.shutdown.drain_timeout),
            ("reload.watch", new.reload.watch && !was.reload.watch),
        ] {
            if changed {
                restart_needed.push(name);
            }
        }
        let report = ReloadReport {
            apis: rt.compiled.apis.len(),
            routes: rt.compiled.apis.iter().map(|a| a.routes.iter().count()).sum(),
            restart_needed,
        };
        let cfg = &rt.compiled.config;
        rt.directory.configure(directory_settings(cfg));
        rt.metering.api_keys.set_lifetimes(cfg.iam.cache_ttl.as_std(), cfg.cluster.serve_stale_for.as_std());
        self.current.store(Arc::new(rt));
        Ok(report)
    }
}

/// The ACME domains of a config: the certificate manager is built from them at start.
fn acme_domains(c: &model::Config) -> Vec<(String, Option<model::AcmeConfig>)> {
    c.domains.iter().filter(|d| d.acme.is_some()).map(|d| (d.name.to_ascii_lowercase(), d.acme.clone())).collect()
}

/// The certificates the running config was loaded with.
fn was_certificates(rt: &Runtime) -> Vec<model::CertificateConfig> {
    rt.compiled.config.all_certificates()
}

/// The pipeline, then `rescue` for a rejection, then `respond` and `log` on every way out.
async fn serve_request(rt: Arc<Runtime>, conn: &ConnInfo, mut req: Request<ReqBody>) -> Response<ResBody> {
    let mut cx = RequestCtx::new(conn, &req);
    let mut resp = match pipeline::run(&rt, &mut cx, &mut req).await {
        Ok(resp) => resp,
        Err(rej) => rescue::render(&rt, &mut cx, &rej),
    };
    phase::respond::finish(&rt, &mut cx, &mut resp);
    phase::log::attach(rt, cx, resp)
}
