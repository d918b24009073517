//! The admin routes. Health, readiness and the OpenAPI document are open; everything else
//! needs a SigV4 signature of an IAM principal whose policies allow the route's action.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{header, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::json;

use store::{AnyStore, NewAuditRecord, Outcome, Store};

use crate::auth::{aws_error, Authed, Peer};
use crate::control::{Control, ReloadOutcome};

/// Shared state of the admin handlers.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) control: Arc<dyn Control>,
    pub(crate) store: AnyStore,
    pub(crate) directory: Arc<directory::Directory>,
    /// API keys, shared with the data plane so that a change applies to its next request.
    pub(crate) api_keys: Arc<directory::ApiKeys>,
    /// Alarms and the metrics they read.
    pub(crate) alarms: Arc<alarms::Alarms>,
    /// Budget for audit records of refused anonymous writes, so that a flood of them cannot
    /// grow the audit table without bound: (window start, records written in it).
    pub(crate) anonymous_budget: Arc<Mutex<(Instant, u32)>>,
}

impl AppState {
    /// Whether another refused anonymous write may be audited now (at most
    /// `ANONYMOUS_AUDITS_PER_MINUTE` a minute; the rest are only logged).
    pub(crate) fn may_audit_anonymous(&self) -> bool {
        let mut b = self.anonymous_budget.lock();
        if b.0.elapsed() >= Duration::from_secs(60) {
            *b = (Instant::now(), 0);
        }
        b.1 += 1;
        b.1 <= ANONYMOUS_AUDITS_PER_MINUTE
    }
}

const ANONYMOUS_AUDITS_PER_MINUTE: u32 = 60;

/// The admin API as an axum router.
pub fn router(
    control: Arc<dyn Control>,
    directory: Arc<directory::Directory>,
    api_keys: Arc<directory::ApiKeys>,
    alarms: Arc<alarms::Alarms>,
) -> Router {
    let state = AppState {
        control,
        store: directory.store().clone(),
        directory,
        api_keys,
        alarms,
        anonymous_budget: Arc::new(Mutex::new((Instant::now(), 0))),
    };
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/waf/sampled-requests", get(waf_samples))
        .route("/config", get(config))
        .route("/reload", post(reload))
        .route("/audit", get(audit))
        .route("/audit/verify", get(verify_audit))
        .merge(crate::iam::routes())
        .merge(crate::keys::routes())
        .merge(crate::pools::routes())
        .merge(crate::certs::routes())
        .merge(crate::logs::routes())
        .merge(crate::alarm_routes::routes())
        .merge(crate::cluster::routes())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::sigv4_layer));
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/openapi.json", get(openapi))
        .route("/audit/public-key", get(public_key))
        .merge(protected)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found") })
        .with_state(state)
}

/// The router as a hyper service for one connection from `peer`.
pub fn service(
    router: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl std::future::Future<Output = Result<Response, std::convert::Infallible>> + Send,
> + Clone
       + Send {
    hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(Peer(peer));
        tower::ServiceExt::oneshot(router.clone(), req)
    })
}

/// A JSON error body like the gateway's own: `{"message": "..."}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

async fn health(State(s): State<AppState>) -> Response {
    Json(json!({ "status": "ok", "node": s.control.node_name(), "config_version": s.control.config_version() }))
        .into_response()
}

async fn ready(State(s): State<AppState>) -> Response {
    match s.store.ping().await {
        Ok(()) => Json(json!({ "status": "ready", "store": s.store.kind() })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: store unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "reason": "store" })))
                .into_response()
        }
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], OPENAPI).into_response()
}

async fn metrics(who: Authed, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:GetMetrics", &s.arn("gateway", "metrics")).await {
        return r;
    }
    let ct = HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8");
    ([(header::CONTENT_TYPE, ct)], s.control.metrics()).into_response()
}

/// `GET /waf/sampled-requests` parameters.
#[derive(Debug, serde::Deserialize)]
struct SampleQuery {
    web_acl: String,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    max: Option<usize>,
}

async fn waf_samples(who: Authed, State(s): State<AppState>, Query(q): Query<SampleQuery>) -> Response {
    let arn = s.arn("waf", &format!("webacl/{}", q.web_acl));
    if let Err(r) = s.authorize(&who, "portcullis:GetSampledRequests", &arn).await {
        return r;
    }
    let max = q.max.unwrap_or(100).clamp(1, 500);
    match s.control.waf_samples(&q.web_acl, q.rule.as_deref(), max) {
        Some(samples) => Json(json!({ "web_acl": q.web_acl, "samples": samples })).into_response(),
        None => aws_error(StatusCode::NOT_FOUND, "NotFoundException", &format!("no web ACL named {:?}", q.web_acl)),
    }
}

async fn config(who: Authed, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:GetConfig", &s.arn("gateway", "config")).await {
        return r;
    }
    Json(s.control.running_config()).into_response()
}

async fn reload(who: Authed, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:ReloadConfig", &s.arn("gateway", "config")).await {
        return r;
    }
    let outcome = s.control.reload(&who.actor).await;
    let status = match outcome {
        ReloadOutcome::Reloaded { .. } => StatusCode::OK,
        ReloadOutcome::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    };
    (status, Json(outcome)).into_response()
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_limit")]
    limit: u32,
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    /// `json` (default) or `jsonl`: one record per line, for export.
    #[serde(default)]
    format: Option<String>,
}

fn default_limit() -> u32 {
    100
}

async fn audit(who: Authed, Query(q): Query<AuditQuery>, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:ListAuditRecords", &s.arn("audit", "trail")).await {
        return r;
    }
    let search = store::AuditSearch {
        after: q.after,
        limit: q.limit.min(10_000),
        actor: q.actor.filter(|v| !v.is_empty()),
        action: q.action.filter(|v| !v.is_empty()),
        target: q.target.filter(|v| !v.is_empty()),
        from_ms: q.from_ms,
        to_ms: q.to_ms,
    };
    let jsonl = q.format.as_deref() == Some("jsonl");
    match s.store.search_audit(&search).await {
        Ok(records) => {
            let records: Vec<_> = records
                .into_iter()
                .map(|r| {
                    json!({
                        "seq": r.seq,
                        "time_ms": r.record.time_ms,
                        "actor": r.record.actor,
                        "access_key_id": r.record.access_key_id,
                        "source_ip": r.record.source_ip,
                        "user_agent": r.record.user_agent,
                        "action": r.record.action,
                        "target": r.record.target,
                        "parameters": r.record.parameters,
                        "outcome": r.record.outcome.as_str(),
                        "detail": r.record.detail,
                        "prev_hash": r.prev_hash,
                        "hash": r.hash,
                    })
                })
                .collect();
            if jsonl {
                let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
                return ([(header::CONTENT_TYPE, "application/x-ndjson")], lines).into_response();
            }
            Json(json!({ "records": records })).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "audit listing failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
    }
}

#[derive(Deserialize)]
struct VerifyQuery {
    from: Option<i64>,
    to: Option<i64>,
}

/// Walks the hash chain of `from..=to` (default: the whole trail) and names every break:
/// changed, deleted, inserted or reordered records, or a tail cut off.
async fn verify_audit(who: Authed, Query(q): Query<VerifyQuery>, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:VerifyAuditTrail", &s.arn("audit", "trail")).await {
        return r;
    }
    match verify_range(&s, q.from, q.to).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "audit verification failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
    }
}

/// The audit signing key's public half, as a JWK set: anyone may check the digests.
async fn public_key(State(s): State<AppState>) -> Response {
    match crate::digest::SigningKey::load(&s.store, s.directory.kms(), crate::auth::now_ms()).await {
        Ok(key) => Json(json!({ "keys": [key.jwk()] })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the audit signing key is unavailable");
            error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
    }
}

async fn verify_range(
    s: &AppState,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<serde_json::Value, store::StoreError> {
    let store = &s.store;
    use store::audit_chain::{verify, GENESIS};
    let (head_seq, head_hash) = store.audit_head().await?;
    let from = from.unwrap_or(1).max(1);
    let to = to.unwrap_or(head_seq).min(head_seq);
    let records = store.audit_range(from, to).await?;
    // The record before the stretch anchors it; before the first, the chain's start. Numbers
    // are contiguous, so a missing anchor was deleted: said, then the stretch checked as is.
    let mut gone = None;
    let anchor = match store.audit_record(from - 1).await? {
        Some(r) => r.hash,
        None if from <= 1 => GENESIS.to_owned(),
        None => {
            gone = Some(store::audit_chain::Finding::Deleted { from: from - 1, to: from - 1 });
            records.first().map(|r| r.prev_hash.clone()).unwrap_or_default()
        }
    };
    let head = (to == head_seq).then_some((head_seq, head_hash.as_str()));
    let mut v = verify(&records, &anchor, head);
    v.findings.splice(0..0, gone);
    let mut findings: Vec<String> = v.findings.iter().map(ToString::to_string).collect();
    let digests = records.iter().filter(|r| r.record.action == crate::digest::DIGEST_ACTION).count();
    match crate::digest::SigningKey::load(store, s.directory.kms(), crate::auth::now_ms()).await {
        Ok(key) => findings.extend(crate::digest::check_digests(&records, (from, to), &key)),
        Err(e) => findings.push(format!("the digests cannot be checked: {e}")),
    }
    Ok(json!({
        "from": from,
        "to": to,
        "checked": v.checked,
        "unchained": v.unchained,
        "digests": digests,
        "intact": findings.is_empty(),
        "findings": findings,
        "head": { "seq": head_seq, "hash": head_hash },
    }))
}

/// Who did something, as an audit record names them.
#[derive(Clone, Debug, Default)]
pub struct AuditActor {
    /// The principal's ARN, or `anonymous`, `system`, `system:sighup`…
    pub arn: String,
    /// The access key id the request was signed with.
    pub access_key_id: String,
    /// The client address.
    pub source_ip: String,
    /// The client's `User-Agent`.
    pub user_agent: String,
    /// The request's query and JSON body, secrets removed ([`crate::redact::parameters`]).
    pub parameters: String,
}

impl AuditActor {
    /// An actor that is not a signed request: the process itself, or an anonymous caller.
    pub fn named(arn: &str) -> Self {
        Self { arn: arn.to_owned(), ..Self::default() }
    }
}

/// Appends an audit record, logging (not failing) when the store refuses it.
pub async fn write_audit(
    store: &AnyStore,
    who: &AuditActor,
    action: &str,
    target: &str,
    outcome: Outcome,
    detail: String,
) {
    let rec = NewAuditRecord {
        time_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        actor: who.arn.clone(),
        access_key_id: who.access_key_id.clone(),
        source_ip: who.source_ip.clone(),
        user_agent: who.user_agent.clone(),
        action: action.to_owned(),
        target: target.to_owned(),
        parameters: who.parameters.clone(),
        outcome,
        detail,
    };
    if let Err(e) = store.append_audit(&rec).await {
        tracing::error!(error = %e, action, "could not write the audit record");
    }
}

const OPENAPI: &str = include_str!("openapi.json");
