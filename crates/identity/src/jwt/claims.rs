//! The checks of a token's claims (reference §4.3) and the claims a route then sees.

use serde_json::{Map, Value};

use super::Rejection;

/// What an authorizer requires of a token's claims.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// `iss` must equal one of these exactly.
    pub issuers: Vec<String>,
    /// `aud` (one of its values), or `client_id` when there is no `aud`, must be one of these.
    /// Empty: any audience.
    pub audiences: Vec<String>,
    /// `token_use` must be this (`access` or `id`, for user-pool tokens), when set.
    pub token_use: Option<String>,
    /// Leeway for `exp`, `nbf` and `iat`, in seconds.
    pub clock_skew_s: u64,
    /// Claims that must be present with exactly these string values.
    pub required: Vec<(String, String)>,
}

/// The claims of a token that passed every check.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims(pub Map<String, Value>);

impl Policy {
    /// Checks `claims` at `now_s` (seconds since the epoch) against this policy and, when
    /// `scopes` is not empty, requires one of them in the token's `scope` (space-separated) or
    /// `scp` (a string or an array). The order is the order of AWS's checks, so that a token
    /// wrong in several ways gets the same answer as there.
    pub fn check(&self, claims: Map<String, Value>, now_s: u64, scopes: &[String]) -> Result<Claims, Rejection> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if !text("iss").is_some_and(|iss| self.issuers.iter().any(|i| i == iss)) {
            return Err(Rejection::Issuer);
        }
        if !self.audiences.is_empty() && !self.audience_ok(&claims) {
            return Err(Rejection::Audience);
        }
        let time = |name: &str| claims.get(name).and_then(Value::as_f64);
        let now = now_s as f64;
        let skew = self.clock_skew_s as f64;
        match time("exp") {
            Some(exp) if exp + skew > now => {}
            _ => return Err(Rejection::Expired),
        }
        if ["nbf", "iat"].iter().any(|name| time(name).is_some_and(|t| t > now + skew)) {
            return Err(Rejection::NotYetValid);
        }
        if let Some(expected) = &self.token_use {
            if text("token_use") != Some(expected.as_str()) {
                return Err(Rejection::TokenUse);
            }
        }
        if self.required.iter().any(|(name, value)| text(name) != Some(value.as_str())) {
            return Err(Rejection::Claim);
        }
        let claims = Claims(claims);
        claims.check_scopes(scopes)?;
        Ok(claims)
    }

    fn audience_ok(&self, claims: &Map<String, Value>) -> bool {
        let allowed = |v: &str| self.audiences.iter().any(|a| a == v);
        match claims.get("aud") {
            Some(Value::String(aud)) => allowed(aud),
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(allowed),
            // AWS checks `client_id` only when there is no `aud` (Cognito access tokens).
            None => claims.get("client_id").and_then(Value::as_str).is_some_and(allowed),
            Some(_) => false,
        }
    }
}

/// The scopes a token grants: `scope` split on spaces, or `scp` as a string or an array.
fn token_scopes(claims: &Map<String, Value>) -> impl Iterator<Item = &str> {
    let scope = claims.get("scope").and_then(Value::as_str).into_iter().flat_map(str::split_ascii_whitespace);
    let scp: Box<dyn Iterator<Item = &str>> = match claims.get("scp") {
        Some(Value::String(s)) => Box::new(s.split_ascii_whitespace()),
        Some(Value::Array(a)) => Box::new(a.iter().filter_map(Value::as_str)),
        _ => Box::new(std::iter::empty()),
    };
    scope.chain(scp)
}

impl Claims {
    /// A claim as `$context.authorizer.claims.NAME` gives it: a string as it is, anything else
    /// as its JSON text (`cognito:groups` → `["admins","staff"]`).
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// A string claim as it is, borrowed (no copy on the request path).
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// The scopes the token grants.
    pub fn scopes(&self) -> Vec<&str> {
        token_scopes(&self.0).collect()
    }

    /// When `scopes` is not empty, one of them must be granted.
    pub fn check_scopes(&self, scopes: &[String]) -> Result<(), Rejection> {
        if scopes.is_empty() || token_scopes(&self.0).any(|s| scopes.iter().any(|r| r == s)) {
            return Ok(());
        }
        Err(Rejection::Scope)
    }

    /// Whether the token is still within `exp` (plus `clock_skew_s`) at `now_s`.
    pub fn unexpired(&self, now_s: u64, clock_skew_s: u64) -> bool {
        self.0.get("exp").and_then(Value::as_f64).is_some_and(|exp| exp + clock_skew_s as f64 > now_s as f64)
    }

    /// `exp`, in seconds since the epoch (checked present by [`Policy::check`]).
    pub fn expires_s(&self) -> u64 {
        self.0.get("exp").and_then(Value::as_f64).map_or(0, |e| e.max(0.0) as u64)
    }
}
