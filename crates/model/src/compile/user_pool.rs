//! Checking the config's user pools.

use std::sync::Arc;

use super::Issue;
use crate::positions::{join_index, join_key};
use crate::user_pool::{DeliveryKind, UserPoolConfig};

/// The shortest and longest token lifetimes Cognito allows.
const TOKEN_TTL: (u64, u64) = (300, 86_400);
const REFRESH_TTL: (u64, u64) = (3600, 3650 * 86_400);

pub(super) fn compile_user_pools(pools: &[UserPoolConfig], issues: &mut Vec<Issue>) -> Vec<Arc<UserPoolConfig>> {
    let mut out = Vec::new();
    for (i, p) in pools.iter().enumerate() {
        let root = join_index("user_pools", i);
        let at = |f: &str| join_key(&root, f);
        let before = issues.len();
        if !super::api::is_name(&p.name, 64) {
            issues.push((at("name"), "use 1-64 letters, digits, `-` or `_`".into()));
        }
        if pools[..i].iter().any(|o| o.name == p.name) {
            issues.push((at("name"), format!("user pool `{}` is defined twice", p.name)));
        }
        if let Some(why) = crate::jwt::provider_url_issue(&p.issuer, false) {
            issues.push((at("issuer"), why));
        }
        if !(8..=256).contains(&p.password_policy.min_length) {
            issues.push((join_key(&at("password_policy"), "min_length"), "must be from 8 to 256".into()));
        }
        check_lockout(p, &at("lockout"), issues);
        check_delivery(p, &at("code_delivery"), issues);
        for (j, name) in p.custom_attributes.iter().enumerate() {
            let ok = name.strip_prefix("custom:").is_some_and(|n| super::api::is_name(n, 20));
            if !ok {
                issues.push((
                    join_index(&at("custom_attributes"), j),
                    "use `custom:NAME`, NAME 1-20 letters, digits, `-` or `_`".into(),
                ));
            }
        }
        for (j, g) in p.groups.iter().enumerate() {
            let here = join_index(&at("groups"), j);
            if !super::api::is_name(&g.name, 128) {
                issues.push((join_key(&here, "name"), "use 1-128 letters, digits, `-` or `_`".into()));
            }
            if p.groups[..j].iter().any(|o| o.name == g.name) {
                issues.push((join_key(&here, "name"), format!("group `{}` is defined twice", g.name)));
            }
        }
        for (j, r) in p.resource_servers.iter().enumerate() {
            let here = join_index(&at("resource_servers"), j);
            let ok = |s: &str| !s.is_empty() && s.len() <= 256 && !s.contains(['/', ' ', '"']);
            if !ok(&r.identifier) {
                issues.push((join_key(&here, "identifier"), "1-256 characters without `/`, spaces or quotes".into()));
            }
            if r.scopes.iter().any(|s| !ok(s)) {
                issues.push((
                    join_key(&here, "scopes"),
                    "each scope: 1-256 characters without `/`, spaces or quotes".into(),
                ));
            }
        }
        for (j, idp) in p.identity_providers.iter().enumerate() {
            let here = join_index(&at("identity_providers"), j);
            if !super::api::is_name(&idp.name, 32) {
                issues.push((join_key(&here, "name"), "use 1-32 letters, digits, `-` or `_`".into()));
            }
            if p.identity_providers[..j].iter().any(|o| o.name == idp.name) {
                issues.push((join_key(&here, "name"), format!("identity provider `{}` is defined twice", idp.name)));
            }
            if let Some(why) = crate::jwt::provider_url_issue(&idp.issuer, false) {
                issues.push((join_key(&here, "issuer"), why));
            }
            if idp.client_id.is_empty() || idp.client_secret.is_empty() {
                issues.push((
                    join_key(&here, "client_secret"),
                    "the pool's client id and secret at the provider are required".into(),
                ));
            }
            if !idp.scopes.iter().any(|s| s == "openid") {
                issues.push((
                    join_key(&here, "scopes"),
                    "must include `openid`: the provider's ID token names the user".into(),
                ));
            }
        }
        if p.clients.is_empty() {
            issues.push((at("clients"), "name at least one app client".into()));
        }
        for (j, c) in p.clients.iter().enumerate() {
            let here = join_index(&at("clients"), j);
            let field = |f: &str| join_key(&here, f);
            if !super::api::is_name(&c.id, 128) {
                issues.push((field("id"), "use 1-128 letters, digits, `-` or `_`".into()));
            }
            if p.clients[..j].iter().any(|o| o.id == c.id) {
                issues.push((field("id"), format!("client `{}` is defined twice", c.id)));
            }
            if c.auth_flows.is_empty() {
                issues.push((field("auth_flows"), "name at least one flow".into()));
            }
            check_oauth(p, c, &here, issues);
            for (name, ttl, (lo, hi)) in [
                ("access_token_ttl", c.access_token_ttl, TOKEN_TTL),
                ("id_token_ttl", c.id_token_ttl, TOKEN_TTL),
                ("refresh_token_ttl", c.refresh_token_ttl, REFRESH_TTL),
            ] {
                let s = ttl.as_std().as_secs();
                if s < lo || s > hi || ttl.as_std().subsec_nanos() != 0 {
                    issues.push((field(name), format!("must be whole seconds from {lo}s to {hi}s")));
                }
            }
        }
        if issues.len() == before {
            out.push(Arc::new(p.clone()));
        }
    }
    out
}

/// The scopes every pool knows.
const STANDARD_SCOPES: [&str; 5] = ["openid", "email", "profile", "phone", "aws.cognito.signin.user.admin"];

fn check_oauth(p: &UserPoolConfig, c: &crate::user_pool::ClientConfig, at: &str, issues: &mut Vec<Issue>) {
    use crate::user_pool::OAuthFlow;
    let field = |f: &str| join_key(at, f);
    for (i, url) in c.callback_urls.iter().enumerate() {
        if let Some(why) = crate::jwt::provider_url_issue(url, true) {
            issues.push((join_index(&field("callback_urls"), i), why));
        }
    }
    if c.oauth_flows.contains(&OAuthFlow::Code) && c.callback_urls.is_empty() {
        issues.push((field("callback_urls"), "the `code` flow needs at least one callback URL".into()));
    }
    if c.oauth_flows.contains(&OAuthFlow::ClientCredentials) && c.secret_sha256.is_none() {
        issues.push((
            field("oauth_flows"),
            "`client_credentials` is for confidential clients: set `secret_sha256`".into(),
        ));
    }
    if let Some(h) = &c.secret_sha256 {
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            issues.push((field("secret_sha256"), "64 hex digits: `printf %s SECRET | sha256sum`".into()));
        }
    }
    for (i, scope) in c.allowed_scopes.iter().enumerate() {
        let custom = scope.split_once('/').is_some_and(|(rs, name)| {
            p.resource_servers.iter().any(|r| r.identifier == rs && r.scopes.iter().any(|s| s == name))
        });
        if !custom && !STANDARD_SCOPES.contains(&scope.as_str()) {
            issues.push((
                join_index(&field("allowed_scopes"), i),
                format!(
                    "`{scope}` is neither a standard scope nor one of the pool's resource servers' `IDENTIFIER/NAME`"
                ),
            ));
        }
    }
}

fn check_lockout(p: &UserPoolConfig, at: &str, issues: &mut Vec<Issue>) {
    let l = &p.lockout;
    if l.after == 0 {
        issues.push((join_key(at, "after"), "must be at least 1".into()));
    }
    if l.initial.as_std().is_zero() || l.max.as_std() < l.initial.as_std() {
        issues.push((join_key(at, "max"), "`initial` must be above 0 and `max` at least `initial`".into()));
    }
    if l.per_address == 0 {
        issues.push((join_key(at, "per_address"), "must be at least 1".into()));
    }
}

fn check_delivery(p: &UserPoolConfig, at: &str, issues: &mut Vec<Issue>) {
    let d = &p.code_delivery;
    match (d.kind, d.url.as_deref()) {
        (DeliveryKind::Webhook, None) => issues.push((join_key(at, "url"), "`type: webhook` needs a URL".into())),
        (DeliveryKind::Webhook, Some(url)) => {
            if let Some(why) = crate::jwt::provider_url_issue(url, true) {
                issues.push((join_key(at, "url"), why));
            }
        }
        (_, Some(_)) => issues.push((join_key(at, "url"), "only `type: webhook` has a URL".into())),
        (_, None) => {}
    }
    match (d.kind, &d.smtp) {
        (DeliveryKind::Smtp, None) => {
            issues.push((join_key(at, "smtp"), "`type: smtp` needs `smtp: {host, from}`".into()))
        }
        (DeliveryKind::Smtp, Some(s)) => {
            let loopback = matches!(s.host.as_str(), "localhost" | "::1")
                || s.host.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.is_loopback());
            if s.security == crate::user_pool::SmtpSecurity::None && !loopback {
                issues.push((
                    join_key(at, "smtp.security"),
                    "`none` only to a server on this machine: use `starttls` or `tls`".into(),
                ));
            }
            if !s.from.contains('@') {
                issues.push((join_key(at, "smtp.from"), "an e-mail address, `Name <address>` or `address`".into()));
            }
            if s.password.is_some() && s.username.is_none() {
                issues.push((join_key(at, "smtp.username"), "a password needs a user name".into()));
            }
        }
        (_, Some(_)) => issues.push((join_key(at, "smtp"), "only `type: smtp` has `smtp`".into())),
        (_, None) => {}
    }
}
