//! The config published to the store and the nodes serving it: `POST /config/versions`
//! checks a config against this node's own settings, stores it as the next version and serves
//! it here at once (every other node follows its change feed); `GET /config/versions` lists
//! the versions; `GET /cluster/nodes` lists the nodes' heartbeats.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use store::{ClusterStore as _, Outcome};

use crate::auth::{aws_error, now_ms, Authed};
use crate::routes::{write_audit, AppState};

/// A node not heard from for this many heartbeats is shown as `stale`.
const STALE_BEATS: i64 = 3;
/// The largest config document accepted.
const MAX_DOCUMENT: usize = 4 << 20;

/// The routes, behind the SigV4 layer.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/config/versions", get(history).post(publish)).route("/cluster/nodes", get(nodes))
}

/// `POST /config/versions` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewVersion {
    /// The config file's text.
    document: String,
    /// The file's name, for error messages.
    #[serde(default)]
    name: Option<String>,
    /// A note kept with the version.
    #[serde(default)]
    comment: String,
}

async fn publish(who: Authed, State(s): State<AppState>, Json(new): Json<NewVersion>) -> Response {
    let target = s.arn("gateway", "config");
    if let Err(r) = s.authorize(&who, "portcullis:PublishConfig", &target).await {
        return r;
    }
    if new.document.len() > MAX_DOCUMENT || new.comment.len() > 1024 {
        return aws_error(StatusCode::PAYLOAD_TOO_LARGE, "ValidationError", "the document or comment is too long");
    }
    // Compiling reads the node's own file and builds every route table: off the runtime's
    // threads.
    let (control, name, document) =
        (s.control.clone(), new.name.clone().unwrap_or_else(|| "published config".into()), new.document.clone());
    let checked = tokio::task::spawn_blocking(move || control.check_published(&name, &document))
        .await
        .unwrap_or_else(|e| Err(vec![format!("the config check stopped: {e}")]));
    if let Err(errors) = checked {
        let detail = errors.join("; ");
        write_audit(&s.store, &who.actor, "config.publish", &target, Outcome::Failure, detail).await;
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "status": "refused", "errors": errors })))
            .into_response();
    }
    let sha256 = hex::encode(Sha256::digest(new.document.as_bytes()));
    let version = match s.store.config_publish(&new.document, &sha256, &who.actor.arn, &new.comment, now_ms()).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "cannot publish a config version");
            let detail = format!("the store failed: {e}");
            write_audit(&s.store, &who.actor, "config.publish", &target, Outcome::Failure, detail).await;
            return aws_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
                "the store is unavailable",
            );
        }
    };
    let detail = format!("version {version}, sha256 {sha256}");
    write_audit(&s.store, &who.actor, "config.publish", &target, Outcome::Success, detail).await;
    let served = s.control.serve_published(version, new.document).await;
    let body = json!({
        "version": version,
        "sha256": sha256,
        "served_here": served.is_ok(),
        "errors": served.err().into_iter().collect::<Vec<_>>(),
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    #[serde(default = "default_limit")]
    limit: u32,
}

const fn default_limit() -> u32 {
    20
}

async fn history(who: Authed, State(s): State<AppState>, Query(q): Query<HistoryQuery>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:ListConfigVersions", &s.arn("gateway", "config")).await {
        return r;
    }
    match s.store.config_history(q.limit.min(1000)).await {
        Ok(versions) => {
            let versions: Vec<_> = versions
                .into_iter()
                .map(|v| {
                    json!({
                        "version": v.version,
                        "sha256": v.sha256,
                        "author": v.author,
                        "comment": v.comment,
                        "created_ms": v.created_ms,
                    })
                })
                .collect();
            Json(json!({ "serving": s.control.config_version(), "versions": versions })).into_response()
        }
        Err(e) => unavailable(&e),
    }
}

async fn nodes(who: Authed, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:ListNodes", &s.arn("gateway", "nodes")).await {
        return r;
    }
    let (nodes, latest) = match (s.store.nodes().await, s.store.config_latest().await) {
        (Ok(n), Ok(l)) => (n, l.map_or(0, |v| v.version)),
        (Err(e), _) | (_, Err(e)) => return unavailable(&e),
    };
    let now = now_ms();
    let stale_after_ms = s.control.heartbeat_ms().saturating_mul(STALE_BEATS);
    let nodes: Vec<_> = nodes
        .into_iter()
        .map(|n| {
            json!({
                "name": n.name,
                "address": n.address,
                "config_version": n.config_version,
                "current": n.config_version == latest,
                "build": n.build,
                "started_ms": n.started_ms,
                "seen_ms": n.seen_ms,
                "seen_secs_ago": (now - n.seen_ms).max(0) / 1000,
                "stale": now - n.seen_ms > stale_after_ms,
            })
        })
        .collect();
    Json(json!({ "latest_version": latest, "nodes": nodes })).into_response()
}

fn unavailable(e: &store::StoreError) -> Response {
    tracing::warn!(error = %e, "admin API: store unavailable");
    aws_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableException", "the store is unavailable")
}
