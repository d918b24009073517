//! Admin authentication and authorisation: every protected route needs a request signed
//! with SigV4 (service `portcullis`, the configured region) by an IAM principal of the
//! gateway, and that principal's policies must allow the route's `portcullis:*` action on its
//! `arn:portcullis:…` resource. Refused writes are audited.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use directory::{AuthError, Caller};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use iam::policy::{Decision, RequestContext};
use iam::sigv4::{self, Expect, SigV4Error};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use store::Outcome;

use crate::routes::{error, write_audit, AppState, AuditActor};

/// The service name in the credential scope of admin requests.
pub const SERVICE: &str = "portcullis";

/// Admin request bodies are small JSON documents.
const MAX_BODY: usize = 1024 * 1024;

/// The client address of an admin connection, set by the server for each connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// How admin signatures are checked; the binary takes it from the `iam` config section.
#[derive(Debug, Clone)]
pub struct SigningSettings {
    /// The region clients sign for.
    pub region: String,
    /// The clock window, seconds.
    pub skew_secs: i64,
    /// Echo the canonical request on a mismatch (debugging clients only).
    pub debug: bool,
}

/// An authenticated admin caller.
#[derive(Debug, Clone)]
pub(crate) struct Authed {
    pub(crate) caller: Arc<Caller>,
    pub(crate) ip: String,
    /// The caller as audit records name it.
    pub(crate) actor: AuditActor,
}

impl Authed {
    /// The caller's ARN, the actor of audit records.
    pub(crate) fn arn(&self) -> &str {
        &self.caller.principal.arn
    }
}

/// Verifies the signature of every request to a protected route.
pub(crate) async fn sigv4_layer(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let ip = parts.extensions.get::<Peer>().map(|p| p.0.ip().to_string()).unwrap_or_default();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "Request Too Long");
    };
    let settings = s.control.signing_settings();
    match verify(&s, &parts, &bytes, &settings).await {
        Ok(caller) => {
            let actor = AuditActor {
                arn: caller.principal.arn.clone(),
                access_key_id: caller.access_key_id.clone(),
                source_ip: ip.clone(),
                user_agent: parts
                    .headers
                    .get(http::header::USER_AGENT)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).chars().take(256).collect())
                    .unwrap_or_default(),
                parameters: crate::redact::parameters(parts.uri.query(), &bytes),
            };
            let mut req = Request::from_parts(parts, Body::from(bytes));
            req.extensions_mut().insert(Authed { caller, ip, actor });
            next.run(req).await
        }
        Err(AuthError::Unavailable) => {
            aws_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableException", "Service Unavailable")
        }
        Err(AuthError::Refused(e)) => {
            tracing::warn!(peer = %ip, path = %parts.uri.path(), error = %e, "admin API: refused a request");
            if parts.method != http::Method::GET && s.may_audit_anonymous() {
                // A refused attempt to change something is part of the audit trail too.
                let action = format!("admin.{}", parts.uri.path().trim_start_matches('/'));
                let who = AuditActor { source_ip: ip.clone(), ..AuditActor::named("anonymous") };
                write_audit(&s.store, &who, &action, parts.uri.path(), Outcome::Failure, e.to_string()).await;
            }
            let message = if settings.debug { e.debug_message() } else { e.to_string() };
            aws_error(StatusCode::FORBIDDEN, e.kind().error_type(), &message)
        }
    }
}

async fn verify(
    s: &AppState,
    parts: &Parts,
    body: &[u8],
    settings: &SigningSettings,
) -> Result<Arc<Caller>, AuthError> {
    let view = sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        authority: parts.uri.authority().map(|a| a.as_str()),
    };
    let sig = sigv4::parse(&view)?;
    let now_ms = now_ms();
    let expect = Expect { region: &settings.region, service: SERVICE, skew_secs: settings.skew_secs };
    sig.check_scope(&expect, now_ms / 1000)?;
    let caller = s.directory.authenticate(&sig, now_ms).await?;
    let hash = hex::encode(Sha256::digest(body));
    if let Some(declared) = sigv4::declared_payload_hash(&parts.headers)? {
        if declared != hash {
            return Err(SigV4Error::PayloadMismatch.into());
        }
    }
    sig.verify(&view, &hash, &caller.signing_key(&sig.scope))?;
    s.directory.record_use(&caller, now_ms);
    Ok(caller)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An error with AWS's shape: `{"message": …}` and `x-amzn-ErrorType`.
pub(crate) fn aws_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let mut resp = (status, Json(json!({ "message": message }))).into_response();
    if let Ok(v) = HeaderValue::from_str(error_type) {
        resp.headers_mut().insert("x-amzn-errortype", v);
    }
    resp
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        // Only routes behind `sigv4_layer` take this; without it the route is misconfigured.
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            aws_error(StatusCode::FORBIDDEN, "MissingAuthenticationTokenException", "Missing Authentication Token")
        })
    }
}

// === impl AppState ===

impl AppState {
    /// The ARN of an admin resource: `arn:portcullis:AREA::ACCOUNT:RESOURCE`.
    pub(crate) fn arn(&self, area: &str, resource: &str) -> String {
        format!("arn:portcullis:{area}::{}:{resource}", self.directory.account_id())
    }

    /// Evaluates the caller's policies for `action` on `resource`; a denial is answered 403
    /// and, for anything but a read, audited.
    pub(crate) async fn authorize(&self, who: &Authed, action: &str, resource: &str) -> Result<(), Response> {
        let mut req = RequestContext::new(action, resource).principal(Some(who.caller.principal.clone()));
        req.set("aws:SourceIp", [who.ip.clone()]);
        req.set("aws:SecureTransport", ["true"]);
        if who.caller.evaluate(&req) == Decision::Allow {
            return Ok(());
        }
        let message = format!("User: {} is not authorized to perform: {action} on resource: {resource}", who.arn());
        let read = ["portcullis:Get", "portcullis:List", "portcullis:Describe"].iter().any(|p| action.starts_with(p));
        if !read {
            write_audit(&self.store, &who.actor, action, resource, Outcome::Failure, "access denied".into()).await;
        }
        Err(aws_error(StatusCode::FORBIDDEN, "AccessDeniedException", &message))
    }
}
