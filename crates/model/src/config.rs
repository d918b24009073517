//! The configuration file as plain data: what the YAML says, before any checking that needs
//! more than one field. Every field has a doc comment; they become the JSON Schema's
//! descriptions (`portcullis schema`) and the config reference in `docs/configuration.md`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::response_type::ResponseType;
use crate::upstream_url::UpstreamUrl;

/// The whole gateway: listeners, TLS, store, limits and the APIs it serves.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the HTTPS listener that serves the APIs.
    #[serde(default = "default_listen")]
    #[schemars(with = "String")]
    pub listen: SocketAddr,
    /// Optional plain-HTTP listener. It serves no API: every request gets a 308 redirect to
    /// the same path and query on the HTTPS listener, except ACME HTTP-01 challenges
    /// (`/.well-known/acme-challenge/TOKEN`), which it answers.
    #[serde(default)]
    pub http_redirect: Option<RedirectConfig>,
    /// The admin API listener (HTTPS, authenticated).
    #[serde(default)]
    pub admin: AdminConfig,
    /// Directory for state the gateway creates: the SQLite store and the development
    /// certificate. Relative paths are resolved against the working directory.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Server certificates. With none, a development certificate for `localhost` is generated
    /// in `data_dir` on first start.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Custom domains: names served with their own certificate, TLS policy, HSTS and mutual
    /// TLS (see docs/custom-domains.md).
    #[serde(default)]
    pub domains: Vec<crate::domains::DomainConfig>,
    /// Where runtime state (admin credentials, audit trail) is kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// Caps on what a client may send.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// CIDRs of proxies in front of the gateway. `X-Forwarded-For` is read only through them,
    /// right to left; from anyone else it is ignored and replaced.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub trusted_proxies: Vec<IpNet>,
    /// The per-request access log.
    #[serde(default)]
    pub access_log: AccessLogConfig,
    /// This node's name, in access-log file names and their encryption context: letters,
    /// digits, `.`, `_` and `-`. Default: the host name.
    #[serde(default)]
    pub node_name: Option<String>,
    /// IAM: how SigV4-signed requests are checked (routes with `auth: iam`, and the admin API).
    #[serde(default)]
    pub iam: IamConfig,
    /// Gateway-wide throttling: the limit on the gateway as a whole, and optionally on each
    /// client address.
    #[serde(default)]
    pub throttling: ThrottlingConfig,
    /// Usage plans: throttles and quotas for API keys, by API stage (see docs/api-keys.md).
    #[serde(default)]
    pub usage_plans: Vec<UsagePlanConfig>,
    /// Recording of metered usage (per API key, per day, per route) in the store.
    #[serde(default)]
    pub usage: UsageConfig,
    /// State shared by every gateway node. Without it, throttles and quotas are counted in
    /// each process.
    #[serde(default)]
    pub shared_state: SharedStateConfig,
    /// Running several nodes on one PostgreSQL store (see docs/cluster.md).
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// The audit trail's signed digests.
    #[serde(default)]
    pub audit: AuditConfig,
    /// The built-in metrics store that the admin API and alarms read.
    #[serde(default)]
    pub metrics: crate::alarms::MetricsConfig,
    /// Alarms on those metrics; more can be added through the admin API.
    #[serde(default)]
    pub alarms: Vec<crate::alarms::AlarmConfig>,
    /// Web ACLs (AWS WAF's rule model) that APIs name in `web_acl` (see docs/waf.md).
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub web_acls: Vec<serde_json::Value>,
    /// Hot reload of this file and of certificate files.
    #[serde(default)]
    pub reload: ReloadConfig,
    /// Graceful shutdown on SIGTERM / SIGINT.
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    /// The APIs this gateway serves.
    #[serde(default)]
    pub apis: Vec<ApiConfig>,
    /// User pools: sign-up, sign-in and tokens, served by routes with `integration: {type:
    /// user_pool}` (see docs/user-pools.md).
    #[serde(default)]
    pub user_pools: Vec<crate::user_pool::UserPoolConfig>,
}

/// The plain-HTTP redirect listener.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    #[schemars(with = "String")]
    pub listen: SocketAddr,
}

/// The admin API listener.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Whether the admin API runs at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Address to listen on. Keep it on loopback unless a firewall guards it.
    #[serde(default = "default_admin_listen")]
    #[schemars(with = "String")]
    pub listen: SocketAddr,
}

/// Server certificates.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificates chosen by SNI. The first one also answers clients that send no SNI or a
    /// name no certificate covers.
    #[serde(default)]
    pub certificates: Vec<CertificateConfig>,
    /// `Strict-Transport-Security` on every response (custom domains may set their own).
    /// Default: on, with a `max-age` of one year, except while the development certificate
    /// serves (a browser would then insist on HTTPS for every `localhost` service).
    #[serde(default)]
    pub hsts: Option<crate::domains::HstsConfig>,
    /// Serve clients whose SNI names no custom domain (or who send none). `false`: only the
    /// `domains` serve, and other handshakes fail.
    #[serde(default = "yes")]
    pub default_endpoint: bool,
}

/// One certificate chain and its private key, as PEM files.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// PEM file with the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Names this certificate answers for. Default: the DNS names in its subjectAltName.
    /// `*.example.com` covers one label.
    #[serde(default)]
    pub server_names: Vec<String>,
}

/// The store.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`. Default: `sqlite://<data_dir>/portcullis.db`.
    #[serde(default)]
    pub url: Option<String>,
}

/// Caps on client input. Over a cap, the client gets a gateway response, never a 500.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request line plus header block, in bytes (431 above it).
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: u32,
    /// Most header fields in one request (431 above it).
    #[serde(default = "default_max_headers")]
    pub max_headers: u32,
    /// Largest request body, in bytes (413 above it, without buffering the body).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Time a client has to send the whole request head (slow-loris guard).
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: Duration,
    /// Longest pause allowed between two pieces of a request body (408 after it).
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout: Duration,
    /// Most client connections open at once; more wait in the kernel's accept queue.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

/// The access log: one line per request on standard output.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogConfig {
    /// Whether access-log lines are written.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A one-line template of `$context.*` variables, as in API Gateway. Values are
    /// JSON-escaped. Default: a JSON object with every common field.
    #[serde(default)]
    pub format: Option<String>,
    /// Whether lines go to standard output.
    #[serde(default = "yes")]
    pub stdout: bool,
    /// Rotating files, encrypted by default (see docs/observability.md). Changing this takes
    /// a restart.
    #[serde(default)]
    pub file: Option<AccessLogFileConfig>,
}

/// Access-log files: segments rotated by size and age, deleted after the retention.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogFileConfig {
    /// The directory; default `logs` in `data_dir`.
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// Encrypt each segment with its own data key from the KMS (AES-256-GCM, authenticated
    /// chunks). Read them with `portcullis logs cat|tail|grep`.
    #[serde(default = "yes")]
    pub encrypt: bool,
    /// A segment is closed at this size, in bytes (at least 65536).
    #[serde(default = "default_segment_bytes")]
    pub max_segment_bytes: u64,
    /// A segment is closed at this age (at least 1s).
    #[serde(default = "default_rotate_every")]
    pub rotate_every: Duration,
    /// Segments are deleted this long after they were last written (at least 1m).
    #[serde(default = "default_retain")]
    pub retain: Duration,
}

fn default_segment_bytes() -> u64 {
    64 * 1024 * 1024
}

fn default_rotate_every() -> Duration {
    Duration::from_secs(3600)
}

fn default_retain() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}

/// Hot reload.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReloadConfig {
    /// Reload when the config file, a certificate file, or a trust store or CRL of mutual TLS
    /// changes on disk.
    #[serde(default = "yes")]
    pub watch: bool,
    /// How often files are checked for changes.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Duration,
}

/// Graceful shutdown.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long requests in flight may take to finish after SIGTERM before connections are cut.
    #[serde(default = "default_drain_timeout")]
    pub drain_timeout: Duration,
}

/// One API: its stages, routes, CORS policy and gateway responses.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Name used in logs, metrics and `$context.apiId`. Letters, digits, `-` and `_`.
    pub name: String,
    /// Host names this API answers on (`Host` / `:authority`, port ignored). `*.example.com`
    /// covers one label. Empty: any host.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Path prefix under which the API is served, like a custom domain's base-path mapping.
    #[serde(default = "default_base_path")]
    pub base_path: String,
    /// Stages. A stage named `$default` is served at the base path itself; any other stage
    /// `s` under `<base_path>/s`. Default: one `$default` stage.
    #[serde(default = "default_stages")]
    pub stages: Vec<StageConfig>,
    /// Routes: a method (or `ANY`) and a path template.
    pub routes: Vec<RouteConfig>,
    /// CORS policy; the gateway answers preflight requests itself.
    #[serde(default)]
    pub cors: Option<CorsConfig>,
    /// A resource policy (IAM JSON policy language, written as YAML or JSON) that every request
    /// to this API is evaluated against, with the route's authorisation (see docs/iam.md).
    /// `Resource` may use the short form `execute-api:/STAGE/METHOD/PATH`, expanded with the
    /// configured region, account and this API's name.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub resource_policy: Option<serde_json::Value>,
    /// Overrides of the gateway's own error responses, by response type.
    #[serde(default)]
    pub gateway_responses: BTreeMap<ResponseType, GatewayResponseConfig>,
    /// Where the API key of routes with `api_key_required` comes from.
    #[serde(default)]
    pub api_key_source: ApiKeySource,
    /// Custom authorizers that routes of this API may use (`auth: custom`).
    #[serde(default)]
    pub authorizers: Vec<crate::authorizer::AuthorizerConfig>,
    /// JWT authorizers that routes of this API may use (`auth: jwt`): tokens of OpenID
    /// providers, checked by the gateway against the providers' published keys.
    #[serde(default)]
    pub jwt_authorizers: Vec<crate::jwt::JwtAuthorizerConfig>,
    /// The web ACL (by name, from `web_acls`) that inspects every request routed to this API,
    /// before authorisation.
    #[serde(default)]
    pub web_acl: Option<String>,
}

/// Where an API's keys come from.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ApiKeySource {
    /// The `x-api-key` request header.
    #[default]
    #[serde(rename = "HEADER")]
    Header,
    /// The `usageIdentifierKey` of the route's custom authorizer.
    #[serde(rename = "AUTHORIZER")]
    Authorizer,
}

/// A token bucket: `rate` requests per second on average, `burst` at once. `0` for either
/// refuses every request.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Requests per second (may be fractional, e.g. `0.5`).
    pub rate: f64,
    /// The bucket size: requests allowed at once after a quiet spell.
    pub burst: u32,
}

/// Gateway-wide throttling.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThrottlingConfig {
    /// Requests per second for the whole gateway (API Gateway's account default: 10,000).
    #[serde(default = "default_global_rate")]
    pub rate: f64,
    /// Burst for the whole gateway (API Gateway's account default: 5,000).
    #[serde(default = "default_global_burst")]
    pub burst: u32,
    /// A limit on each client address (after `trusted_proxies`), on every route.
    #[serde(default)]
    pub per_client: Option<ThrottleConfig>,
}

/// A usage plan.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsagePlanConfig {
    /// The plan's id, used to attach keys and to read usage. Letters, digits, `-` and `_`.
    pub id: String,
    /// A name for people. Default: the id.
    #[serde(default)]
    pub name: Option<String>,
    /// A description.
    #[serde(default)]
    pub description: String,
    /// Each key's throttle, over all the plan's stages together.
    #[serde(default)]
    pub throttle: Option<ThrottleConfig>,
    /// Each key's quota, over all the plan's stages together.
    #[serde(default)]
    pub quota: Option<QuotaConfig>,
    /// The API stages the plan covers. A key in the plan may call these.
    pub api_stages: Vec<PlanStageConfig>,
}

/// A quota: `limit` requests per calendar period.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    /// Requests allowed per period.
    pub limit: u64,
    /// `DAY`, `WEEK` or `MONTH`.
    pub period: QuotaPeriod,
    /// Where the period starts, in days: WEEK 0 (Sunday) to 6; MONTH 0 (the 1st) to 27; DAY 0.
    #[serde(default)]
    pub offset: u32,
    /// The time zone whose calendar the periods follow (IANA name, e.g. `Europe/Paris`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

/// A quota period.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum QuotaPeriod {
    /// A calendar day.
    #[serde(rename = "DAY")]
    Day,
    /// A week.
    #[serde(rename = "WEEK")]
    Week,
    /// A calendar month.
    #[serde(rename = "MONTH")]
    Month,
}

/// An API stage in a usage plan.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanStageConfig {
    /// The API's name.
    pub api: String,
    /// The stage's name.
    pub stage: String,
    /// Per-route throttles for each key, by route key (`GET /pets/{id}`), instead of the
    /// plan's throttle.
    #[serde(default)]
    pub throttle: BTreeMap<String, ThrottleConfig>,
}

/// Usage recording.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageConfig {
    /// How often counted usage is written to the store.
    #[serde(default = "default_usage_flush")]
    pub flush_interval: Duration,
    /// When each count reaches this node's disk (`data_dir/usage`).
    #[serde(default)]
    pub journal: UsageJournal,
}

/// When counted usage reaches the node's disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageJournal {
    /// Each request, as it is counted (one `write`, about a microsecond): a node killed at any
    /// moment loses nothing.
    #[default]
    Request,
    /// At each flush: cheaper, but a node killed between two flushes loses what it counted
    /// since the last one. A store outage loses nothing either way.
    Flush,
}

/// Running several nodes on one store.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// How often this node records that it is alive, with the config version it serves
    /// (`portcullis status`).
    #[serde(default = "default_heartbeat")]
    pub heartbeat: Duration,
    /// How long past `iam.cache_ttl` a cached access key, API key or caller may still be used
    /// while the store cannot be read (PostgreSQL down or unreachable). `0s` refuses such
    /// requests at once (503), as a store failure without a cached answer always is.
    #[serde(default = "default_serve_stale_for")]
    pub serve_stale_for: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self { heartbeat: default_heartbeat(), serve_stale_for: default_serve_stale_for() }
    }
}

fn default_heartbeat() -> Duration {
    Duration::from_secs(5)
}

fn default_serve_stale_for() -> Duration {
    Duration::from_secs(600)
}

/// The audit trail.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// How often a digest of the records written since the last one is signed (ES256, a key
    /// the KMS holds) and appended to the trail; one node writes it.
    #[serde(default = "default_digest_interval")]
    pub digest_interval: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { digest_interval: default_digest_interval() }
    }
}

fn default_digest_interval() -> Duration {
    Duration::from_secs(3600)
}

/// State shared by gateway nodes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedStateConfig {
    /// Redis, for throttles and quotas shared by every node.
    #[serde(default)]
    pub redis: Option<RedisConfig>,
}

/// Redis for shared counters.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[:PASSWORD@]HOST[:PORT][/DB]` (or `rediss://` for TLS). Use `${VAR}` for a password.
    pub url: String,
    /// The longest a request waits for Redis; past it, `on_failure` applies.
    #[serde(default = "default_redis_timeout")]
    pub timeout: Duration,
    /// What happens while Redis cannot be reached: `local` (each node counts alone),
    /// `fail_closed` (503) or `fail_open` (requests pass, uncounted).
    #[serde(default)]
    pub on_failure: RedisFailureMode,
    /// How long Redis is left alone after a failure before it is tried again.
    #[serde(default = "default_redis_retry")]
    pub retry_interval: Duration,
    /// Prefix of every counter name in Redis.
    #[serde(default = "default_redis_prefix")]
    pub key_prefix: String,
    /// Which limits Redis keeps: `all` (default; every request makes one Redis call) or
    /// `plans` (usage-plan throttles and quotas only; the gateway-wide, per-client, stage and
    /// route limits are then counted by each node, and requests without an API key never
    /// wait for Redis).
    #[serde(default)]
    pub scope: RedisScope,
}

/// Which limits Redis keeps.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RedisScope {
    /// Every limit.
    #[default]
    All,
    /// Usage plans only.
    Plans,
}

/// What happens while Redis cannot be reached.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RedisFailureMode {
    /// Each node enforces every limit on its own counters until Redis is back.
    #[default]
    Local,
    /// Refuse requests that need the counters with 503.
    FailClosed,
    /// Let requests through uncounted.
    FailOpen,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self { certificates: Vec::new(), hsts: None, default_endpoint: true }
    }
}

// === impl Config ===

impl Config {
    /// Takes from `local` the settings that belong to one node rather than to the cluster:
    /// its listeners, data directory, server certificates, store, Redis, name, access log,
    /// reload, shutdown and cluster settings. A config published to the store replaces the
    /// rest of every node's file.
    pub fn keep_node_settings(&mut self, local: &Self) {
        self.listen = local.listen;
        self.http_redirect.clone_from(&local.http_redirect);
        self.admin.clone_from(&local.admin);
        self.data_dir.clone_from(&local.data_dir);
        self.tls.clone_from(&local.tls);
        self.store.clone_from(&local.store);
        self.shared_state.clone_from(&local.shared_state);
        self.node_name.clone_from(&local.node_name);
        self.access_log.clone_from(&local.access_log);
        self.reload.clone_from(&local.reload);
        self.shutdown.clone_from(&local.shutdown);
        self.cluster.clone_from(&local.cluster);
    }

    /// Every certificate to load: `tls.certificates`, then each domain's own, named for it.
    pub fn all_certificates(&self) -> Vec<CertificateConfig> {
        let own = self.domains.iter().filter_map(|d| {
            let c = d.certificate.as_ref()?;
            Some(CertificateConfig { cert: c.cert.clone(), key: c.key.clone(), server_names: vec![d.name.clone()] })
        });
        self.tls.certificates.iter().cloned().chain(own).collect()
    }
}

impl Default for ThrottlingConfig {
    fn default() -> Self {
        Self { rate: default_global_rate(), burst: default_global_burst(), per_client: None }
    }
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self { flush_interval: default_usage_flush(), journal: UsageJournal::default() }
    }
}

fn default_global_rate() -> f64 {
    10_000.0
}
fn default_global_burst() -> u32 {
    5_000
}
fn default_time_zone() -> String {
    "UTC".into()
}
fn default_usage_flush() -> Duration {
    Duration::from_secs(10)
}
fn default_redis_timeout() -> Duration {
    Duration::from_millis(100)
}
fn default_redis_retry() -> Duration {
    Duration::from_secs(1)
}
fn default_redis_prefix() -> String {
    "portcullis".into()
}

/// A stage of an API.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Stage name: `$default`, or letters, digits, `-` and `_`.
    pub name: String,
    /// Stage variables, usable in integration URLs as `${stageVariables.NAME}` and in
    /// templates as `$stageVariables.NAME`.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Per-stage settings.
    #[serde(default)]
    pub settings: StageSettings,
    /// One token bucket for the whole stage, all routes and clients together.
    #[serde(default)]
    pub throttle: Option<ThrottleConfig>,
    /// The web ACL (by name, from `web_acls`) of this stage's requests, instead of the API's.
    #[serde(default)]
    pub web_acl: Option<String>,
}

/// Per-stage settings.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageSettings {
    /// Write access-log lines for this stage.
    #[serde(default = "yes")]
    pub access_log: bool,
    /// Label metrics with the route as well as the API and stage.
    #[serde(default = "yes")]
    pub detailed_metrics: bool,
}

/// One route.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The route key: `METHOD /path`, e.g. `GET /pets/{id}` or `ANY /{proxy+}`.
    pub route: String,
    /// What answers the request.
    pub integration: IntegrationConfig,
    /// How callers are authenticated: `none` (default), `iam` (SigV4 and IAM policies),
    /// `custom` (the custom authorizer named in `authorizer`) or `jwt` (the JWT authorizer
    /// named in `authorizer`).
    #[serde(default)]
    pub auth: RouteAuth,
    /// With `auth: custom`: the name of one of the API's `authorizers`; with `auth: jwt`, of
    /// its `jwt_authorizers`.
    #[serde(default)]
    pub authorizer: Option<String>,
    /// With `auth: jwt`: the token must grant at least one of these scopes (in its `scope` or
    /// `scp` claim), or the request gets 403. At most 10.
    #[serde(default)]
    pub authorization_scopes: Vec<String>,
    /// Demand a valid client certificate (mutual TLS) on this route, optionally from given
    /// issuers or with given SANs; without one the request gets 403.
    #[serde(default)]
    pub client_certificate: Option<crate::domains::RouteClientCert>,
    /// Callers must send an enabled API key that a usage plan of this stage holds; the plan's
    /// throttle and quota then apply.
    #[serde(default)]
    pub api_key_required: bool,
    /// One token bucket for this route, in each stage, all clients together.
    #[serde(default)]
    pub throttle: Option<ThrottleConfig>,
}

/// A route's authorisation type.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RouteAuth {
    /// Anyone may call (the API's resource policy still applies).
    #[default]
    None,
    /// Requests must be signed with AWS Signature Version 4 by an access key the gateway knows,
    /// and the caller's policies must allow `execute-api:Invoke` on the method ARN.
    Iam,
    /// A custom authorizer decides (Lambda-authorizer compatible; see docs/authorizers.md).
    Custom,
    /// A JSON Web Token from a trusted OpenID provider (see docs/jwt-authorizers.md).
    Jwt,
}

/// IAM settings.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IamConfig {
    /// The region in ARNs and in the SigV4 credential scope clients sign for.
    #[serde(default = "default_region")]
    pub region: String,
    /// The 12-digit account id in ARNs (`arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`).
    #[serde(default = "default_account_id")]
    pub account_id: String,
    /// How far a signature's time may be from the gateway's clock (execute-api: 5 minutes).
    #[serde(default = "default_clock_skew")]
    pub clock_skew: Duration,
    /// Send AWS's canonical-request echo in signature-mismatch errors. It shows how the
    /// gateway canonicalises requests: for debugging clients only, never in production.
    #[serde(default)]
    pub signature_debug: bool,
    /// Header that carries the authenticated principal's ARN to the upstream. Whatever a client
    /// sends under this name is removed first. Empty: not sent.
    #[serde(default = "default_principal_header")]
    pub principal_header: String,
    /// How long a node trusts what it cached about an access key (its secret, user, groups and
    /// policies) before reading the store again. Changes made through this node's admin API
    /// apply at once; this bounds how late other nodes see them.
    #[serde(default = "default_iam_cache_ttl")]
    pub cache_ttl: Duration,
}

impl Default for IamConfig {
    fn default() -> Self {
        Self {
            region: default_region(),
            account_id: default_account_id(),
            clock_skew: default_clock_skew(),
            signature_debug: false,
            principal_header: default_principal_header(),
            cache_ttl: default_iam_cache_ttl(),
        }
    }
}

fn default_region() -> String {
    "us-east-1".into()
}
fn default_account_id() -> String {
    "000000000000".into()
}
fn default_clock_skew() -> Duration {
    Duration::from_secs(300)
}
fn default_principal_header() -> String {
    "x-portcullis-principal".into()
}
fn default_iam_cache_ttl() -> Duration {
    Duration::from_secs(10)
}

/// The kind of integration.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    /// Proxy to an upstream HTTP(S) URL.
    Http,
    /// Answer with a static response from config.
    Mock,
    /// Serve a user pool's endpoints (sign-up, sign-in, tokens, keys) under the route's
    /// greedy parameter.
    UserPool,
}

/// An integration: an HTTP upstream or a mock response.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationConfig {
    /// `http`, `mock` or `user_pool`.
    #[serde(rename = "type")]
    pub kind: IntegrationKind,
    /// (http) Upstream URL. `{name}` is replaced by the path parameter `name`, `{proxy}` by a
    /// greedy `{proxy+}`, `${stageVariables.NAME}` by a stage variable. The request's query
    /// string is passed on.
    #[serde(default)]
    pub url: Option<UpstreamUrl>,
    /// (http) Total time for the upstream to answer with its headers (504 after it).
    #[serde(default = "default_integration_timeout")]
    pub timeout: Duration,
    /// (http) Time to open a connection to the upstream (502 when it fails).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Duration,
    /// (mock) Status code of the response.
    #[serde(default)]
    pub status: Option<u16>,
    /// (http, https URLs) A PEM file of CA certificates trusted for this upstream, instead
    /// of the built-in public roots. For internal CAs and self-signed upstreams.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// (http) Headers added to the upstream request, whose values may use `$context.*` (e.g.
    /// `$context.identity.clientCert.subjectDN`) and `$stageVariables.*`: the client's own
    /// headers of those names are removed first, and a header whose variable has no value is
    /// not sent. (mock) Headers of the response, literal.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// (mock) Response body.
    #[serde(default)]
    pub body: Option<String>,
    /// (user_pool) The name of one of `user_pools`.
    #[serde(default)]
    pub pool: Option<String>,
}

/// CORS, as API Gateway HTTP APIs define it.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Allowed origins: exact (`https://app.example.com`), one-label wildcards
    /// (`https://*.example.com`) or `*`.
    pub allow_origins: Vec<String>,
    /// Allowed methods, or `*`. Default: GET, HEAD, POST.
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Allowed request headers, or `*`.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Response headers the browser may read.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer (0–86400).
    #[serde(default)]
    pub max_age: Option<u32>,
    /// Allow credentials. Not allowed together with origin `*`.
    #[serde(default)]
    pub allow_credentials: bool,
}

/// An override of one gateway response type.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayResponseConfig {
    /// Status code. For `DEFAULT_4XX`/`DEFAULT_5XX`, unset keeps each type's own status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Extra response headers; values may use `$context.*` variables.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body template, e.g. `{"message":$context.error.messageString}`.
    #[serde(default)]
    pub template: Option<String>,
}

// === impl defaults ===

impl Default for AdminConfig {
    fn default() -> Self {
        Self { enabled: true, listen: default_admin_listen() }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_header_bytes: default_max_header_bytes(),
            max_headers: default_max_headers(),
            max_body_bytes: default_max_body_bytes(),
            header_read_timeout: default_header_read_timeout(),
            body_read_timeout: default_body_read_timeout(),
            max_connections: default_max_connections(),
        }
    }
}

impl Config {
    /// This node's name: `node_name`, else the host name (cut to what a node name may hold),
    /// else `node`.
    pub fn node(&self) -> String {
        if let Some(n) = &self.node_name {
            return n.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        let clean: String = host
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(64)
            .collect();
        if crate::compile::is_node_name(&clean) {
            clean
        } else {
            "node".into()
        }
    }

    /// The access-log file directory: the configured one, else `logs` in `data_dir`.
    pub fn access_log_dir(&self) -> Option<PathBuf> {
        let f = self.access_log.file.as_ref()?;
        Some(f.directory.clone().unwrap_or_else(|| self.data_dir.join("logs")))
    }
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        Self { enabled: true, format: None, stdout: true, file: None }
    }
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self { watch: true, poll_interval: default_poll_interval() }
    }
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self { drain_timeout: default_drain_timeout() }
    }
}

impl Default for StageSettings {
    fn default() -> Self {
        Self { access_log: true, detailed_metrics: true }
    }
}

fn yes() -> bool {
    true
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9443))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_max_header_bytes() -> u32 {
    16 * 1024
}
fn default_max_headers() -> u32 {
    100
}
fn default_max_body_bytes() -> u64 {
    10 * 1024 * 1024
}
fn default_header_read_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_body_read_timeout() -> Duration {
    // Below the integration timeout's default (29s), so a stalled upload is the client's 408,
    // not an upstream 504.
    Duration::from_secs(10)
}
fn default_max_connections() -> u32 {
    10_000
}
fn default_poll_interval() -> Duration {
    Duration::from_secs(2)
}
fn default_drain_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_base_path() -> String {
    "/".to_owned()
}
fn default_stages() -> Vec<StageConfig> {
    vec![StageConfig {
        name: "$default".to_owned(),
        variables: BTreeMap::new(),
        settings: StageSettings::default(),
        throttle: None,
        web_acl: None,
    }]
}
fn default_integration_timeout() -> Duration {
    Duration::from_secs(29)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(10)
}
