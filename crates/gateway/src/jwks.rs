//! OpenID providers' signing keys for JWT authorizers (reference §4.3, field lessons B.11–14).
//!
//! One [`Provider`] per trusted issuer (and key URL, CA and timing), shared by every runtime of
//! the process: a reload keeps the keys in hand instead of failing requests until a new fetch.
//!
//! ```text
//!   ISSUER/.well-known/openid-configuration ─▶ "issuer" must be ISSUER ─▶ jwks_uri
//!   jwks_uri (or the configured one) ─▶ KeySet      each GET: 1.5 s, 150 000 bytes at most
//! ```
//!
//! [`run`] fetches every provider's keys at start and refreshes them in the background; a
//! token with an unknown `kid` fetches at once, within the provider's minimum interval
//! (`identity::jwt::KeyCache` keeps that book). Until the first fetch succeeds, requests fail
//! closed with 500.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use identity::jwt::{KeyCache, KeyDecision, KeySet, Timing};
use parking_lot::Mutex;
use telemetry::Metrics;

use crate::Gateway;

/// API Gateway's timeout for the discovery document and for the JWKS, each.
const FETCH_TIMEOUT: Duration = Duration::from_millis(1500);
/// API Gateway's limit on a JWKS (and ours on a discovery document).
const MAX_DOCUMENT: usize = 150_000;
/// How long a request waits for a first fetch that another one started.
const FIRST_FETCH_WAIT: Duration = Duration::from_secs(3);
/// How often [`run`] looks for keys due for a refresh.
const TICK: Duration = Duration::from_secs(1);

/// What tells one provider apart: the same issuer reached another way is another provider.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProviderKey {
    issuer: String,
    jwks_uri: Option<String>,
    ca_file: Option<PathBuf>,
    refresh: Duration,
    min_interval: Duration,
}

/// The keys of one issuer, and how to fetch them.
#[derive(Debug)]
pub struct Provider {
    key: ProviderKey,
    cache: KeyCache,
    client: reqwest::Client,
    /// The key URL from discovery, once found (or the configured one).
    jwks_uri: Mutex<Option<String>>,
    /// Bumped after each fetch, for requests waiting for the first one.
    fetches: tokio::sync::watch::Sender<u64>,
}

/// Why a provider's keys cannot be had for a request.
#[derive(Debug, thiserror::Error)]
#[error("no signing keys of {issuer} yet (the first fetch has not succeeded)")]
pub struct NoKeys {
    issuer: String,
}

/// One JWT authorizer's providers, by issuer (`None` for the gateway's own pools).
pub(crate) type IssuerProviders = Vec<Option<Arc<Provider>>>;

/// Every provider in use, shared by the process's runtimes.
#[derive(Debug, Default)]
pub struct Providers {
    by_key: Mutex<HashMap<ProviderKey, Arc<Provider>>>,
}

// === impl Providers ===

impl Providers {
    /// The providers of each JWT authorizer of `compiled`, by [api][authorizer][issuer]
    /// (`None` for the gateway's own pools), reusing those in hand; providers no longer used
    /// are forgotten.
    pub(crate) fn for_config(&self, compiled: &model::Compiled) -> Result<Vec<Vec<IssuerProviders>>, String> {
        let mut by_key = self.by_key.lock();
        let mut in_use = HashMap::new();
        let mut out = Vec::with_capacity(compiled.apis.len());
        for api in &compiled.apis {
            let mut authorizers = Vec::with_capacity(api.jwt_authorizers.len());
            for a in &api.jwt_authorizers {
                let mut providers = Vec::with_capacity(a.issuers.len());
                for issuer in &a.issuers {
                    if issuer.user_pool.is_some() {
                        providers.push(None);
                        continue;
                    }
                    let key = ProviderKey {
                        issuer: issuer.issuer.clone(),
                        jwks_uri: issuer.jwks_uri.clone(),
                        ca_file: issuer.ca_file.clone(),
                        refresh: a.keys_refresh,
                        min_interval: a.keys_min_interval,
                    };
                    let provider = match by_key.get(&key) {
                        Some(p) => p.clone(),
                        None => Arc::new(Provider::new(key.clone())?),
                    };
                    in_use.insert(key, provider.clone());
                    providers.push(Some(provider));
                }
                authorizers.push(providers);
            }
            out.push(authorizers);
        }
        *by_key = in_use;
        Ok(out)
    }

    fn all(&self) -> Vec<Arc<Provider>> {
        self.by_key.lock().values().cloned().collect()
    }
}

// === impl Provider ===

impl Provider {
    fn new(key: ProviderKey) -> Result<Self, String> {
        let client = identity::http_client::client(FETCH_TIMEOUT, key.ca_file.as_deref())
            .map_err(|e| format!("{}: {e}", key.issuer))?;
        let timing = Timing { refresh: key.refresh, min_interval: key.min_interval };
        Ok(Self {
            jwks_uri: Mutex::new(key.jwks_uri.clone()),
            cache: KeyCache::new(timing),
            client,
            fetches: tokio::sync::watch::channel(0).0,
            key,
        })
    }

    /// The issuer, as tokens carry it.
    pub fn issuer(&self) -> &str {
        &self.key.issuer
    }

    /// The keys to verify a token naming `kid` with: those in hand, or fetched now when there
    /// are none or the `kid` is unknown (within the minimum interval). Waits a little for a
    /// first fetch another request or the background task started.
    pub(crate) async fn keys_for(
        self: &Arc<Self>,
        kid: Option<&str>,
        metrics: &Arc<Metrics>,
    ) -> Result<Arc<KeySet>, NoKeys> {
        let mut fetched = self.fetches.subscribe();
        match self.cache.decide(kid, Instant::now()) {
            KeyDecision::Use(keys) => return Ok(keys),
            KeyDecision::Fetch { stale } => {
                // A task of its own: a client that goes away does not abandon the fetch.
                let (provider, metrics) = (self.clone(), metrics.clone());
                let _ = tokio::spawn(async move { provider.fetch(&metrics).await }).await;
                if let Some(keys) = self.cache.current().or(stale) {
                    return Ok(keys);
                }
            }
            KeyDecision::Unavailable => {
                let _ = tokio::time::timeout(FIRST_FETCH_WAIT, fetched.changed()).await;
                if let Some(keys) = self.cache.current() {
                    return Ok(keys);
                }
            }
        }
        Err(NoKeys { issuer: self.key.issuer.clone() })
    }

    /// The keys in hand, if any.
    pub(crate) fn current(&self) -> Option<Arc<KeySet>> {
        self.cache.current()
    }

    /// Fetches the keys (discovering their URL first if need be) and records the outcome.
    async fn fetch(&self, metrics: &Metrics) {
        let result = self.fetch_keys().await;
        metrics.jwt_key_fetch(&self.key.issuer, result.is_ok());
        match result {
            Ok(keys) => {
                tracing::info!(issuer = %self.key.issuer, keys = keys.len(), "JWT signing keys fetched");
                self.cache.fetched(keys, Instant::now());
            }
            Err(e) => {
                self.cache.failed();
                let kept = if self.cache.ready() {
                    "keeping the keys in hand"
                } else {
                    "requests fail until a fetch succeeds"
                };
                tracing::warn!(issuer = %self.key.issuer, error = %e, "JWT signing keys not fetched; {kept}");
            }
        }
        self.fetches.send_modify(|n| *n += 1);
    }

    async fn fetch_keys(&self) -> Result<KeySet, String> {
        let known = self.jwks_uri.lock().clone();
        let jwks_uri = match known {
            Some(u) => u,
            None => {
                let found = self.discover().await?;
                *self.jwks_uri.lock() = Some(found.clone());
                found
            }
        };
        let body = crate::http_fetch::get_capped(&self.client, &jwks_uri, MAX_DOCUMENT).await?;
        KeySet::parse(&body).map_err(|e| format!("{jwks_uri}: {e}"))
    }

    /// The `jwks_uri` of the issuer's discovery document, which must name the issuer exactly
    /// (OpenID Connect Discovery §4.3) and be a URL the config would accept.
    async fn discover(&self) -> Result<String, String> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let issuer = &self.key.issuer;
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let body = crate::http_fetch::get_capped(&self.client, &url, MAX_DOCUMENT).await?;
        let doc: Discovery =
            serde_json::from_slice(&body).map_err(|e| format!("{url}: not a discovery document: {e}"))?;
        if &doc.issuer != issuer {
            return Err(format!("{url}: names the issuer {:?}, not {issuer:?}", doc.issuer));
        }
        if let Some(why) = model::provider_url_issue(&doc.jwks_uri, true) {
            return Err(format!("{url}: jwks_uri {:?}: {why}", doc.jwks_uri));
        }
        Ok(doc.jwks_uri)
    }

    /// Starts a background refresh when one is due.
    fn refresh_if_due(self: &Arc<Self>, metrics: &Arc<Metrics>) {
        if self.cache.refresh_due(Instant::now()) {
            let (provider, metrics) = (self.clone(), metrics.clone());
            tokio::spawn(async move { provider.fetch(&metrics).await });
        }
    }
}

/// Fetches the keys of the gateway's providers at start and refreshes them in the background
/// until `stopped` turns true.
pub async fn run(gw: Arc<Gateway>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        let rt = gw.runtime();
        for provider in rt.jwt_providers.all() {
            provider.refresh_if_due(gw.metrics());
        }
    }
}
