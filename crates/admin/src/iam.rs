//! The IAM, STS and KMS routes of the admin API. Each route is one `portcullis:*` action
//! (STS: `sts:*`) on an `arn:portcullis:…` resource; every change is audited with the caller,
//! the target and the outcome, and never with a secret.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use directory::{entity_arn, DirectoryError};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use store::{Entity, EntityKind, Outcome};

use crate::auth::{aws_error, now_ms, Authed};
use crate::routes::{write_audit, AppState};

/// The routes, all behind the SigV4 layer.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/iam/{kind}", get(list).post(create))
        .route("/iam/{kind}/{name}", get(describe).delete(delete))
        .route("/iam/{kind}/{name}/document", put(set_document))
        .route("/iam/{kind}/{name}/attached-policies", get(attached).post(attach).delete(detach))
        .route("/iam/groups/{name}/users/{user}", put(add_member).delete(remove_member))
        .route("/iam/users/{name}/access-keys", get(list_keys).post(create_key))
        .route("/iam/access-keys/{id}", patch(update_key).delete(delete_key))
        .route("/sts/assume-role", post(assume_role))
        .route("/sts/caller-identity", get(caller_identity))
        .route("/kms/keys", get(kms_keys))
        .route("/kms/rotate", post(kms_rotate))
        .route("/kms/rewrap", post(kms_rewrap))
}

/// `users`, `groups`, `roles`, `policies` → the kind and its action noun.
fn kind_of(segment: &str) -> Option<(EntityKind, &'static str)> {
    match segment {
        "users" => Some((EntityKind::User, "User")),
        "groups" => Some((EntityKind::Group, "Group")),
        "roles" => Some((EntityKind::Role, "Role")),
        "policies" => Some((EntityKind::Policy, "Policy")),
        _ => None,
    }
}

fn no_such_kind() -> Response {
    aws_error(StatusCode::NOT_FOUND, "NotFoundException", "Not Found")
}

fn resource(s: &AppState, kind: EntityKind, name: &str) -> String {
    s.arn("iam", &format!("{}/{name}", kind.as_str()))
}

/// Renders a directory result; writes (`audit: Some((action, target))`, the action with its
/// area, e.g. `iam.CreateUser`) are audited either way.
pub(crate) async fn finish<T: serde::Serialize>(
    s: &AppState,
    who: &Authed,
    audit: Option<(&str, &str)>,
    result: Result<T, DirectoryError>,
    ok: StatusCode,
) -> Response {
    if let Some((action, target)) = audit {
        let (outcome, detail) = match &result {
            Ok(_) => (Outcome::Success, String::new()),
            Err(e) => (Outcome::Failure, e.to_string()),
        };
        write_audit(&s.store, &who.actor, action, target, outcome, detail).await;
    }
    match result {
        Ok(body) => (ok, Json(body)).into_response(),
        Err(e) => directory_error(&e),
    }
}

/// The status and AWS error code of a directory error.
pub(crate) fn directory_error(e: &DirectoryError) -> Response {
    let (status, code) = match e {
        DirectoryError::NotFound(_) => (StatusCode::NOT_FOUND, "NoSuchEntityException"),
        DirectoryError::AlreadyExists(_) => (StatusCode::CONFLICT, "EntityAlreadyExistsException"),
        DirectoryError::Invalid(_) => (StatusCode::BAD_REQUEST, "ValidationError"),
        DirectoryError::Conflict(_) => (StatusCode::CONFLICT, "DeleteConflictException"),
        DirectoryError::Clash(_) => (StatusCode::CONFLICT, "ConflictException"),
        DirectoryError::LimitExceeded(_) => (StatusCode::CONFLICT, "LimitExceededException"),
        DirectoryError::Policy(_) => (StatusCode::BAD_REQUEST, "MalformedPolicyDocumentException"),
        DirectoryError::AccessDenied(_) => (StatusCode::FORBIDDEN, "AccessDeniedException"),
        DirectoryError::Store(err) => {
            tracing::error!(error = %err, "admin API: store failed");
            return aws_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableException", "Service Unavailable");
        }
        DirectoryError::Kms(kms::KmsError::NotRotatable) => {
            return aws_error(StatusCode::CONFLICT, "NotRotatableException", &kms::KmsError::NotRotatable.to_string());
        }
        DirectoryError::Kms(err) => {
            tracing::error!(error = %err, "admin API: KMS failed");
            return aws_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "Internal server error");
        }
    };
    aws_error(status, code, &e.to_string())
}

fn entity_json(account: &str, e: &Entity) -> Value {
    let mut v = json!({
        "name": e.name,
        "id": e.id,
        "arn": entity_arn(account, e.kind, &e.name),
        "created_at_ms": e.created_at_ms,
        "updated_at_ms": e.updated_at_ms,
    });
    match e.kind {
        EntityKind::Policy => v["document"] = serde_json::from_str(&e.document).unwrap_or(Value::Null),
        EntityKind::Role => {
            v["trust_policy"] = serde_json::from_str(&e.document).unwrap_or(Value::Null);
            v["max_session_secs"] = json!(e.max_session_secs);
        }
        _ => {}
    }
    v
}

async fn list(who: Authed, State(s): State<AppState>, Path(kind): Path<String>) -> Response {
    let Some((kind, noun)) = kind_of(&kind) else { return no_such_kind() };
    let plural = if kind == EntityKind::Policy { "Policies".to_owned() } else { format!("{noun}s") };
    if let Err(r) = s.authorize(&who, &format!("portcullis:List{plural}"), &resource(&s, kind, "*")).await {
        return r;
    }
    let account = s.directory.account_id();
    let result = s.directory.list(kind).await.map(|items| {
        let mut out: Vec<Value> = items.iter().map(|e| entity_json(&account, e)).collect();
        if kind == EntityKind::Policy {
            for (arn, p) in s.directory.builtin_policies() {
                out.push(json!({ "arn": arn, "builtin": true, "document": p.document() }));
            }
        }
        json!({ "items": out })
    });
    finish(&s, &who, None, result, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    document: Option<Value>,
    #[serde(default)]
    trust_policy: Option<Value>,
    #[serde(default)]
    max_session_secs: Option<i64>,
}

async fn create(
    who: Authed,
    State(s): State<AppState>,
    Path(kind): Path<String>,
    Json(body): Json<CreateBody>,
) -> Response {
    let Some((kind, noun)) = kind_of(&kind) else { return no_such_kind() };
    let (action, target) = (format!("Create{noun}"), resource(&s, kind, &body.name));
    if let Err(r) = s.authorize(&who, &format!("portcullis:{action}"), &target).await {
        return r;
    }
    let doc = match (kind, &body.document, &body.trust_policy) {
        (EntityKind::Policy, d, None) => d.as_ref(),
        (EntityKind::Role, None, t) => t.as_ref(),
        (_, None, None) => None,
        _ => {
            let field = if kind == EntityKind::Role { "`trust_policy`" } else { "`document` (policies only)" };
            return aws_error(StatusCode::BAD_REQUEST, "ValidationError", &format!("a {noun} takes {field}"));
        }
    };
    let account = s.directory.account_id();
    let result = s
        .directory
        .create(kind, &body.name, doc, body.max_session_secs, now_ms())
        .await
        .map(|e| entity_json(&account, &e));
    finish(&s, &who, Some((&format!("iam.{action}"), &target)), result, StatusCode::CREATED).await
}

async fn describe(who: Authed, State(s): State<AppState>, Path((kind, name)): Path<(String, String)>) -> Response {
    let Some((kind, noun)) = kind_of(&kind) else { return no_such_kind() };
    if let Err(r) = s.authorize(&who, &format!("portcullis:Get{noun}"), &resource(&s, kind, &name)).await {
        return r;
    }
    let account = s.directory.account_id();
    let d = &s.directory;
    let result = async {
        let e = d.get(kind, &name).await?;
        let mut v = entity_json(&account, &e);
        match kind {
            EntityKind::User => {
                v["groups"] = json!(d.members(kind, &name).await?);
                v["attached_policies"] = json!(d.attachments(kind, &name).await?);
                v["access_keys"] = json!(d.access_keys(&name).await?);
            }
            EntityKind::Group => {
                v["users"] = json!(d.members(kind, &name).await?);
                v["attached_policies"] = json!(d.attachments(kind, &name).await?);
            }
            EntityKind::Role => v["attached_policies"] = json!(d.attachments(kind, &name).await?),
            EntityKind::Policy => {}
        }
        Ok(v)
    }
    .await;
    finish(&s, &who, None, result, StatusCode::OK).await
}

async fn delete(who: Authed, State(s): State<AppState>, Path((kind, name)): Path<(String, String)>) -> Response {
    let Some((kind, noun)) = kind_of(&kind) else { return no_such_kind() };
    let (action, target) = (format!("Delete{noun}"), resource(&s, kind, &name));
    if let Err(r) = s.authorize(&who, &format!("portcullis:{action}"), &target).await {
        return r;
    }
    let result = s.directory.delete(kind, &name).await.map(|()| json!({ "deleted": name }));
    finish(&s, &who, Some((&format!("iam.{action}"), &target)), result, StatusCode::OK).await
}

async fn set_document(
    who: Authed,
    State(s): State<AppState>,
    Path((kind, name)): Path<(String, String)>,
    Json(doc): Json<Value>,
) -> Response {
    let Some((kind, _)) = kind_of(&kind) else { return no_such_kind() };
    let action = if kind == EntityKind::Role { "UpdateAssumeRolePolicy" } else { "UpdatePolicy" };
    let target = resource(&s, kind, &name);
    if let Err(r) = s.authorize(&who, &format!("portcullis:{action}"), &target).await {
        return r;
    }
    let result = s.directory.set_document(kind, &name, &doc, now_ms()).await.map(|()| json!({ "updated": name }));
    finish(&s, &who, Some((&format!("iam.{action}"), &target)), result, StatusCode::OK).await
}

async fn attached(who: Authed, State(s): State<AppState>, Path((kind, name)): Path<(String, String)>) -> Response {
    let Some((kind, noun)) = kind_of(&kind) else { return no_such_kind() };
    let action = format!("portcullis:ListAttached{noun}Policies");
    if let Err(r) = s.authorize(&who, &action, &resource(&s, kind, &name)).await {
        return r;
    }
    let result = s.directory.attachments(kind, &name).await.map(|arns| json!({ "policy_arns": arns }));
    finish(&s, &who, None, result, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyArn {
    policy_arn: String,
}

async fn set_attachment(s: AppState, who: Authed, kind: String, name: String, arn: String, attach: bool) -> Response {
    let Some((kind, noun)) = kind_of(&kind) else { return no_such_kind() };
    let action = format!("{}{noun}Policy", if attach { "Attach" } else { "Detach" });
    let target = resource(&s, kind, &name);
    if let Err(r) = s.authorize(&who, &format!("portcullis:{action}"), &target).await {
        return r;
    }
    let result = s.directory.set_attachment(kind, &name, &arn, attach).await.map(|()| json!({ "policy_arn": arn }));
    finish(&s, &who, Some((&format!("iam.{action}"), &target)), result, StatusCode::OK).await
}

async fn attach(
    who: Authed,
    State(s): State<AppState>,
    Path((kind, name)): Path<(String, String)>,
    Json(body): Json<PolicyArn>,
) -> Response {
    set_attachment(s, who, kind, name, body.policy_arn, true).await
}

async fn detach(
    who: Authed,
    State(s): State<AppState>,
    Path((kind, name)): Path<(String, String)>,
    Query(q): Query<PolicyArn>,
) -> Response {
    set_attachment(s, who, kind, name, q.policy_arn, false).await
}

async fn membership(s: AppState, who: Authed, group: String, user: String, add: bool) -> Response {
    let action = if add { "AddUserToGroup" } else { "RemoveUserFromGroup" };
    let target = resource(&s, EntityKind::Group, &group);
    if let Err(r) = s.authorize(&who, &format!("portcullis:{action}"), &target).await {
        return r;
    }
    let result = s.directory.set_membership(&user, &group, add).await.map(|()| json!({ "group": group, "user": user }));
    finish(&s, &who, Some((&format!("iam.{action}"), &target)), result, StatusCode::OK).await
}

async fn add_member(who: Authed, State(s): State<AppState>, Path((g, u)): Path<(String, String)>) -> Response {
    membership(s, who, g, u, true).await
}

async fn remove_member(who: Authed, State(s): State<AppState>, Path((g, u)): Path<(String, String)>) -> Response {
    membership(s, who, g, u, false).await
}

async fn list_keys(who: Authed, State(s): State<AppState>, Path(user): Path<String>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:ListAccessKeys", &resource(&s, EntityKind::User, &user)).await {
        return r;
    }
    let result = s.directory.access_keys(&user).await.map(|keys| json!({ "access_keys": keys }));
    finish(&s, &who, None, result, StatusCode::OK).await
}

async fn create_key(who: Authed, State(s): State<AppState>, Path(user): Path<String>) -> Response {
    let target = resource(&s, EntityKind::User, &user);
    if let Err(r) = s.authorize(&who, "portcullis:CreateAccessKey", &target).await {
        return r;
    }
    let result = s.directory.create_access_key(&user, now_ms()).await;
    finish(&s, &who, Some(("iam.CreateAccessKey", &target)), result, StatusCode::CREATED).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyStatus {
    status: String,
}

async fn update_key(
    who: Authed,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<KeyStatus>,
) -> Response {
    let active = match body.status.as_str() {
        "Active" => true,
        "Inactive" => false,
        _ => return aws_error(StatusCode::BAD_REQUEST, "ValidationError", "status must be `Active` or `Inactive`"),
    };
    key_change(s, who, id, "UpdateAccessKey", Some(active)).await
}

async fn delete_key(who: Authed, State(s): State<AppState>, Path(id): Path<String>) -> Response {
    key_change(s, who, id, "DeleteAccessKey", None).await
}

/// Access-key actions are authorised on the owning user, as in AWS.
async fn key_change(s: AppState, who: Authed, id: String, action: &str, active: Option<bool>) -> Response {
    // Who owns an unknown key is nobody: it is authorised as any user's key, so that only a
    // caller allowed to manage keys learns whether an id exists.
    let owner = s.directory.access_key_owner(&id).await;
    let target = resource(&s, EntityKind::User, owner.as_deref().unwrap_or("*"));
    if let Err(r) = s.authorize(&who, &format!("portcullis:{action}"), &target).await {
        return r;
    }
    if let Err(e) = owner {
        return directory_error(&e);
    }
    let result = match active {
        Some(a) => s.directory.set_access_key_active(&id, a).await,
        None => s.directory.delete_access_key(&id).await,
    }
    .map(|()| json!({ "access_key_id": id }));
    finish(&s, &who, Some((&format!("iam.{action}"), &format!("{target}/access-key/{id}"))), result, StatusCode::OK)
        .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssumeRole {
    role_name: String,
    session_name: String,
    #[serde(default = "default_session")]
    duration_secs: i64,
}

fn default_session() -> i64 {
    3600
}

async fn assume_role(who: Authed, State(s): State<AppState>, Json(body): Json<AssumeRole>) -> Response {
    // Authorised inside: the role's trust policy and the caller's `sts:AssumeRole` permission.
    let target = entity_arn(&s.directory.account_id(), EntityKind::Role, &body.role_name);
    let result =
        s.directory.assume_role(&who.caller, &body.role_name, &body.session_name, body.duration_secs, now_ms()).await;
    let outcome = if result.is_ok() { Outcome::Success } else { Outcome::Failure };
    let detail = match &result {
        Ok(c) => format!("session {} as {}", c.access_key_id, c.assumed_role_arn),
        Err(e) => e.to_string(),
    };
    write_audit(&s.store, &who.actor, "sts.AssumeRole", &target, outcome, detail).await;
    match result {
        Ok(c) => (StatusCode::OK, Json(c)).into_response(),
        Err(e) => directory_error(&e),
    }
}

async fn caller_identity(who: Authed) -> Response {
    // Like `sts:GetCallerIdentity`, always allowed: it only tells callers who they are.
    let p = &who.caller.principal;
    Json(json!({ "arn": p.arn, "user_id": p.user_id, "account": p.account, "access_key_id": who.caller.access_key_id }))
        .into_response()
}

async fn kms_keys(who: Authed, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:ListKeys", &s.arn("kms", "keyring")).await {
        return r;
    }
    let kms = s.directory.kms();
    let versions: Vec<Value> =
        kms.versions().iter().map(|v| json!({ "version": v.version, "created_at": v.created_at })).collect();
    Json(json!({ "current": kms.current_version(), "versions": versions })).into_response()
}

async fn kms_rotate(who: Authed, State(s): State<AppState>) -> Response {
    let target = s.arn("kms", "keyring");
    if let Err(r) = s.authorize(&who, "portcullis:RotateKey", &target).await {
        return r;
    }
    let result = s.directory.kms().rotate().map_err(DirectoryError::from).map(|v| json!({ "current": v }));
    finish(&s, &who, Some(("kms.RotateKey", &target)), result, StatusCode::OK).await
}

async fn kms_rewrap(who: Authed, State(s): State<AppState>) -> Response {
    let target = s.arn("kms", "keyring");
    if let Err(r) = s.authorize(&who, "portcullis:RewrapSecrets", &target).await {
        return r;
    }
    let result = s.directory.rewrap_all().await.map(|n| json!({ "rewrapped": n }));
    finish(&s, &who, Some(("kms.RewrapSecrets", &target)), result, StatusCode::OK).await
}
