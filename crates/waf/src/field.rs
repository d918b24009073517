//! The part of the request a match statement inspects (AWS `FieldToMatch`).

use std::borrow::Cow;

use serde_json::Value;

use crate::RequestView;

/// The part of the request one match statement inspects.
///
/// A field yields zero or more values; a statement matches when any one of them does. Some
/// settings decide the outcome without inspecting anything: oversize handling `Match` or
/// `NoMatch`, and JSON's invalid-body fallback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldToMatch {
    /// The raw URI path, as received.
    UriPath,
    /// The raw query string, without `?`.
    QueryString,
    /// The values of every query argument with this name, compared without regard to case
    /// after URL-decoding the argument's name.
    SingleQueryArgument(String),
    /// The value of every query argument.
    AllQueryArguments,
    /// The value of every header with this name (any case).
    SingleHeader(String),
    /// Several headers: their names, values or both.
    Headers {
        /// Which part of each header to inspect.
        scope: MatchScope,
        /// Only these header names (any case); `None` for all of them.
        include: Option<Vec<String>>,
        /// Never these header names (any case).
        exclude: Vec<String>,
        /// What happens when the request has more than 200 headers or 8 KiB of them.
        oversize: Oversize,
    },
    /// The cookies of the `cookie` headers: their names, values or both.
    Cookies {
        /// Which part of each cookie to inspect.
        scope: MatchScope,
        /// Only these cookie names (exact case); `None` for all of them.
        include: Option<Vec<String>>,
        /// Never these cookie names (exact case).
        exclude: Vec<String>,
        /// What happens when the request has more than 200 cookies or 8 KiB of them.
        oversize: Oversize,
    },
    /// The HTTP method.
    Method,
    /// The body as plain bytes, up to the inspection limit. A request without a body has an
    /// empty one.
    Body {
        /// What happens when the body was longer than the inspection limit.
        oversize: Oversize,
    },
    /// The body parsed as JSON: object keys, scalar values or both. A request without a body
    /// yields nothing.
    JsonBody {
        /// Only the elements at these JSON Pointers, and what they contain; `None` for the
        /// whole document.
        paths: Option<Vec<String>>,
        /// Object keys, scalar values (strings unescaped, other scalars as JSON text) or both.
        scope: MatchScope,
        /// What happens when the body is not valid JSON.
        invalid: InvalidFallback,
        /// What happens when the body was longer than the inspection limit. With `Continue`
        /// the cut body is parsed, which usually makes it invalid (see `invalid`).
        oversize: Oversize,
    },
}

/// Which part of a key/value item a multi-item field inspects (AWS `MatchScope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchScope {
    /// Keys and values: a statement matches when either does.
    All,
    /// Keys (names) only.
    Key,
    /// Values only.
    Value,
}

/// What a field does when the request is bigger than what the WAF inspects
/// (AWS `OversizeHandling`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Oversize {
    /// Inspect what is within the limits.
    Continue,
    /// The statement matches, without inspection.
    Match,
    /// The statement does not match, without inspection.
    NoMatch,
}

/// What a JSON body field does when the body is not valid JSON
/// (AWS `InvalidFallbackBehavior`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidFallback {
    /// The statement matches, without inspection.
    Match,
    /// The statement does not match, without inspection.
    NoMatch,
    /// Inspect the body as one plain string.
    EvaluateAsString,
}

/// The values a field yields for one request, or the outcome its settings force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Extracted<'v> {
    /// Inspect these values; any one matching is a match.
    Values(Vec<Cow<'v, [u8]>>),
    /// The statement matches without inspection, for this reason (shown in the verdict).
    Match(&'static str),
    /// The statement does not match.
    NoMatch,
}

// === impl FieldToMatch ===

impl FieldToMatch {
    /// The AWS name of this field, as logged with a match (`QUERY_STRING`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::UriPath => "URI_PATH",
            Self::QueryString => "QUERY_STRING",
            Self::SingleQueryArgument(_) => "SINGLE_QUERY_ARGUMENT",
            Self::AllQueryArguments => "ALL_QUERY_ARGUMENTS",
            Self::SingleHeader(_) => "SINGLE_HEADER",
            Self::Headers { .. } => "HEADERS",
            Self::Cookies { .. } => "COOKIES",
            Self::Method => "METHOD",
            Self::Body { .. } => "BODY",
            Self::JsonBody { .. } => "JSON_BODY",
        }
    }

    /// The values this field yields for `view`, or the outcome its settings force.
    pub(crate) fn extract<'v>(&self, view: &RequestView<'v>) -> Extracted<'v> {
        let values: Vec<Cow<'v, [u8]>> = match self {
            Self::UriPath => vec![Cow::Borrowed(view.path)],
            Self::QueryString => vec![Cow::Borrowed(view.query)],
            Self::SingleQueryArgument(name) => view
                .query_args()
                .into_iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                .map(|(_, v)| Cow::Borrowed(v))
                .collect(),
            Self::AllQueryArguments => view.query_args().into_iter().map(|(_, v)| Cow::Borrowed(v)).collect(),
            Self::SingleHeader(name) => view.header_values(name).map(Cow::Borrowed).collect(),
            Self::Headers { scope, include, exclude, oversize } => {
                let items: Vec<(&[u8], &[u8])> = view.headers.iter().map(|&(n, v)| (n.as_bytes(), v)).collect();
                let wanted = |name: &[u8]| {
                    let named = |list: &[String]| list.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name));
                    include.as_deref().is_none_or(named) && !named(exclude)
                };
                return multi(&items, *scope, *oversize, wanted);
            }
            Self::Cookies { scope, include, exclude, oversize } => {
                let wanted = |name: &[u8]| {
                    let named = |list: &[String]| list.iter().any(|n| n.as_bytes() == name);
                    include.as_deref().is_none_or(named) && !named(exclude)
                };
                return multi(&view.cookies(), *scope, *oversize, wanted);
            }
            Self::Method => vec![Cow::Borrowed(view.method.as_bytes())],
            Self::Body { oversize } => {
                if let Some(forced) = oversized(view.body_truncated, *oversize) {
                    return forced;
                }
                vec![Cow::Borrowed(view.body.unwrap_or_default())]
            }
            Self::JsonBody { paths, scope, invalid, oversize } => {
                if let Some(forced) = oversized(view.body_truncated, *oversize) {
                    return forced;
                }
                return json(view.body.unwrap_or_default(), paths.as_deref(), *scope, *invalid);
            }
        };
        Extracted::Values(values)
    }
}

// === helpers ===

/// The forced outcome for a cut body, if the oversize setting forces one.
fn oversized<'v>(truncated: bool, oversize: Oversize) -> Option<Extracted<'v>> {
    match (truncated, oversize) {
        (false, _) | (true, Oversize::Continue) => None,
        (true, Oversize::Match) => Some(Extracted::Match("oversize")),
        (true, Oversize::NoMatch) => Some(Extracted::NoMatch),
    }
}

/// Headers or cookies: the wanted items among the first [`MAX_ITEMS`] within [`MAX_BYTES`]
/// (names plus values), or the forced outcome when the request has more than that.
fn multi<'v>(
    items: &[(&'v [u8], &'v [u8])],
    scope: MatchScope,
    oversize: Oversize,
    wanted: impl Fn(&[u8]) -> bool,
) -> Extracted<'v> {
    let mut total = 0usize;
    let mut within = 0usize;
    for (name, value) in items.iter().take(MAX_ITEMS) {
        total = total.saturating_add(name.len() + value.len());
        if total > MAX_BYTES {
            break;
        }
        within += 1;
    }
    if within < items.len() {
        match oversize {
            Oversize::Continue => {}
            Oversize::Match => return Extracted::Match("oversize"),
            Oversize::NoMatch => return Extracted::NoMatch,
        }
    }
    let mut out = Vec::new();
    for &(name, value) in items.iter().take(within).filter(|(name, _)| wanted(name)) {
        if scope != MatchScope::Value {
            out.push(Cow::Borrowed(name));
        }
        if scope != MatchScope::Key {
            out.push(Cow::Borrowed(value));
        }
    }
    Extracted::Values(out)
}

/// A JSON body's keys and scalar values, at `paths` or everywhere.
fn json<'v>(body: &'v [u8], paths: Option<&[String]>, scope: MatchScope, invalid: InvalidFallback) -> Extracted<'v> {
    if body.trim_ascii().is_empty() {
        return Extracted::Values(Vec::new());
    }
    let doc: Value = match serde_json::from_slice(body) {
        Ok(doc) => doc,
        Err(_) => {
            return match invalid {
                InvalidFallback::Match => Extracted::Match("invalid JSON"),
                InvalidFallback::NoMatch => Extracted::NoMatch,
                InvalidFallback::EvaluateAsString => Extracted::Values(vec![Cow::Borrowed(body)]),
            }
        }
    };
    let mut stack: Vec<&Value> = match paths {
        None => vec![&doc],
        // Reversed so that the first path is inspected first.
        Some(paths) => paths.iter().rev().filter_map(|p| doc.pointer(p)).collect(),
    };
    let mut out = Vec::new();
    while let Some(value) = stack.pop() {
        let scalar = match value {
            Value::Object(map) => {
                stack.extend(map.values().rev());
                if scope != MatchScope::Value {
                    out.extend(map.keys().map(|k| Cow::Owned(k.as_bytes().to_vec())));
                }
                continue;
            }
            Value::Array(items) => {
                stack.extend(items.iter().rev());
                continue;
            }
            Value::String(s) => s.as_bytes().to_vec(),
            other => other.to_string().into_bytes(),
        };
        if scope != MatchScope::Key {
            out.push(Cow::Owned(scalar));
        }
    }
    Extracted::Values(out)
}

/// At most this many headers or cookies are inspected (AWS's limit).
const MAX_ITEMS: usize = 200;
/// At most this many bytes of header or cookie names and values are inspected (AWS's limit).
const MAX_BYTES: usize = 8 * 1024;

#[cfg(test)]
mod tests;
