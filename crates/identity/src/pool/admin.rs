//! What an administrator does to a pool's users (Cognito's `Admin*` operations), on the store
//! alone: no signing key or code delivery is needed, so the admin API can act on pools of the
//! running config without opening them.

use model::UserPoolConfig;
use serde_json::{json, Value};
use store::{AnyStore, PoolStore as _, PoolUser};

use super::{password, PoolError, UserPool};

/// A new user as the admin API gives it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The sign-in name (the e-mail address in an `email` pool).
    pub username: String,
    /// The password, checked against the policy.
    pub password: String,
    /// Attributes: standard ones and the pool's custom ones.
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
    /// `true`: the user must set a new password (forgot-password flow) before signing in.
    #[serde(default)]
    pub must_reset: bool,
}

/// A user as the admin API shows it: never the password hash or the TOTP secret.
pub fn user_json(u: &PoolUser, groups: &[String]) -> Value {
    json!({
        "username": u.username,
        "sub": u.sub,
        "status": u.status,
        "enabled": u.enabled,
        "attributes": UserPool::attributes_of(u),
        "mfa_enabled": u.mfa_enabled,
        "groups": groups,
        "locked_until_ms": u.locked_until_ms,
        "created_ms": u.created_ms,
        "updated_ms": u.updated_ms,
    })
}

async fn find(store: &AnyStore, pool: &UserPoolConfig, username: &str) -> Result<PoolUser, PoolError> {
    store.pool_user_by_name(&pool.name, username).await?.ok_or(PoolError::UserNotFound)
}

/// `AdminCreateUser`: a confirmed user with the given password (or one that must reset it).
pub async fn create_user(
    store: &AnyStore,
    pool: &UserPoolConfig,
    new: NewUser,
    now_ms: i64,
) -> Result<Value, PoolError> {
    let given: Vec<(String, String)> = new.attributes.into_iter().collect();
    let mut attrs = super::check_attributes(pool, &given)?;
    let username = super::sign_in_name(pool, &new.username, &mut attrs)?;
    password::check(&pool.password_policy, &new.password)?;
    let email = super::take_email(&mut attrs)?;
    let status = if new.must_reset { "RESET_REQUIRED" } else { "CONFIRMED" };
    let hash = password::hash(&new.password).await?;
    let user = super::new_user(&pool.name, username, email, status, hash, attrs, now_ms);
    if !store.pool_user_create(&user).await? {
        return Err(PoolError::UsernameExists);
    }
    Ok(user_json(&user, &[]))
}

/// `AdminGetUser`.
pub async fn get_user(store: &AnyStore, pool: &UserPoolConfig, username: &str) -> Result<Value, PoolError> {
    let u = find(store, pool, username).await?;
    let groups = store.pool_groups_of(&pool.name, &u.sub).await?;
    Ok(user_json(&u, &groups))
}

/// `ListUsers`.
pub async fn list_users(store: &AnyStore, pool: &UserPoolConfig) -> Result<Value, PoolError> {
    let users = store.pool_users(&pool.name).await?;
    let mut items = Vec::with_capacity(users.len());
    for u in &users {
        let groups = store.pool_groups_of(&pool.name, &u.sub).await?;
        items.push(user_json(u, &groups));
    }
    Ok(json!({"items": items}))
}

/// `AdminEnableUser` / `AdminDisableUser`. Disabling revokes the user's refresh tokens; its
/// access tokens stop working at the pool's own endpoints and at JWT routes once they expire.
pub async fn set_enabled(
    store: &AnyStore,
    pool: &UserPoolConfig,
    username: &str,
    enabled: bool,
    now_ms: i64,
) -> Result<Value, PoolError> {
    let u = replace(store, pool, username, now_ms, |u| u.enabled = enabled).await?;
    if !enabled {
        store.pool_refresh_revoke_user(&pool.name, &u.sub).await?;
    }
    get_user(store, pool, username).await
}

/// `AdminResetUserPassword`: the user must set a new password with a code (forgot-password
/// flow) before signing in again; its refresh tokens are revoked.
pub async fn require_reset(
    store: &AnyStore,
    pool: &UserPoolConfig,
    username: &str,
    now_ms: i64,
) -> Result<Value, PoolError> {
    let u = replace(store, pool, username, now_ms, |u| u.status = "RESET_REQUIRED".into()).await?;
    store.pool_refresh_revoke_user(&pool.name, &u.sub).await?;
    get_user(store, pool, username).await
}

/// `AdminDeleteUser`, with its groups, codes and tokens.
pub async fn delete_user(store: &AnyStore, pool: &UserPoolConfig, username: &str) -> Result<Value, PoolError> {
    let u = find(store, pool, username).await?;
    store.pool_user_delete(&pool.name, &u.sub).await?;
    Ok(json!({"username": u.username, "sub": u.sub}))
}

/// `AdminAddUserToGroup` / `AdminRemoveUserFromGroup` for a group the pool defines.
pub async fn set_group(
    store: &AnyStore,
    pool: &UserPoolConfig,
    username: &str,
    group: &str,
    member: bool,
) -> Result<Value, PoolError> {
    if !pool.groups.iter().any(|g| g.name == group) {
        return Err(PoolError::GroupNotFound);
    }
    let u = find(store, pool, username).await?;
    if member {
        store.pool_group_add(&pool.name, group, &u.sub).await?;
    } else {
        store.pool_group_remove(&pool.name, group, &u.sub).await?;
    }
    get_user(store, pool, username).await
}

async fn replace(
    store: &AnyStore,
    pool: &UserPoolConfig,
    username: &str,
    now_ms: i64,
    change: impl Fn(&mut PoolUser),
) -> Result<PoolUser, PoolError> {
    let current = find(store, pool, username).await?;
    super::update_user(store, &current, now_ms, change).await
}
