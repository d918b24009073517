//! Web ACLs as written in the configuration (YAML, snake_case), and [`compile`], which checks
//! them and builds the [`crate::WebAcl`].

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::{Comparison, Fallback, ForwardedPosition, InvalidFallback, LabelScope, MatchScope, Oversize, Positional};

mod compile;
mod managed;
mod rate;

pub use compile::compile;

/// One web ACL as configured. Plain data: [`compile`] turns it into a [`crate::WebAcl`].
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebAclConfig {
    /// The ACL's name, `[A-Za-z0-9_-]`, 1–128 characters; part of its labels.
    pub name: String,
    /// `allow`, `block`, or `{block: {custom_response: …}}`.
    pub default_action: ActionConfig,
    /// How much of a body rules inspect, in bytes: 8192 to 65536 (default 16384, API
    /// Gateway's in AWS WAF). A longer body is inspected up to this, then each field's
    /// `oversize` decides.
    #[serde(default = "sixteen_kib")]
    pub body_inspection_limit: usize,
    /// A MaxMind-format database (`GeoLite2-Country.mmdb`) for `geo_match` statements.
    #[serde(default)]
    pub geo_database: Option<String>,
    /// How challenge actions work: `{immunity_time: 300, difficulty: 16}`.
    #[serde(default)]
    pub challenge_config: Option<ChallengeSettings>,
    /// Response bodies that custom responses name by key (at most 50).
    #[serde(default)]
    pub custom_response_bodies: BTreeMap<String, ResponseBodyConfig>,
    /// The rules, in any order; they run by ascending priority.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

/// Settings of the challenge action.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeSettings {
    /// Seconds a solved challenge lets its client through (60 to 259200; default 300).
    #[serde(default = "five_minutes")]
    pub immunity_time: u64,
    /// Leading zero bits of the proof of work (8 to 24; default 16).
    #[serde(default = "sixteen")]
    pub difficulty: u8,
}

/// A body for custom responses.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseBodyConfig {
    /// `text/plain`, `text/html` or `application/json`.
    pub content_type: String,
    /// The body.
    pub content: String,
}

/// One rule as configured.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique within the ACL.
    pub name: String,
    /// Unique within the ACL; lower runs first.
    pub priority: u32,
    /// `allow`, `block` or `count`, or the detailed form. Required, except on a rule that
    /// references a managed rule group, whose rules carry their own actions.
    #[serde(default)]
    pub action: Option<ActionConfig>,
    /// For a managed rule group reference only: `none` (the group's actions apply, the
    /// default) or `count` (every rule of the group only counts).
    #[serde(default)]
    pub override_action: Option<OverrideAction>,
    /// Labels added when the rule matches, `ns:…:name`, without the ACL's prefix.
    #[serde(default)]
    pub labels: Vec<String>,
    /// What the rule tests.
    pub statement: StatementConfig,
}

/// A rule action (or default action): a bare name, or the name with its settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ActionConfig {
    /// `allow`, `block` or `count` with no settings.
    Name(ActionName),
    /// `{allow: {insert_headers: …}}`, `{block: {custom_response: …}}`, `{count: …}`.
    Detailed(DetailedAction),
}

/// What a managed rule group reference does to its rules' actions (AWS `OverrideAction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideAction {
    /// The rules' own actions.
    None,
    /// Every rule counts instead.
    Count,
}

/// A bare action name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionName {
    /// Let through and stop.
    Allow,
    /// Refuse with 403 and stop.
    Block,
    /// Record and go on (not valid as a default action).
    Count,
    /// Let through clients that solved a challenge recently; challenge the others.
    Challenge,
}

/// An action with its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DetailedAction {
    /// Let through and stop, inserting request headers.
    Allow(InsertHeadersConfig),
    /// Refuse and stop, with a custom response.
    Block(BlockConfig),
    /// Record and go on, inserting request headers.
    Count(InsertHeadersConfig),
}

/// Request headers an allow or count action inserts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsertHeadersConfig {
    /// Name (without the `x-amzn-waf-` prefix, which is added) to value.
    #[serde(default)]
    pub insert_headers: BTreeMap<String, String>,
}

/// Settings of a block action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockConfig {
    /// The response instead of the plain 403.
    #[serde(default)]
    pub custom_response: Option<CustomResponseConfig>,
}

/// A custom response to a blocked request.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomResponseConfig {
    /// 200–599.
    pub status: u16,
    /// A key of the ACL's `custom_response_bodies`.
    #[serde(default)]
    pub body: Option<String>,
    /// Response headers, never `content-type`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A rule statement as configured: one key naming its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatementConfig {
    /// See [`crate::Statement::ByteMatch`].
    ByteMatch(ByteMatchConfig),
    /// See [`crate::Statement::RegexMatch`].
    RegexMatch(RegexMatchConfig),
    /// See [`crate::Statement::RegexPatternSet`].
    RegexPatternSet(RegexPatternSetConfig),
    /// See [`crate::Statement::SizeConstraint`].
    SizeConstraint(SizeConstraintConfig),
    /// See [`crate::Statement::IpSet`].
    IpSet(IpSetConfig),
    /// See [`crate::Statement::LabelMatch`].
    LabelMatch(LabelMatchConfig),
    /// See [`crate::Statement::SqliMatch`].
    SqliMatch(SqliMatchConfig),
    /// See [`crate::Statement::GeoMatch`].
    GeoMatch(GeoMatchConfig),
    /// See [`crate::Statement::XssMatch`].
    XssMatch(XssMatchConfig),
    /// A managed rule group, as a rule's whole statement only.
    ManagedRuleGroup(ManagedGroupConfig),
    /// A rate-based statement, as a rule's whole statement only.
    RateBased(RateBasedConfig),
    /// At least two statements that must all match.
    And(Vec<Self>),
    /// At least two statements of which one must match.
    Or(Vec<Self>),
    /// A statement that must not match.
    Not(Box<Self>),
}

/// A byte match statement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByteMatchConfig {
    /// What to inspect.
    pub field: FieldConfig,
    /// Where the search string must be.
    pub position: Positional,
    /// The string to find (UTF-8 text, matched as bytes).
    pub search: String,
    /// AWS transformation names (`URL_DECODE`), run in list order; at most 10.
    #[serde(default)]
    pub transforms: Vec<String>,
}

/// A geo match statement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoMatchConfig {
    /// ISO 3166 alpha-2 country codes (`FR`, `US`).
    pub country_codes: Vec<String>,
    /// Take the address from a header instead of the connection.
    #[serde(default)]
    pub forwarded_ip: Option<ForwardedIpConfig>,
}

/// A SQL injection match statement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliMatchConfig {
    /// What to inspect.
    pub field: FieldConfig,
    /// `low` (default) or `high`.
    #[serde(default)]
    pub sensitivity: crate::Sensitivity,
    /// AWS transformation names, run in list order; at most 10.
    #[serde(default)]
    pub transforms: Vec<String>,
}

/// A cross-site scripting match statement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XssMatchConfig {
    /// What to inspect.
    pub field: FieldConfig,
    /// AWS transformation names, run in list order; at most 10.
    #[serde(default)]
    pub transforms: Vec<String>,
}

/// A reference to a managed rule group and how to use it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedGroupConfig {
    /// `core` or `known_bad_inputs`.
    pub name: String,
    /// A version of the group; the newest when absent.
    #[serde(default)]
    pub version: Option<String>,
    /// `low` (default) or `high`: which of the group's rules are on, and how eagerly the
    /// SQLi and XSS detectors report.
    #[serde(default)]
    pub sensitivity: crate::Sensitivity,
    /// Per-rule actions instead of the group's (`count` to watch a rule before trusting it).
    #[serde(default)]
    pub rule_action_overrides: Vec<RuleOverrideConfig>,
    /// Where rules do not look.
    #[serde(default)]
    pub exclusions: Vec<ExclusionConfig>,
    /// Only requests this statement matches are inspected by the group.
    #[serde(default)]
    pub scope_down_statement: Option<Box<StatementConfig>>,
    /// `ip_reputation` only: the lists, one rule each, named after the list.
    #[serde(default)]
    pub lists: Vec<IpListConfig>,
    /// `ip_reputation` only: take the address from this header instead of the connection.
    #[serde(default)]
    pub forwarded_ip: Option<ForwardedIpConfig>,
    /// `bot_control` only: crawlers to verify by DNS besides the built-in search engines.
    #[serde(default)]
    pub verified_bots: Vec<VerifiedBotConfig>,
}

/// A crawler verified by DNS: its address must resolve to a name under one of `domains`, and
/// that name back to the address.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifiedBotConfig {
    /// A word of its `User-Agent` (any case), such as `examplebot`.
    pub user_agent: String,
    /// Its domains, such as `crawl.example.com`.
    pub domains: Vec<String>,
}

/// One IP list of the `ip_reputation` group.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpListConfig {
    /// The rule's name in the group, `[A-Za-z0-9_-]`.
    pub name: String,
    /// A local file: one address or CIDR per line, `#` comments.
    #[serde(default)]
    pub file: Option<String>,
    /// An `https://` URL serving the same format (`http://` only on a loopback address).
    #[serde(default)]
    pub url: Option<String>,
    /// How often the list is read again: `30s`, `15m`, `1h` (default), `1d`; at least 5 s.
    #[serde(default)]
    pub refresh: Option<String>,
}

/// One rule's action instead of the group's.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOverrideConfig {
    /// The rule's name in the group (`SQLi`).
    pub name: String,
    /// `allow`, `block` or `count`, or the detailed form.
    pub action: ActionConfig,
}

/// Inputs that some rules of a group skip.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionConfig {
    /// The group's rules this applies to; all of them when absent.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Route keys (`POST /comments`) where it applies; every route when absent.
    #[serde(default)]
    pub routes: Vec<String>,
    /// Inputs to skip: `path`, `query:NAME`, `header:NAME`, `cookie:NAME`, `body:NAME`,
    /// `body:/json/pointer`, `body`; when absent, the rules are off entirely (on `routes`).
    #[serde(default)]
    pub fields: Vec<String>,
}

/// A rate-based statement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBasedConfig {
    /// Requests allowed per window and key (10 to 2,000,000,000); one more matches.
    pub limit: u64,
    /// The window in seconds: 60, 120, 300 (default) or 600.
    #[serde(default = "five_minutes")]
    pub window: u64,
    /// `ip` (default), `forwarded_ip`, `constant`, or `{custom_keys: [...]}`.
    #[serde(default)]
    pub aggregate_key: Option<AggregateKeyConfig>,
    /// The header for `forwarded_ip`.
    #[serde(default)]
    pub forwarded_ip: Option<ForwardedIpConfig>,
    /// Only requests this matches are counted.
    #[serde(default)]
    pub scope_down_statement: Option<Box<StatementConfig>>,
}

/// What a rate-based rule counts requests by.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum AggregateKeyConfig {
    /// `ip`, `forwarded_ip` or `constant`.
    Name(AggregateKeyName),
    /// `{custom_keys: [...]}`.
    Custom(CustomKeysConfig),
}

/// A named aggregation key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateKeyName {
    /// The client address.
    Ip,
    /// The address in the `forwarded_ip` header.
    ForwardedIp,
    /// All requests together.
    Constant,
}

/// Custom aggregation keys.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomKeysConfig {
    /// One to five parts: `uri_path`, `http_method`, `ip`, `{header: NAME}`,
    /// `{query_argument: NAME}`, `{cookie: NAME}`, `{label_namespace: NS}`.
    pub custom_keys: Vec<CustomKeyConfig>,
}

/// One part of a custom aggregation key.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CustomKeyConfig {
    /// `uri_path`, `http_method` or `ip`.
    Name(CustomKeyName),
    /// `{header: NAME}` and the like.
    Detailed(DetailedCustomKey),
}

/// A custom key part without settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomKeyName {
    /// The URI path.
    UriPath,
    /// The method.
    HttpMethod,
    /// The client address.
    Ip,
}

/// A custom key part with its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DetailedCustomKey {
    /// A header.
    Header(String),
    /// A query argument.
    QueryArgument(String),
    /// A cookie.
    Cookie(String),
    /// A label namespace.
    LabelNamespace(String),
}

/// A regex match statement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexMatchConfig {
    /// What to inspect.
    pub field: FieldConfig,
    /// The expression (Rust `regex` syntax, close to the PCRE subset AWS accepts).
    pub regex: String,
    /// AWS transformation names, run in list order; at most 10.
    #[serde(default)]
    pub transforms: Vec<String>,
}

/// A regex pattern set statement, with the patterns inline.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexPatternSetConfig {
    /// What to inspect.
    pub field: FieldConfig,
    /// The expressions, at least one.
    pub regexes: Vec<String>,
    /// AWS transformation names, run in list order; at most 10.
    #[serde(default)]
    pub transforms: Vec<String>,
}

/// A size constraint statement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeConstraintConfig {
    /// What to measure.
    pub field: FieldConfig,
    /// `eq`, `ne`, `le`, `lt`, `ge` or `gt`.
    pub op: Comparison,
    /// The size in bytes.
    pub size: u64,
    /// AWS transformation names, run in list order; at most 10.
    #[serde(default)]
    pub transforms: Vec<String>,
}

/// An IP set statement, with the networks inline.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpSetConfig {
    /// CIDRs, IPv4 or IPv6 (`10.0.0.0/8`); a bare address is a /32 or /128.
    pub cidrs: Vec<String>,
    /// Take the address from a header instead of the connection.
    #[serde(default)]
    pub forwarded_ip: Option<ForwardedIpConfig>,
}

/// Where an IP set finds a forwarded address.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardedIpConfig {
    /// The header, `[A-Za-z0-9-]`.
    pub header: String,
    /// `first`, `last` or `any`.
    pub position: ForwardedPosition,
    /// `match` or `no_match`, when the header holds no valid address there.
    pub fallback: Fallback,
}

/// A label match statement.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelMatchConfig {
    /// `label` or `namespace`.
    pub scope: LabelScope,
    /// The label or namespace, within the ACL's prefix unless it starts with `portcullis:`.
    pub key: String,
}

/// The field a match statement inspects: a bare name, or a name with settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum FieldConfig {
    /// A field without settings, or with default settings.
    Name(FieldName),
    /// A field with its settings.
    Detailed(DetailedField),
}

/// A field named without settings (`uri_path`); `headers`, `cookies`, `body` and `json_body`
/// take their defaults (everything, scope `all`, oversize `continue`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldName {
    /// The raw URI path.
    UriPath,
    /// The raw query string.
    QueryString,
    /// Every query argument value.
    AllQueryArguments,
    /// The method.
    Method,
    /// Every header.
    Headers,
    /// Every cookie.
    Cookies,
    /// The body.
    Body,
    /// The body as JSON.
    JsonBody,
}

/// A field with its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DetailedField {
    /// One header, by name.
    SingleHeader(String),
    /// One query argument, by name.
    SingleQueryArgument(String),
    /// Several headers.
    Headers(ItemsConfig),
    /// Several cookies.
    Cookies(ItemsConfig),
    /// The body.
    Body(BodyConfig),
    /// The body as JSON.
    JsonBody(JsonBodyConfig),
}

/// Settings of a headers or cookies field.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsConfig {
    /// `all` (default), `key` or `value`.
    #[serde(default = "all")]
    pub scope: MatchScope,
    /// Only these names; all when absent.
    #[serde(default)]
    pub include: Option<Vec<String>>,
    /// Never these names.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `continue` (default), `match` or `no_match`.
    #[serde(default = "cont")]
    pub oversize: Oversize,
}

/// Settings of a body field.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyConfig {
    /// `continue` (default), `match` or `no_match`.
    #[serde(default = "cont")]
    pub oversize: Oversize,
}

/// Settings of a JSON body field.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonBodyConfig {
    /// JSON Pointers (`/user/name`) to inspect; the whole document when absent.
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    /// `all` (default), `key` or `value`.
    #[serde(default = "all")]
    pub scope: MatchScope,
    /// `match`, `no_match` or `evaluate_as_string` (default).
    #[serde(default = "as_string")]
    pub invalid_fallback: InvalidFallback,
    /// `continue` (default), `match` or `no_match`.
    #[serde(default = "cont")]
    pub oversize: Oversize,
}

// === impl Deserialize ===

/// `Deserialize` for an enum written as a map with exactly one key, the variant's snake_case
/// name (`{byte_match: {...}}`). serde's derive would want a YAML tag (`!byte_match`) from
/// `serde_yaml_ng`; this form works the same in YAML and JSON.
macro_rules! single_key_enum {
    ($ty:ident, $what:literal, { $($key:literal => $variant:ident($inner:ty)),+ $(,)? }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a map with one key, ", $what))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        const KEYS: &[&str] = &[$($key),+];
                        let Some(key) = map.next_key::<String>()? else {
                            return Err(de::Error::invalid_length(0, &self));
                        };
                        let value = match key.as_str() {
                            $($key => $ty::$variant(map.next_value::<$inner>()?),)+
                            other => return Err(de::Error::unknown_variant(other, KEYS)),
                        };
                        if map.next_key::<de::IgnoredAny>()?.is_some() {
                            return Err(de::Error::custom(concat!("expected only one key: ", $what)));
                        }
                        Ok(value)
                    }
                }
                deserializer.deserialize_map(V)
            }
        }
    };
}

single_key_enum!(StatementConfig, "the statement kind", {
    "byte_match" => ByteMatch(ByteMatchConfig),
    "regex_match" => RegexMatch(RegexMatchConfig),
    "regex_pattern_set" => RegexPatternSet(RegexPatternSetConfig),
    "size_constraint" => SizeConstraint(SizeConstraintConfig),
    "ip_set" => IpSet(IpSetConfig),
    "label_match" => LabelMatch(LabelMatchConfig),
    "sqli_match" => SqliMatch(SqliMatchConfig),
    "geo_match" => GeoMatch(GeoMatchConfig),
    "xss_match" => XssMatch(XssMatchConfig),
    "managed_rule_group" => ManagedRuleGroup(ManagedGroupConfig),
    "rate_based" => RateBased(RateBasedConfig),
    "and" => And(Vec<StatementConfig>),
    "or" => Or(Vec<StatementConfig>),
    "not" => Not(Box<StatementConfig>),
});

single_key_enum!(DetailedAction, "the action", {
    "allow" => Allow(InsertHeadersConfig),
    "block" => Block(BlockConfig),
    "count" => Count(InsertHeadersConfig),
});

single_key_enum!(DetailedCustomKey, "the key part", {
    "header" => Header(String),
    "query_argument" => QueryArgument(String),
    "cookie" => Cookie(String),
    "label_namespace" => LabelNamespace(String),
});

single_key_enum!(DetailedField, "the field", {
    "single_header" => SingleHeader(String),
    "single_query_argument" => SingleQueryArgument(String),
    "headers" => Headers(ItemsConfig),
    "cookies" => Cookies(ItemsConfig),
    "body" => Body(BodyConfig),
    "json_body" => JsonBody(JsonBodyConfig),
});

// === helpers ===

fn sixteen_kib() -> usize {
    16 * 1024
}

fn sixteen() -> u8 {
    16
}

fn five_minutes() -> u64 {
    300
}

fn all() -> MatchScope {
    MatchScope::All
}

fn cont() -> Oversize {
    Oversize::Continue
}

fn as_string() -> InvalidFallback {
    InvalidFallback::EvaluateAsString
}

#[cfg(test)]
mod tests;
