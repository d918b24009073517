//! Compiling one API: its name, hosts, base path, stages, routes and integrations, CORS
//! policy and gateway responses. Each problem is reported with the path of the field to fix.

use http::header::{HeaderName, HeaderValue};
use http::StatusCode;

use super::{CompiledApi, CompiledRoute, CompiledStage, HttpIntegration, Issue, MockIntegration, DEFAULT_STAGE};
use crate::config::{ApiConfig, IamConfig, IntegrationConfig, IntegrationKind};
use crate::cors::CorsPolicy;
use crate::positions::{join_index, join_key};
use crate::responses::ResponseOverrides;
use crate::routes::{RouteKey, RouteTable};
use crate::upstream_url::UrlPart;

pub(super) fn compile_api(
    api: &ApiConfig,
    iam: &IamConfig,
    pools: &[crate::user_pool::UserPoolConfig],
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<CompiledApi> {
    let before = issues.len();
    if !is_name(&api.name, 64) {
        issues.push((join_key(path, "name"), "use 1-64 letters, digits, `-` or `_`".into()));
    }
    let hosts: Vec<String> = api.hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
    for (i, h) in hosts.iter().enumerate() {
        if !crate::domains::is_host_pattern(h) {
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
                let at = join_key(&rpath, "integration");
                let compiled = if r.integration.kind == IntegrationKind::UserPool {
                    user_pool_route(r, pools, &rpath, issues)
                } else {
                    compile_integration(&r.integration, &key, api, &at, issues)
                };
                if let Some(c) = compiled {
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
    let resource_policy = api.resource_policy.as_ref().and_then(|doc| {
        let doc = expand_short_resources(doc, iam, &api.name);
        iam::policy::Policy::from_value_as(&doc, iam::policy::PolicyKind::Resource)
            .map_err(|e| {
                let at = join_key(path, "resource_policy");
                let at = if e.path.is_empty() { at } else { format!("{at}.{}", e.path) };
                issues.push((at, e.message));
            })
            .ok()
    });
    if issues.len() > before {
        return None;
    }
    let authorizers = super::authorizer::compile_authorizers(api, path, issues);
    let jwt_authorizers = super::jwt::compile_jwt_authorizers(api, pools, path, issues);
    let route_auth = super::authorizer::route_auth(api, &authorizers, &jwt_authorizers, path, issues);
    let route_throttle = api
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let at = join_key(&join_index(&join_key(path, "routes"), i), "throttle");
            r.throttle.as_ref().and_then(|t| super::metering::limit(t, &at, issues))
        })
        .collect();
    if issues.len() > before {
        return None;
    }
    let routes = routes?;
    Some(CompiledApi {
        route_auth,
        authorizers,
        jwt_authorizers,
        route_scopes: api.routes.iter().map(|r| r.authorization_scopes.clone()).collect(),
        api_key_source: api.api_key_source,
        route_key_required: api.routes.iter().map(|r| r.api_key_required).collect(),
        route_client_cert: api.routes.iter().map(|r| r.client_certificate.clone()).collect(),
        route_throttle,
        route_labels: routes.iter().map(|(k, _)| std::sync::Arc::from(k.display().as_str())).collect(),
        label: std::sync::Arc::from(api.name.as_str()),
        web_acl: None,
        resource_policy,
        name: api.name.clone(),
        hosts,
        base_path,
        stages,
        default_stage,
        routes,
        cors,
        responses: responses?,
    })
}

/// Expands `execute-api:/STAGE/METHOD/PATH` resources to full ARNs of this API, as API
/// Gateway does when a resource policy is saved (reference §2.1).
fn expand_short_resources(doc: &serde_json::Value, iam: &IamConfig, api: &str) -> serde_json::Value {
    use serde_json::Value;
    let prefix = format!("arn:aws:execute-api:{}:{}:{api}/", iam.region, iam.account_id);
    let expand = |v: &Value| match v {
        Value::String(s) => Value::String(match s.strip_prefix("execute-api:/") {
            Some(rest) => format!("{prefix}{rest}"),
            None => s.clone(),
        }),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| match i.as_str().and_then(|s| s.strip_prefix("execute-api:/")) {
                    Some(rest) => Value::String(format!("{prefix}{rest}")),
                    None => i.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    };
    let mut doc = doc.clone();
    let statements = match doc.get_mut("Statement") {
        Some(Value::Array(list)) => list.iter_mut().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    for st in statements {
        for field in ["Resource", "NotResource"] {
            if let Some(v) = st.get_mut(field) {
                *v = expand(v);
            }
        }
    }
    doc
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
        let throttle =
            s.throttle.as_ref().and_then(|t| super::metering::limit(t, &join_key(&spath, "throttle"), issues));
        out.push(CompiledStage {
            name: s.name.clone(),
            variables: s.variables.clone(),
            settings: s.settings.clone(),
            throttle,
            plans: Vec::new(),
            label: std::sync::Arc::from(s.name.as_str()),
            web_acl: None,
        });
    }
    out
}

/// A route that serves a user pool (`auth: none`, naming a pool). A greedy route's parameter
/// is the path within the pool; any other route is the pool's root (`POST /auth` for
/// Cognito's JSON protocol, beside `ANY /auth/{proxy+}`).
fn user_pool_route(
    r: &crate::config::RouteConfig,
    pools: &[crate::user_pool::UserPoolConfig],
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<CompiledRoute> {
    let at = join_key(path, "integration");
    let cfg = &r.integration;
    let before = issues.len();
    for (field, set) in [("url", cfg.url.is_some()), ("ca_file", cfg.ca_file.is_some()), ("body", cfg.body.is_some())] {
        if set {
            issues.push((join_key(&at, field), format!("a user_pool integration has no `{field}`")));
        }
    }
    if r.auth != crate::config::RouteAuth::None {
        issues.push((
            join_key(path, "auth"),
            "a user pool's endpoints authenticate their callers themselves: use `auth: none`".into(),
        ));
    }
    let index = match cfg.pool.as_deref() {
        None => {
            issues.push((join_key(&at, "pool"), "name one of `user_pools`".into()));
            None
        }
        Some(name) => {
            let found = pools.iter().position(|p| p.name == name);
            if found.is_none() {
                let hint = crate::suggest::closest(name, pools.iter().map(|p| p.name.as_str()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                issues.push((join_key(&at, "pool"), format!("there is no user pool `{name}`{hint}")));
            }
            found
        }
    };
    if issues.len() > before {
        return None;
    }
    index.map(CompiledRoute::UserPool)
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
    if cfg.pool.is_some() {
        issues.push((at("pool"), "only a `type: user_pool` integration names a pool".into()));
    }
    let mut headers = Vec::new();
    let mut header_templates = Vec::new();
    for (name, value) in &cfg.headers {
        let template = match crate::template::Template::parse(value) {
            Ok(t) => Some(t).filter(|t| !t.is_literal()),
            Err(e) => {
                issues.push((join_key(&at("headers"), name), e));
                continue;
            }
        };
        match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value), template) {
            (Ok(n), _, Some(t)) if cfg.kind == IntegrationKind::Http => header_templates.push((n, t)),
            (Ok(n), Ok(v), None) => headers.push((n, v)),
            _ => issues.push((
                join_key(&at("headers"), name),
                "not a valid header name and value (variables are for http integrations only)".into(),
            )),
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
                                    "stage variable `{v}` of stage `{}` cannot go in a URL path (spaces, `?`, `#`, controls, `.` or `..` segments)",
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
                header_templates,
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
        // Compiled by `user_pool_route` before this is called.
        IntegrationKind::UserPool => None,
    }
}

pub(super) fn check_overlaps(apis: &[CompiledApi], issues: &mut Vec<Issue>) {
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

/// Text that may be pasted into a URL path as is: no characters a URL path cannot hold, and no
/// `.` or `..` segment that would change the path it lands in.
fn is_url_path_text(s: &str) -> bool {
    if s.split('/').any(|seg| seg == "." || seg == "..") {
        return false;
    }
    s.bytes().all(|b| b.is_ascii_graphic() && !b"?#\"<>\\^`{|}".contains(&b))
}

pub(super) fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
