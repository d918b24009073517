//! Custom authorizers (reference §3): a function reached over HTTP(S) decides, with the same
//! event and answer formats as an API Gateway Lambda authorizer, so an existing Lambda
//! authorizer's code runs unchanged behind any HTTP wrapper.
//!
//! ```text
//!   identity sources ──▶ cache key (HMAC) ──▶ cache: node ─▶ Redis (sealed) ─▶ call function
//!                                                           (one call per key at a time)
//!   answer ──▶ Verdict: Policy | Simple | Unauthorized ──▶ the gateway evaluates the policy
//!                                                         against each request's method ARN
//! ```

pub mod answer;
mod cache;
pub mod event;

pub use answer::{parse_answer, CacheHint, CallError, Verdict};
pub use cache::{CacheKey, Called, DecisionCache, Resolved, Source};
pub use event::{ClientCertFacts, Event, RequestFacts};

/// The name of the server secret (sealed by the KMS, the same on every node sharing the store)
/// under which cache keys are computed and shared entries sealed.
pub const CACHE_SECRET: &str = "authorizer-cache";

/// A fingerprint of an authorizer's settings and the API it belongs to: cached answers are
/// keyed on it, so a reload that changes the authorizer starts a fresh cache, and every node
/// with the same config shares one.
pub fn fingerprint(api: &str, authorizer: &model::AuthorizerConfig) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update(api.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(authorizer).unwrap_or_default());
    h.finalize().into()
}
