//! Custom authorizers as the config writes them, and in their compiled form: a function
//! reached over HTTP(S) that receives API Gateway's Lambda-authorizer event and answers in the
//! same format (see docs/authorizers.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use http::header::HeaderName;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::template::{ContextVar, Template};

/// A custom authorizer of an API.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthorizerConfig {
    /// The name routes refer to. Letters, digits, `-` and `_`.
    pub name: String,
    /// `TOKEN` (one header carries a token) or `REQUEST` (any headers, query parameters, stage
    /// variables and context values).
    #[serde(rename = "type")]
    pub kind: AuthorizerType,
    /// The function's endpoint: the event is POSTed here as JSON, and the answer is the
    /// function's return value (or a Lambda error object, `{"errorMessage": …}`).
    pub url: String,
    /// Where the identity comes from: `method.request.header.NAME`,
    /// `method.request.querystring.NAME`, `stageVariables.NAME`, `context.VAR` (or the HTTP API
    /// forms `$request.header.NAME`, …). A request missing any of them gets 401 without a
    /// call. Default for `TOKEN`: `method.request.header.Authorization`.
    #[serde(default)]
    pub identity_sources: Vec<String>,
    /// `TOKEN` only: a regular expression the whole token must match before the function is
    /// called; otherwise 401 without a call.
    #[serde(default)]
    pub validation_regex: Option<String>,
    /// How long an answer (a policy, or a simple yes/no) is cached, keyed on the identity sources (0 to 3600 s;
    /// `0` turns caching off). The cached policy is checked again against each request's own
    /// method ARN.
    #[serde(default = "default_ttl")]
    pub ttl: Duration,
    /// How long an `Unauthorized` answer is cached (0 to 3600 s; default 0, not cached). Keeps a
    /// flood of one bad token from reaching the function.
    #[serde(default)]
    pub unauthorized_ttl: Duration,
    /// The longest a call may take; past it the request gets 500 (`AUTHORIZER_CONFIGURATION_ERROR`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// The event format: `"1.0"` (REST APIs; default) or `"2.0"` (HTTP APIs, `REQUEST` only).
    #[serde(default)]
    pub payload_format_version: PayloadFormat,
    /// `"2.0"` only: the function answers `{"isAuthorized": bool, "context": {…}}` instead of a
    /// policy.
    #[serde(default)]
    pub simple_responses: bool,
    /// PEM file of the CA that signs an https endpoint's certificate, instead of the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Headers sent upstream on allowed requests, as templates: `$context.authorizer.principalId`,
    /// `$context.authorizer.KEY` (from the answer's `context`) and other `$context` variables.
    /// Whatever the client sent under these names is removed first.
    #[serde(default)]
    pub upstream_headers: BTreeMap<String, String>,
}

/// The kind of custom authorizer.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum AuthorizerType {
    /// A bearer token in one header.
    #[serde(rename = "TOKEN")]
    Token,
    /// Several request parameters.
    #[serde(rename = "REQUEST")]
    Request,
}

/// The event format sent to the function.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum PayloadFormat {
    /// REST APIs' `TOKEN` and `REQUEST` events.
    #[default]
    #[serde(rename = "1.0")]
    V1,
    /// HTTP APIs' payload 2.0.
    #[serde(rename = "2.0")]
    V2,
}

fn default_ttl() -> Duration {
    Duration::from_secs(300)
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Where one identity value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentitySource {
    /// A request header (case-insensitive).
    Header(HeaderName),
    /// A query parameter (case-sensitive).
    Query(String),
    /// A stage variable.
    StageVariable(String),
    /// A `$context` variable.
    Context(ContextVar),
}

// === impl IdentitySource ===

impl IdentitySource {
    /// Parses the REST form (`method.request.header.X`) or the HTTP API form
    /// (`$request.header.X`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        // The HTTP API form starts with `$`; the REST form names requests `method.request`.
        let (t, rest_form) = match t.strip_prefix('$') {
            Some(r) => (r, false),
            None => (t, true),
        };
        let t = if rest_form && t.starts_with("request.") { "" } else { t.strip_prefix("method.").unwrap_or(t) };
        let named = |rest: &str| (!rest.is_empty()).then(|| rest.to_owned());
        let parsed = if let Some(h) = t.strip_prefix("request.header.") {
            HeaderName::from_bytes(h.as_bytes()).ok().map(Self::Header)
        } else if let Some(q) = t.strip_prefix("request.querystring.") {
            named(q).map(Self::Query)
        } else if let Some(v) = t.strip_prefix("stageVariables.") {
            named(v).map(Self::StageVariable)
        } else if let Some(c) = t.strip_prefix("context.") {
            ContextVar::from_name(c).map(Self::Context)
        } else {
            None
        };
        parsed.ok_or_else(|| {
            format!(
                "`{text}` is not an identity source: use `method.request.header.NAME`, `method.request.querystring.NAME`, `stageVariables.NAME` or `context.VARIABLE`"
            )
        })
    }
}

/// A custom authorizer, ready to call.
#[derive(Debug)]
pub struct CompiledAuthorizer {
    /// Its name.
    pub name: String,
    /// `TOKEN` or `REQUEST`.
    pub kind: AuthorizerType,
    /// The function's endpoint.
    pub url: http::Uri,
    /// The identity sources, in config order.
    pub identity: Vec<IdentitySource>,
    /// `TOKEN`: the pattern the token must match.
    pub validation: Option<regex::Regex>,
    /// Cache lifetime of policy answers (zero: not cached).
    pub ttl: std::time::Duration,
    /// Cache lifetime of `Unauthorized` answers (zero: not cached).
    pub unauthorized_ttl: std::time::Duration,
    /// Call timeout.
    pub timeout: std::time::Duration,
    /// Event format.
    pub format: PayloadFormat,
    /// Whether answers are `{"isAuthorized": …}`.
    pub simple_responses: bool,
    /// CA for an https endpoint.
    pub ca_file: Option<PathBuf>,
    /// Headers set upstream on allowed requests.
    pub upstream_headers: Vec<(HeaderName, Template)>,
    /// The config it was compiled from: a cached answer belongs to this exact authorizer, so
    /// changing any setting on reload starts a fresh cache.
    pub source: AuthorizerConfig,
}
