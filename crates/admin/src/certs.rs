//! The certificate inventory of the admin API: every certificate in service (files, ACME,
//! imports) with its issuer and expiry; and imports — a chain and private key sent once, the
//! key sealed by the KMS in the store, served at once by this node and within a minute by
//! the others. Neither PEM ever reaches the audit trail.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use store::{CertificateSource, Outcome, Store as _, StoredCertificate};

use crate::auth::{aws_error, now_ms, Authed};
use crate::control::CertView;
use crate::routes::{write_audit, AppState};

/// The routes, all behind the SigV4 layer.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/certificates", get(list))
        .route("/certificates/{name}", get(describe).put(import).delete(delete))
}

fn cert_arn(s: &AppState, name: &str) -> String {
    s.arn("certificates", &format!("certificate/{name}"))
}

fn view_json(c: &CertView, now: i64) -> Value {
    json!({
        "name": c.name,
        "source": c.source,
        "issuer": c.issuer,
        "not_after_ms": c.not_after_ms,
        "days_left": (c.not_after_ms - now).div_euclid(86_400_000),
        "updated_at_ms": c.updated_at_ms,
    })
}

fn stored_view(c: &StoredCertificate) -> CertView {
    CertView {
        name: c.name.clone(),
        source: c.source.as_str().to_owned(),
        issuer: c.issuer.clone(),
        not_after_ms: c.not_after_ms,
        updated_at_ms: Some(c.updated_at_ms),
    }
}

async fn inventory(s: &AppState) -> Result<Vec<CertView>, Response> {
    let stored = s
        .store
        .certificates()
        .await
        .map_err(|e| aws_error(StatusCode::INTERNAL_SERVER_ERROR, "ServiceFailure", &e.to_string()))?;
    let mut all = s.control.file_certificates();
    all.extend(stored.iter().map(stored_view));
    all.sort_by_key(|c| c.not_after_ms);
    Ok(all)
}

async fn list(who: Authed, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:GetCertificates", &cert_arn(&s, "*")).await {
        return r;
    }
    let now = now_ms();
    match inventory(&s).await {
        Ok(all) => Json(json!({ "items": all.iter().map(|c| view_json(c, now)).collect::<Vec<_>>() })).into_response(),
        Err(r) => r,
    }
}

async fn describe(who: Authed, State(s): State<AppState>, Path(name): Path<String>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:GetCertificates", &cert_arn(&s, &name)).await {
        return r;
    }
    let now = now_ms();
    match inventory(&s).await {
        Ok(all) => match all.iter().find(|c| c.name.split(',').any(|n| n.eq_ignore_ascii_case(&name))) {
            Some(c) => Json(view_json(c, now)).into_response(),
            None => aws_error(StatusCode::NOT_FOUND, "NotFoundException", &format!("no certificate for {name}")),
        },
        Err(r) => r,
    }
}

/// An import: the chain (leaf first) and its private key, as PEM.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Import {
    certificate: String,
    private_key: String,
}

async fn import(
    who: Authed,
    State(s): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<Import>,
) -> Response {
    let target = cert_arn(&s, &name);
    if let Err(r) = s.authorize(&who, "portcullis:ImportCertificate", &target).await {
        return r;
    }
    let result = store_import(&s, &name, &body).await;
    let (outcome, detail) = match &result {
        Ok(c) => (Outcome::Success, format!("issuer {}, not after {} ms", c.issuer, c.not_after_ms)),
        Err((_, e)) => (Outcome::Failure, e.clone()),
    };
    write_audit(&s.store, &who.actor, "certificates.ImportCertificate", &target, outcome, detail).await;
    match result {
        Ok(c) => Json(view_json(&stored_view(&c), now_ms())).into_response(),
        Err((Refused::Invalid, e)) => aws_error(StatusCode::BAD_REQUEST, "ValidationError", &e),
        Err((Refused::Unavailable, e)) => aws_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", &e),
    }
}

/// Why an import was refused: the client's certificate, or the gateway's store or KMS.
enum Refused {
    Invalid,
    Unavailable,
}

/// Checks and serves the certificate, then stores it; if storing fails, this node stops
/// serving it again, so nodes never disagree for long.
async fn store_import(s: &AppState, name: &str, body: &Import) -> Result<StoredCertificate, (Refused, String)> {
    if !model::is_host_pattern(name) {
        return Err((Refused::Invalid, format!("`{name}` is not a host name (or `*.` and one)")));
    }
    let name = name.to_ascii_lowercase();
    let (issuer, not_after_ms) = s
        .control
        .install_certificate(&name, &body.certificate, &body.private_key)
        .map_err(|e| (Refused::Invalid, e))?;
    let stored = seal_and_store(s, &name, body, issuer, not_after_ms).await;
    if stored.is_err() {
        s.control.remove_certificate(&name);
    }
    stored.map_err(|e| (Refused::Unavailable, e))
}

async fn seal_and_store(
    s: &AppState,
    name: &str,
    body: &Import,
    issuer: String,
    not_after_ms: i64,
) -> Result<StoredCertificate, String> {
    let name = name.to_owned();
    let ctx = directory::certificate_key_context(&name);
    let key_enc = s.directory.kms().seal_text(&ctx, body.private_key.as_bytes()).map_err(|e| e.to_string())?;
    let stored = StoredCertificate {
        name,
        cert_pem: body.certificate.clone(),
        key_enc,
        source: CertificateSource::Import,
        issuer,
        not_after_ms,
        updated_at_ms: now_ms(),
    };
    s.store.put_certificate(&stored).await.map_err(|e| e.to_string())?;
    Ok(stored)
}

async fn delete(who: Authed, State(s): State<AppState>, Path(name): Path<String>) -> Response {
    let target = cert_arn(&s, &name);
    if let Err(r) = s.authorize(&who, "portcullis:DeleteCertificate", &target).await {
        return r;
    }
    let name = name.to_ascii_lowercase();
    let result = s.store.delete_certificate(&name).await;
    let (outcome, detail) = match &result {
        Ok(true) => (Outcome::Success, String::new()),
        Ok(false) => (Outcome::Failure, "no such certificate in the store".to_owned()),
        Err(e) => (Outcome::Failure, e.to_string()),
    };
    write_audit(&s.store, &who.actor, "certificates.DeleteCertificate", &target, outcome, detail).await;
    match result {
        Ok(true) => {
            s.control.remove_certificate(&name);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => {
            aws_error(StatusCode::NOT_FOUND, "NotFoundException", &format!("no stored certificate for {name}"))
        }
        Err(e) => aws_error(StatusCode::INTERNAL_SERVER_ERROR, "ServiceFailure", &e.to_string()),
    }
}
