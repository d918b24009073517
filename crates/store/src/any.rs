use crate::{
    AdminCredential, ApiKey, ApiKeyInsert, AuditRecord, AuditSearch, Credential, DeleteOutcome, Entity, EntityKind,
    KeyInsert, NewAuditRecord, PostgresStore, Relation, SqliteStore, Store, StoreError, StoredAlarm, StoredCertificate,
    UsageRecord,
};

/// The store chosen by URL scheme at start-up.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// `sqlite://…`
    Sqlite(SqliteStore),
    /// `postgres://…` or `postgresql://…`
    Postgres(PostgresStore),
}

/// Calls one store; a PostgreSQL store known to be unreachable fails at once.
macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Self::Sqlite($s) => $e,
            Self::Postgres($s) if $s.is_offline() => Err(StoreError::Offline),
            Self::Postgres($s) => $e,
        }
    };
}

// === impl AnyStore ===

impl AnyStore {
    /// Opens the store named by `url` and runs its migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(SqliteStore::open(url).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(PostgresStore::open(url).await?))
        } else {
            Err(StoreError::BadUrl("use sqlite://PATH or postgres://USER@HOST/DB".into()))
        }
    }

    /// `sqlite` or `postgres`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl Store for AnyStore {
    async fn create_admin_credential(&self, cred: &AdminCredential) -> Result<bool, StoreError> {
        dispatch!(self, s => s.create_admin_credential(cred).await)
    }

    async fn admin_credential(&self, id: &str) -> Result<Option<AdminCredential>, StoreError> {
        dispatch!(self, s => s.admin_credential(id).await)
    }

    async fn append_audit(&self, rec: &NewAuditRecord) -> Result<i64, StoreError> {
        dispatch!(self, s => s.append_audit(rec).await)
    }

    async fn list_audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        dispatch!(self, s => s.list_audit(after, limit).await)
    }

    async fn search_audit(&self, q: &AuditSearch) -> Result<Vec<AuditRecord>, StoreError> {
        dispatch!(self, s => s.search_audit(q).await)
    }

    async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        dispatch!(self, s => s.audit_head().await)
    }

    async fn audit_range(&self, from_seq: i64, to_seq: i64) -> Result<Vec<AuditRecord>, StoreError> {
        dispatch!(self, s => s.audit_range(from_seq, to_seq).await)
    }

    async fn audit_record(&self, seq: i64) -> Result<Option<AuditRecord>, StoreError> {
        dispatch!(self, s => s.audit_record(seq).await)
    }

    async fn iam_create(&self, e: &Entity) -> Result<bool, StoreError> {
        dispatch!(self, s => s.iam_create(e).await)
    }

    async fn iam_get(&self, kind: EntityKind, name: &str) -> Result<Option<Entity>, StoreError> {
        dispatch!(self, s => s.iam_get(kind, name).await)
    }

    async fn iam_list(&self, kind: EntityKind) -> Result<Vec<Entity>, StoreError> {
        dispatch!(self, s => s.iam_list(kind).await)
    }

    async fn iam_set_document(
        &self,
        kind: EntityKind,
        name: &str,
        document: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.iam_set_document(kind, name, document, now_ms).await)
    }

    async fn iam_delete(&self, kind: EntityKind, name: &str, arn: &str) -> Result<DeleteOutcome, StoreError> {
        dispatch!(self, s => s.iam_delete(kind, name, arn).await)
    }

    async fn iam_relate(&self, rel: Relation, subject: &str, object: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.iam_relate(rel, subject, object).await)
    }

    async fn iam_unrelate(&self, rel: Relation, subject: &str, object: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.iam_unrelate(rel, subject, object).await)
    }

    async fn iam_related(&self, rel: Relation, subject: &str) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.iam_related(rel, subject).await)
    }

    async fn iam_relating(&self, rel: Relation, object: &str) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.iam_relating(rel, object).await)
    }

    async fn iam_put_credential(&self, c: &Credential) -> Result<bool, StoreError> {
        dispatch!(self, s => s.iam_put_credential(c).await)
    }

    async fn iam_put_user_key(&self, c: &Credential, max: i64) -> Result<KeyInsert, StoreError> {
        dispatch!(self, s => s.iam_put_user_key(c, max).await)
    }

    async fn iam_credential(&self, access_key_id: &str) -> Result<Option<Credential>, StoreError> {
        dispatch!(self, s => s.iam_credential(access_key_id).await)
    }

    async fn iam_credentials(&self, owner: Option<(EntityKind, &str)>) -> Result<Vec<Credential>, StoreError> {
        dispatch!(self, s => s.iam_credentials(owner).await)
    }

    async fn iam_set_credential_active(&self, access_key_id: &str, active: bool) -> Result<bool, StoreError> {
        dispatch!(self, s => s.iam_set_credential_active(access_key_id, active).await)
    }

    async fn iam_replace_credential_secret(
        &self,
        access_key_id: &str,
        new: &str,
        old: &str,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.iam_replace_credential_secret(access_key_id, new, old).await)
    }

    async fn iam_touch_credential(&self, access_key_id: &str, now_ms: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.iam_touch_credential(access_key_id, now_ms).await)
    }

    async fn iam_delete_credential(&self, access_key_id: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.iam_delete_credential(access_key_id).await)
    }

    async fn iam_delete_expired_sessions(&self, now_ms: i64) -> Result<u64, StoreError> {
        dispatch!(self, s => s.iam_delete_expired_sessions(now_ms).await)
    }

    async fn create_secret(&self, name: &str, value_enc: &str, now_ms: i64) -> Result<bool, StoreError> {
        dispatch!(self, s => s.create_secret(name, value_enc, now_ms).await)
    }

    async fn secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.secret(name).await)
    }

    async fn secrets(&self) -> Result<Vec<(String, String)>, StoreError> {
        dispatch!(self, s => s.secrets().await)
    }

    async fn replace_secret(&self, name: &str, new: &str, old: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.replace_secret(name, new, old).await)
    }

    async fn api_key_create(&self, k: &ApiKey) -> Result<ApiKeyInsert, StoreError> {
        dispatch!(self, s => s.api_key_create(k).await)
    }

    async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        dispatch!(self, s => s.api_key(id).await)
    }

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        dispatch!(self, s => s.api_key_by_hash(hash).await)
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        dispatch!(self, s => s.api_keys().await)
    }

    async fn api_key_set_enabled(&self, id: &str, enabled: bool, now_ms: i64) -> Result<bool, StoreError> {
        dispatch!(self, s => s.api_key_set_enabled(id, enabled, now_ms).await)
    }

    async fn api_key_delete(&self, id: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.api_key_delete(id).await)
    }

    async fn plan_key_attach(&self, plan_id: &str, key_id: &str, now_ms: i64) -> Result<bool, StoreError> {
        dispatch!(self, s => s.plan_key_attach(plan_id, key_id, now_ms).await)
    }

    async fn plan_key_detach(&self, plan_id: &str, key_id: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.plan_key_detach(plan_id, key_id).await)
    }

    async fn plans_of_key(&self, key_id: &str) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.plans_of_key(key_id).await)
    }

    async fn keys_of_plan(&self, plan_id: &str) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.keys_of_plan(plan_id).await)
    }

    async fn usage_add(&self, deltas: &[UsageRecord]) -> Result<(), StoreError> {
        dispatch!(self, s => s.usage_add(deltas).await)
    }

    async fn usage(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        dispatch!(self, s => s.usage(plan_id, key_id, from_day, to_day).await)
    }

    async fn usage_total(&self, plan_id: &str, key_id: &str, from_day: &str, to_day: &str) -> Result<i64, StoreError> {
        dispatch!(self, s => s.usage_total(plan_id, key_id, from_day, to_day).await)
    }

    async fn certificate(&self, name: &str) -> Result<Option<StoredCertificate>, StoreError> {
        dispatch!(self, s => s.certificate(name).await)
    }

    async fn certificates(&self) -> Result<Vec<StoredCertificate>, StoreError> {
        dispatch!(self, s => s.certificates().await)
    }

    async fn put_certificate(&self, c: &StoredCertificate) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_certificate(c).await)
    }

    async fn delete_certificate(&self, name: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.delete_certificate(name).await)
    }

    async fn try_lock_certificate(
        &self,
        name: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.try_lock_certificate(name, owner, now_ms, until_ms).await)
    }

    async fn release_certificate_lock(&self, name: &str, owner: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.release_certificate_lock(name, owner).await)
    }

    async fn put_alarm(&self, alarm: &StoredAlarm) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_alarm(alarm).await)
    }

    async fn alarm(&self, name: &str) -> Result<Option<StoredAlarm>, StoreError> {
        dispatch!(self, s => s.alarm(name).await)
    }

    async fn alarms(&self) -> Result<Vec<StoredAlarm>, StoreError> {
        dispatch!(self, s => s.alarms().await)
    }

    async fn delete_alarm(&self, name: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.delete_alarm(name).await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }
}

impl crate::PoolStore for AnyStore {
    async fn pool_user_create(&self, u: &crate::PoolUser) -> Result<bool, StoreError> {
        dispatch!(self, s => s.pool_user_create(u).await)
    }

    async fn pool_user(&self, pool: &str, sub: &str) -> Result<Option<crate::PoolUser>, StoreError> {
        dispatch!(self, s => s.pool_user(pool, sub).await)
    }

    async fn pool_user_by_name(&self, pool: &str, username: &str) -> Result<Option<crate::PoolUser>, StoreError> {
        dispatch!(self, s => s.pool_user_by_name(pool, username).await)
    }

    async fn pool_users_by_email(&self, pool: &str, email: &str) -> Result<Vec<crate::PoolUser>, StoreError> {
        dispatch!(self, s => s.pool_users_by_email(pool, email).await)
    }

    async fn pool_users(&self, pool: &str) -> Result<Vec<crate::PoolUser>, StoreError> {
        dispatch!(self, s => s.pool_users(pool).await)
    }

    async fn pool_user_replace(&self, u: &crate::PoolUser, expected_updated_ms: i64) -> Result<bool, StoreError> {
        dispatch!(self, s => s.pool_user_replace(u, expected_updated_ms).await)
    }

    async fn pool_user_delete(&self, pool: &str, sub: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.pool_user_delete(pool, sub).await)
    }

    async fn pool_signin_failed(&self, pool: &str, sub: &str) -> Result<Option<i64>, StoreError> {
        dispatch!(self, s => s.pool_signin_failed(pool, sub).await)
    }

    async fn pool_signin_lock(&self, pool: &str, sub: &str, until_ms: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.pool_signin_lock(pool, sub, until_ms).await)
    }

    async fn pool_signin_reset(&self, pool: &str, sub: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.pool_signin_reset(pool, sub).await)
    }

    async fn pool_group_add(&self, pool: &str, group: &str, sub: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.pool_group_add(pool, group, sub).await)
    }

    async fn pool_group_remove(&self, pool: &str, group: &str, sub: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.pool_group_remove(pool, group, sub).await)
    }

    async fn pool_groups_of(&self, pool: &str, sub: &str) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.pool_groups_of(pool, sub).await)
    }

    async fn pool_code_put(&self, c: &crate::PoolCode) -> Result<(), StoreError> {
        dispatch!(self, s => s.pool_code_put(c).await)
    }

    async fn pool_code(&self, pool: &str, sub: &str, purpose: &str) -> Result<Option<crate::PoolCode>, StoreError> {
        dispatch!(self, s => s.pool_code(pool, sub, purpose).await)
    }

    async fn pool_code_attempt(&self, pool: &str, sub: &str, purpose: &str) -> Result<Option<i64>, StoreError> {
        dispatch!(self, s => s.pool_code_attempt(pool, sub, purpose).await)
    }

    async fn pool_code_delete(&self, pool: &str, sub: &str, purpose: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.pool_code_delete(pool, sub, purpose).await)
    }

    async fn pool_refresh_put(&self, t: &crate::RefreshToken) -> Result<(), StoreError> {
        dispatch!(self, s => s.pool_refresh_put(t).await)
    }

    async fn pool_refresh_take(&self, pool: &str, token_hash: &str) -> Result<crate::RefreshTake, StoreError> {
        dispatch!(self, s => s.pool_refresh_take(pool, token_hash).await)
    }

    async fn pool_refresh_revoke_family(&self, pool: &str, family: &str) -> Result<u64, StoreError> {
        dispatch!(self, s => s.pool_refresh_revoke_family(pool, family).await)
    }

    async fn pool_refresh_revoke_user(&self, pool: &str, sub: &str) -> Result<u64, StoreError> {
        dispatch!(self, s => s.pool_refresh_revoke_user(pool, sub).await)
    }

    async fn pool_family_active(&self, pool: &str, family: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.pool_family_active(pool, family).await)
    }
}

impl AnyStore {
    /// The feed of changes committed by every node; `None` on SQLite, which serves one node.
    pub fn changes(&self) -> Option<crate::ChangeFeed> {
        match self {
            Self::Sqlite(_) => None,
            Self::Postgres(s) => Some(s.changes()),
        }
    }
}

impl crate::ClusterStore for AnyStore {
    async fn config_publish(
        &self,
        document: &str,
        sha256: &str,
        author: &str,
        comment: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        dispatch!(self, s => s.config_publish(document, sha256, author, comment, now_ms).await)
    }

    async fn config_latest(&self) -> Result<Option<crate::ConfigVersion>, StoreError> {
        dispatch!(self, s => s.config_latest().await)
    }

    async fn config_history(&self, limit: u32) -> Result<Vec<crate::ConfigVersion>, StoreError> {
        dispatch!(self, s => s.config_history(limit).await)
    }

    async fn node_beat(&self, beat: &crate::NodeBeat) -> Result<(), StoreError> {
        dispatch!(self, s => s.node_beat(beat).await)
    }

    async fn nodes(&self) -> Result<Vec<crate::NodeBeat>, StoreError> {
        dispatch!(self, s => s.nodes().await)
    }

    async fn usage_add_batch(
        &self,
        batch_id: &str,
        node: &str,
        deltas: &[UsageRecord],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.usage_add_batch(batch_id, node, deltas, now_ms).await)
    }
}
