//! The user-pool routes of the admin API: the pools of the running config, and their users —
//! created, read, listed, enabled, disabled, sent to reset their password, deleted, added to
//! and removed from the pool's groups (Cognito's `Admin*` operations). Every change is in the
//! audit trail; passwords never are.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use http::StatusCode;
use identity::pool::admin::{self, NewUser};
use identity::pool::PoolError;
use serde::Deserialize;
use serde_json::{json, Value};
use store::Outcome;

use crate::auth::{aws_error, now_ms, Authed};
use crate::routes::{write_audit, AppState};

/// The routes, all behind the SigV4 layer.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/user-pools", get(list_pools))
        .route("/user-pools/{pool}/users", get(list_users).post(create_user))
        .route("/user-pools/{pool}/users/{user}", get(get_user).patch(update_user).delete(delete_user))
        .route("/user-pools/{pool}/users/{user}/reset-password", post(reset_password))
        .route("/user-pools/{pool}/users/{user}/groups/{group}", put(add_to_group).delete(remove_from_group))
        .route("/user-pools/{pool}/signing-keys", post(rotate_key))
}

fn pool_arn(s: &AppState, pool: &str) -> String {
    s.arn("user-pools", &format!("userpool/{pool}"))
}

fn user_arn(s: &AppState, pool: &str, user: &str) -> String {
    s.arn("user-pools", &format!("userpool/{pool}/user/{user}"))
}

async fn list_pools(who: Authed, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:ListUserPools", &pool_arn(&s, "*")).await {
        return r;
    }
    let items: Vec<Value> = s
        .control
        .user_pools()
        .iter()
        .map(|p| {
            json!({"name": p.name, "issuer": p.issuer,
                   "clients": p.clients.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
                   "groups": p.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>()})
        })
        .collect();
    (StatusCode::OK, Json(json!({"items": items}))).into_response()
}

/// Runs `op` on the pool named `pool` of the running config, after `action` is authorised on
/// `target`; a change (`audit` set) is recorded whatever its outcome.
async fn with_pool<F, Fut>(
    who: &Authed,
    s: &AppState,
    pool: &str,
    (action, target): (&str, &str),
    audit: Option<&str>,
    ok: StatusCode,
    op: F,
) -> Response
where
    F: FnOnce(std::sync::Arc<model::UserPoolConfig>) -> Fut,
    Fut: std::future::Future<Output = Result<Value, PoolError>>,
{
    if let Err(r) = s.authorize(who, action, target).await {
        return r;
    }
    let Some(cfg) = s.control.user_pools().into_iter().find(|p| p.name == pool) else {
        return aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("User pool {pool} does not exist."),
        );
    };
    let result = op(cfg).await;
    if let Some(audit_action) = audit {
        let (outcome, detail) = match &result {
            Ok(_) => (Outcome::Success, String::new()),
            Err(e) => (Outcome::Failure, e.to_string()),
        };
        write_audit(&s.store, &who.actor, audit_action, target, outcome, detail).await;
    }
    match result {
        Ok(body) => (ok, Json(body)).into_response(),
        Err(e) => pool_error(&e),
    }
}

fn pool_error(e: &PoolError) -> Response {
    let status = match e {
        PoolError::UserNotFound | PoolError::GroupNotFound => StatusCode::NOT_FOUND,
        PoolError::UsernameExists => StatusCode::CONFLICT,
        PoolError::Internal(detail) => {
            tracing::error!(error = %detail, "admin API: user pool operation failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    aws_error(status, e.kind(), &e.to_string())
}

async fn list_users(who: Authed, State(s): State<AppState>, Path(pool): Path<String>) -> Response {
    let target = pool_arn(&s, &pool);
    let store = s.store.clone();
    with_pool(&who, &s, &pool, ("portcullis:ListPoolUsers", &target), None, StatusCode::OK, |cfg| async move {
        admin::list_users(&store, &cfg).await
    })
    .await
}

async fn create_user(
    who: Authed,
    State(s): State<AppState>,
    Path(pool): Path<String>,
    Json(body): Json<NewUser>,
) -> Response {
    let target = user_arn(&s, &pool, &body.username);
    let store = s.store.clone();
    let audit = Some("user-pools.AdminCreateUser");
    with_pool(&who, &s, &pool, ("portcullis:AdminCreateUser", &target), audit, StatusCode::CREATED, |cfg| async move {
        admin::create_user(&store, &cfg, body, now_ms()).await
    })
    .await
}

async fn get_user(who: Authed, State(s): State<AppState>, Path((pool, user)): Path<(String, String)>) -> Response {
    let target = user_arn(&s, &pool, &user);
    let store = s.store.clone();
    with_pool(&who, &s, &pool, ("portcullis:GetPoolUser", &target), None, StatusCode::OK, |cfg| async move {
        admin::get_user(&store, &cfg, &user).await
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    enabled: bool,
}

async fn update_user(
    who: Authed,
    State(s): State<AppState>,
    Path((pool, user)): Path<(String, String)>,
    Json(body): Json<Update>,
) -> Response {
    let target = user_arn(&s, &pool, &user);
    let store = s.store.clone();
    let (action, audit) = if body.enabled {
        ("portcullis:AdminEnableUser", "user-pools.AdminEnableUser")
    } else {
        ("portcullis:AdminDisableUser", "user-pools.AdminDisableUser")
    };
    let control = s.control.clone();
    with_pool(&who, &s, &pool, (action, &target), Some(audit), StatusCode::OK, |cfg| async move {
        let done = admin::set_enabled(&store, &cfg, &user, body.enabled, now_ms()).await;
        control.pool_sessions_revoked(&cfg.name);
        done
    })
    .await
}

async fn reset_password(
    who: Authed,
    State(s): State<AppState>,
    Path((pool, user)): Path<(String, String)>,
) -> Response {
    let target = user_arn(&s, &pool, &user);
    let store = s.store.clone();
    let audit = Some("user-pools.AdminResetUserPassword");
    let control = s.control.clone();
    with_pool(
        &who,
        &s,
        &pool,
        ("portcullis:AdminResetUserPassword", &target),
        audit,
        StatusCode::OK,
        |cfg| async move {
            let done = admin::require_reset(&store, &cfg, &user, now_ms()).await;
            control.pool_sessions_revoked(&cfg.name);
            done
        },
    )
    .await
}

async fn delete_user(who: Authed, State(s): State<AppState>, Path((pool, user)): Path<(String, String)>) -> Response {
    let target = user_arn(&s, &pool, &user);
    let store = s.store.clone();
    let audit = Some("user-pools.AdminDeleteUser");
    let control = s.control.clone();
    with_pool(&who, &s, &pool, ("portcullis:AdminDeleteUser", &target), audit, StatusCode::OK, |cfg| async move {
        let done = admin::delete_user(&store, &cfg, &user).await;
        control.pool_sessions_revoked(&cfg.name);
        done
    })
    .await
}

async fn add_to_group(
    who: Authed,
    State(s): State<AppState>,
    Path((pool, user, group)): Path<(String, String, String)>,
) -> Response {
    set_group(who, s, pool, user, group, true).await
}

async fn remove_from_group(
    who: Authed,
    State(s): State<AppState>,
    Path((pool, user, group)): Path<(String, String, String)>,
) -> Response {
    set_group(who, s, pool, user, group, false).await
}

async fn set_group(who: Authed, s: AppState, pool: String, user: String, group: String, member: bool) -> Response {
    let target = user_arn(&s, &pool, &user);
    let store = s.store.clone();
    let (action, audit) = if member {
        ("portcullis:AdminAddUserToGroup", "user-pools.AdminAddUserToGroup")
    } else {
        ("portcullis:AdminRemoveUserFromGroup", "user-pools.AdminRemoveUserFromGroup")
    };
    with_pool(&who, &s, &pool, (action, &target), Some(audit), StatusCode::OK, |cfg| async move {
        admin::set_group(&store, &cfg, &user, &group, member).await
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotation {
    /// A PKCS#8 PEM private key (RSA 2048-4096 bits, or P-256) to sign with from now on;
    /// without one, a new P-256 key is made. (Its name keeps it out of the audit record.)
    #[serde(default)]
    private_key_pem: Option<String>,
}

async fn rotate_key(
    who: Authed,
    State(s): State<AppState>,
    Path(pool): Path<String>,
    body: Option<Json<Rotation>>,
) -> Response {
    let target = pool_arn(&s, &pool);
    let (dir, control) = (s.directory.clone(), s.control.clone());
    let Json(body) = body.unwrap_or_default();
    let audit = Some("user-pools.RotateSigningKey");
    with_pool(&who, &s, &pool, ("portcullis:RotateSigningKey", &target), audit, StatusCode::OK, |cfg| async move {
        let overlap = i64::try_from(cfg.signing_key_overlap.as_std().as_millis()).unwrap_or(i64::MAX);
        let import = body.private_key_pem.as_deref().map(str::as_bytes);
        let kid = identity::pool::rotate(&dir, &cfg.name, import, overlap, now_ms()).await?;
        // This node signs with the new key at once; the others within 15 seconds.
        control.signing_keys_rotated(&cfg.name).await;
        Ok(json!({"kid": kid, "overlap_ms": overlap}))
    })
    .await
}
