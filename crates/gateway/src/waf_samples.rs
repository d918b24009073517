//! Sampled requests of each web ACL, for the admin API (AWS WAF's `GetSampledRequests`): every
//! request a rule decided (blocked, challenged, counted, allowed by a rule) and at most one
//! request the default action let through per 100 ms (so that sampling costs nothing at a
//! high request rate), the last 500 per ACL, in memory. What could be a
//! secret is redacted before it is kept: the values of credential headers, of query
//! arguments with secret-like names, and the matched excerpt when it comes from either.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

/// At most this many samples are kept per web ACL.
const PER_ACL: usize = 500;
/// At most one default-action decision per this many milliseconds is sampled.
const DEFAULT_EVERY_MS: i64 = 100;
/// Headers kept in a sample; others are listed by name only.
const KEPT: [&str; 8] =
    ["host", "user-agent", "content-type", "content-length", "referer", "origin", "accept", "x-forwarded-for"];
/// Words that make a header, argument or cookie name secret-like.
const SECRET_WORDS: [&str; 12] = [
    "authorization",
    "cookie",
    "token",
    "secret",
    "passw",
    "pwd",
    "session",
    "signature",
    "api-key",
    "apikey",
    "credential",
    "key",
];

/// The sampled requests of every web ACL.
#[derive(Debug, Default)]
pub struct WafSamples {
    by_acl: Mutex<HashMap<String, VecDeque<Sample>>>,
    /// When the last default-action decision was sampled (ms since the epoch).
    last_default_ms: AtomicI64,
}

/// One sampled request.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    /// When it arrived.
    pub time_ms: i64,
    /// The client's address.
    pub client_ip: IpAddr,
    /// The method.
    pub method: String,
    /// The path and the query, secret-like argument values redacted.
    pub uri: String,
    /// Headers: kept ones with their values, credential ones redacted, others by name.
    pub headers: Vec<(String, String)>,
    /// `ALLOW`, `BLOCK`, `COUNT` (a count rule ended nothing) or `CHALLENGE`.
    pub action: &'static str,
    /// The rule that decided; `-` for the default action.
    pub rule: String,
    /// Labels the matching rules added.
    pub labels: Vec<String>,
    /// The field the deciding rule matched (`QUERY_STRING`, `INPUT`, `IP`, ...).
    pub matched_field: String,
    /// What it matched, at most 64 characters, redacted when it comes from a secret.
    pub matched_value: String,
}

/// What the WAF phase knows of a decision.
pub(crate) struct Decision<'a> {
    pub(crate) acl: &'a str,
    pub(crate) action: &'static str,
    pub(crate) rule: Option<&'a str>,
    pub(crate) labels: &'a [String],
    pub(crate) matched: Option<(&'a str, &'a str)>,
}

impl WafSamples {
    /// Keeps a sample of this request, if it is one to keep.
    pub(crate) fn record(
        &self,
        d: &Decision<'_>,
        ip: IpAddr,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) {
        let time_ms = limits::now_us() / 1000;
        if d.rule.is_none() && !self.default_due(time_ms) {
            return;
        }
        let headers = headers
            .iter()
            .map(|(n, v)| {
                let name = n.as_str();
                let value = if secret(name) {
                    "<redacted>".to_owned()
                } else if KEPT.contains(&name) {
                    String::from_utf8_lossy(v.as_bytes()).chars().take(256).collect()
                } else {
                    "<not kept>".to_owned()
                };
                (name.to_owned(), value)
            })
            .collect();
        let (field, value) = d.matched.unwrap_or(("", ""));
        let from_secret = value.split(':').next().is_some_and(|where_| where_.split(' ').any(secret));
        let sample = Sample {
            time_ms,
            client_ip: ip,
            method: method.to_string(),
            uri: redact_uri(uri),
            headers,
            action: d.action,
            rule: d.rule.unwrap_or("-").to_owned(),
            labels: d.labels.to_vec(),
            matched_field: field.to_owned(),
            matched_value: if from_secret { "<redacted>".to_owned() } else { value.to_owned() },
        };
        let mut by_acl = self.by_acl.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = by_acl.entry(d.acl.to_owned()).or_default();
        if list.len() >= PER_ACL {
            list.pop_front();
        }
        list.push_back(sample);
    }

    /// Whether a default-action decision at `now_ms` is sampled: the first of each period.
    fn default_due(&self, now_ms: i64) -> bool {
        let last = self.last_default_ms.load(Ordering::Relaxed);
        now_ms >= last.saturating_add(DEFAULT_EVERY_MS)
            && self.last_default_ms.compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// The newest samples of `acl` first, only those of `rule` when given, at most `max`.
    pub fn list(&self, acl: &str, rule: Option<&str>, max: usize) -> Vec<Sample> {
        let by_acl = self.by_acl.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        by_acl
            .get(acl)
            .map(|l| l.iter().rev().filter(|s| rule.is_none_or(|r| s.rule == r)).take(max).cloned().collect())
            .unwrap_or_default()
    }
}

/// Whether a name looks like it holds a secret.
fn secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// The path and query with the values of secret-like arguments replaced.
fn redact_uri(uri: &http::Uri) -> String {
    let Some(query) = uri.query() else { return uri.path().to_owned() };
    let args: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if secret(name) => format!("{name}=<redacted>"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{}?{}", uri.path(), args.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_the_newest_come_first() {
        let samples = WafSamples::default();
        let req = http::Request::builder()
            .uri("/login?user=ann&password=hunter2&next=%2F")
            .header("authorization", "Bearer abc")
            .header("user-agent", "ua/1")
            .header("x-custom", "v")
            .body(())
            .map(|r| r.into_parts().0)
            .unwrap_or_else(|_| unreachable!());
        let ip = IpAddr::from([203, 0, 113, 9]);
        for (rule, matched) in [("a", ("INPUT", "QUERY password: ' or 1=1")), ("b", ("INPUT", "QUERY user: <script>"))]
        {
            let d = Decision { acl: "main", action: "BLOCK", rule: Some(rule), labels: &[], matched: Some(matched) };
            samples.record(&d, ip, &req.method, &req.uri, &req.headers);
        }
        let list = samples.list("main", None, 10);
        assert_eq!(list.iter().map(|s| s.rule.as_str()).collect::<Vec<_>>(), vec!["b", "a"]);
        let a = &list[1];
        assert_eq!(a.uri, "/login?user=ann&password=<redacted>&next=%2F");
        assert_eq!(a.matched_value, "<redacted>");
        assert_eq!(list[0].matched_value, "QUERY user: <script>");
        let h: HashMap<_, _> = a.headers.iter().cloned().collect();
        assert_eq!(
            (h["authorization"].as_str(), h["user-agent"].as_str(), h["x-custom"].as_str()),
            ("<redacted>", "ua/1", "<not kept>")
        );
        assert_eq!(samples.list("main", Some("a"), 10).len(), 1);
        assert!(samples.list("other", None, 10).is_empty());
    }

    #[test]
    fn default_action_is_sampled_once_per_period() {
        let samples = WafSamples::default();
        let due: Vec<bool> = [1_000, 1_050, 1_099, 1_100, 1_150, 1_300].map(|t| samples.default_due(t)).to_vec();
        assert_eq!(due, [true, false, false, true, false, true]);
    }
}
