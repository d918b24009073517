//! From checked plain data to the ready-to-serve form: route tables, CORS policies, templates
//! and integrations, all prepared once. Every rule that spans fields is checked here and
//! reported with the path of the field to fix.

use std::collections::BTreeMap;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, Scheme};
use http::StatusCode;

use crate::config::{ApiConfig, Config, IntegrationConfig, IntegrationKind, StageSettings};
use crate::cors::CorsPolicy;
use crate::duration::Duration;
use crate::positions::{join_index, join_key};
use crate::responses::ResponseOverrides;
use crate::routes::{RouteKey, RouteTable};
use crate::template::{ContextVar, Template};
use crate::upstream_url::UrlPart;

/// A config that passed every check, with everything the data plane needs prepared.
#[derive(Debug)]
pub struct Compiled {
    /// The plain data it was built from.
    pub config: Config,
    /// APIs, in config order.
    pub apis: Vec<CompiledApi>,
    /// Access-log template; `None` when access logging is off.
    pub access_log: Option<Template>,
    /// Body of every gateway response without an override.
    pub default_response_body: Template,
}

/// One API, ready to serve.
#[derive(Debug)]
pub struct CompiledApi {
    /// API name.
    pub name: String,
    hosts: Vec<String>,
    base_path: String,
    /// Stages.
    pub stages: Vec<CompiledStage>,
    default_stage: Option<usize>,
    /// Routes.
    pub routes: RouteTable<CompiledRoute>,
    /// CORS policy.
    pub cors: Option<CorsPolicy>,
    /// Gateway-response overrides.
    pub responses: ResponseOverrides,
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
}

/// One route's integration.
#[derive(Debug)]
pub enum CompiledRoute {
    /// Proxy to an upstream.
    Http(HttpIntegration),
    /// A static answer.
    Mock(MockIntegration),
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
}

/// A problem found while compiling: the field path and what is wrong.
pub type Issue = (String, String);

// === impl Compiled ===

impl Compiled {
    /// Compiles `config`, or returns every problem found.
    pub fn build(config: Config) -> Result<Self, Vec<Issue>> {
        let mut issues = Vec::new();
        check_limits(&config, &mut issues);
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
            if let Some(c) = compile_api(api, &path, &mut issues) {
                apis.push(c);
            }
        }
        check_overlaps(&apis, &mut issues);
        if !issues.is_empty() {
            return Err(issues);
        }
        let default_response_body = Template::parse(DEFAULT_RESPONSE_BODY).map_err(|e| vec![(String::new(), e)])?;
        Ok(Self { config, apis, access_log, default_response_body })
    }

    /// Finds the API and stage for a host (port ignored) and canonical path. Among the APIs
    /// whose hosts and base path match, an exact host beats a wildcard host, which beats an
    /// API without hosts; then the longest base path wins.
    pub fn select<'c, 'p>(&'c self, host: Option<&str>, path: &'p str) -> Option<Selection<'c, 'p>> {
        let host = host.map(strip_port);
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
            return Some(Selection { api_index, stage_index, api, stage, rest });
        }
        let stage_index = api.default_stage?;
        let stage = api.stages.get(stage_index)?;
        Some(Selection { api_index, stage_index, api, stage, rest })
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

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| h.trim_start_matches('['));
    }
    host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h)
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

fn compile_api(api: &ApiConfig, path: &str, issues: &mut Vec<Issue>) -> Option<CompiledApi> {
    let before = issues.len();
    if !is_name(&api.name, 64) {
        issues.push((join_key(path, "name"), "use 1-64 letters, digits, `-` or `_`".into()));
    }
    let hosts: Vec<String> = api.hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
    for (i, h) in hosts.iter().enumerate() {
        let name = h.strip_prefix("*.").unwrap_or(h);
        if name.is_empty()
            || !name.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            issues.push((join_index(&join_key(path, "hosts"), i), format!("`{h}` is not a host name")));
        }
    }
    let base_path = match api.base_path.as_str() {
        "/" => String::new(),
        p if p.starts_with('/')
            && !p.ends_with('/')
            && !p.contains(['{', '}'])
            && crate::path::canonicalize(p).ok().as_deref() == Some(p) =>
        {
            p.to_owned()
        }
        _ => {
            issues.push((
                join_key(path, "base_path"),
                "must be `/` or a canonical path like `/v1` without a trailing slash".into(),
            ));
            String::new()
        }
    };
    let stages = compile_stages(api, path, issues);
    let default_stage = stages.iter().position(|s| s.name == DEFAULT_STAGE);
    let mut routes = Vec::new();
    for (i, r) in api.routes.iter().enumerate() {
        let rpath = join_index(&join_key(path, "routes"), i);
        match RouteKey::parse(&r.route) {
            Ok(key) => {
                if let Some(c) =
                    compile_integration(&r.integration, &key, api, &join_key(&rpath, "integration"), issues)
                {
                    routes.push((key, c));
                }
            }
            Err(e) => issues.push((join_key(&rpath, "route"), e)),
        }
    }
    let routes =
        RouteTable::build(routes).map_err(|(i, e)| issues.push((join_index(&join_key(path, "routes"), i), e))).ok();
    let cors = api.cors.as_ref().and_then(|c| {
        CorsPolicy::compile(c).map_err(|(f, e)| issues.push((join_key(&join_key(path, "cors"), f), e))).ok()
    });
    let responses = ResponseOverrides::compile(&api.gateway_responses)
        .map_err(|es| {
            for (f, e) in es {
                issues.push((join_key(&join_key(path, "gateway_responses"), &f), e));
            }
        })
        .ok();
    if issues.len() > before {
        return None;
    }
    Some(CompiledApi {
        name: api.name.clone(),
        hosts,
        base_path,
        stages,
        default_stage,
        routes: routes?,
        cors,
        responses: responses?,
    })
}

fn compile_stages(api: &ApiConfig, path: &str, issues: &mut Vec<Issue>) -> Vec<CompiledStage> {
    if api.stages.is_empty() {
        issues.push((join_key(path, "stages"), "an API needs at least one stage".into()));
    }
    let mut out = Vec::new();
    for (i, s) in api.stages.iter().enumerate() {
        let spath = join_index(&join_key(path, "stages"), i);
        if s.name != DEFAULT_STAGE && !is_name(&s.name, 128) {
            issues.push((join_key(&spath, "name"), "use `$default` or 1-128 letters, digits, `-` or `_`".into()));
        }
        if api.stages[..i].iter().any(|o| o.name == s.name) {
            issues.push((join_key(&spath, "name"), format!("stage `{}` is defined twice", s.name)));
        }
        for (k, v) in &s.variables {
            if !is_name(k, 64) || v.len() > 512 {
                issues.push((
                    join_key(&join_key(&spath, "variables"), k),
                    "names are 1-64 letters, digits, `-`, `_`; values at most 512 bytes".into(),
                ));
            }
        }
        out.push(CompiledStage { name: s.name.clone(), variables: s.variables.clone(), settings: s.settings.clone() });
    }
    out
}

fn compile_integration(
    cfg: &IntegrationConfig,
    key: &RouteKey,
    api: &ApiConfig,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<CompiledRoute> {
    let at = |f: &str| join_key(path, f);
    let before = issues.len();
    let mut headers = Vec::new();
    for (name, value) in &cfg.headers {
        match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            (Ok(n), Ok(v)) => headers.push((n, v)),
            _ => issues.push((join_key(&at("headers"), name), "not a valid header name and value".into())),
        }
    }
    match cfg.kind {
        IntegrationKind::Http => {
            for (field, set) in [("status", cfg.status.is_some()), ("body", cfg.body.is_some())] {
                if set {
                    issues.push((at(field), format!("`{field}` is for mock integrations only")));
                }
            }
            let Some(url) = &cfg.url else {
                issues.push((at("url"), "an http integration needs a `url`".into()));
                return None;
            };
            if cfg.ca_file.is_some() && url.origin().starts_with("http://") {
                issues.push((at("ca_file"), "`ca_file` is for https upstreams".into()));
            }
            let parts = url.parts().map_err(|e| issues.push((at("url"), e))).ok()?;
            for part in &parts {
                match part {
                    UrlPart::PathParam(p) if !key.params.contains(p) => {
                        issues.push((at("url"), format!("`{{{p}}}` is not a parameter of route `{}`", key.display())));
                    }
                    UrlPart::StageVariable(v) => {
                        for s in &api.stages {
                            let problem = match s.variables.get(v) {
                                None => format!("stage variable `{v}` is not set in stage `{}`", s.name),
                                Some(val) if !is_url_path_text(val) => format!(
                                    "stage variable `{v}` of stage `{}` cannot go in a URL path (spaces, `?`, `#`, controls)",
                                    s.name
                                ),
                                Some(_) => continue,
                            };
                            issues.push((at("url"), problem));
                        }
                    }
                    _ => {}
                }
            }
            for (field, d) in [("timeout", cfg.timeout), ("connect_timeout", cfg.connect_timeout)] {
                if d.as_std().is_zero() || d.as_std() > std::time::Duration::from_secs(300) {
                    issues.push((at(field), "must be above 0 and at most 300s".into()));
                }
            }
            let (scheme, authority) = url
                .origin()
                .parse::<http::Uri>()
                .ok()
                .and_then(|u| Some((u.scheme()?.clone(), u.authority()?.clone())))?;
            if issues.len() > before {
                return None;
            }
            let host = HeaderValue::from_str(authority.as_str()).ok()?;
            Some(CompiledRoute::Http(HttpIntegration {
                host,
                scheme,
                authority,
                path: parts,
                query: url.query().map(str::to_owned),
                timeout: cfg.timeout,
                connect_timeout: cfg.connect_timeout,
                ca_file: cfg.ca_file.clone(),
                headers,
            }))
        }
        IntegrationKind::Mock => {
            for (field, set) in [("url", cfg.url.is_some()), ("ca_file", cfg.ca_file.is_some())] {
                if set {
                    issues.push((at(field), format!("a mock integration has no `{field}`")));
                }
            }
            let status = match StatusCode::from_u16(cfg.status.unwrap_or(200)) {
                Ok(s) if (200..=599).contains(&s.as_u16()) => s,
                _ => {
                    issues.push((at("status"), "must be a status code from 200 to 599".into()));
                    return None;
                }
            };
            if issues.len() > before {
                return None;
            }
            Some(CompiledRoute::Mock(MockIntegration {
                status,
                headers: headers.into_iter().collect(),
                body: cfg.body.clone().unwrap_or_default(),
            }))
        }
    }
}

fn check_overlaps(apis: &[CompiledApi], issues: &mut Vec<Issue>) {
    for (i, a) in apis.iter().enumerate() {
        for b in &apis[..i] {
            let hosts_meet = a.hosts.is_empty() && b.hosts.is_empty() || a.hosts.iter().any(|h| b.hosts.contains(h));
            if hosts_meet && a.base_path == b.base_path {
                issues.push((
                    format!("apis[{i}].base_path"),
                    format!("API `{}` and API `{}` serve the same hosts and base path", a.name, b.name),
                ));
            }
        }
    }
}

/// Text that may be pasted into a URL path as is.
fn is_url_path_text(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic() && !b"?#\"<>\\^`{|}".contains(&b))
}

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
