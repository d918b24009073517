//! Rule statements: what a rule tests about the request.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

use crate::detect::{self, Sensitivity};
use crate::eval::{Evaluation, NotApplied};
use crate::managed::ManagedCheck;
use crate::{FieldToMatch, Transformation};

/// One rule statement (AWS `Statement`), evaluated to match or not match a request.
///
/// Match statements run their transformations over each value of their field, in list order,
/// then match when any transformed value passes.
#[derive(Clone, Debug)]
pub enum Statement {
    /// The field contains `search` at `position` (case-sensitive bytes).
    ByteMatch {
        /// What to inspect.
        field: FieldToMatch,
        /// Run over each value first, in order.
        transforms: Vec<Transformation>,
        /// Where in the value `search` must be.
        position: Positional,
        /// The bytes to find. Non-empty; only `[A-Za-z0-9_]` for [`Positional::ContainsWord`].
        search: Vec<u8>,
    },
    /// The regular expression finds a match in the field.
    RegexMatch {
        /// What to inspect.
        field: FieldToMatch,
        /// Run over each value first, in order.
        transforms: Vec<Transformation>,
        /// The expression.
        regex: regex::bytes::Regex,
    },
    /// Any expression of the set finds a match in the field (AWS's regex pattern set, inline).
    RegexPatternSet {
        /// What to inspect.
        field: FieldToMatch,
        /// Run over each value first, in order.
        transforms: Vec<Transformation>,
        /// The expressions.
        set: regex::bytes::RegexSet,
    },
    /// The length of a value, after transformations, compares with `size` by `op`.
    SizeConstraint {
        /// What to measure.
        field: FieldToMatch,
        /// Run over each value first, in order.
        transforms: Vec<Transformation>,
        /// How the length compares with `size`.
        op: Comparison,
        /// The size in bytes.
        size: u64,
    },
    /// The client address, or one forwarded in a header, is in one of `nets`.
    IpSet {
        /// The networks, IPv4 and IPv6.
        nets: Vec<IpNet>,
        /// Take the address from this header instead of the connection.
        forwarded: Option<ForwardedIp>,
    },
    /// The field holds SQL injection (AWS `SqliMatchStatement`).
    SqliMatch {
        /// What to inspect.
        field: FieldToMatch,
        /// Run over each value first, in order.
        transforms: Vec<Transformation>,
        /// `Low` (libinjection alone) or `High` (our patterns too).
        level: Sensitivity,
    },
    /// The field holds cross-site scripting (AWS `XssMatchStatement`).
    XssMatch {
        /// What to inspect.
        field: FieldToMatch,
        /// Run over each value first, in order.
        transforms: Vec<Transformation>,
    },
    /// One rule of a managed rule group, over every input of the request.
    Managed(Box<ManagedCheck>),
    /// More than `limit` requests of the same aggregation key in the window (a rule's whole
    /// statement only).
    RateBased(Box<RateBased>),
    /// The client address, or one forwarded in a header, is in one of these countries (AWS
    /// `GeoMatchStatement`), by the ACL's MaxMind database.
    GeoMatch {
        /// ISO 3166 alpha-2 codes, upper case.
        countries: Vec<String>,
        /// The database.
        db: std::sync::Arc<crate::GeoDb>,
        /// Take the address from this header instead of the connection.
        forwarded: Option<ForwardedIp>,
    },
    /// The client address, or one forwarded in a header, is in an IP list of the
    /// `ip_reputation` group.
    IpList {
        /// The list, refreshed by the gateway.
        list: std::sync::Arc<crate::IpList>,
        /// Take the address from this header instead of the connection.
        forwarded: Option<ForwardedIp>,
    },
    /// A rule evaluated earlier added this label, or a label in this namespace.
    LabelMatch {
        /// Whether `key` is a whole label or a namespace.
        scope: LabelScope,
        /// The label or namespace, case-sensitive. Without the `portcullis:` (or `awswaf:`)
        /// prefix it is taken within the evaluating ACL's own prefix.
        key: String,
    },
    /// Every statement matches (at least two).
    And(Vec<Self>),
    /// At least one statement matches (at least two).
    Or(Vec<Self>),
    /// The statement does not match.
    Not(Box<Self>),
}

impl Statement {
    /// Whether this statement, or one inside it, reads the body.
    pub fn inspects_body(&self) -> bool {
        match self {
            Self::ByteMatch { field, .. }
            | Self::RegexMatch { field, .. }
            | Self::RegexPatternSet { field, .. }
            | Self::SizeConstraint { field, .. }
            | Self::SqliMatch { field, .. }
            | Self::XssMatch { field, .. } => {
                matches!(field, FieldToMatch::Body { .. } | FieldToMatch::JsonBody { .. })
            }
            Self::Managed(check) => check.rule.parts.contains(&crate::inputs::Part::Body),
            Self::RateBased(rate) => rate.scope_down.as_ref().is_some_and(Self::inspects_body),
            Self::IpSet { .. } | Self::IpList { .. } | Self::GeoMatch { .. } | Self::LabelMatch { .. } => false,
            Self::And(all) | Self::Or(all) => all.iter().any(Self::inspects_body),
            Self::Not(one) => one.inspects_body(),
        }
    }
}

/// A rate-based statement (AWS `RateBasedStatement`).
#[derive(Clone, Debug)]
pub struct RateBased {
    /// Requests allowed per window and key; one more matches.
    pub limit: u64,
    /// What requests are counted together.
    pub key: AggregateKey,
    /// Only requests this matches are counted (and can match).
    pub scope_down: Option<Statement>,
    /// The counts, shared across reloads by fingerprint.
    pub state: std::sync::Arc<crate::RateState>,
}

/// What a rate-based rule counts requests by (AWS `AggregateKeyType`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AggregateKey {
    /// The client address.
    Ip,
    /// An address from a header; requests without a valid one are not counted.
    ForwardedIp(ForwardedIp),
    /// Every request together.
    Constant,
    /// The combination of these values; a request missing any is not counted.
    Custom(Vec<CustomKey>),
}

/// One part of a custom aggregation key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CustomKey {
    /// A header's value (name in lower case).
    Header(String),
    /// A query argument's value.
    QueryArgument(String),
    /// A cookie's value.
    Cookie(String),
    /// The labels an earlier rule added under this namespace.
    LabelNamespace(String),
    /// The URI path.
    UriPath,
    /// The HTTP method.
    Method,
    /// The client address.
    Ip,
}

/// Where a byte match's search string must be (AWS `PositionalConstraint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Positional {
    /// The value is the search string.
    Exactly,
    /// The value begins with it.
    StartsWith,
    /// The value ends with it.
    EndsWith,
    /// The value contains it anywhere.
    Contains,
    /// The value contains it as a word: at the start or after a byte other than
    /// `[A-Za-z0-9_]`, and at the end or before such a byte.
    ContainsWord,
}

/// How a size constraint compares the length with its size (AWS `ComparisonOperator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than or equal.
    Le,
    /// Less than.
    Lt,
    /// Greater than or equal.
    Ge,
    /// Greater than.
    Gt,
}

/// Take the address for an IP set from a request header (AWS `IPSetForwardedIPConfig`).
///
/// A request without the header is not evaluated by the rule at all, as in AWS: the rule does
/// not match, even under `Not`. `fallback` applies when the header is there but holds no valid
/// address at `position`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardedIp {
    /// The header's name (any case), commonly `x-forwarded-for`.
    pub header: String,
    /// Which of the comma-separated addresses to use.
    pub position: ForwardedPosition,
    /// The outcome when there is no valid address at `position`.
    pub fallback: Fallback,
}

/// Which forwarded address an IP set inspects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardedPosition {
    /// The first (the original client, as claimed).
    First,
    /// The last (added by the nearest proxy).
    Last,
    /// Any of the last ten.
    Any,
}

/// The outcome when a forwarded header holds no valid address (AWS `FallbackBehavior`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Match.
    Match,
    /// Do not match.
    NoMatch,
}

/// Whether a label match names one label or a namespace (AWS `LabelMatchScope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelScope {
    /// The key is a whole label.
    Label,
    /// The key is a namespace: any label under it matches.
    Namespace,
}

// === impl Statement ===

impl Statement {
    /// Whether this statement matches, or `NotApplied` when its rule does not apply.
    pub(crate) fn eval<'s>(&'s self, ev: &mut Evaluation<'s, '_, '_>) -> Result<bool, NotApplied> {
        Ok(match self {
            Self::ByteMatch { field, transforms, position, search } => {
                ev.inspect(field, transforms, |v| byte_match(*position, v, search))
            }
            Self::RegexMatch { field, transforms, regex } => ev.inspect(field, transforms, |v| regex.is_match(v)),
            Self::RegexPatternSet { field, transforms, set } => ev.inspect(field, transforms, |v| set.is_match(v)),
            Self::SizeConstraint { field, transforms, op, size } => {
                ev.inspect(field, transforms, |v| op.holds(u64::try_from(v.len()).unwrap_or(u64::MAX), *size))
            }
            Self::SqliMatch { field, transforms, level } => ev.inspect(field, transforms, |v| detect::sqli(v, *level)),
            Self::XssMatch { field, transforms } => ev.inspect(field, transforms, |v| detect::xss(v, Sensitivity::Low)),
            Self::Managed(check) => {
                let route = ev.view().route;
                let view = ev.view();
                let (inputs, scans, anywhere) = ev.inputs();
                let hit = match check.bit {
                    // A pattern rule that matches nowhere in the request needs no search.
                    Some(bit) if anywhere & (1 << bit) == 0 => None,
                    _ => check.find(view, inputs, scans, route),
                };
                let matched = hit.is_some();
                if let Some(why) = hit {
                    ev.hit = Some(("INPUT", why));
                }
                matched
            }
            Self::RateBased(rate) => {
                if let Some(scope) = &rate.scope_down {
                    if !scope.eval(ev)? {
                        return Ok(false);
                    }
                }
                let Some(key) = rate_key(&rate.key, ev) else { return Err(NotApplied) };
                let count = rate.state.hit(&key, ev.view().now_s);
                let matched = count > rate.limit;
                if matched {
                    ev.hit = Some(("RATE", format!("{count} requests in {} s", rate.state.window_s())));
                }
                matched
            }
            Self::GeoMatch { countries, db, forwarded } => {
                let in_countries = |ip: &IpAddr| db.country(*ip).is_some_and(|c| countries.contains(&c));
                let found = ip_set(in_countries, forwarded.as_ref(), ev)?;
                let matched = found.is_some();
                if let Some(why) = found {
                    ev.hit = Some(("IP", why));
                }
                matched
            }
            Self::IpList { list, forwarded } => {
                let found = ip_set(|ip| list.contains(*ip), forwarded.as_ref(), ev)?;
                let matched = found.is_some();
                if let Some(why) = found {
                    ev.hit = Some(("IP", why));
                }
                matched
            }
            Self::IpSet { nets, forwarded } => {
                let found = ip_set(|ip| nets.iter().any(|n| n.contains(ip)), forwarded.as_ref(), ev)?;
                let matched = found.is_some();
                if let Some(why) = found {
                    ev.hit = Some(("IP", why));
                }
                matched
            }
            Self::LabelMatch { scope, key } => {
                let key = qualify(ev.prefix, key);
                let found = match scope {
                    LabelScope::Label => ev.labels.iter().find(|l| **l == key),
                    LabelScope::Namespace => {
                        let ns = if key.ends_with(':') { key } else { key + ":" };
                        ev.labels.iter().find(|l| l.starts_with(&ns))
                    }
                };
                let hit = found.cloned();
                let matched = hit.is_some();
                if let Some(label) = hit {
                    ev.hit = Some(("LABEL", label));
                }
                matched
            }
            Self::And(all) => {
                for s in all {
                    if !s.eval(ev)? {
                        return Ok(false);
                    }
                }
                true
            }
            Self::Or(any) => {
                for s in any {
                    if s.eval(ev)? {
                        return Ok(true);
                    }
                }
                false
            }
            Self::Not(inner) => {
                let matched = !inner.eval(ev)?;
                // What the inner statement saw is not why `Not` matched.
                ev.hit = None;
                matched
            }
        })
    }
}

// === impl Comparison ===

impl Comparison {
    /// Whether `len op size` holds.
    fn holds(self, len: u64, size: u64) -> bool {
        match self {
            Self::Eq => len == size,
            Self::Ne => len != size,
            Self::Le => len <= size,
            Self::Lt => len < size,
            Self::Ge => len >= size,
            Self::Gt => len > size,
        }
    }
}

// === helpers ===

/// Whether `value` holds `search` at `position`.
fn byte_match(position: Positional, value: &[u8], search: &[u8]) -> bool {
    match position {
        Positional::Exactly => value == search,
        Positional::StartsWith => value.starts_with(search),
        Positional::EndsWith => value.ends_with(search),
        Positional::Contains => find_from(value, search, 0).is_some(),
        Positional::ContainsWord => {
            let is_word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
            let mut from = 0;
            while let Some(at) = find_from(value, search, from) {
                let end = at + search.len();
                let before = at.checked_sub(1).and_then(|i| value.get(i));
                if !is_word(before) && !is_word(value.get(end)) {
                    return true;
                }
                from = at + 1;
            }
            false
        }
    }
}

/// Where `needle` first occurs in `hay` at or after `from`.
pub(crate) fn find_from(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let rest = hay.get(from..)?;
    if needle.is_empty() {
        return Some(from);
    }
    rest.windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

/// What made an IP set match (the address, or the fallback), `None` when it does not match,
/// or `NotApplied`.
fn ip_set(
    contains: impl Fn(&IpAddr) -> bool,
    forwarded: Option<&ForwardedIp>,
    ev: &Evaluation<'_, '_, '_>,
) -> Result<Option<String>, NotApplied> {
    let view = ev.view();
    let Some(cfg) = forwarded else {
        return Ok(Some(view.client_ip).filter(|ip| contains(ip)).map(|ip| ip.to_string()));
    };
    let mut values = view.header_values(&cfg.header).peekable();
    if values.peek().is_none() {
        return Err(NotApplied);
    }
    let entries: Vec<&[u8]> = values.flat_map(|v| v.split(|&b| b == b',')).map(<[u8]>::trim_ascii).collect();
    let candidates: Vec<Option<IpAddr>> = match cfg.position {
        ForwardedPosition::First => vec![entries.first().and_then(|e| parse_ip(e))],
        ForwardedPosition::Last => vec![entries.last().and_then(|e| parse_ip(e))],
        ForwardedPosition::Any => entries.iter().rev().take(MAX_FORWARDED).map(|e| parse_ip(e)).collect(),
    };
    let valid: Vec<IpAddr> = candidates.into_iter().flatten().collect();
    if valid.is_empty() {
        return Ok(match cfg.fallback {
            Fallback::Match => Some("<no valid forwarded address>".to_owned()),
            Fallback::NoMatch => None,
        });
    }
    Ok(valid.into_iter().find(|ip| contains(ip)).map(|ip| ip.to_string()))
}

/// The aggregation key of the request, or `None` when a part of it is missing.
fn rate_key(key: &AggregateKey, ev: &Evaluation<'_, '_, '_>) -> Option<Vec<u8>> {
    let view = ev.view();
    let ip = || view.client_ip.to_string().into_bytes();
    Some(match key {
        AggregateKey::Ip => ip(),
        AggregateKey::Constant => Vec::new(),
        AggregateKey::ForwardedIp(cfg) => {
            let values: Vec<&[u8]> = view.header_values(&cfg.header).collect();
            let entries: Vec<&[u8]> =
                values.iter().flat_map(|v| v.split(|&b| b == b',')).map(|e| e.trim_ascii()).collect();
            let entry = match cfg.position {
                ForwardedPosition::Last => entries.last(),
                ForwardedPosition::First | ForwardedPosition::Any => entries.first(),
            };
            parse_ip(entry?)?.to_string().into_bytes()
        }
        AggregateKey::Custom(parts) => {
            let mut out = Vec::new();
            for part in parts {
                let value: Vec<u8> = match part {
                    CustomKey::Header(name) => view.header_values(name).next()?.to_vec(),
                    CustomKey::QueryArgument(name) => view
                        .query_args()
                        .into_iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                        .map(|(_, v)| v.to_vec())?,
                    CustomKey::Cookie(name) => {
                        view.cookies().into_iter().find(|(n, _)| *n == name.as_bytes()).map(|(_, v)| v.to_vec())?
                    }
                    CustomKey::LabelNamespace(ns) => {
                        let ns = qualify(ev.prefix, ns);
                        let found: Vec<&str> =
                            ev.labels.iter().filter(|l| l.starts_with(&ns)).map(String::as_str).collect();
                        if found.is_empty() {
                            return None;
                        }
                        found.join(",").into_bytes()
                    }
                    CustomKey::UriPath => view.path.to_vec(),
                    CustomKey::Method => view.method.as_bytes().to_vec(),
                    CustomKey::Ip => ip(),
                };
                // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
                out.extend_from_slice(&(value.len() as u64).to_be_bytes());
                out.extend_from_slice(&value);
            }
            out
        }
    })
}

/// An address as a forwarding header writes it: `1.2.3.4`, `::1`, or either with a port.
fn parse_ip(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?;
    text.parse::<IpAddr>().ok().or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// `key` as a fully qualified label: unchanged when it already has a prefix, else under
/// `prefix` (which ends with `:`).
pub(crate) fn qualify(prefix: &str, key: &str) -> String {
    if key.starts_with("portcullis:") || key.starts_with("awswaf:") {
        key.to_owned()
    } else {
        format!("{prefix}{key}")
    }
}

/// An `Any` forwarded-IP position inspects at most this many addresses, the last ones.
const MAX_FORWARDED: usize = 10;

#[cfg(test)]
mod tests;
