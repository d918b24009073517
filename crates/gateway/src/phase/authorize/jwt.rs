//! `auth: jwt`: a token of a trusted OpenID provider (reference §4.3).
//!
//! ```text
//!   token in the identity header (bare or `Bearer …`)?           no → 401
//!   verified before (same authorizer, same text, not expired,
//!     its key still published)?                                  yes → skip to scopes
//!   parse: three parts, allowed alg, no jku/x5u/jwk/crit         no → 401 invalid_token
//!   provider by `iss`, then key by `kid` (fetched if unknown)    no keys ever → 500
//!   signature, then iss, aud/client_id, exp, nbf/iat, token_use,
//!     required claims                                            no → 401 invalid_token
//!   one of our pools' tokens: its session (origin_jti) revoked?  yes → 401 invalid_token
//!   one of the route's scopes                                    no → 403 insufficient_scope
//! ```
//!
//! Refusals carry RFC 6750's `WWW-Authenticate: Bearer error=…, error_description=…`; the
//! description is the rejection's fixed text, never the token or its claims.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Request};
use identity::jwt::{self as jwt, Rejection, Token, Verified, VerifiedTokens};
use model::ResponseType;

use crate::body::ReqBody;
use crate::ctx::RequestCtx;
use crate::flow::Flow;
use crate::reject::Reject;
use crate::runtime::{IssuerKeys, JwtAuthorizer, Runtime};

/// Checks the request's token with the API's JWT authorizer `index`.
pub(super) async fn check(
    rt: &Runtime,
    cx: &mut RequestCtx,
    req: &Request<ReqBody>,
    index: usize,
) -> Result<Flow, Reject> {
    let started = Instant::now();
    let mut source = "none";
    let result = decide(rt, cx, req, index, &mut source).await;
    let outcome = cx.authorizer.get_or_insert_with(Box::default);
    outcome.latency = started.elapsed();
    if let Err(rej) = &result {
        outcome.error.get_or_insert_with(|| rej.context.to_string());
    }
    let label = match &result {
        Ok(_) => "allow",
        Err(r) if r.kind == ResponseType::Unauthorized => "unauthorized",
        Err(r) if r.kind == ResponseType::AccessDenied => "forbidden",
        Err(_) => "configuration_error",
    };
    rt.metrics.jwt_authorizer(source, label);
    result
}

async fn decide(
    rt: &Runtime,
    cx: &mut RequestCtx,
    req: &Request<ReqBody>,
    index: usize,
    source: &mut &'static str,
) -> Result<Flow, Reject> {
    let (Some(api_index), Some(api)) = (cx.api, cx.api(rt)) else {
        return Err(Reject::internal(ResponseType::ApiConfigurationError, "authorizer without an API"));
    };
    let (Some(spec), Some(az)) = (api.jwt_authorizers.get(index), rt.jwt_authorizer(api_index, index)) else {
        return Err(Reject::internal(ResponseType::AuthorizerConfigurationError, "no such JWT authorizer"));
    };
    let scopes = cx.route.and_then(|r| api.route_scopes.get(r)).map_or(&[][..], Vec::as_slice);
    let Some(value) = req.headers().get(&spec.header) else {
        cx.www_authenticate = Some(HeaderValue::from_static("Bearer"));
        return Err(Reject::client(ResponseType::Unauthorized, "no token in the identity header"));
    };
    let token = jwt::bearer(value.to_str().unwrap_or(""));
    if token.is_empty() {
        return Err(invalid(cx, Rejection::Malformed));
    }
    let now_s = u64::try_from(crate::time_fmt::epoch_ms(cx.time) / 1000).unwrap_or(u64::MAX);
    let key = VerifiedTokens::key(&az.fingerprint, token);
    let verified = match rt.verified.get(&key, now_s).filter(|v| still_published(az, v)) {
        Some(v) => {
            *source = "cache";
            v
        }
        None => {
            *source = "verified";
            let v = Arc::new(verify(rt, az, token, now_s).await.map_err(|e| e.into_reject(cx))?);
            let until = v.claims.expires_s().saturating_add(spec.clock_skew.as_secs());
            rt.verified.insert(key, v.clone(), until, now_s);
            v
        }
    };
    if !session_holds(rt, az, &verified, cx.time).await.map_err(|e| e.into_reject(cx))? {
        return Err(invalid(cx, Rejection::Revoked));
    }
    let outcome = cx.authorizer.get_or_insert_with(Box::default);
    outcome.jwt = Some(verified.clone());
    if let Err(e) = verified.claims.check_scopes(scopes) {
        cx.www_authenticate = challenge("insufficient_scope", &e, Some(scopes));
        return Err(Reject::client(ResponseType::AccessDenied, "the token lacks the route's scopes")
            .because(e)
            .saying("Forbidden", None));
    }
    Ok(Flow::Continue)
}

/// Why a token could not be verified.
enum Failure {
    /// The token is refused.
    Refused(Rejection),
    /// The issuer's keys could not be had.
    NoKeys(crate::jwks::NoKeys),
    /// The gateway's own pool could not be opened.
    Pool(identity::pool::PoolError),
}

impl Failure {
    fn into_reject(self, cx: &mut RequestCtx) -> Reject {
        match self {
            Self::Refused(r) => invalid(cx, r),
            Self::NoKeys(e) => Reject::internal(
                ResponseType::AuthorizerConfigurationError,
                "the issuer's signing keys could not be fetched",
            )
            .because(e),
            Self::Pool(e) => {
                Reject::internal(ResponseType::AuthorizerConfigurationError, "the user pool could not be opened")
                    .because(e)
            }
        }
    }
}

/// Parses and verifies `text` against the authorizer's issuers.
async fn verify(rt: &Runtime, az: &JwtAuthorizer, text: &str, now_s: u64) -> Result<Verified, Failure> {
    let token = Token::parse(text).map_err(Failure::Refused)?;
    if !az.algorithms.contains(&token.alg) {
        return Err(Failure::Refused(Rejection::Algorithm));
    }
    // The provider by `iss` first, then the key by `kid` (field lessons B.12): two providers
    // may well publish the same `kid`.
    let iss = token.claims.get("iss").and_then(serde_json::Value::as_str);
    let issuer = az
        .policies
        .iter()
        .position(|p| p.issuers.iter().any(|i| Some(i.as_str()) == iss))
        .ok_or(Failure::Refused(Rejection::Issuer))?;
    let (Some(source), Some(policy)) = (az.keys.get(issuer), az.policies.get(issuer)) else {
        return Err(Failure::Refused(Rejection::Issuer));
    };
    let keys = match source {
        IssuerKeys::Remote(provider) => {
            provider.keys_for(token.kid.as_deref(), &rt.metrics).await.map_err(Failure::NoKeys)?
        }
        IssuerKeys::Pool(slot) => {
            let now_ms = i64::try_from(now_s.saturating_mul(1000)).unwrap_or(i64::MAX);
            let pool = slot.get(&rt.directory, now_ms).await.map_err(Failure::Pool)?;
            pool.keys_for(token.kid.as_deref(), now_ms).await
        }
    };
    keys.verify(&token).map_err(Failure::Refused)?;
    let kid = token.kid.clone();
    let claims = policy.check(token.claims, now_s, &[]).map_err(Failure::Refused)?;
    Ok(Verified { claims, issuer, kid })
}

/// Whether the sign-in session of a token of one of the gateway's own pools (its `origin_jti`)
/// still holds: sign-out, a disabled user or a changed password void the session's tokens at
/// once. Other issuers' tokens, and tokens of no session (client credentials), hold.
async fn session_holds(
    rt: &Runtime,
    az: &JwtAuthorizer,
    v: &Verified,
    now: std::time::SystemTime,
) -> Result<bool, Failure> {
    let (Some(IssuerKeys::Pool(slot)), Some(family)) = (az.keys.get(v.issuer), v.claims.str("origin_jti")) else {
        return Ok(true);
    };
    let now_ms = i64::try_from(crate::time_fmt::epoch_ms(now)).unwrap_or(i64::MAX);
    let pool = slot.get(&rt.directory, now_ms).await.map_err(Failure::Pool)?;
    pool.session_active(family).await.map_err(Failure::Pool)
}

/// Whether the key that verified a cached token is still published: a key the provider
/// withdrew stops vouching for tokens at once, not when they expire.
fn still_published(az: &JwtAuthorizer, v: &Verified) -> bool {
    let keys = match az.keys.get(v.issuer) {
        Some(IssuerKeys::Remote(p)) => p.current(),
        Some(IssuerKeys::Pool(slot)) => slot.opened().map(|pool| pool.signer().keys().clone()),
        None => None,
    };
    keys.is_some_and(|keys| v.kid.as_deref().is_none_or(|kid| keys.has_kid(kid)))
}

/// A refused token: 401, with the reason in the challenge and `$context.authorizer.error`.
fn invalid(cx: &mut RequestCtx, why: Rejection) -> Reject {
    cx.www_authenticate = challenge("invalid_token", &why, None);
    cx.authorizer.get_or_insert_with(Box::default).error = Some(why.to_string());
    Reject::client(ResponseType::Unauthorized, "the token was refused").because(why)
}

/// `Bearer error="…", error_description="…"[, scope="…"]`.
fn challenge(error: &str, why: &Rejection, scopes: Option<&[String]>) -> Option<HeaderValue> {
    let mut text = format!("Bearer error=\"{error}\", error_description=\"{why}\"");
    if let Some(scopes) = scopes {
        // Scopes were checked at config load to hold no quotes or spaces.
        text.push_str(&format!(", scope=\"{}\"", scopes.join(" ")));
    }
    HeaderValue::from_str(&text).ok()
}
