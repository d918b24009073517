//! JWT authorizers as the config writes them, and compiled: the issuers an API trusts, the
//! audiences each may issue for, and what routes with `auth: jwt` require (reference §4.2,
//! §4.3; docs/jwt-authorizers.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use http::header::HeaderName;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::template::Template;

/// A JWT authorizer of an API.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JwtAuthorizerConfig {
    /// The name routes refer to. Letters, digits, `-` and `_`.
    pub name: String,
    /// The providers whose tokens are accepted. A token's `iss` picks the provider, then its
    /// `kid` picks the key.
    pub issuers: Vec<JwtIssuerConfig>,
    /// Signature algorithms accepted (default: every one below). `RS256`, `RS384`, `RS512`,
    /// `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `EdDSA`; `none` and HMAC algorithms never.
    #[serde(default = "all_algorithms")]
    pub algorithms: Vec<String>,
    /// Accept only tokens whose `token_use` claim is this: `access` or `id` (user-pool tokens).
    #[serde(default)]
    pub token_use: Option<String>,
    /// Claims a token must carry with exactly these string values (`tenant: acme`).
    #[serde(default)]
    pub required_claims: BTreeMap<String, String>,
    /// Leeway for `exp`, `nbf` and `iat` against the gateway's clock (at most 5m).
    #[serde(default = "default_skew")]
    pub clock_skew: Duration,
    /// The header that carries the token, as `$request.header.NAME` or
    /// `method.request.header.NAME` (default: `Authorization`). The value is the token, or
    /// `Bearer ` and the token.
    #[serde(default = "default_source")]
    pub identity_source: String,
    /// How old a provider's keys may get before they are fetched again in the background.
    #[serde(default = "default_refresh")]
    pub keys_refresh: Duration,
    /// The least time between two key fetches of a provider, whatever asks for them (tokens
    /// with unknown `kid`s included).
    #[serde(default = "default_min_interval")]
    pub keys_min_interval: Duration,
    /// Headers sent upstream on allowed requests, as templates such as
    /// `$context.authorizer.claims.sub`. Whatever the client sent under these names is
    /// removed first.
    #[serde(default)]
    pub upstream_headers: BTreeMap<String, String>,
}

/// One trusted token issuer.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct JwtIssuerConfig {
    /// The issuer exactly as tokens carry it in `iss`: an `https://` URL without query or
    /// fragment (`http://` only on a loopback address). Its keys are found through
    /// `ISSUER/.well-known/openid-configuration` unless `jwks_uri` is given. Instead of
    /// `issuer`, `user_pool` names one of the gateway's own pools.
    #[serde(default)]
    pub issuer: String,
    /// One of the gateway's `user_pools`: its issuer, with its keys read in the process.
    #[serde(default)]
    pub user_pool: Option<String>,
    /// The audiences accepted from this issuer: a token's `aud`, or its `client_id` when it
    /// has no `aud`, must be one of them.
    pub audiences: Vec<String>,
    /// The provider's JWKS URL, when it has no discovery document.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// PEM file of the CA that signs the provider's certificate, instead of the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// The algorithm names a JWT authorizer may list.
pub const JWT_ALGORITHMS: [&str; 9] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

fn all_algorithms() -> Vec<String> {
    JWT_ALGORITHMS.iter().map(|&a| a.to_owned()).collect()
}
fn default_skew() -> Duration {
    Duration::from_secs(30)
}
fn default_source() -> String {
    "$request.header.Authorization".to_owned()
}
fn default_refresh() -> Duration {
    Duration::from_secs(3600)
}
fn default_min_interval() -> Duration {
    Duration::from_secs(30)
}

/// A JWT authorizer, ready to check tokens.
#[derive(Debug)]
pub struct CompiledJwtAuthorizer {
    /// Its name.
    pub name: String,
    /// The trusted issuers, in config order.
    pub issuers: Vec<JwtIssuerConfig>,
    /// Accepted algorithms, by name (each one of [`JWT_ALGORITHMS`]).
    pub algorithms: Vec<String>,
    /// Required `token_use`.
    pub token_use: Option<String>,
    /// Required claim values.
    pub required_claims: Vec<(String, String)>,
    /// Clock leeway.
    pub clock_skew: std::time::Duration,
    /// The header that carries the token.
    pub header: HeaderName,
    /// Background key refresh interval.
    pub keys_refresh: std::time::Duration,
    /// Least time between key fetches.
    pub keys_min_interval: std::time::Duration,
    /// Headers set upstream on allowed requests.
    pub upstream_headers: Vec<(HeaderName, Template)>,
    /// The config it was compiled from: verified tokens are cached for this exact authorizer,
    /// so changing any setting on reload starts afresh.
    pub source: JwtAuthorizerConfig,
}

/// Whether `url` may be an issuer or key URL: `https://`, or `http://` on a loopback address
/// (a provider on the same machine); absolute, with no fragment, and at most 2048 bytes.
pub fn provider_url_issue(url: &str, query_allowed: bool) -> Option<String> {
    let Ok(uri) = url.parse::<http::Uri>() else { return Some(format!("`{url}` is not a URL")) };
    let host = uri.host().unwrap_or("");
    let loopback =
        matches!(host, "localhost" | "[::1]") || host.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.is_loopback());
    match uri.scheme_str() {
        _ if url.len() > 2048 => Some("must be at most 2048 bytes".into()),
        _ if host.is_empty() => Some(format!("`{url}` is not an absolute URL")),
        _ if url.contains('#') || (!query_allowed && uri.query().is_some()) => {
            Some("must not have a query or fragment".into())
        }
        Some("https") => None,
        Some("http") if loopback => None,
        Some("http") => Some("must be https:// (http:// only on a loopback address)".into()),
        _ => Some(format!("`{url}` is not an https:// URL")),
    }
}
