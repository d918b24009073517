//! Compiling an API's JWT authorizers.

use super::Issue;
use crate::authorizer::IdentitySource;
use crate::config::ApiConfig;
use crate::jwt::{provider_url_issue, CompiledJwtAuthorizer, JwtIssuerConfig, JWT_ALGORITHMS};
use crate::positions::{join_index, join_key};

/// API Gateway's limit of audiences per authorizer.
const MAX_AUDIENCES: usize = 50;
/// The most clock leeway accepted.
const MAX_SKEW: std::time::Duration = std::time::Duration::from_secs(300);

pub(super) fn compile_jwt_authorizers(
    api: &ApiConfig,
    pools: &[crate::user_pool::UserPoolConfig],
    path: &str,
    issues: &mut Vec<Issue>,
) -> Vec<CompiledJwtAuthorizer> {
    let mut out = Vec::new();
    for (i, a) in api.jwt_authorizers.iter().enumerate() {
        let at_root = join_index(&join_key(path, "jwt_authorizers"), i);
        let at = |f: &str| join_key(&at_root, f);
        let before = issues.len();
        if !super::api::is_name(&a.name, 64) {
            issues.push((at("name"), "use 1-64 letters, digits, `-` or `_`".into()));
        }
        if api.jwt_authorizers[..i].iter().any(|o| o.name == a.name) {
            issues.push((at("name"), format!("JWT authorizer `{}` is defined twice", a.name)));
        }
        let issuers = resolve_pools(a, pools, &at("issuers"), issues);
        check_issuers(&issuers, &at("issuers"), issues);
        if a.algorithms.is_empty() {
            issues.push((at("algorithms"), "name at least one algorithm".into()));
        }
        for (j, alg) in a.algorithms.iter().enumerate() {
            if !JWT_ALGORITHMS.contains(&alg.as_str()) {
                let why = if alg.eq_ignore_ascii_case("none") || alg.to_ascii_uppercase().starts_with("HS") {
                    format!("`{alg}` is never accepted: tokens must be signed with the provider's private key")
                } else {
                    format!("`{alg}` is not one of {}", JWT_ALGORITHMS.join(", "))
                };
                issues.push((join_index(&at("algorithms"), j), why));
            }
        }
        if a.token_use.as_deref().is_some_and(|u| u != "access" && u != "id") {
            issues.push((at("token_use"), "must be `access` or `id`".into()));
        }
        if a.clock_skew.as_std() > MAX_SKEW {
            issues.push((at("clock_skew"), "must be at most 5m".into()));
        }
        let header = match IdentitySource::parse(&a.identity_source) {
            Ok(IdentitySource::Header(h)) => Some(h),
            Ok(_) => {
                issues.push((at("identity_source"), "the token comes from a header: `$request.header.NAME`".into()));
                None
            }
            Err(e) => {
                issues.push((at("identity_source"), e));
                None
            }
        };
        if a.keys_min_interval.as_std() < std::time::Duration::from_secs(1) {
            issues.push((at("keys_min_interval"), "must be at least 1s".into()));
        }
        if a.keys_refresh.as_std() < a.keys_min_interval.as_std() {
            issues.push((at("keys_refresh"), "must be at least `keys_min_interval`".into()));
        }
        let upstream_headers =
            super::authorizer::upstream_headers(&a.upstream_headers, &at("upstream_headers"), issues);
        let Some(header) = header.filter(|_| issues.len() == before) else { continue };
        out.push(CompiledJwtAuthorizer {
            name: a.name.clone(),
            issuers,
            algorithms: a.algorithms.clone(),
            token_use: a.token_use.clone(),
            required_claims: a.required_claims.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            clock_skew: a.clock_skew.as_std(),
            header,
            keys_refresh: a.keys_refresh.as_std(),
            keys_min_interval: a.keys_min_interval.as_std(),
            upstream_headers,
            source: a.clone(),
        });
    }
    out
}

/// The issuers with those named by `user_pool` filled in from the pool.
fn resolve_pools(
    a: &crate::jwt::JwtAuthorizerConfig,
    pools: &[crate::user_pool::UserPoolConfig],
    at: &str,
    issues: &mut Vec<Issue>,
) -> Vec<JwtIssuerConfig> {
    let mut out = a.issuers.clone();
    for (i, issuer) in out.iter_mut().enumerate() {
        let at = |f: &str| join_key(&join_index(at, i), f);
        let Some(name) = issuer.user_pool.as_deref() else { continue };
        if !issuer.issuer.is_empty() || issuer.jwks_uri.is_some() || issuer.ca_file.is_some() {
            issues.push((
                at("user_pool"),
                "a pool's issuer and keys are known: give `user_pool` without `issuer`, `jwks_uri` or `ca_file`".into(),
            ));
        }
        match pools.iter().find(|p| p.name == name) {
            Some(p) => issuer.issuer.clone_from(&p.issuer),
            None => {
                let hint = crate::suggest::closest(name, pools.iter().map(|p| p.name.as_str()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                issues.push((at("user_pool"), format!("there is no user pool `{name}`{hint}")));
            }
        }
    }
    out
}

fn check_issuers(issuers: &[JwtIssuerConfig], at: &str, issues: &mut Vec<Issue>) {
    if issuers.is_empty() {
        issues.push((at.to_owned(), "name at least one issuer".into()));
    }
    for (i, issuer) in issuers.iter().enumerate() {
        let at = |f: &str| join_key(&join_index(at, i), f);
        if let Some(why) = provider_url_issue(&issuer.issuer, false).filter(|_| issuer.user_pool.is_none()) {
            issues.push((at("issuer"), why));
        }
        if issuers[..i].iter().any(|o| o.issuer == issuer.issuer) {
            issues.push((at("issuer"), format!("issuer `{}` is listed twice", issuer.issuer)));
        }
        if issuer.audiences.is_empty() || issuer.audiences.len() > MAX_AUDIENCES {
            issues.push((
                at("audiences"),
                format!("name 1-{MAX_AUDIENCES} audiences (client ids): a token for another application of the same provider must not pass"),
            ));
        }
        if issuer.audiences.iter().any(String::is_empty) {
            issues.push((at("audiences"), "an audience cannot be empty".into()));
        }
        if let Some(why) = issuer.jwks_uri.as_deref().and_then(|u| provider_url_issue(u, true)) {
            issues.push((at("jwks_uri"), why));
        }
        let plain_http = issuer.jwks_uri.as_deref().unwrap_or(&issuer.issuer).starts_with("http://");
        if issuer.ca_file.is_some() && plain_http {
            issues.push((at("ca_file"), "`ca_file` is for https providers".into()));
        }
    }
}
