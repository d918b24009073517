//! Everything a request needs that outlives it, built once per config. A reload builds a new
//! `Runtime` and swaps it in; requests in flight keep the one they started with.

use std::sync::Arc;

use model::{Compiled, CompiledRoute};
use telemetry::{AccessLog, Metrics, RouteMetrics};

use crate::upstream::{ClientError, ClientKey, Clients, UpstreamClient};

/// The compiled config plus the handles that serve it.
#[derive(Debug)]
pub struct Runtime {
    /// The compiled config.
    pub compiled: Compiled,
    /// Every client in use, kept to carry pools over to the next runtime.
    clients: Clients,
    /// The upstream client of each route by [api][route] (`None` for mocks), looked up once
    /// here instead of per request.
    route_clients: Vec<Vec<Option<UpstreamClient>>>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) access_log: AccessLog,
    /// Metric series by [api][stage][route]; the extra last entry of each stage is "no route".
    route_metrics: Vec<Vec<Vec<RouteMetrics>>>,
    /// Series for requests that matched no API.
    unrouted: RouteMetrics,
    /// Each web ACL's decision counters, by its index in `compiled.web_acls`.
    pub(crate) waf_metrics: Vec<telemetry::WafMetrics>,
    /// IAM users, keys and policies, shared by every runtime of the process.
    pub(crate) directory: Arc<directory::Directory>,
    /// Counters, API keys and usage, shared by every runtime of the process.
    pub(crate) metering: Arc<crate::Metering>,
    /// Each custom authorizer's client and cache fingerprint, by [api][authorizer].
    authorizers: Vec<Vec<AuthorizerEndpoint>>,
    /// Cached authorizer answers, shared by every runtime of the process.
    pub(crate) decisions: Arc<identity::custom::DecisionCache>,
    /// Each JWT authorizer's providers and checks, by [api][authorizer].
    jwt: Vec<Vec<JwtAuthorizer>>,
    /// OpenID providers' keys, shared by every runtime of the process.
    pub(crate) jwt_providers: Arc<crate::jwks::Providers>,
    /// Verified tokens, shared by every runtime of the process.
    pub(crate) verified: Arc<identity::jwt::VerifiedTokens>,
    /// The user pools, shared by every runtime of the process.
    user_pools: Arc<crate::UserPools>,
    /// The slot of each of `compiled.user_pools`.
    pub(crate) pool_slots: Vec<Arc<crate::user_pools::PoolSlot>>,
    /// TLS endpoints by domain, shared with the listener: requests must arrive on a connection
    /// made for the domain their `Host` names.
    pub(crate) tls: Arc<crate::domains::TlsSelector>,
    /// The key that signs WAF challenge puzzles and tokens, shared by every runtime.
    pub(crate) challenge_key: Arc<[u8]>,
    /// Sampled requests of every web ACL, shared by every runtime.
    pub(crate) waf_samples: Arc<crate::WafSamples>,
}

/// The process-wide handles every runtime shares: they outlive reloads.
#[derive(Debug, Clone)]
pub struct Services {
    /// IAM users, keys and policies.
    pub directory: Arc<directory::Directory>,
    /// Counters, API keys and usage.
    pub metering: Arc<crate::Metering>,
    /// Cached custom-authorizer answers.
    pub decisions: Arc<identity::custom::DecisionCache>,
    /// OpenID providers' keys for JWT authorizers.
    pub jwt_providers: Arc<crate::jwks::Providers>,
    /// Tokens JWT authorizers verified.
    pub verified: Arc<identity::jwt::VerifiedTokens>,
    /// The user pools served.
    pub user_pools: Arc<crate::UserPools>,
    /// TLS endpoints by domain, shared with the API listener.
    pub tls: Arc<crate::domains::TlsSelector>,
    /// The key that signs WAF challenge puzzles and tokens (the same on every node).
    pub challenge_key: Arc<[u8]>,
    /// Sampled requests of every web ACL.
    pub waf_samples: Arc<crate::WafSamples>,
}

/// How to reach one custom authorizer.
#[derive(Debug)]
pub(crate) struct AuthorizerEndpoint {
    /// Its pooled client (shared with upstream routes of the same settings).
    pub(crate) client: UpstreamClient,
    /// Its cached answers' fingerprint.
    pub(crate) fingerprint: [u8; 32],
}

/// What one JWT authorizer checks, and with whose keys.
#[derive(Debug)]
pub(crate) struct JwtAuthorizer {
    /// Where each issuer's keys come from, in config order.
    pub(crate) keys: Vec<IssuerKeys>,
    /// The claims checks for each issuer, in the same order.
    pub(crate) policies: Vec<identity::jwt::Policy>,
    /// The algorithms it accepts.
    pub(crate) algorithms: Vec<identity::jwt::Algorithm>,
    /// Its verified tokens' fingerprint.
    pub(crate) fingerprint: [u8; 32],
}

/// Where an issuer's keys come from.
#[derive(Debug)]
pub(crate) enum IssuerKeys {
    /// An OpenID provider, fetched.
    Remote(Arc<crate::jwks::Provider>),
    /// One of the gateway's pools, read in the process.
    Pool(Arc<crate::user_pools::PoolSlot>),
}

// === impl Runtime ===

impl Runtime {
    /// Builds the runtime for `compiled`, reusing upstream pools of `previous`.
    pub(crate) fn build(
        compiled: Compiled,
        previous: Option<&Self>,
        metrics: Arc<Metrics>,
        access_log: AccessLog,
        services: Services,
    ) -> Result<Self, ClientError> {
        let Services {
            directory,
            metering,
            decisions,
            jwt_providers,
            verified,
            user_pools,
            tls,
            challenge_key,
            waf_samples,
        } = services;
        let pool_slots = user_pools.for_config(&compiled);
        let keys = compiled.apis.iter().flat_map(|a| a.routes.iter()).filter_map(|(_, r)| client_key(r));
        let authorizer_keys = compiled.apis.iter().flat_map(|a| a.authorizers.iter()).map(authorizer_key);
        let clients = Clients::build(keys.chain(authorizer_keys), previous.map(|p| &p.clients))?;
        let authorizers = compiled
            .apis
            .iter()
            .map(|api| {
                api.authorizers
                    .iter()
                    .filter_map(|a| {
                        let client = clients.get(&authorizer_key(a))?.clone();
                        Some(AuthorizerEndpoint {
                            client,
                            fingerprint: identity::custom::fingerprint(&api.name, &a.source),
                        })
                    })
                    .collect()
            })
            .collect();
        let providers = jwt_providers.for_config(&compiled).map_err(ClientError::Provider)?;
        let jwt = compiled
            .apis
            .iter()
            .zip(providers)
            .map(|(api, by_authorizer)| jwt_authorizers(&compiled, api, by_authorizer, &pool_slots))
            .collect();
        let route_clients = compiled
            .apis
            .iter()
            .map(|api| api.routes.iter().map(|(_, r)| client_key(r).and_then(|k| clients.get(&k).cloned())).collect())
            .collect();
        let route_metrics = compiled
            .apis
            .iter()
            .map(|api| {
                api.stages
                    .iter()
                    .map(|stage| {
                        let detailed = stage.settings.detailed_metrics;
                        let mut series: Vec<RouteMetrics> = api
                            .routes
                            .iter()
                            .map(|(key, _)| {
                                let route = if detailed { key.display() } else { "-".to_owned() };
                                metrics.route(&api.name, &stage.name, &route)
                            })
                            .collect();
                        series.push(metrics.route(&api.name, &stage.name, "-"));
                        series
                    })
                    .collect()
            })
            .collect();
        let unrouted = metrics.route("-", "-", "-");
        let waf_metrics = compiled
            .web_acls
            .iter()
            .map(|acl| {
                let rules: Vec<&str> = acl.rules().iter().map(|r| r.name.as_str()).collect();
                metrics.web_acl(acl.name(), &rules)
            })
            .collect();
        Ok(Self {
            compiled,
            clients,
            route_clients,
            metrics,
            access_log,
            route_metrics,
            unrouted,
            waf_metrics,
            directory,
            metering,
            authorizers,
            decisions,
            jwt,
            jwt_providers,
            verified,
            user_pools,
            pool_slots,
            tls,
            challenge_key,
            waf_samples,
        })
    }

    /// The upstream client of a route.
    pub(crate) fn upstream_client(&self, api: Option<usize>, route: Option<usize>) -> Option<&UpstreamClient> {
        self.route_clients.get(api?)?.get(route?)?.as_ref()
    }

    /// The process-wide handles, for the next runtime.
    pub(crate) fn services(&self) -> Services {
        Services {
            directory: self.directory.clone(),
            metering: self.metering.clone(),
            decisions: self.decisions.clone(),
            jwt_providers: self.jwt_providers.clone(),
            verified: self.verified.clone(),
            user_pools: self.user_pools.clone(),
            tls: self.tls.clone(),
            challenge_key: self.challenge_key.clone(),
            waf_samples: self.waf_samples.clone(),
        }
    }

    /// How to reach authorizer `index` of API `api`.
    pub(crate) fn authorizer(&self, api: usize, index: usize) -> Option<&AuthorizerEndpoint> {
        self.authorizers.get(api)?.get(index)
    }

    /// JWT authorizer `index` of API `api`.
    pub(crate) fn jwt_authorizer(&self, api: usize, index: usize) -> Option<&JwtAuthorizer> {
        self.jwt.get(api)?.get(index)
    }

    /// The metric series for a request routed this far.
    pub(crate) fn route_metrics(
        &self,
        api: Option<usize>,
        stage: Option<usize>,
        route: Option<usize>,
    ) -> &RouteMetrics {
        let (Some(a), Some(s)) = (api, stage) else { return &self.unrouted };
        let Some(series) = self.route_metrics.get(a).and_then(|v| v.get(s)) else { return &self.unrouted };
        route.and_then(|r| series.get(r)).or_else(|| series.last()).unwrap_or(&self.unrouted)
    }
}

/// The checks of an API's JWT authorizers, with their issuers' keys.
fn jwt_authorizers(
    compiled: &Compiled,
    api: &model::CompiledApi,
    providers: Vec<crate::jwks::IssuerProviders>,
    pool_slots: &[Arc<crate::user_pools::PoolSlot>],
) -> Vec<JwtAuthorizer> {
    let pool_slot = |name: &str| {
        let index = compiled.user_pools.iter().position(|p| p.name == name)?;
        pool_slots.get(index).cloned()
    };
    api.jwt_authorizers
        .iter()
        .zip(providers)
        .map(|(a, providers)| {
            // Policies and keys stay aligned: an issuer without keys (none, as compiled) is left out of both.
            let (policies, keys) = a
                .issuers
                .iter()
                .zip(providers)
                .filter_map(|(i, provider)| {
                    let keys = match (provider, i.user_pool.as_deref()) {
                        (Some(p), _) => IssuerKeys::Remote(p),
                        (None, pool) => IssuerKeys::Pool(pool_slot(pool?)?),
                    };
                    let policy = identity::jwt::Policy {
                        issuers: vec![i.issuer.clone()],
                        audiences: i.audiences.clone(),
                        token_use: a.token_use.clone(),
                        clock_skew_s: a.clock_skew.as_secs(),
                        required: a.required_claims.clone(),
                    };
                    Some((policy, keys))
                })
                .unzip();
            JwtAuthorizer {
                keys,
                policies,
                algorithms: a.algorithms.iter().filter_map(|n| identity::jwt::Algorithm::from_name(n)).collect(),
                fingerprint: identity::jwt::fingerprint(&api.name, &a.source),
            }
        })
        .collect()
}

/// An authorizer's client: connecting may take its whole call timeout.
fn authorizer_key(a: &model::CompiledAuthorizer) -> ClientKey {
    (a.timeout, a.ca_file.clone())
}

/// What tells a route's upstream client apart from another's.
fn client_key(route: &CompiledRoute) -> Option<ClientKey> {
    match route {
        CompiledRoute::Http(h) => Some((h.connect_timeout.as_std(), h.ca_file.clone())),
        CompiledRoute::Mock(_) | CompiledRoute::UserPool(_) => None,
    }
}
