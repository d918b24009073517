//! JSON Web Tokens from an OpenID provider (reference §4): parsing the compact form, the
//! provider's signing keys (a JWKS), and the checks a JWT authorizer makes before it trusts a
//! token's claims.
//!
//! ```text
//!   "h.p.s" ──▶ Token::parse ──▶ alg allowed? key-location headers refused
//!                                   │
//!   JWKS ──▶ KeySet::parse ──▶ key by kid ──▶ signature (ring) ──▶ Policy::check(claims)
//! ```
//!
//! Written on `ring`, which the gateway already builds for TLS: the `jsonwebtoken` crate
//! wants either `aws-lc-rs` (a C build) or RustCrypto's `rsa`, whose private-key operations
//! have an open timing advisory. The compact serialisation is small; what matters is refusing
//! everything outside the narrow path, and a fuzz target holds the parser to that.

mod claims;
mod keys;
mod provider;
mod token;
mod verified;

pub use claims::{Claims, Policy};
pub use keys::{KeySet, KeysError};
pub use provider::{KeyCache, KeyDecision, Timing};
pub use token::{Algorithm, Token};
pub use verified::{Verified, VerifiedTokens};

/// Why a token is refused. Each maps to the `error_description` of the `www-authenticate`
/// answer, and none carries the token or a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Not three base64url parts, or a part is not what it should be.
    #[error("the token is malformed")]
    Malformed,
    /// `alg` is `none`, an HMAC algorithm, or not one the authorizer allows.
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    /// The header names a key location (`jku`, `x5u`, `jwk`) or critical extensions (`crit`).
    #[error("the token's header is not accepted")]
    Header,
    /// No key of the issuer has the token's `kid` (and algorithm).
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    Signature,
    /// `iss` is not a trusted issuer.
    #[error("the token's issuer is not trusted")]
    Issuer,
    /// Neither `aud` nor `client_id` is an allowed audience.
    #[error("the token does not have a valid audience")]
    Audience,
    /// `exp` is missing or passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `token_use` is not the one the authorizer takes.
    #[error("the token is not of the expected use")]
    TokenUse,
    /// A required claim is missing or has another value.
    #[error("the token does not have a required claim")]
    Claim,
    /// None of the route's scopes is in the token's `scope` or `scp`.
    #[error("the token does not have the required scope")]
    Scope,
    /// The sign-in session the token belongs to was revoked (one of the gateway's own pools).
    #[error("the token has been revoked")]
    Revoked,
}

/// The token in an `Authorization`-style header value: the value itself, or what follows
/// `Bearer ` (any case), trimmed.
pub fn bearer(value: &str) -> &str {
    let value = value.trim();
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => value[7..].trim_start(),
        _ => value,
    }
}

/// A fingerprint of a JWT authorizer's settings and the API it belongs to: verified tokens
/// are cached under it, so a changed setting never reuses a verdict made under the old one.
pub fn fingerprint(api: &str, authorizer: &model::JwtAuthorizerConfig) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update(api.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(authorizer).unwrap_or_default());
    h.finalize().into()
}

/// The longest token accepted, in bytes (headers carry them; 8 KiB is more than any provider
/// issues and bounds the work on a forged one).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

#[cfg(test)]
mod tests;
