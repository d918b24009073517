//! Custom domains as the config writes them: each name's certificate, TLS security policy,
//! HSTS and mutual TLS; and what a route demands of a client certificate (see
//! docs/custom-domains.md).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;

/// A custom domain.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// The name clients connect to (TLS SNI) and send as `Host`: `api.example.com`, or
    /// `*.example.com` for one label.
    pub name: String,
    /// The domain's own certificate. Default: the one of `tls.certificates` that covers the
    /// name.
    #[serde(default)]
    pub certificate: Option<DomainCertificate>,
    /// Obtain and renew the domain's certificate from an ACME CA (RFC 8555), instead of
    /// `certificate`.
    #[serde(default)]
    pub acme: Option<AcmeConfig>,
    /// `TLS_1_2` (TLS 1.2 and 1.3; the default) or `TLS_1_3` (TLS 1.3 only). Every suite
    /// offered is an AEAD with forward secrecy either way.
    #[serde(default)]
    pub security_policy: SecurityPolicy,
    /// HSTS for this domain, instead of `tls.hsts`.
    #[serde(default)]
    pub hsts: Option<HstsConfig>,
    /// Mutual TLS: the CAs client certificates must chain to.
    #[serde(default)]
    pub mutual_tls: Option<MutualTlsConfig>,
    /// Base-path mappings: which API and stage serve each path prefix of this domain, as API
    /// Gateway's custom domains map them. With mappings, requests to the domain are routed by
    /// them alone (APIs' `hosts` and `base_path` are not consulted), and the stage is not part
    /// of the path.
    #[serde(default)]
    pub mappings: Vec<BasePathMapping>,
}

/// One base-path mapping.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasePathMapping {
    /// The path prefix, `/` for the whole domain, or e.g. `/v1`. The longest matching prefix
    /// wins.
    #[serde(default = "root")]
    pub base_path: String,
    /// The API's name.
    pub api: String,
    /// The stage's name.
    pub stage: String,
}

fn root() -> String {
    "/".into()
}

/// A certificate chain and key as PEM files.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DomainCertificate {
    /// PEM file with the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file with the private key.
    pub key: PathBuf,
}

/// Certificates from an ACME CA.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    /// The CA's directory URL, e.g. `https://acme-v02.api.letsencrypt.org/directory`.
    pub directory: String,
    /// Contact addresses for the account (`mailto:ops@example.com`).
    #[serde(default)]
    pub contact: Vec<String>,
    /// `http-01`: the CA fetches `http://NAME/.well-known/acme-challenge/TOKEN` from the
    /// `http_redirect` listener (which must then be reachable on port 80). `tls-alpn-01`: the
    /// CA makes a TLS handshake with the `acme-tls/1` protocol on the HTTPS listener (which
    /// must then be reachable on port 443); no plain-HTTP listener is needed.
    #[serde(default)]
    pub challenge: AcmeChallenge,
    /// PEM file of the root that signs the CA's own HTTPS certificate, for a private CA;
    /// default: the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// How the CA checks that the gateway answers for the name.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum AcmeChallenge {
    /// A token served over plain HTTP.
    #[default]
    #[serde(rename = "http-01")]
    Http01,
    /// A certificate carrying the token, presented to the `acme-tls/1` protocol (RFC 8737).
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
}

/// A TLS security policy, named as API Gateway names them.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum SecurityPolicy {
    /// TLS 1.2 and TLS 1.3.
    #[default]
    #[serde(rename = "TLS_1_2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "TLS_1_3")]
    Tls13,
}

/// `Strict-Transport-Security` on every response.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HstsConfig {
    /// Send the header.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How long browsers remember to use HTTPS only (`max-age`).
    #[serde(default = "default_hsts_max_age")]
    pub max_age: Duration,
    /// Add `includeSubDomains`.
    #[serde(default)]
    pub include_subdomains: bool,
    /// Add `preload`.
    #[serde(default)]
    pub preload: bool,
}

/// Mutual TLS on a domain.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MutualTlsConfig {
    /// `required`: the handshake fails without a valid client certificate. `optional`: a
    /// certificate is asked for and checked if sent; routes with `client_certificate` still
    /// demand one (403 without).
    pub mode: MutualTlsMode,
    /// PEM files of the CAs client certificates must chain to (several bundles may be given;
    /// any certificate in them may be an anchor).
    pub truststore: Vec<PathBuf>,
    /// PEM files of certificate revocation lists; a revoked client certificate is refused.
    #[serde(default)]
    pub crls: Vec<PathBuf>,
}

/// Whether a domain demands a client certificate at the handshake.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MutualTlsMode {
    /// No certificate, no connection.
    Required,
    /// A certificate is checked if the client sends one.
    Optional,
}

/// What a route demands of the client certificate. Present (even empty, `{}`) means a valid
/// client certificate is required; the lists narrow which.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteClientCert {
    /// Accept only certificates whose issuer DN is one of these
    /// (`$context.identity.clientCert.issuerDN` form: `CN=Team CA,O=Example`).
    #[serde(default)]
    pub issuers: Vec<String>,
    /// Accept only certificates with a DNS or URI subject alternative name matching one of
    /// these (`*` matches any run of characters).
    #[serde(default)]
    pub sans: Vec<String>,
}

impl Default for HstsConfig {
    fn default() -> Self {
        Self { enabled: true, max_age: default_hsts_max_age(), include_subdomains: false, preload: false }
    }
}

// === impl HstsConfig ===

impl HstsConfig {
    /// The header value, or `None` when disabled.
    pub fn header_value(&self) -> Option<String> {
        if !self.enabled {
            return None;
        }
        let mut v = format!("max-age={}", self.max_age.as_std().as_secs());
        if self.include_subdomains {
            v.push_str("; includeSubDomains");
        }
        if self.preload {
            v.push_str("; preload");
        }
        Some(v)
    }
}

// === impl RouteClientCert ===

impl RouteClientCert {
    /// Whether a certificate with this issuer and these SANs is acceptable.
    pub fn accepts(&self, issuer_dn: &str, sans: &[String]) -> bool {
        (self.issuers.is_empty() || self.issuers.iter().any(|i| i == issuer_dn))
            && (self.sans.is_empty() || self.sans.iter().any(|p| sans.iter().any(|s| glob(p, s))))
    }
}

/// A host name, or `*.` and one (a wildcard covering one label): letters, digits and `-` in
/// non-empty labels, at most 253 characters. Used for API hosts, custom domains and imported
/// certificates alike.
pub fn is_host_pattern(name: &str) -> bool {
    let bare = name.strip_prefix("*.").unwrap_or(name);
    !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// `*` matches any run of characters; everything else matches itself, case-insensitively.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let mut parts = p.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = t.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

fn yes() -> bool {
    true
}
fn default_hsts_max_age() -> Duration {
    Duration::from_secs(31_536_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_patterns_and_issuers() {
        let any = RouteClientCert::default();
        assert!(any.accepts("CN=X", &[]));
        let r = RouteClientCert { issuers: vec!["CN=Team CA".into()], sans: vec!["*.svc.example.com".into()] };
        assert!(r.accepts("CN=Team CA", &["billing.svc.example.com".into()]));
        assert!(!r.accepts("CN=Other CA", &["billing.svc.example.com".into()]));
        assert!(!r.accepts("CN=Team CA", &["svc.example.com".into(), "evil.com".into()]));
        assert!(glob("spiffe://example.org/*", "spiffe://example.org/ns/a"));
        assert!(glob("a*b*c", "aXXbYYc") && !glob("a*b*c", "aXXbYY") && glob("exact", "EXACT"));
    }

    #[test]
    fn hsts_header() {
        assert_eq!(HstsConfig::default().header_value().as_deref(), Some("max-age=31536000"));
        let h = HstsConfig { include_subdomains: true, preload: true, ..HstsConfig::default() };
        assert_eq!(h.header_value().as_deref(), Some("max-age=31536000; includeSubDomains; preload"));
        assert_eq!(HstsConfig { enabled: false, ..HstsConfig::default() }.header_value(), None);
    }
}
