//! The authorisation phase: SigV4 and IAM policies for `auth: iam` routes, and the API's
//! resource policy for every route of an API that has one (reference §1, §2).
//!
//! ```text
//!   auth: none, no resource policy  → continue
//!   auth: none + resource policy    → the policy must explicitly allow (anonymous caller)
//!   auth: iam                       → signature, then the caller's policies must allow
//!   auth: iam + resource policy     → Table A: either side's Allow, unless someone denies
//!   auth: custom                    → the authorizer's answer (see `custom`); with a resource
//!                                     policy, its explicit deny first, then Table A
//!   auth: jwt                       → a valid token (see `jwt`); then a resource policy, if
//!                                     any, must explicitly allow, as for `none`
//! ```
//!
//! Signature errors are the texts `execute-api` sends, under `INVALID_SIGNATURE`,
//! `MISSING_AUTHENTICATION_TOKEN` or `EXPIRED_TOKEN`; denials are `ACCESS_DENIED` with a
//! `Message` that names the caller, action, resource and reason.

use std::fmt::Write as _;
use std::sync::Arc;

use directory::{AuthError, Caller};
use http::Request;
use http_body::Body as _;
use iam::policy::{combine_same_account, evaluate_resource, Decision, RequestContext};
use iam::sigv4::{self, ErrorKind, Expect, SigV4Error};
use model::{CompiledAuth, ResponseType};
use sha2::{Digest as _, Sha256};

use limits::{Acquire, BucketCheck, Level};

use crate::body::ReqBody;
use crate::ctx::RequestCtx;
use crate::flow::Flow;
use crate::metering::FAILED_LOOKUPS;
use crate::reject::Reject;
use crate::runtime::Runtime;

mod custom;
mod jwt;

const ACTION: &str = "execute-api:Invoke";

/// Authenticates and authorises the request (see the module doc).
pub(crate) async fn check(rt: &Runtime, cx: &mut RequestCtx, req: &mut Request<ReqBody>) -> Result<Flow, Reject> {
    let (Some(api), Some(route)) = (cx.api(rt), cx.route) else { return Ok(Flow::Continue) };
    let Some(&auth) = api.route_auth.get(route) else {
        return Err(Reject::internal(ResponseType::ApiConfigurationError, "route without an authorisation setting"));
    };
    if let Some(demand) = api.route_client_cert.get(route).and_then(Option::as_ref) {
        check_client_cert(cx, demand)?;
    }
    let resource_policy = api.resource_policy.as_ref();
    let caller = match auth {
        CompiledAuth::None if resource_policy.is_none() => return Ok(Flow::Continue),
        CompiledAuth::None => None,
        CompiledAuth::Iam => Some(authenticate(rt, cx, req).await?),
        CompiledAuth::Custom(index) => return custom::check(rt, cx, req, index).await,
        // The token first; then a resource policy, on its own, must allow (reference §2.4).
        CompiledAuth::Jwt(index) => {
            jwt::check(rt, cx, req, index).await?;
            if resource_policy.is_none() {
                return Ok(Flow::Continue);
            }
            None
        }
    };
    let arn = method_arn(rt, cx);
    let mut request = RequestContext::new(ACTION, &arn).principal(caller.as_ref().map(|c| c.principal.clone()));
    let read = |key: &str| {
        caller.as_ref().is_some_and(|c| c.policies.iter().any(|p| p.may_read(key)))
            || resource_policy.is_some_and(|p| p.may_read(key))
    };
    fill_condition_keys(cx, req, caller.as_deref(), &read, &mut request);
    let identity = caller.as_ref().map(|c| c.evaluate(&request));
    let resource = resource_policy.map(|p| evaluate_resource(p, &request));
    let decision = match (identity, resource) {
        (Some(i), Some(r)) => combine_same_account(i, r),
        (Some(i), None) => i,
        (None, Some(r)) => r,
        (None, None) => Decision::Allow,
    };
    // Denied callers are named in the access log too.
    cx.caller.clone_from(&caller);
    if decision != Decision::Allow {
        let who = caller.as_ref().map_or("anonymous", |c| c.principal.arn.as_str());
        let why = match (identity, resource) {
            (_, Some(Decision::ExplicitDeny)) => " with an explicit deny in a resource-based policy",
            (Some(Decision::ExplicitDeny), _) => " with an explicit deny in an identity-based policy",
            (None, _) => " because no resource-based policy allows the execute-api:Invoke action",
            (Some(_), _) => " because no identity-based policy allows the execute-api:Invoke action",
        };
        let message = format!("User: {who} is not authorized to perform: {ACTION} on resource: {arn}{why}");
        return Err(Reject::client(ResponseType::AccessDenied, "denied by IAM policy").saying(message, None));
    }
    Ok(Flow::Continue)
}

/// A route's `client_certificate`: a verified certificate (the domain's verifier checked its
/// chain, dates and CRLs), from an accepted issuer with an accepted SAN. Refused with 403, not
/// a handshake failure, so clients can read why.
fn check_client_cert(cx: &RequestCtx, demand: &model::RouteClientCert) -> Result<(), Reject> {
    let refuse = |why: &'static str, message: &'static str| {
        Err(Reject::client(ResponseType::AccessDenied, why).saying(message, None))
    };
    let Some(cert) = cx.client_cert.as_deref() else {
        return refuse("no client certificate", "A client certificate is required");
    };
    if !demand.accepts(&cert.issuer_dn, &cert.sans) {
        return refuse("client certificate not accepted by the route", "This client certificate is not accepted here");
    }
    Ok(())
}

/// Checks the SigV4 signature and returns the caller. The body is hashed as SigV4 requires:
/// against a signed `x-amz-content-sha256` as it streams, or else read whole (within the
/// body limit, and only once the access key is known) and hashed before the request goes on.
async fn authenticate(rt: &Runtime, cx: &RequestCtx, req: &mut Request<ReqBody>) -> Result<Arc<Caller>, Reject> {
    let refuse = |e: SigV4Error| signature_reject(rt, &e);
    let iam = &rt.compiled.config.iam;
    let sig = sigv4::parse(&view_of(req)).map_err(refuse)?;
    let now_ms = i64::try_from(crate::time_fmt::epoch_ms(cx.time)).unwrap_or(i64::MAX);
    let skew_secs = i64::try_from(iam.clock_skew.as_std().as_secs()).unwrap_or(300);
    let expect = Expect { region: &iam.region, service: "execute-api", skew_secs };
    sig.check_scope(&expect, now_ms / 1000).map_err(refuse)?;
    // A client whose unknown key ids have cost too many store reads gets no more of them.
    let read_from_store = !rt.directory.is_cached(&sig.access_key_id);
    let failed = BucketCheck { key: format!("sigv4:{}", cx.source_ip), limit: FAILED_LOOKUPS, level: Level::Client };
    let now_us = limits::now_us();
    if read_from_store && !rt.metering.failed_lookups.would_allow(&failed.key, FAILED_LOOKUPS, now_us) {
        return Err(refuse(SigV4Error::UnknownKey));
    }
    let caller = match rt.directory.authenticate(&sig, now_ms).await {
        Ok(c) => c,
        Err(AuthError::Refused(e)) => {
            if read_from_store && e == SigV4Error::UnknownKey {
                rt.metering.failed_lookups.acquire(&Acquire { buckets: vec![failed], quota: None }, now_us);
            }
            return Err(refuse(e));
        }
        Err(AuthError::Unavailable) => {
            return Err(Reject::internal(ResponseType::ApiConfigurationError, "IAM directory unavailable"));
        }
    };
    // A digest the signature does not cover proves nothing: the body is then hashed whole.
    let declared = if sig.signed_headers.iter().any(|h| h == "x-amz-content-sha256") {
        sigv4::declared_payload_hash(req.headers()).map_err(refuse)?
    } else {
        None
    };
    let payload_hash = match &declared {
        // An empty body is never polled, so its digest is checked here, not as it streams.
        Some(h) if req.body().is_end_stream() && h != sigv4::EMPTY_SHA256 => {
            return Err(refuse(SigV4Error::PayloadMismatch));
        }
        Some(h) => h.clone(),
        None if req.body().is_end_stream() => sigv4::EMPTY_SHA256.to_owned(),
        None => {
            let body = req.body_mut().buffer().await.map_err(|e| e.reject())?;
            hex::encode(Sha256::digest(&body))
        }
    };
    sig.verify(&view_of(req), &payload_hash, &caller.signing_key(&sig.scope)).map_err(refuse)?;
    if let Some(h) = declared {
        let mut want = [0u8; 32];
        hex::decode_to_slice(&h, &mut want).map_err(|_| refuse(SigV4Error::ContentSha256(h.clone())))?;
        req.body_mut().expect_sha256(want);
    }
    rt.directory.record_use(&caller, now_ms);
    Ok(caller)
}

fn view_of(req: &Request<ReqBody>) -> sigv4::Request<'_> {
    sigv4::Request {
        method: req.method().as_str(),
        path: req.uri().path(),
        query: req.uri().query(),
        headers: req.headers(),
        authority: req.uri().authority().map(|a| a.as_str()),
    }
}

/// The gateway response for a refused signature.
fn signature_reject(rt: &Runtime, e: &SigV4Error) -> Reject {
    let kind = match e.kind() {
        ErrorKind::MissingToken => ResponseType::MissingAuthenticationToken,
        ErrorKind::ExpiredToken => ResponseType::ExpiredToken,
        ErrorKind::Incomplete | ErrorKind::Invalid | ErrorKind::UnrecognizedClient => ResponseType::InvalidSignature,
    };
    let message = if rt.compiled.config.iam.signature_debug { e.debug_message() } else { e.to_string() };
    Reject::client(kind, "SigV4 signature refused").because(e.clone()).saying(message, Some(e.kind().error_type()))
}

/// `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`, the path relative to the stage.
fn method_arn(rt: &Runtime, cx: &RequestCtx) -> String {
    let iam = &rt.compiled.config.iam;
    let api = cx.api(rt).map_or("-", |a| a.name.as_str());
    let stage = cx.stage(rt).map_or("-", |s| s.name.as_str());
    let rest = cx.path.get(cx.rest_at..).unwrap_or("").trim_start_matches('/');
    let mut arn = String::with_capacity(64 + api.len() + rest.len());
    let _ = write!(arn, "arn:aws:execute-api:{}:{}:{api}/{stage}/{}/{rest}", iam.region, iam.account_id, cx.method);
    arn
}

/// The global condition keys API Gateway fills in (reference §2.4), each only when some
/// policy of the request may `read` it: most policies test none, and formatting times and
/// addresses is most of the cost of building them.
fn fill_condition_keys(
    cx: &RequestCtx,
    req: &Request<ReqBody>,
    caller: Option<&Caller>,
    read: &dyn Fn(&str) -> bool,
    ctx: &mut RequestContext,
) {
    if read("aws:SourceIp") {
        ctx.set("aws:SourceIp", [cx.source_ip.to_string()]);
    }
    if read("aws:SecureTransport") {
        ctx.set("aws:SecureTransport", ["true"]);
    }
    // The time is the request's arrival, the same for every policy of the request.
    if read("aws:EpochTime") {
        ctx.set("aws:EpochTime", [(crate::time_fmt::epoch_ms(cx.time) / 1000).to_string()]);
    }
    if read("aws:CurrentTime") {
        ctx.set("aws:CurrentTime", [crate::time_fmt::iso8601(cx.time)]);
    }
    for (key, header) in [("aws:UserAgent", http::header::USER_AGENT), ("aws:Referer", http::header::REFERER)] {
        if read(key) {
            if let Some(v) = req.headers().get(header).and_then(|v| v.to_str().ok()) {
                ctx.set(key, [v]);
            }
        }
    }
    // Portcullis's own keys for mutual TLS: the verified client certificate.
    if let Some(cert) = cx.client_cert.as_deref() {
        for (key, value) in [
            ("portcullis:ClientCertSubjectDN", &cert.subject_dn),
            ("portcullis:ClientCertIssuerDN", &cert.issuer_dn),
            ("portcullis:ClientCertSerialNumber", &cert.serial),
            ("portcullis:ClientCertFingerprint", &cert.fingerprint),
        ] {
            if read(key) {
                ctx.set(key, [value.as_str()]);
            }
        }
        if read("portcullis:ClientCertSAN") {
            ctx.set("portcullis:ClientCertSAN", cert.sans.iter().map(String::as_str));
        }
    }
    if let Some(issued) = caller.and_then(|c| c.issued_at_ms).filter(|_| read("aws:TokenIssueTime")) {
        ctx.set("aws:TokenIssueTime", [crate::time_fmt::iso8601_ms(issued)]);
    }
}
