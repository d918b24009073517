//! From checked plain data to the ready-to-serve form: route tables, CORS policies, templates
//! and integrations, all prepared once. Every rule that spans fields is checked here and
//! reported with the path of the field to fix.

use std::collections::BTreeMap;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, Scheme};
use http::StatusCode;

use crate::config::{Config, StageSettings};
use crate::cors::CorsPolicy;
use crate::duration::Duration;
use crate::positions::{join_index, join_key};
use crate::responses::ResponseOverrides;
use crate::routes::RouteTable;
use crate::template::{ContextVar, Template};
use crate::upstream_url::UrlPart;

mod api;
mod authorizer;
mod domains;
mod jwt;
mod metering;
mod user_pool;

use api::{check_overlaps, compile_api};
pub use metering::{CompiledPlan, StagePlan};

/// A config that passed every check, with everything the data plane needs prepared.
#[derive(Debug)]
pub struct Compiled {
    /// The plain data it was built from.
    pub config: Config,
    /// APIs, in config order.
    pub apis: Vec<CompiledApi>,
    /// Access-log template; `None` when access logging is off.
    pub access_log: Option<Template>,
    /// The alarms of the config (the admin API's are in the store).
    pub alarms: Vec<crate::alarms::CompiledAlarm>,
    /// The web ACLs, in config order; APIs refer to them by index.
    pub web_acls: Vec<std::sync::Arc<waf::WebAcl>>,
    /// Body of every gateway response without an override.
    pub default_response_body: Template,
    /// Body of `ACCESS_DENIED` without an override: AWS spells its key `Message`.
    pub access_denied_body: Template,
    /// The header that carries the authenticated principal upstream, if any.
    pub principal_header: Option<HeaderName>,
    /// `Strict-Transport-Security` for responses outside custom domains with their own.
    pub hsts: Option<HeaderValue>,
    /// The custom domains that route by base-path mappings.
    domain_routes: Vec<domains::DomainRoutes>,
    /// The limit on the gateway as a whole.
    pub global_limit: limits::Limit,
    /// The limit on each client address, if any.
    pub client_limit: Option<limits::Limit>,
    /// Usage plans, in config order.
    pub plans: Vec<CompiledPlan>,
    /// User pools, in config order.
    pub user_pools: Vec<std::sync::Arc<crate::user_pool::UserPoolConfig>>,
}

/// One API, ready to serve.
#[derive(Debug)]
pub struct CompiledApi {
    /// API name.
    pub name: String,
    pub(crate) hosts: Vec<String>,
    pub(crate) base_path: String,
    /// Stages.
    pub stages: Vec<CompiledStage>,
    pub(crate) default_stage: Option<usize>,
    /// Routes.
    pub routes: RouteTable<CompiledRoute>,
    /// CORS policy.
    pub cors: Option<CorsPolicy>,
    /// Gateway-response overrides.
    pub responses: ResponseOverrides,
    /// Each route's authorisation, by route index.
    pub route_auth: Vec<CompiledAuth>,
    /// Where keys of routes with `api_key_required` come from.
    pub api_key_source: crate::config::ApiKeySource,
    /// The API's custom authorizers, in config order.
    pub authorizers: Vec<crate::authorizer::CompiledAuthorizer>,
    /// The API's JWT authorizers, in config order.
    pub jwt_authorizers: Vec<crate::jwt::CompiledJwtAuthorizer>,
    /// Each route's `authorization_scopes`, by route index.
    pub route_scopes: Vec<Vec<String>>,
    /// The API's resource policy, with short-form resources expanded.
    pub resource_policy: Option<iam::policy::Policy>,
    /// Each route's client-certificate demand, by route index.
    pub route_client_cert: Vec<Option<crate::domains::RouteClientCert>>,
    /// Each route's API-key requirement, by route index.
    pub route_key_required: Vec<bool>,
    /// Each route's own throttle, by route index.
    pub route_throttle: Vec<Option<limits::Limit>>,
    /// Each route's key as shared text (`GET /pets/{id}`), for counters and usage records.
    pub route_labels: Vec<std::sync::Arc<str>>,
    /// The API's name as shared text.
    pub label: std::sync::Arc<str>,
    /// The index of its web ACL in [`Compiled::web_acls`].
    pub web_acl: Option<usize>,
}

/// How a route authenticates its callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompiledAuth {
    /// Nobody is authenticated (the resource policy still applies).
    None,
    /// SigV4 and IAM policies.
    Iam,
    /// The custom authorizer at this index of the API's `authorizers`.
    Custom(usize),
    /// The JWT authorizer at this index of the API's `jwt_authorizers`.
    Jwt(usize),
}

/// One stage of an API.
#[derive(Debug)]
pub struct CompiledStage {
    /// Stage name (`$default` included).
    pub name: String,
    /// Stage variables.
    pub variables: BTreeMap<String, String>,
    /// Settings.
    pub settings: StageSettings,
    /// The stage's own throttle.
    pub throttle: Option<limits::Limit>,
    /// The usage plans that cover this stage.
    pub plans: Vec<StagePlan>,
    /// The stage's name as shared text.
    pub label: std::sync::Arc<str>,
    /// The index of the stage's own web ACL in [`Compiled::web_acls`], if it names one; the
    /// API's applies otherwise.
    pub web_acl: Option<usize>,
}

/// One route's integration.
#[derive(Debug)]
pub enum CompiledRoute {
    /// Proxy to an upstream.
    Http(HttpIntegration),
    /// A static answer.
    Mock(MockIntegration),
    /// The user pool at this index of [`Compiled::user_pools`].
    UserPool(usize),
}

/// An upstream HTTP integration.
#[derive(Debug)]
pub struct HttpIntegration {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Host and port.
    pub authority: Authority,
    /// The `Host` header for the upstream (the authority), made once.
    pub host: HeaderValue,
    /// Path template.
    pub path: Vec<UrlPart>,
    /// Fixed query from the URL, sent before the client's query.
    pub query: Option<String>,
    /// Time for the upstream's response head.
    pub timeout: Duration,
    /// Time to connect.
    pub connect_timeout: Duration,
    /// Trust roots for an https upstream; `None` for the public roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Headers added to the upstream request.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Headers whose values are rendered per request (they name `$context` or stage
    /// variables); the client's own copies are removed first.
    pub header_templates: Vec<(HeaderName, Template)>,
}

/// A mock integration.
#[derive(Debug)]
pub struct MockIntegration {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: String,
}

/// The API and stage a request belongs to, and its path below them.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'c, 'p> {
    /// Position of the API in [`Compiled::apis`].
    pub api_index: usize,
    /// Position of the stage in [`CompiledApi::stages`].
    pub stage_index: usize,
    /// The API.
    pub api: &'c CompiledApi,
    /// The stage.
    pub stage: &'c CompiledStage,
    /// The path below base path and stage, always starting with `/`.
    pub rest: &'p str,
    /// The custom domain's base-path mapping that matched (`(none)` for `/`), if any.
    pub base_path_matched: Option<&'c str>,
}

/// A problem found while compiling: the field path and what is wrong.
pub type Issue = (String, String);

// === impl Compiled ===

impl Compiled {
    /// Compiles `config`, or returns every problem found.
    pub fn build(config: Config) -> Result<Self, Vec<Issue>> {
        let mut issues = Vec::new();
        check_limits(&config, &mut issues);
        check_log_files(&config, &mut issues);
        if config.metrics.retention.as_std() < std::time::Duration::from_secs(60) {
            issues.push(("metrics.retention".into(), "must be at least 1m".into()));
        }
        let alarms = crate::alarms::compile_alarms(&config.alarms, &mut issues);
        let web_acls = compile_web_acls(&config, &mut issues);
        let principal_header = check_iam(&config, &mut issues);
        let hsts = domains::check_domains(&config, &mut issues);
        let access_log = if config.access_log.enabled {
            let text = config.access_log.format.as_deref().unwrap_or(DEFAULT_ACCESS_LOG);
            compile_access_log(text, &mut issues)
        } else {
            None
        };
        let mut apis = Vec::new();
        for (i, api) in config.apis.iter().enumerate() {
            let path = join_index("apis", i);
            if let Some(j) = config.apis[..i].iter().position(|a| a.name == api.name) {
                issues.push((join_key(&path, "name"), format!("API name `{}` is already used by apis[{j}]", api.name)));
            }
            if let Some(mut c) = compile_api(api, &config.iam, &config.user_pools, &path, &mut issues) {
                c.web_acl = web_acl_of(api.web_acl.as_deref(), &web_acls, &path, &mut issues);
                for (j, stage) in api.stages.iter().enumerate() {
                    let at = join_index(&join_key(&path, "stages"), j);
                    let found = web_acl_of(stage.web_acl.as_deref(), &web_acls, &at, &mut issues);
                    if let Some(compiled) = c.stages.iter_mut().find(|s| s.name == stage.name) {
                        compiled.web_acl = found;
                    }
                }
                apis.push(c);
            }
        }
        check_overlaps(&apis, &mut issues);
        let domain_routes = domains::compile_mappings(&config, &apis, &mut issues);
        let (global_limit, client_limit) = metering::global_limits(&config, &mut issues);
        let plans = metering::compile_plans(&config, &mut apis, global_limit, &mut issues);
        metering::check_key_routes(&config, &apis, &mut issues);
        let user_pools = user_pool::compile_user_pools(&config.user_pools, &mut issues);
        if !issues.is_empty() {
            return Err(issues);
        }
        let Some(global_limit) = global_limit else { return Err(vec![("throttling".into(), "invalid".into())]) };
        let default_response_body = Template::parse(DEFAULT_RESPONSE_BODY).map_err(|e| vec![(String::new(), e)])?;
        let access_denied_body = Template::parse(ACCESS_DENIED_BODY).map_err(|e| vec![(String::new(), e)])?;
        Ok(Self {
            config,
            apis,
            access_log,
            alarms,
            web_acls: web_acls.into_iter().map(|(_, acl)| std::sync::Arc::new(acl)).collect(),
            default_response_body,
            access_denied_body,
            principal_header,
            hsts,
            domain_routes,
            global_limit,
            client_limit,
            plans,
            user_pools,
        })
    }

    /// A Redis failure mode in the counters' terms.
    pub const fn failure_mode_of(m: crate::config::RedisFailureMode) -> limits::FailureMode {
        metering::failure_mode(m)
    }

    /// Finds the API and stage for a host (port ignored) and canonical path. Among the APIs
    /// whose hosts and base path match, an exact host beats a wildcard host, which beats an
    /// API without hosts; then the longest base path wins.
    pub fn select<'c, 'p>(&'c self, host: Option<&str>, path: &'p str) -> Option<Selection<'c, 'p>> {
        let host = host.map(strip_port);
        if let Some(mapped) = host.and_then(|h| self.mapped(h, path)) {
            return mapped;
        }
        let (_, _, api_index, api, rest) = self
            .apis
            .iter()
            .enumerate()
            .filter_map(|(i, a)| Some((a.host_rank(host)?, a.base_path.len(), i, a, a.strip_base(path)?)))
            .max_by_key(|(rank, len, i, _, _)| (*rank, *len, std::cmp::Reverse(*i)))?;
        let (first, after) = match rest[1..].find('/') {
            Some(i) => (&rest[1..=i], &rest[i + 1..]),
            None => (&rest[1..], ""),
        };
        if let Some((stage_index, stage)) =
            api.stages.iter().enumerate().find(|(_, s)| s.name == first && s.name != DEFAULT_STAGE)
        {
            let rest = if after.is_empty() { "/" } else { after };
            return Some(Selection { api_index, stage_index, api, stage, rest, base_path_matched: None });
        }
        let stage_index = api.default_stage?;
        let stage = api.stages.get(stage_index)?;
        Some(Selection { api_index, stage_index, api, stage, rest, base_path_matched: None })
    }

    /// `Some` when `host` is a custom domain with base-path mappings: then they alone decide
    /// (`Some(None)`: nothing is mapped at this path). An exact name beats a wildcard.
    fn mapped<'c, 'p>(&'c self, host: &str, path: &'p str) -> Option<Option<Selection<'c, 'p>>> {
        if self.domain_routes.is_empty() {
            return None;
        }
        let d = self
            .domain_routes
            .iter()
            .filter(|d| host_matches(&d.pattern, host))
            .max_by_key(|d| !d.pattern.starts_with("*."))?;
        let found = d.entries.iter().find_map(|(base, a, s)| {
            let rest = match path.strip_prefix(base.as_str())? {
                "" => "/",
                r if r.starts_with('/') => r,
                _ => return None,
            };
            let (api, stage) = (self.apis.get(*a)?, self.apis.get(*a)?.stages.get(*s)?);
            let matched = if base.is_empty() { "(none)" } else { &base[1..] };
            Some(Selection { api_index: *a, stage_index: *s, api, stage, rest, base_path_matched: Some(matched) })
        });
        Some(found)
    }
}

// === impl CompiledApi ===

impl CompiledApi {
    /// How specifically this API claims `host`: 2 exact, 1 wildcard, 0 any host, `None` not.
    fn host_rank(&self, host: Option<&str>) -> Option<u8> {
        if self.hosts.is_empty() {
            return Some(0);
        }
        let host = host?;
        self.hosts.iter().filter(|h| host_matches(h, host)).map(|h| if h.starts_with("*.") { 1 } else { 2 }).max()
    }

    fn strip_base<'p>(&self, path: &'p str) -> Option<&'p str> {
        if self.base_path.is_empty() {
            return Some(path);
        }
        let rest = path.strip_prefix(self.base_path.as_str())?;
        match rest {
            "" => Some("/"),
            r if r.starts_with('/') => Some(r),
            _ => None,
        }
    }
}

/// Whether `host` (any case) matches a lower-case pattern, exact or `*.domain` (one label).
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .len()
            .checked_sub(suffix.len() + 1)
            .and_then(|cut| Some((host.get(..cut)?, host.get(cut..)?)))
            .is_some_and(|(label, rest)| {
                !label.is_empty()
                    && !label.contains('.')
                    && rest.starts_with('.')
                    && rest[1..].eq_ignore_ascii_case(suffix)
            }),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// A `Host` without its port (`[::1]:8443` → `[::1]`).
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| h.trim_start_matches('['));
    }
    host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h)
}

/// Checks the `iam` section; returns the principal header.
fn check_iam(c: &Config, issues: &mut Vec<Issue>) -> Option<HeaderName> {
    let iam = &c.iam;
    let mut bad = |f: &str, m: String| issues.push((format!("iam.{f}"), m));
    if iam.account_id.len() != 12 || !iam.account_id.bytes().all(|b| b.is_ascii_digit()) {
        bad("account_id", format!("must be 12 digits, got `{}`", iam.account_id));
    }
    let region_ok = !iam.region.is_empty()
        && iam.region.len() <= 32
        && iam.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        bad("region", format!("must be a region name like `us-east-1`, got `{}`", iam.region));
    }
    if !(1..=900).contains(&iam.clock_skew.as_std().as_secs()) {
        bad("clock_skew", "must be from 1s to 15m".into());
    }
    if iam.cache_ttl.as_std() > std::time::Duration::from_secs(300) {
        bad("cache_ttl", "must be at most 5m: it bounds how late a revoked key is noticed".into());
    }
    if iam.principal_header.is_empty() {
        return None;
    }
    match HeaderName::from_bytes(iam.principal_header.as_bytes()) {
        Ok(h) => Some(h),
        Err(_) => {
            bad("principal_header", format!("`{}` is not a header name", iam.principal_header));
            None
        }
    }
}

fn check_limits(c: &Config, issues: &mut Vec<Issue>) {
    let l = &c.limits;
    let mut bad = |f: &str, m: &str| issues.push((format!("limits.{f}"), m.to_owned()));
    if !(1024..=1024 * 1024).contains(&l.max_header_bytes) {
        bad("max_header_bytes", "must be between 1024 and 1048576");
    }
    if !(8..=1000).contains(&l.max_headers) {
        bad("max_headers", "must be between 8 and 1000");
    }
    if l.max_body_bytes == 0 {
        bad("max_body_bytes", "must be above 0");
    }
    if l.max_connections == 0 {
        bad("max_connections", "must be above 0");
    }
    if l.header_read_timeout.as_std().is_zero() {
        bad("header_read_timeout", "must be above 0");
    }
    if l.body_read_timeout.as_std().is_zero() {
        bad("body_read_timeout", "must be above 0");
    }
    if c.reload.poll_interval.as_std() < std::time::Duration::from_millis(100) {
        issues.push(("reload.poll_interval".into(), "must be at least 100ms".into()));
    }
    // Port 0 ("any free port") never clashes.
    let clash = |a: &std::net::SocketAddr, b: &std::net::SocketAddr| a == b && a.port() != 0;
    if c.admin.enabled && clash(&c.admin.listen, &c.listen) {
        issues.push(("admin.listen".into(), "the admin API needs its own address, not `listen`'s".into()));
    }
    if let Some(r) = &c.http_redirect {
        if clash(&r.listen, &c.listen) || (c.admin.enabled && clash(&r.listen, &c.admin.listen)) {
            issues.push(("http_redirect.listen".into(), "the redirect listener needs its own address".into()));
        }
    }
}

fn check_log_files(c: &Config, issues: &mut Vec<Issue>) {
    if let Some(name) = &c.node_name {
        if !is_node_name(name) {
            issues.push((
                "node_name".into(),
                "must be 1 to 64 letters, digits, `.`, `_` or `-`, not starting with `.`".into(),
            ));
        }
    }
    if c.access_log.enabled && !c.access_log.stdout && c.access_log.file.is_none() {
        issues.push((
            "access_log.stdout".into(),
            "is false and there is no access_log.file: lines would go nowhere (set access_log.enabled: false)".into(),
        ));
    }
    let Some(f) = &c.access_log.file else { return };
    let mut bad = |field: &str, m: &str| issues.push((format!("access_log.file.{field}"), m.to_owned()));
    if f.max_segment_bytes < 64 * 1024 {
        bad("max_segment_bytes", "must be at least 65536");
    }
    if f.rotate_every.as_std() < std::time::Duration::from_secs(1) {
        bad("rotate_every", "must be at least 1s");
    }
    if f.retain.as_std() < std::time::Duration::from_secs(60) {
        bad("retain", "must be at least 1m");
    }
}

/// Whether `name` can name a node in file names and key contexts.
pub fn is_node_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Checks every web ACL; the names come with them for `apis[].web_acl`.
fn compile_web_acls(c: &Config, issues: &mut Vec<Issue>) -> Vec<(String, waf::WebAcl)> {
    let mut out: Vec<(String, waf::WebAcl)> = Vec::new();
    for (i, value) in c.web_acls.iter().enumerate() {
        let at = join_index("web_acls", i);
        let cfg: waf::WebAclConfig = match serde_path_to_error::deserialize(value) {
            Ok(cfg) => cfg,
            Err(e) => {
                let inner = e.path().to_string();
                let field = if inner == "." { at.clone() } else { format!("{at}.{inner}") };
                issues.push((field, e.into_inner().to_string()));
                continue;
            }
        };
        if out.iter().any(|(n, _)| *n == cfg.name) {
            issues.push((join_key(&at, "name"), format!("web ACL name `{}` is already used", cfg.name)));
        }
        if let Some(acl) = waf::compile(&cfg, &at, issues) {
            out.push((cfg.name.clone(), acl));
        }
    }
    out
}

/// The index of the web ACL an API or stage names.
fn web_acl_of(name: Option<&str>, acls: &[(String, waf::WebAcl)], at: &str, issues: &mut Vec<Issue>) -> Option<usize> {
    let name = name?;
    let found = acls.iter().position(|(n, _)| n == name);
    if found.is_none() {
        let known: Vec<&str> = acls.iter().map(|(n, _)| n.as_str()).collect();
        issues.push((
            join_key(at, "web_acl"),
            format!("no web ACL named `{name}` in web_acls (known: {})", known.join(", ")),
        ));
    }
    found
}

fn compile_access_log(text: &str, issues: &mut Vec<Issue>) -> Option<Template> {
    let at = "access_log.format".to_owned();
    if text.contains('\n') {
        issues.push((at, "the format must be a single line".into()));
        return None;
    }
    if text.len() > 3 * 1024 {
        issues.push((at, "the format must be at most 3 KiB".into()));
        return None;
    }
    match Template::parse(text) {
        Ok(t) if t.uses(ContextVar::RequestId) || t.uses(ContextVar::ExtendedRequestId) => Some(t),
        Ok(_) => {
            issues.push((at, "the format must contain $context.requestId".into()));
            None
        }
        Err(e) => {
            issues.push((at, e));
            None
        }
    }
}

/// The stage served at the base path itself.
pub const DEFAULT_STAGE: &str = "$default";

/// The default access-log line: a JSON object with the common `$context` fields.
pub const DEFAULT_ACCESS_LOG: &str = concat!(
    r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","#,
    r#""userAgent":"$context.identity.userAgent","requestTime":"$context.requestTime","#,
    r#""requestTimeEpoch":"$context.requestTimeEpoch","httpMethod":"$context.httpMethod","#,
    r#""domainName":"$context.domainName","apiId":"$context.apiId","stage":"$context.stage","#,
    r#""routeKey":"$context.routeKey","resourcePath":"$context.resourcePath","path":"$context.path","#,
    r#""status":"$context.status","protocol":"$context.protocol","#,
    r#""responseLength":"$context.responseLength","responseLatency":"$context.responseLatency","#,
    r#""integrationLatency":"$context.integrationLatency","integrationStatus":"$context.integration.status","#,
    r#""errorResponseType":"$context.error.responseType","errorMessage":"$context.error.message","#,
    r#""tlsVersion":"$context.tlsVersion"}"#
);

/// The default body of a gateway response (reference §0).
pub const DEFAULT_RESPONSE_BODY: &str = r#"{"message":$context.error.messageString}"#;

/// The body of `ACCESS_DENIED` responses without an override (reference §0: capital `M`).
pub(crate) const ACCESS_DENIED_BODY: &str = r#"{"Message":$context.error.messageString}"#;
