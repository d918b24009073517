//! User pools in the store: the [`PoolStore`] trait, its statements (valid on SQLite and
//! PostgreSQL alike) and, through `impl_pool_store!`, the code that runs them on both.

use std::future::Future;

use crate::{PoolCode, PoolUser, RefreshTake, RefreshToken, StoreError};

/// Users, codes and refresh tokens of user pools. Every method is one round trip or one
/// transaction; counters are changed in the database, so every node sees the same.
pub trait PoolStore: Send + Sync {
    /// Creates a user. `Ok(false)` when the pool has a user of that name (any case) or `sub`.
    fn pool_user_create(&self, u: &PoolUser) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The user with this `sub`.
    fn pool_user(&self, pool: &str, sub: &str) -> impl Future<Output = Result<Option<PoolUser>, StoreError>> + Send;

    /// The user with this name, compared lower-cased.
    fn pool_user_by_name(
        &self,
        pool: &str,
        username: &str,
    ) -> impl Future<Output = Result<Option<PoolUser>, StoreError>> + Send;

    /// The users with this e-mail address (lower-cased), oldest first.
    fn pool_users_by_email(
        &self,
        pool: &str,
        email: &str,
    ) -> impl Future<Output = Result<Vec<PoolUser>, StoreError>> + Send;

    /// Every user of a pool, by name.
    fn pool_users(&self, pool: &str) -> impl Future<Output = Result<Vec<PoolUser>, StoreError>> + Send;

    /// Replaces a user's row if it is still at version `expected_updated_ms` (compare-and-set:
    /// two nodes changing one user do not overwrite each other). `Ok(false)` otherwise.
    fn pool_user_replace(
        &self,
        u: &PoolUser,
        expected_updated_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes a user with its codes, group memberships and refresh tokens.
    fn pool_user_delete(&self, pool: &str, sub: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Counts a failed sign-in and returns the new count (`None`: no such user).
    fn pool_signin_failed(&self, pool: &str, sub: &str)
        -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Refuses sign-ins until `until_ms`.
    fn pool_signin_lock(
        &self,
        pool: &str,
        sub: &str,
        until_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Clears the failed sign-ins after a success.
    fn pool_signin_reset(&self, pool: &str, sub: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds a user to a group. `Ok(false)` when already in it.
    fn pool_group_add(
        &self,
        pool: &str,
        group: &str,
        sub: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes a user from a group. `Ok(false)` when not in it.
    fn pool_group_remove(
        &self,
        pool: &str,
        group: &str,
        sub: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The groups of a user, by name.
    fn pool_groups_of(&self, pool: &str, sub: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Stores a code, replacing the user's last one of the same purpose.
    fn pool_code_put(&self, c: &PoolCode) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's code of this purpose.
    fn pool_code(
        &self,
        pool: &str,
        sub: &str,
        purpose: &str,
    ) -> impl Future<Output = Result<Option<PoolCode>, StoreError>> + Send;

    /// Counts a wrong try against the code and returns the new count (`None`: no code).
    fn pool_code_attempt(
        &self,
        pool: &str,
        sub: &str,
        purpose: &str,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Deletes the code (it was used). `Ok(false)` when there was none: another request used
    /// it first.
    fn pool_code_delete(
        &self,
        pool: &str,
        sub: &str,
        purpose: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a new refresh token.
    fn pool_refresh_put(&self, t: &RefreshToken) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks the token with this hash used, atomically: exactly one exchange gets
    /// [`RefreshTake::Fresh`].
    fn pool_refresh_take(
        &self,
        pool: &str,
        token_hash: &str,
    ) -> impl Future<Output = Result<RefreshTake, StoreError>> + Send;

    /// Revokes every token of a family; returns how many were still unrevoked.
    fn pool_refresh_revoke_family(
        &self,
        pool: &str,
        family: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Revokes every token of a user (sign-out everywhere, disable, password change).
    fn pool_refresh_revoke_user(&self, pool: &str, sub: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Whether a sign-in session (a refresh-token family, the `origin_jti` of the tokens issued
    /// in it) still has a refresh token that is not revoked: its access and ID tokens hold.
    fn pool_family_active(&self, pool: &str, family: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Users, one row each; groups, codes and refresh tokens beside them.
pub(crate) const MIGRATION_V7: &str = "CREATE TABLE pool_users (
        pool TEXT NOT NULL,
        sub TEXT NOT NULL,
        username TEXT NOT NULL,
        username_key TEXT NOT NULL,
        email TEXT NOT NULL,
        status TEXT NOT NULL,
        enabled BOOLEAN NOT NULL,
        password_hash TEXT NOT NULL,
        attributes TEXT NOT NULL,
        mfa_secret TEXT NOT NULL,
        mfa_enabled BOOLEAN NOT NULL,
        mfa_last_step BIGINT NOT NULL,
        failed_signins BIGINT NOT NULL,
        locked_until_ms BIGINT NOT NULL,
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        PRIMARY KEY (pool, sub)
    );
    CREATE UNIQUE INDEX pool_users_name ON pool_users (pool, username_key);
    CREATE INDEX pool_users_email ON pool_users (pool, email);
    CREATE TABLE pool_group_members (
        pool TEXT NOT NULL,
        grp TEXT NOT NULL,
        sub TEXT NOT NULL,
        PRIMARY KEY (pool, grp, sub)
    );
    CREATE INDEX pool_group_members_sub ON pool_group_members (pool, sub);
    CREATE TABLE pool_codes (
        pool TEXT NOT NULL,
        sub TEXT NOT NULL,
        purpose TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        expires_ms BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        PRIMARY KEY (pool, sub, purpose)
    );
    CREATE TABLE pool_refresh_tokens (
        pool TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        sub TEXT NOT NULL,
        client_id TEXT NOT NULL,
        family TEXT NOT NULL,
        scope TEXT NOT NULL,
        auth_time_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL,
        used BOOLEAN NOT NULL,
        revoked BOOLEAN NOT NULL,
        PRIMARY KEY (pool, token_hash)
    );
    CREATE INDEX pool_refresh_family ON pool_refresh_tokens (pool, family);
    CREATE INDEX pool_refresh_sub ON pool_refresh_tokens (pool, sub);";

/// The user columns, in the order [`pool_user_from`] reads them.
macro_rules! user_select {
    ($rest:literal) => {
        concat!(
            "SELECT pool, sub, username, email, status, enabled, password_hash, attributes, mfa_secret, \
             mfa_enabled, mfa_last_step, failed_signins, locked_until_ms, created_ms, updated_ms FROM pool_users",
            $rest
        )
    };
}

pub(crate) const INSERT_USER: &str = "INSERT INTO pool_users (pool, sub, username, username_key, email, status, \
     enabled, password_hash, attributes, mfa_secret, mfa_enabled, mfa_last_step, failed_signins, locked_until_ms, \
     created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
     ON CONFLICT DO NOTHING";
pub(crate) const SELECT_USER: &str = user_select!(" WHERE pool = $1 AND sub = $2");
pub(crate) const SELECT_USER_BY_NAME: &str = user_select!(" WHERE pool = $1 AND username_key = $2");
pub(crate) const SELECT_USERS_BY_EMAIL: &str = user_select!(" WHERE pool = $1 AND email = $2 ORDER BY created_ms, sub");
pub(crate) const LIST_USERS: &str = user_select!(" WHERE pool = $1 ORDER BY username_key");
pub(crate) const REPLACE_USER: &str = "UPDATE pool_users SET username = $3, username_key = $4, email = $5, \
     status = $6, enabled = $7, password_hash = $8, attributes = $9, mfa_secret = $10, mfa_enabled = $11, \
     mfa_last_step = $12, failed_signins = $13, locked_until_ms = $14, updated_ms = $15 \
     WHERE pool = $1 AND sub = $2 AND updated_ms = $16";
pub(crate) const DELETE_USER: &str = "DELETE FROM pool_users WHERE pool = $1 AND sub = $2";
pub(crate) const DELETE_USER_GROUPS: &str = "DELETE FROM pool_group_members WHERE pool = $1 AND sub = $2";
pub(crate) const DELETE_USER_CODES: &str = "DELETE FROM pool_codes WHERE pool = $1 AND sub = $2";
pub(crate) const DELETE_USER_REFRESH: &str = "DELETE FROM pool_refresh_tokens WHERE pool = $1 AND sub = $2";
pub(crate) const SIGNIN_FAILED: &str = "UPDATE pool_users SET failed_signins = failed_signins + 1 \
     WHERE pool = $1 AND sub = $2 RETURNING failed_signins";
pub(crate) const SIGNIN_LOCK: &str = "UPDATE pool_users SET locked_until_ms = $3 WHERE pool = $1 AND sub = $2";
pub(crate) const SIGNIN_RESET: &str =
    "UPDATE pool_users SET failed_signins = 0, locked_until_ms = 0 WHERE pool = $1 AND sub = $2";
pub(crate) const GROUP_ADD: &str =
    "INSERT INTO pool_group_members (pool, grp, sub) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
pub(crate) const GROUP_REMOVE: &str = "DELETE FROM pool_group_members WHERE pool = $1 AND grp = $2 AND sub = $3";
pub(crate) const GROUPS_OF: &str = "SELECT grp FROM pool_group_members WHERE pool = $1 AND sub = $2 ORDER BY grp";
pub(crate) const CODE_PUT: &str = "INSERT INTO pool_codes (pool, sub, purpose, code_hash, expires_ms, attempts) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (pool, sub, purpose) DO UPDATE SET code_hash = excluded.code_hash, \
     expires_ms = excluded.expires_ms, attempts = excluded.attempts";
pub(crate) const CODE_GET: &str = "SELECT pool, sub, purpose, code_hash, expires_ms, attempts FROM pool_codes \
     WHERE pool = $1 AND sub = $2 AND purpose = $3";
pub(crate) const CODE_ATTEMPT: &str = "UPDATE pool_codes SET attempts = attempts + 1 \
     WHERE pool = $1 AND sub = $2 AND purpose = $3 RETURNING attempts";
pub(crate) const CODE_DELETE: &str = "DELETE FROM pool_codes WHERE pool = $1 AND sub = $2 AND purpose = $3";
pub(crate) const REFRESH_PUT: &str = "INSERT INTO pool_refresh_tokens (pool, token_hash, sub, client_id, family, \
     scope, auth_time_ms, expires_ms, used, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
pub(crate) const REFRESH_TAKE: &str = "UPDATE pool_refresh_tokens SET used = TRUE \
     WHERE pool = $1 AND token_hash = $2 AND used = FALSE AND revoked = FALSE \
     RETURNING pool, token_hash, sub, client_id, family, scope, auth_time_ms, expires_ms, used, revoked";
pub(crate) const REFRESH_GET: &str = "SELECT pool, token_hash, sub, client_id, family, scope, auth_time_ms, \
     expires_ms, used, revoked FROM pool_refresh_tokens WHERE pool = $1 AND token_hash = $2";
pub(crate) const REFRESH_REVOKE_FAMILY: &str =
    "UPDATE pool_refresh_tokens SET revoked = TRUE WHERE pool = $1 AND family = $2 AND revoked = FALSE";
pub(crate) const REFRESH_REVOKE_USER: &str =
    "UPDATE pool_refresh_tokens SET revoked = TRUE WHERE pool = $1 AND sub = $2 AND revoked = FALSE";
pub(crate) const FAMILY_ACTIVE: &str =
    "SELECT COUNT(*) FROM pool_refresh_tokens WHERE pool = $1 AND family = $2 AND revoked = FALSE";

/// A user from the columns of `user_select!`.
pub(crate) fn pool_user_from<'r, R>(r: &'r R) -> Option<PoolUser>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Some(PoolUser {
        pool: r.try_get(0).ok()?,
        sub: r.try_get(1).ok()?,
        username: r.try_get(2).ok()?,
        email: r.try_get(3).ok()?,
        status: r.try_get(4).ok()?,
        enabled: r.try_get(5).ok()?,
        password_hash: r.try_get(6).ok()?,
        attributes: r.try_get(7).ok()?,
        mfa_secret: r.try_get(8).ok()?,
        mfa_enabled: r.try_get(9).ok()?,
        mfa_last_step: r.try_get(10).ok()?,
        failed_signins: r.try_get(11).ok()?,
        locked_until_ms: r.try_get(12).ok()?,
        created_ms: r.try_get(13).ok()?,
        updated_ms: r.try_get(14).ok()?,
    })
}

/// A code from the columns of `CODE_GET`.
pub(crate) fn pool_code_from<'r, R>(r: &'r R) -> Option<PoolCode>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Some(PoolCode {
        pool: r.try_get(0).ok()?,
        sub: r.try_get(1).ok()?,
        purpose: r.try_get(2).ok()?,
        code_hash: r.try_get(3).ok()?,
        expires_ms: r.try_get(4).ok()?,
        attempts: r.try_get(5).ok()?,
    })
}

/// A refresh token from the columns of `REFRESH_GET` (and `REFRESH_TAKE`'s `RETURNING`).
pub(crate) fn refresh_from<'r, R>(r: &'r R) -> Option<RefreshToken>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Some(RefreshToken {
        pool: r.try_get(0).ok()?,
        token_hash: r.try_get(1).ok()?,
        sub: r.try_get(2).ok()?,
        client_id: r.try_get(3).ok()?,
        family: r.try_get(4).ok()?,
        scope: r.try_get(5).ok()?,
        auth_time_ms: r.try_get(6).ok()?,
        expires_ms: r.try_get(7).ok()?,
        used: r.try_get(8).ok()?,
        revoked: r.try_get(9).ok()?,
    })
}

/// The lower-cased form names are unique in.
pub(crate) fn username_key(username: &str) -> String {
    username.to_lowercase()
}

/// Implements [`PoolStore`] for a store type with a `pool` field and rows of `$row`.
macro_rules! impl_pool_store {
    ($store:ty, $row:ty) => {
        impl $crate::PoolStore for $store {
            async fn pool_user_create(&self, u: &$crate::PoolUser) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::pool_sql::INSERT_USER)
                    .bind(&u.pool)
                    .bind(&u.sub)
                    .bind(&u.username)
                    .bind($crate::pool_sql::username_key(&u.username))
                    .bind(&u.email)
                    .bind(&u.status)
                    .bind(u.enabled)
                    .bind(&u.password_hash)
                    .bind(&u.attributes)
                    .bind(&u.mfa_secret)
                    .bind(u.mfa_enabled)
                    .bind(u.mfa_last_step)
                    .bind(u.failed_signins)
                    .bind(u.locked_until_ms)
                    .bind(u.created_ms)
                    .bind(u.updated_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn pool_user(&self, pool: &str, sub: &str) -> Result<Option<$crate::PoolUser>, StoreError> {
                let row: Option<$row> =
                    sqlx::query($crate::pool_sql::SELECT_USER).bind(pool).bind(sub).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().and_then(|r| $crate::pool_sql::pool_user_from(r)))
            }

            async fn pool_user_by_name(
                &self,
                pool: &str,
                username: &str,
            ) -> Result<Option<$crate::PoolUser>, StoreError> {
                let row: Option<$row> = sqlx::query($crate::pool_sql::SELECT_USER_BY_NAME)
                    .bind(pool)
                    .bind($crate::pool_sql::username_key(username))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().and_then(|r| $crate::pool_sql::pool_user_from(r)))
            }

            async fn pool_users_by_email(&self, pool: &str, email: &str) -> Result<Vec<$crate::PoolUser>, StoreError> {
                let rows: Vec<$row> = sqlx::query($crate::pool_sql::SELECT_USERS_BY_EMAIL)
                    .bind(pool)
                    .bind(email.to_lowercase())
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().filter_map(|r| $crate::pool_sql::pool_user_from(r)).collect())
            }

            async fn pool_users(&self, pool: &str) -> Result<Vec<$crate::PoolUser>, StoreError> {
                let rows: Vec<$row> =
                    sqlx::query($crate::pool_sql::LIST_USERS).bind(pool).fetch_all(&self.pool).await?;
                Ok(rows.iter().filter_map(|r| $crate::pool_sql::pool_user_from(r)).collect())
            }

            async fn pool_user_replace(
                &self,
                u: &$crate::PoolUser,
                expected_updated_ms: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::pool_sql::REPLACE_USER)
                    .bind(&u.pool)
                    .bind(&u.sub)
                    .bind(&u.username)
                    .bind($crate::pool_sql::username_key(&u.username))
                    .bind(&u.email)
                    .bind(&u.status)
                    .bind(u.enabled)
                    .bind(&u.password_hash)
                    .bind(&u.attributes)
                    .bind(&u.mfa_secret)
                    .bind(u.mfa_enabled)
                    .bind(u.mfa_last_step)
                    .bind(u.failed_signins)
                    .bind(u.locked_until_ms)
                    .bind(u.updated_ms)
                    .bind(expected_updated_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn pool_user_delete(&self, pool: &str, sub: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                for statement in [
                    $crate::pool_sql::DELETE_USER_GROUPS,
                    $crate::pool_sql::DELETE_USER_CODES,
                    $crate::pool_sql::DELETE_USER_REFRESH,
                ] {
                    sqlx::query(statement).bind(pool).bind(sub).execute(&mut *tx).await?;
                }
                let done = sqlx::query($crate::pool_sql::DELETE_USER).bind(pool).bind(sub).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn pool_signin_failed(&self, pool: &str, sub: &str) -> Result<Option<i64>, StoreError> {
                let row: Option<$row> = sqlx::query($crate::pool_sql::SIGNIN_FAILED)
                    .bind(pool)
                    .bind(sub)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.and_then(|r| r.try_get::<i64, _>(0).ok()))
            }

            async fn pool_signin_lock(&self, pool: &str, sub: &str, until_ms: i64) -> Result<(), StoreError> {
                sqlx::query($crate::pool_sql::SIGNIN_LOCK)
                    .bind(pool)
                    .bind(sub)
                    .bind(until_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn pool_signin_reset(&self, pool: &str, sub: &str) -> Result<(), StoreError> {
                sqlx::query($crate::pool_sql::SIGNIN_RESET).bind(pool).bind(sub).execute(&self.pool).await?;
                Ok(())
            }

            async fn pool_group_add(&self, pool: &str, group: &str, sub: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::pool_sql::GROUP_ADD)
                    .bind(pool)
                    .bind(group)
                    .bind(sub)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn pool_group_remove(&self, pool: &str, group: &str, sub: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::pool_sql::GROUP_REMOVE)
                    .bind(pool)
                    .bind(group)
                    .bind(sub)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn pool_groups_of(&self, pool: &str, sub: &str) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar($crate::pool_sql::GROUPS_OF).bind(pool).bind(sub).fetch_all(&self.pool).await?)
            }

            async fn pool_code_put(&self, c: &$crate::PoolCode) -> Result<(), StoreError> {
                sqlx::query($crate::pool_sql::CODE_PUT)
                    .bind(&c.pool)
                    .bind(&c.sub)
                    .bind(&c.purpose)
                    .bind(&c.code_hash)
                    .bind(c.expires_ms)
                    .bind(c.attempts)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn pool_code(
                &self,
                pool: &str,
                sub: &str,
                purpose: &str,
            ) -> Result<Option<$crate::PoolCode>, StoreError> {
                let row: Option<$row> = sqlx::query($crate::pool_sql::CODE_GET)
                    .bind(pool)
                    .bind(sub)
                    .bind(purpose)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().and_then(|r| $crate::pool_sql::pool_code_from(r)))
            }

            async fn pool_code_attempt(&self, pool: &str, sub: &str, purpose: &str) -> Result<Option<i64>, StoreError> {
                let row: Option<$row> = sqlx::query($crate::pool_sql::CODE_ATTEMPT)
                    .bind(pool)
                    .bind(sub)
                    .bind(purpose)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.and_then(|r| r.try_get::<i64, _>(0).ok()))
            }

            async fn pool_code_delete(&self, pool: &str, sub: &str, purpose: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::pool_sql::CODE_DELETE)
                    .bind(pool)
                    .bind(sub)
                    .bind(purpose)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn pool_refresh_put(&self, t: &$crate::RefreshToken) -> Result<(), StoreError> {
                sqlx::query($crate::pool_sql::REFRESH_PUT)
                    .bind(&t.pool)
                    .bind(&t.token_hash)
                    .bind(&t.sub)
                    .bind(&t.client_id)
                    .bind(&t.family)
                    .bind(&t.scope)
                    .bind(t.auth_time_ms)
                    .bind(t.expires_ms)
                    .bind(t.used)
                    .bind(t.revoked)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn pool_refresh_take(&self, pool: &str, token_hash: &str) -> Result<$crate::RefreshTake, StoreError> {
                let taken: Option<$row> = sqlx::query($crate::pool_sql::REFRESH_TAKE)
                    .bind(pool)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                if let Some(t) = taken.as_ref().and_then(|r| $crate::pool_sql::refresh_from(r)) {
                    return Ok($crate::RefreshTake::Fresh(t));
                }
                let row: Option<$row> = sqlx::query($crate::pool_sql::REFRESH_GET)
                    .bind(pool)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(match row.as_ref().and_then(|r| $crate::pool_sql::refresh_from(r)) {
                    Some(t) => $crate::RefreshTake::Replayed(t),
                    None => $crate::RefreshTake::Unknown,
                })
            }

            async fn pool_refresh_revoke_family(&self, pool: &str, family: &str) -> Result<u64, StoreError> {
                let done = sqlx::query($crate::pool_sql::REFRESH_REVOKE_FAMILY)
                    .bind(pool)
                    .bind(family)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn pool_refresh_revoke_user(&self, pool: &str, sub: &str) -> Result<u64, StoreError> {
                let done =
                    sqlx::query($crate::pool_sql::REFRESH_REVOKE_USER).bind(pool).bind(sub).execute(&self.pool).await?;
                Ok(done.rows_affected())
            }

            async fn pool_family_active(&self, pool: &str, family: &str) -> Result<bool, StoreError> {
                let n: i64 = sqlx::query_scalar($crate::pool_sql::FAMILY_ACTIVE)
                    .bind(pool)
                    .bind(family)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }
        }
    };
}

pub(crate) use impl_pool_store;
