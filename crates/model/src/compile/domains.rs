//! Checking the custom domains and the routes' client-certificate demands.

use http::HeaderValue;

use super::Issue;
use crate::config::Config;
use crate::domains::HstsConfig;
use crate::positions::{join_index, join_key};

/// A domain's base-path mappings, compiled: the longest base path first.
#[derive(Debug)]
pub(crate) struct DomainRoutes {
    /// The domain's name, lower case (`*.example.com` for one label).
    pub(crate) pattern: String,
    /// (base path without a trailing slash, `""` for the root; API index; stage index).
    pub(crate) entries: Vec<(String, usize, usize)>,
}

/// Compiles the domains' base-path mappings against the compiled APIs.
pub(super) fn compile_mappings(
    config: &Config,
    apis: &[super::CompiledApi],
    issues: &mut Vec<Issue>,
) -> Vec<DomainRoutes> {
    let mut out = Vec::new();
    for (i, d) in config.domains.iter().enumerate() {
        if d.mappings.is_empty() {
            continue;
        }
        let mut entries = Vec::new();
        for (j, m) in d.mappings.iter().enumerate() {
            let at = |f: &str| join_key(&join_index(&join_key(&join_index("domains", i), "mappings"), j), f);
            let base = match m.base_path.as_str() {
                "/" => String::new(),
                p if p.starts_with('/')
                    && !p.ends_with('/')
                    && crate::path::canonicalize(p).ok().as_deref() == Some(p) =>
                {
                    p.to_owned()
                }
                _ => {
                    issues.push((
                        at("base_path"),
                        "must be `/` or a canonical path like `/v1` without a trailing slash".into(),
                    ));
                    continue;
                }
            };
            if entries.iter().any(|(b, _, _)| b == &base) {
                issues.push((at("base_path"), format!("`{}` is mapped twice", m.base_path)));
                continue;
            }
            let Some(a) = apis.iter().position(|a| a.name == m.api) else {
                issues.push((at("api"), format!("no API is named `{}`", m.api)));
                continue;
            };
            let Some(s) = apis[a].stages.iter().position(|s| s.name == m.stage) else {
                issues.push((at("stage"), format!("API `{}` has no stage `{}`", m.api, m.stage)));
                continue;
            };
            entries.push((base, a, s));
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.0.len()));
        out.push(DomainRoutes { pattern: d.name.to_ascii_lowercase(), entries });
    }
    out
}

/// Checks `domains`, `tls.default_endpoint` and routes' `client_certificate`; returns the
/// default HSTS header value.
pub(super) fn check_domains(config: &Config, issues: &mut Vec<Issue>) -> Option<HeaderValue> {
    for (i, d) in config.domains.iter().enumerate() {
        let at = |f: &str| join_key(&join_index("domains", i), f);
        let name = d.name.to_ascii_lowercase();
        if !crate::domains::is_host_pattern(&name) {
            issues.push((at("name"), format!("`{}` is not a host name (or `*.` and one)", d.name)));
        }
        if let Some(j) = config.domains[..i].iter().position(|o| o.name.eq_ignore_ascii_case(&d.name)) {
            issues.push((at("name"), format!("domain `{}` is already defined by domains[{j}]", d.name)));
        }
        if let Some(m) = &d.mutual_tls {
            if m.truststore.is_empty() {
                issues.push((join_key(&at("mutual_tls"), "truststore"), "name at least one PEM file of CAs".into()));
            }
        }
        if let Some(h) = &d.hsts {
            check_hsts(h, &at("hsts"), issues);
        }
        if let Some(acme) = &d.acme {
            if d.certificate.is_some() {
                issues.push((at("acme"), "a domain takes its certificate from files or from ACME, not both".into()));
            }
            if name.starts_with("*.") {
                issues.push((at("acme"), "wildcard names need the dns-01 challenge, which is not supported".into()));
            }
            if !(acme.directory.starts_with("https://") || acme.directory.starts_with("http://")) {
                issues.push((join_key(&at("acme"), "directory"), "must be the CA's directory URL".into()));
            }
            if acme.challenge == crate::domains::AcmeChallenge::Http01 && config.http_redirect.is_none() {
                issues.push((
                    join_key(&at("acme"), "challenge"),
                    "http-01 is answered on the `http_redirect` listener: configure it (port 80 for a public CA)"
                        .into(),
                ));
            }
        }
    }
    if !config.tls.default_endpoint && config.domains.is_empty() {
        issues.push((
            "tls.default_endpoint".into(),
            "with the default endpoint off, only `domains` serve: define at least one".into(),
        ));
    }
    let mtls = config.domains.iter().any(|d| d.mutual_tls.is_some());
    for (a, api) in config.apis.iter().enumerate() {
        for (r, route) in api.routes.iter().enumerate() {
            if route.client_certificate.is_some() && !mtls {
                let at = join_key(&join_index(&join_key(&join_index("apis", a), "routes"), r), "client_certificate");
                issues.push((at, "no domain has `mutual_tls`, so no client ever presents a certificate".into()));
            }
        }
    }
    let dev_cert = config.all_certificates().is_empty() && !config.domains.iter().any(|d| d.acme.is_some());
    match &config.tls.hsts {
        Some(h) => {
            check_hsts(h, "tls.hsts", issues);
            h.header_value().and_then(|v| HeaderValue::from_str(&v).ok())
        }
        None if dev_cert => None,
        None => HstsConfig::default().header_value().and_then(|v| HeaderValue::from_str(&v).ok()),
    }
}

fn check_hsts(h: &HstsConfig, at: &str, issues: &mut Vec<Issue>) {
    if h.preload && (!h.include_subdomains || h.max_age.as_std().as_secs() < 31_536_000) {
        issues.push((
            join_key(at, "preload"),
            "preload lists accept only `include_subdomains: true` with a `max_age` of at least a year".into(),
        ));
    }
}
