//! What a custom authorizer answered (reference §3.5): a policy with a principal, a simple
//! yes/no (payload 2.0), or "Unauthorized".
//!
//! The function's HTTP answer is read the way a Lambda wrapper produces it:
//! - HTTP 401, or a Lambda error object whose `errorMessage` is exactly `Unauthorized` (what
//!   `callback("Unauthorized")` or `raise Exception('Unauthorized')` become) → Unauthorized;
//! - any other Lambda error object (`{"errorMessage": …}`, or the `X-Amz-Function-Error`
//!   header of Lambda's Invoke API), or a non-2xx status → the function failed;
//! - otherwise the body is the function's return value, which must have the documented shape.

use std::time::Duration;

use http::HeaderMap;
use iam::policy::Policy;
use model::PayloadFormat;
use serde_json::{Map, Value};

/// The most an answer may hold; a policy for a whole API is a few kilobytes.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What the function decided.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A principal and a policy, evaluated against each request's method ARN.
    Policy {
        /// `principalId`.
        principal_id: String,
        /// `policyDocument`, parsed.
        policy: Policy,
        /// `context`.
        context: Map<String, Value>,
        /// `usageIdentifierKey`: the API key, when the API's key source is `AUTHORIZER`.
        usage_key: Option<String>,
    },
    /// `{"isAuthorized": …}` (payload 2.0 with simple responses).
    Simple {
        /// `isAuthorized`.
        authorized: bool,
        /// `context`.
        context: Map<String, Value>,
    },
    /// The caller is not authenticated: 401.
    Unauthorized,
}

/// Why there is no verdict. Never cached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The function ran and reported a failure (`AUTHORIZER_FAILURE`).
    #[error("the authorizer function failed: {0}")]
    Failure(String),
    /// The function could not be called, did not answer in time, or answered something that
    /// is not a valid authorizer answer (`AUTHORIZER_CONFIGURATION_ERROR`).
    #[error("the authorizer is misconfigured or unreachable: {0}")]
    Configuration(String),
}

/// What the function's `Cache-Control` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheHint {
    /// The longest the answer may be cached (`no-store`, `no-cache`: zero), if it said.
    pub max_age: Option<Duration>,
}

// === impl Verdict ===

impl Verdict {
    /// `principalId`, if the answer has one.
    pub fn principal_id(&self) -> Option<&str> {
        match self {
            Self::Policy { principal_id, .. } => Some(principal_id),
            _ => None,
        }
    }

    /// The `context` map (empty for Unauthorized).
    pub fn context(&self) -> Option<&Map<String, Value>> {
        match self {
            Self::Policy { context, .. } | Self::Simple { context, .. } => Some(context),
            Self::Unauthorized => None,
        }
    }
}

// === impl CacheHint ===

impl CacheHint {
    /// Reads `Cache-Control`: `no-store` and `no-cache` forbid caching, `max-age=N` caps it.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut hint = Self::default();
        for directive in headers.get_all(http::header::CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()) {
            for d in directive.split(',').map(|d| d.trim().to_ascii_lowercase()) {
                let age = match d.as_str() {
                    "no-store" | "no-cache" => Some(0),
                    _ => d.strip_prefix("max-age=").and_then(|n| n.trim_matches('"').parse::<u64>().ok()),
                };
                if let Some(secs) = age {
                    let secs = Duration::from_secs(secs);
                    hint.max_age = Some(hint.max_age.map_or(secs, |m| m.min(secs)));
                }
            }
        }
        hint
    }

    /// `ttl`, shortened to what the function allowed.
    pub fn cap(self, ttl: Duration) -> Duration {
        self.max_age.map_or(ttl, |m| m.min(ttl))
    }
}

/// Reads the function's answer (see the module doc for the rules).
pub fn parse_answer(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    format: PayloadFormat,
    simple: bool,
) -> Result<Verdict, CallError> {
    if status == 401 {
        return Ok(Verdict::Unauthorized);
    }
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let function_error = headers.contains_key("x-amz-function-error");
    if let Some(message) = json.as_ref().and_then(|v| v.get("errorMessage")) {
        let is_answer =
            json.as_ref().is_some_and(|v| v.get("principalId").is_some() || v.get("isAuthorized").is_some());
        if function_error || !is_answer {
            if message.as_str() == Some("Unauthorized") {
                return Ok(Verdict::Unauthorized);
            }
            let kind = json.as_ref().and_then(|v| v.get("errorType")).and_then(Value::as_str).unwrap_or("Error");
            return Err(CallError::Failure(format!("{kind}: {}", shorten(&message.to_string()))));
        }
    }
    if function_error {
        return Err(CallError::Failure("X-Amz-Function-Error without an error object".into()));
    }
    if !(200..300).contains(&status) {
        return Err(CallError::Failure(format!("the function answered HTTP {status}")));
    }
    let Some(Value::Object(answer)) = json else {
        return Err(CallError::Configuration("the answer is not a JSON object".into()));
    };
    let context = context_of(&answer, format)?;
    if simple {
        let Some(authorized) = answer.get("isAuthorized").and_then(Value::as_bool) else {
            return Err(CallError::Configuration("a simple answer needs a boolean `isAuthorized`".into()));
        };
        return Ok(Verdict::Simple { authorized, context });
    }
    let Some(principal_id) = answer.get("principalId").and_then(Value::as_str) else {
        return Err(CallError::Configuration("the answer has no string `principalId`".into()));
    };
    let Some(document) = answer.get("policyDocument").filter(|d| d.is_object()) else {
        return Err(CallError::Configuration("the answer has no `policyDocument` object".into()));
    };
    let policy = Policy::from_value(document).map_err(|e| {
        let at = if e.path.is_empty() { String::new() } else { format!(" at {}", e.path) };
        CallError::Configuration(format!("policyDocument{at}: {}", e.message))
    })?;
    let usage_key = match answer.get("usageIdentifierKey") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(CallError::Configuration("`usageIdentifierKey` must be a string".into())),
    };
    Ok(Verdict::Policy { principal_id: principal_id.to_owned(), policy, context, usage_key })
}

/// The `context` map. Payload 1.0 allows only strings, numbers and booleans as values, as
/// REST APIs do; 2.0 allows any JSON.
fn context_of(answer: &Map<String, Value>, format: PayloadFormat) -> Result<Map<String, Value>, CallError> {
    let context = match answer.get("context") {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(c)) => c,
        Some(_) => return Err(CallError::Configuration("`context` must be an object".into())),
    };
    if format == PayloadFormat::V1 {
        if let Some((key, _)) = context.iter().find(|(_, v)| !(v.is_string() || v.is_number() || v.is_boolean())) {
            return Err(CallError::Configuration(format!(
                "context value `{}` is not a string, number or boolean",
                shorten(key)
            )));
        }
    }
    Ok(context.clone())
}

/// At most 200 characters of text that goes into a log line.
fn shorten(s: &str) -> String {
    s.chars().take(200).collect()
}

/// A context value as text: strings as they are, other JSON as JSON (REST renders every value
/// as a string).
pub fn context_text(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::String(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW: &str = r#"{"principalId":"user-7","policyDocument":{"Version":"2012-10-17","Statement":[
        {"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:*:*:pets/*/GET/*"}]},
        "context":{"tenant":"acme","tier":3,"beta":true},"usageIdentifierKey":"k-123456789012345678901"}"#;

    fn parse(status: u16, body: &str) -> Result<Verdict, CallError> {
        parse_answer(status, &HeaderMap::new(), body.as_bytes(), PayloadFormat::V1, false)
    }

    #[test]
    fn a_policy_answer_is_read_whole() {
        let Ok(Verdict::Policy { principal_id, policy, context, usage_key }) = parse(200, ALLOW) else {
            panic!("not a policy")
        };
        assert_eq!(principal_id, "user-7");
        assert_eq!(policy.statement_count(), 1);
        assert_eq!(context["tier"], 3);
        assert_eq!(usage_key.as_deref(), Some("k-123456789012345678901"));
    }

    #[test]
    fn unauthorized_comes_from_a_401_or_the_lambda_error_text() {
        assert!(matches!(parse(401, ""), Ok(Verdict::Unauthorized)));
        assert!(matches!(
            parse(200, r#"{"errorMessage":"Unauthorized","errorType":"Error"}"#),
            Ok(Verdict::Unauthorized)
        ));
        assert!(matches!(parse(502, r#"{"errorMessage":"Unauthorized"}"#), Ok(Verdict::Unauthorized)));
        // Only the exact text: anything else is the function failing.
        assert!(matches!(parse(200, r#"{"errorMessage":"unauthorized"}"#), Err(CallError::Failure(_))));
    }

    #[test]
    fn function_errors_and_bad_statuses_are_failures() {
        let e = parse(200, r#"{"errorMessage":"boom","errorType":"TypeError"}"#);
        assert_eq!(e.err(), Some(CallError::Failure("TypeError: \"boom\"".into())));
        assert!(matches!(parse(500, "oops"), Err(CallError::Failure(_))));
        let mut h = HeaderMap::new();
        h.insert("x-amz-function-error", http::HeaderValue::from_static("Unhandled"));
        let e =
            parse_answer(200, &h, br#"{"principalId":"x","errorMessage":"Task timed out"}"#, PayloadFormat::V1, false);
        assert!(matches!(e, Err(CallError::Failure(_))));
    }

    #[test]
    fn malformed_answers_are_configuration_errors() {
        for body in [
            "not json",
            "[1]",
            r#"{"policyDocument":{"Version":"2012-10-17","Statement":[]}}"#,
            r#"{"principalId":"u"}"#,
            r#"{"principalId":"u","policyDocument":{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}}"#,
            r#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[]},"context":{"o":{"a":1}}}"#,
            r#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[]},"usageIdentifierKey":5}"#,
        ] {
            assert!(matches!(parse(200, body), Err(CallError::Configuration(_))), "{body}");
        }
    }

    #[test]
    fn simple_answers_and_nested_context_in_2_0() {
        let body = br#"{"isAuthorized":true,"context":{"roles":["a","b"]}}"#;
        let v = parse_answer(200, &HeaderMap::new(), body, PayloadFormat::V2, true);
        let Ok(Verdict::Simple { authorized: true, context }) = v else { panic!("not simple") };
        assert_eq!(context_text(&context["roles"]), r#"["a","b"]"#);
        let v = parse_answer(200, &HeaderMap::new(), br#"{"isAuthorized":"yes"}"#, PayloadFormat::V2, true);
        assert!(matches!(v, Err(CallError::Configuration(_))));
    }

    #[test]
    fn cache_control_caps_the_ttl() {
        let mut h = HeaderMap::new();
        h.insert("cache-control", http::HeaderValue::from_static("private, max-age=30"));
        assert_eq!(CacheHint::from_headers(&h).cap(Duration::from_secs(300)), Duration::from_secs(30));
        assert_eq!(CacheHint::from_headers(&h).cap(Duration::from_secs(10)), Duration::from_secs(10));
        h.insert("cache-control", http::HeaderValue::from_static("no-store"));
        assert_eq!(CacheHint::from_headers(&h).cap(Duration::from_secs(300)), Duration::ZERO);
        assert_eq!(CacheHint::from_headers(&HeaderMap::new()).cap(Duration::from_secs(300)), Duration::from_secs(300));
    }
}
