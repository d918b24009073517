//! Compiling an API's custom authorizers and the routes' references to them (and to its JWT
//! authorizers, compiled in `jwt`).

use http::header::HeaderName;

use super::{CompiledAuth, Issue};
use crate::authorizer::{AuthorizerType, CompiledAuthorizer, IdentitySource, PayloadFormat};
use crate::config::{ApiConfig, ApiKeySource, RouteAuth};
use crate::jwt::CompiledJwtAuthorizer;
use crate::positions::{join_index, join_key};
use crate::template::Template;

/// API Gateway's ceiling for the result TTL.
const MAX_TTL: std::time::Duration = std::time::Duration::from_secs(3600);
/// The longest call timeout we accept (API Gateway's is 10 s, the default here too).
const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Headers the gateway frames the request with or vouches for itself; an authorizer may not
/// set them upstream.
const RESERVED: [&str; 13] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "x-request-id",
    "x-amzn-requestid",
];

pub(super) fn compile_authorizers(api: &ApiConfig, path: &str, issues: &mut Vec<Issue>) -> Vec<CompiledAuthorizer> {
    let mut out = Vec::new();
    for (i, a) in api.authorizers.iter().enumerate() {
        let at_root = join_index(&join_key(path, "authorizers"), i);
        let at = |f: &str| join_key(&at_root, f);
        let before = issues.len();
        if !super::api::is_name(&a.name, 64) {
            issues.push((at("name"), "use 1-64 letters, digits, `-` or `_`".into()));
        }
        if api.authorizers[..i].iter().any(|o| o.name == a.name) {
            issues.push((at("name"), format!("authorizer `{}` is defined twice", a.name)));
        }
        let url = match a.url.parse::<http::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some() => Some(u),
            _ => {
                issues.push((at("url"), format!("`{}` is not an http:// or https:// URL", a.url)));
                None
            }
        };
        if a.ca_file.is_some() && url.as_ref().is_some_and(|u| u.scheme_str() == Some("http")) {
            issues.push((at("ca_file"), "`ca_file` is for https endpoints".into()));
        }
        let identity = identity_sources(a, &at("identity_sources"), issues);
        let validation = a.validation_regex.as_ref().and_then(|re| {
            if a.kind != AuthorizerType::Token {
                issues.push((at("validation_regex"), "only TOKEN authorizers validate a token".into()));
                return None;
            }
            // The whole token must match, as API Gateway applies it.
            regex::Regex::new(&format!("^(?:{re})$"))
                .map_err(|e| issues.push((at("validation_regex"), format!("not a regular expression: {e}"))))
                .ok()
        });
        for (field, d) in [("ttl", a.ttl), ("unauthorized_ttl", a.unauthorized_ttl)] {
            if d.as_std() > MAX_TTL {
                issues.push((at(field), "must be from 0 to 3600s".into()));
            }
        }
        if a.timeout.as_std().is_zero() || a.timeout.as_std() > MAX_TIMEOUT {
            issues.push((at("timeout"), "must be above 0 and at most 30s".into()));
        }
        if a.payload_format_version == PayloadFormat::V2 && a.kind == AuthorizerType::Token {
            issues.push((at("payload_format_version"), "\"2.0\" events are REQUEST events; use type: REQUEST".into()));
        }
        if a.simple_responses && a.payload_format_version != PayloadFormat::V2 {
            issues.push((at("simple_responses"), "simple responses need payload_format_version \"2.0\"".into()));
        }
        let upstream_headers = upstream_headers(&a.upstream_headers, &at("upstream_headers"), issues);
        if issues.len() > before {
            continue;
        }
        let Some(url) = url else { continue };
        out.push(CompiledAuthorizer {
            name: a.name.clone(),
            kind: a.kind,
            url,
            identity,
            validation,
            ttl: a.ttl.as_std(),
            unauthorized_ttl: a.unauthorized_ttl.as_std(),
            timeout: a.timeout.as_std(),
            format: a.payload_format_version,
            simple_responses: a.simple_responses,
            ca_file: a.ca_file.clone(),
            upstream_headers,
            source: a.clone(),
        });
    }
    out
}

fn identity_sources(a: &crate::authorizer::AuthorizerConfig, at: &str, issues: &mut Vec<Issue>) -> Vec<IdentitySource> {
    let texts: Vec<&str> = match (a.kind, a.identity_sources.is_empty()) {
        (AuthorizerType::Token, true) => vec!["method.request.header.Authorization"],
        _ => a.identity_sources.iter().map(String::as_str).collect(),
    };
    let mut out = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        match IdentitySource::parse(t) {
            Ok(s) => out.push(s),
            Err(e) => issues.push((join_index(at, i), e)),
        }
    }
    match a.kind {
        AuthorizerType::Token if texts.len() != 1 || !matches!(out.first(), Some(IdentitySource::Header(_)) | None) => {
            issues.push((at.to_owned(), "a TOKEN authorizer reads exactly one header".into()));
        }
        // Without identity sources every request would share one cache entry, and one call.
        AuthorizerType::Request
            if texts.is_empty() && !(a.ttl.as_std().is_zero() && a.unauthorized_ttl.as_std().is_zero()) =>
        {
            issues.push((
                at.to_owned(),
                "caching keys on the identity sources: name at least one, or set `ttl: 0` and `unauthorized_ttl: 0` to call the function on every request".into(),
            ));
        }
        _ => {}
    }
    out
}

/// An authorizer's `upstream_headers`: valid names the gateway does not set itself, and
/// templates.
pub(super) fn upstream_headers(
    headers: &std::collections::BTreeMap<String, String>,
    at: &str,
    issues: &mut Vec<Issue>,
) -> Vec<(HeaderName, Template)> {
    let mut out = Vec::new();
    for (name, text) in headers {
        let here = join_key(at, name);
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            issues.push((here, "not a valid header name".into()));
            continue;
        };
        if RESERVED.contains(&header.as_str()) {
            issues.push((here, format!("`{header}` is set by the gateway itself")));
            continue;
        }
        match Template::parse(text) {
            Ok(t) => out.push((header, t)),
            Err(e) => issues.push((here, e)),
        }
    }
    out
}

/// Each route's authorisation: `auth: custom` and `auth: jwt` must name one of the API's
/// `authorizers` or `jwt_authorizers`, scopes go with `auth: jwt` only, and with
/// `api_key_source: AUTHORIZER` every route that requires a key must have a custom authorizer.
pub(super) fn route_auth(
    api: &ApiConfig,
    authorizers: &[CompiledAuthorizer],
    jwt_authorizers: &[CompiledJwtAuthorizer],
    path: &str,
    issues: &mut Vec<Issue>,
) -> Vec<CompiledAuth> {
    let mut out = Vec::with_capacity(api.routes.len());
    for (i, r) in api.routes.iter().enumerate() {
        let at = |f: &str| join_key(&join_index(&join_key(path, "routes"), i), f);
        let auth = match (r.auth, &r.authorizer) {
            (RouteAuth::None, None) => CompiledAuth::None,
            (RouteAuth::Iam, None) => CompiledAuth::Iam,
            (RouteAuth::Custom, Some(name)) => {
                let defined: Vec<&str> = api.authorizers.iter().map(|a| a.name.as_str()).collect();
                let compiled = authorizers.iter().map(|a| a.name.as_str());
                find(name, &defined, compiled, "authorizer", &at("authorizer"), issues)
                    .map_or(CompiledAuth::None, CompiledAuth::Custom)
            }
            (RouteAuth::Jwt, Some(name)) => {
                let defined: Vec<&str> = api.jwt_authorizers.iter().map(|a| a.name.as_str()).collect();
                let compiled = jwt_authorizers.iter().map(|a| a.name.as_str());
                find(name, &defined, compiled, "JWT authorizer", &at("authorizer"), issues)
                    .map_or(CompiledAuth::None, CompiledAuth::Jwt)
            }
            (RouteAuth::Custom, None) => {
                issues
                    .push((at("authorizer"), "`auth: custom` needs the name of one of the API's `authorizers`".into()));
                CompiledAuth::None
            }
            (RouteAuth::Jwt, None) => {
                issues.push((
                    at("authorizer"),
                    "`auth: jwt` needs the name of one of the API's `jwt_authorizers`".into(),
                ));
                CompiledAuth::None
            }
            (_, Some(_)) => {
                issues.push((at("authorizer"), "an authorizer is used only with `auth: custom` or `auth: jwt`".into()));
                CompiledAuth::None
            }
        };
        check_scopes(r, &at("authorization_scopes"), issues);
        if api.api_key_source == ApiKeySource::Authorizer
            && r.api_key_required
            && !matches!(auth, CompiledAuth::Custom(_))
            && r.auth != RouteAuth::Custom
        {
            issues.push((
                at("api_key_required"),
                "with `api_key_source: AUTHORIZER` the key comes from a custom authorizer's `usageIdentifierKey`: this route needs `auth: custom`".into(),
            ));
        }
        out.push(auth);
    }
    out
}

/// The index of the compiled authorizer `name`; an issue when the API defines none of that
/// name (one that failed to compile was reported already).
fn find<'a>(
    name: &str,
    defined: &[&str],
    mut compiled: impl Iterator<Item = &'a str>,
    kind: &str,
    at: &str,
    issues: &mut Vec<Issue>,
) -> Option<usize> {
    if defined.contains(&name) {
        return compiled.position(|n| n == name);
    }
    let hint = crate::suggest::closest(name, defined.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    issues.push((at.to_owned(), format!("this API has no {kind} `{name}`{hint}")));
    None
}

/// API Gateway's limit of scopes per route.
const MAX_SCOPES: usize = 10;

fn check_scopes(r: &crate::config::RouteConfig, at: &str, issues: &mut Vec<Issue>) {
    if r.authorization_scopes.is_empty() {
        return;
    }
    if r.auth != RouteAuth::Jwt {
        issues.push((at.to_owned(), "scopes are checked only on routes with `auth: jwt`".into()));
    } else if r.authorization_scopes.len() > MAX_SCOPES {
        issues.push((at.to_owned(), format!("at most {MAX_SCOPES} scopes per route")));
    }
    for (i, scope) in r.authorization_scopes.iter().enumerate() {
        if scope.is_empty() || scope.len() > 256 || scope.bytes().any(|b| b.is_ascii_whitespace() || b == b'"') {
            issues.push((join_index(at, i), "a scope is 1-256 characters without spaces or quotes".into()));
        }
    }
}
