//! `portcullis serve`: start-up, listeners, signals, shutdown.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use gateway::{serve_redirect, serve_tls, CertStore, Gateway, ServeOptions};
use store::AnyStore;
use telemetry::Metrics;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::ops::Ops;

/// Runs the gateway until SIGTERM/SIGINT; exit code 0 after a clean drain.
pub(crate) fn main(config: &Path, workers: Option<usize>) -> ExitCode {
    let compiled = match model::load_file(config) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    init_logging();
    // One worker is a current-thread runtime: the same single thread doing the work, without
    // the work-stealing scheduler's synchronisation.
    let mut rt = match workers.filter(|n| *n > 0) {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    let rt = match rt.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portcullis: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(config, compiled)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The access-log writer: standard output, files, or both, as configured.
fn start_access_log(cfg: &model::Config, kms: &kms::Kms) -> anyhow::Result<telemetry::AccessLog> {
    let files = cfg.access_log.file.as_ref().zip(cfg.access_log_dir()).map(|(f, dir)| telemetry::FileSettings {
        dir,
        node: cfg.node(),
        kms: f.encrypt.then(|| kms.clone()),
        max_segment_bytes: f.max_segment_bytes,
        rotate_every: f.rotate_every.as_std(),
        retain: f.retain.as_std(),
    });
    let at = files.as_ref().map(|f| f.dir.display().to_string());
    telemetry::AccessLog::start(cfg.access_log.stdout, files)
        .with_context(|| format!("cannot start the access log in {}", at.unwrap_or_else(|| "stdout".into())))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

async fn run(config_path: &Path, mut compiled: model::Compiled) -> anyhow::Result<()> {
    let cfg = compiled.config.clone();
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data_dir {}", cfg.data_dir.display()))?;
    let store_url =
        cfg.store.url.clone().unwrap_or_else(|| format!("sqlite://{}", cfg.data_dir.join("portcullis.db").display()));
    let store = AnyStore::open(&store_url).await.context("cannot open the store")?;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let kms = kms::Kms::new(open_keyring(&cfg.data_dir)?);
    let directory = Arc::new(directory::Directory::new(store.clone(), kms, gateway::directory_settings(&cfg)));
    if let Some(key) = directory.bootstrap(now_ms).await.context("cannot create the first administrator")? {
        eprintln!(
            "portcullis: first administrator `admin` created; its access key is shown once, keep it safe:\n  \
             AWS_ACCESS_KEY_ID={}\n  AWS_SECRET_ACCESS_KEY={}",
            key.key.access_key_id, key.secret_access_key
        );
        let target = directory::entity_arn(&cfg.iam.account_id, store::EntityKind::User, "admin");
        let detail = format!("bootstrap administrator with access key {}", key.key.access_key_id);
        let system = admin::AuditActor::named("system");
        admin::write_audit(&store, &system, "iam.CreateUser", &target, store::Outcome::Success, detail).await;
    }
    // The API-key HMAC secret exists from the first start, sealed by the KMS, the same on
    // every node sharing the store.
    let key_secret =
        directory.server_secret(directory::API_KEY_SECRET, now_ms).await.context("cannot open the API-key secret")?;
    let api_keys = directory::ApiKeys::new(store.clone(), &key_secret, cfg.iam.cache_ttl.as_std());
    api_keys.set_lifetimes(cfg.iam.cache_ttl.as_std(), cfg.cluster.serve_stale_for.as_std());
    let (counters, redis) = match gateway::redis_settings(&cfg) {
        Some(s) => {
            eprintln!(
                "portcullis: throttles, quotas and authorizer answers shared on Redis (on failure: {:?})",
                s.on_failure
            );
            let prefix = s.key_prefix.clone();
            let redis = limits::RedisCounters::new(s).context("shared_state.redis")?;
            let link = (redis.link().clone(), prefix);
            (limits::Counters::Redis(Box::new(redis)), Some(link))
        }
        None => (limits::Counters::Local(limits::LocalCounters::new()), None),
    };
    let usage_dir = cfg.data_dir.join("usage");
    let usage = match cfg.usage.journal {
        model::UsageJournal::Request => limits::UsageTally::open(&usage_dir),
        model::UsageJournal::Flush => limits::UsageTally::open_sealing_only(&usage_dir),
    }
    .with_context(|| format!("cannot open the usage journal in {}", usage_dir.display()))?;
    let metering = Arc::new(gateway::Metering::with_usage(counters, api_keys, usage));
    let cache_secret = directory
        .server_secret(identity::custom::CACHE_SECRET, now_ms)
        .await
        .context("cannot open the authorizer-cache secret")?;
    let challenge_key = directory
        .server_secret(gateway::CHALLENGE_SECRET, now_ms)
        .await
        .context("cannot open the WAF challenge secret")?;
    let waf_link = redis.clone();
    let user_pools = Arc::new(match &redis {
        Some((link, prefix)) => gateway::UserPools::counting_on(link.clone(), prefix.clone()),
        None => gateway::UserPools::default(),
    });
    let decisions = Arc::new(identity::custom::DecisionCache::new(&cache_secret, redis));

    let (certs, dev) = CertStore::load(&cfg.all_certificates(), &cfg.data_dir).context("cannot load certificates")?;
    if let Some(dev) = dev {
        let verb = if dev.created { "created" } else { "using" };
        eprintln!(
            "portcullis: {verb} development certificate {} (SHA-256 {})",
            dev.cert_path.display(),
            dev.fingerprint
        );
    }
    let certs = Arc::new(certs);
    // The admin listener always uses the default endpoint's settings; the API listener chooses
    // by SNI among the custom domains.
    let admin_tls = Arc::new(gateway::TlsSelector::single(certs.server_config()?));
    let challenges = Arc::new(gateway::Challenges::default());
    let tls = Arc::new(
        gateway::TlsSelector::build(&cfg, &certs, challenges.clone())
            .context("cannot load the domains' TLS settings")?,
    );
    let metrics = Arc::new(Metrics::with_retention(cfg.metrics.retention.as_std()));
    let services = gateway::Services {
        directory: directory.clone(),
        metering: metering.clone(),
        decisions,
        jwt_providers: Arc::default(),
        verified: Arc::default(),
        user_pools,
        tls: tls.clone(),
        challenge_key: challenge_key.to_vec().into(),
        waf_samples: Arc::default(),
    };
    let access_log = start_access_log(&cfg, directory.kms())?;
    let published = published_at_start(&store, config_path).await.map(|(p, c)| {
        eprintln!("portcullis: serving published config version {}", p.version);
        compiled = c;
        p
    });
    let gw = Gateway::new(config_path, compiled, certs, metrics.clone(), access_log, services)?;
    if let Some(p) = published {
        gw.started_with(p);
    }
    let alarms = alarms::Alarms::new(metrics.clone(), store.clone(), cfg.node());
    if let Err(e) = alarms.sync().await {
        tracing::warn!(error = %e, "cannot read the admin API's alarms yet; they are read again every 10 s");
    }
    let ops = Arc::new(Ops::new(gw.clone(), store.clone(), alarms.clone()));
    let (stop, stopped) = watch::channel(false);
    let opts = |name| ServeOptions {
        name,
        header_read_timeout: cfg.limits.header_read_timeout.as_std(),
        max_header_bytes: cfg.limits.max_header_bytes as usize,
        max_headers: cfg.limits.max_headers as usize,
        max_connections: cfg.limits.max_connections as usize,
        drain_timeout: cfg.shutdown.drain_timeout.as_std(),
    };

    let mut tasks = Vec::new();
    let api = bind(cfg.listen, "HTTPS").await?;
    let https_port = api.local_addr()?.port();
    let gw_for_api = gw.clone();
    let make = move |conn: Arc<gateway::ConnInfo>| gw_for_api.service(conn);
    tasks.push(tokio::spawn(serve_tls(api, tls.clone(), opts("api"), metrics.clone(), make, stopped.clone())));

    if cfg.admin.enabled {
        let listener = bind(cfg.admin.listen, "admin API").await?;
        let router = admin::router(ops.clone(), directory.clone(), metering.api_keys.clone(), alarms.clone());
        let make = move |conn: Arc<gateway::ConnInfo>| admin::service(router.clone(), conn.peer);
        tasks.push(tokio::spawn(serve_tls(
            listener,
            admin_tls.clone(),
            opts("admin"),
            metrics.clone(),
            make,
            stopped.clone(),
        )));
    }
    if let Some(r) = &cfg.http_redirect {
        let listener = bind(r.listen, "HTTP redirect").await?;
        tasks.push(tokio::spawn(serve_redirect(listener, https_port, challenges.clone(), stopped.clone())));
    }
    // Certificates in the store (imported, or from ACME) are installed at once; missing or
    // expiring ACME ones are ordered, answered on the plain-HTTP listener just started.
    let certificates = Arc::new(gateway::CertificateManager::new(
        &cfg,
        store.clone(),
        directory.kms().clone(),
        gw.certs().clone(),
        challenges.clone(),
        metrics.clone(),
    ));
    tokio::spawn(certificates.clone().run(stopped.clone()));
    if let Some(feed) = store.changes() {
        let follower = crate::cluster::Follower {
            ops: ops.clone(),
            directory: directory.clone(),
            metering: metering.clone(),
            certificates,
        };
        tokio::spawn(crate::cluster::follow(follower, feed, stopped.clone()));
    }
    tokio::spawn(crate::cluster::beat_every(
        cfg.cluster.heartbeat.as_std(),
        ops.clone(),
        store.clone(),
        format!("{}:{https_port}", cfg.node()),
        stopped.clone(),
    ));
    tokio::spawn(ops.clone().watch_files(stopped.clone()));
    let alarm_task = tokio::spawn(alarms.run(stopped.clone(), std::time::Duration::from_secs(5)));
    tokio::spawn(crate::digests::sign_every(
        cfg.audit.digest_interval.as_std(),
        store.clone(),
        directory.kms().clone(),
        stopped.clone(),
    ));
    tokio::spawn(gateway::waf_lists::run(gw.clone(), stopped.clone()));
    tokio::spawn(gateway::jwks::run(gw.clone(), stopped.clone()));
    tokio::spawn(gateway::user_pools::run(gw.clone(), stopped.clone()));
    if let Some((link, prefix)) = waf_link {
        tokio::spawn(gateway::waf_share::run(gw.clone(), link, prefix, stopped.clone()));
    }
    let flusher = tokio::spawn(crate::usage::flush_every(
        cfg.usage.flush_interval.as_std(),
        metering.clone(),
        store.clone(),
        cfg.node(),
        stopped.clone(),
    ));

    wait_for_signals(&ops).await?;
    tracing::info!("shutting down: draining requests in flight");
    let _ = stop.send(true);
    for t in tasks {
        let _ = t.await;
    }
    // The flusher writes what the drained requests counted, then ends.
    let _ = flusher.await;
    crate::usage::flush_at_shutdown(&metering, &store, &cfg.node()).await;
    gw.flush_access_log();
    let _ = alarm_task.await;
    tracing::info!("stopped");
    Ok(())
}

/// The newest config version published to the store, compiled over this node's settings. A
/// version that does not compile here, or a store that cannot be read, leaves the node's own
/// file serving; the change feed brings later versions.
async fn published_at_start(store: &AnyStore, config_path: &Path) -> Option<(gateway::Published, model::Compiled)> {
    use store::ClusterStore as _;
    let latest = match store.config_latest().await {
        Ok(v) => v?,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the published config; serving the config file");
            return None;
        }
    };
    let published = gateway::Published { version: latest.version, document: latest.document };
    match published.compile(config_path) {
        Ok(c) => Some((published, c)),
        Err(e) => {
            tracing::error!(version = published.version, errors = %e, "published config refused on this node; serving the config file");
            None
        }
    }
}

/// The master keys: from the environment when set, else the keyring file in `data_dir`,
/// created on first start.
fn open_keyring(data_dir: &Path) -> anyhow::Result<kms::Keyring> {
    if let Ok(value) = std::env::var(kms::MASTER_KEY_ENV) {
        return kms::Keyring::from_env_value(&value)
            .with_context(|| format!("{} is not a valid keyring", kms::MASTER_KEY_ENV));
    }
    let path = data_dir.join("keyring.json");
    kms::Keyring::open_or_create(&path).context("cannot open the KMS keyring")
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    let l = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} ({what})"))?;
    let at = l.local_addr()?;
    let scheme = if what == "HTTP redirect" { "http" } else { "https" };
    eprintln!("portcullis: {what} listening on {scheme}://{at}");
    Ok(l)
}

/// Reloads on SIGHUP; returns on SIGTERM or SIGINT.
async fn wait_for_signals(ops: &Ops) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the config");
                ops.reload_as(&admin::AuditActor::named("system:sighup")).await;
            }
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        }
    }
}
