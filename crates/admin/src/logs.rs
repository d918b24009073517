//! Keys for reading encrypted access-log segments: the CLI sends a segment's wrapped data key
//! with the node and segment names from its header, and gets the data key back if the caller
//! may `portcullis:DecryptLogs` that segment, as KMS `Decrypt` does. The segments themselves
//! never pass through the admin API, so they can be read wherever they were copied to; every
//! key handed out is in the audit trail.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use store::Outcome;

use crate::auth::{aws_error, Authed};
use crate::routes::{write_audit, AppState};

/// The routes, behind the SigV4 layer.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/logs/data-key", post(data_key))
}

/// A segment's header fields that name its key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRequest {
    node: String,
    segment: String,
    key: String,
}

async fn data_key(who: Authed, State(s): State<AppState>, Json(req): Json<KeyRequest>) -> Response {
    let segment_ok = req.segment.strip_prefix("access-").is_some_and(|rest| {
        rest.len() <= 128 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    });
    if !model::is_node_name(&req.node) || !segment_ok {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "node and segment must be names from a segment header",
        );
    }
    let target = s.arn("logs", &format!("segment/{}/{}", req.node, req.segment));
    if let Err(r) = s.authorize(&who, "portcullis:DecryptLogs", &target).await {
        return r;
    }
    let ctx = telemetry::segment::context(&req.node, &req.segment);
    let key = kms::from_text(&req.key).and_then(|w| s.directory.kms().read(|k| k.unwrap_data_key(&ctx, &w)));
    let outcome = if key.is_ok() { Outcome::Success } else { Outcome::Failure };
    let detail = match &key {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    write_audit(&s.store, &who.actor, "logs.DecryptDataKey", &target, outcome, detail).await;
    match key {
        Ok(key) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(key.expose());
            Json(json!({ "key": b64 })).into_response()
        }
        Err(e) => aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidCiphertextException",
            &format!("the segment's key does not open with this gateway's KMS under its node and segment names: {e}"),
        ),
    }
}
