//! What both stores share: the statements (written with `$n` placeholders, which SQLite and
//! PostgreSQL both accept) and, through [`impl_store!`], the code that runs them. Only the
//! migrations and the connection set-up differ between the two.

pub(crate) const INSERT_CREDENTIAL: &str =
    "INSERT INTO admin_credentials (id, secret_hash, created_at_ms) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING";
pub(crate) const SELECT_CREDENTIAL: &str = "SELECT id, secret_hash, created_at_ms FROM admin_credentials WHERE id = $1";
/// A select of every audit column, in the order [`audit_record_from`] reads them, then `$rest`.
macro_rules! audit_select {
    ($rest:literal) => {
        concat!(
            "SELECT seq, time_ms, actor, source_ip, action, target, outcome, detail, access_key_id, user_agent, \
             parameters, prev_hash, hash FROM audit_log",
            $rest
        )
    };
}

pub(crate) const LIST_AUDIT: &str = audit_select!(" WHERE seq > $1 ORDER BY seq LIMIT $2");
pub(crate) const SEARCH_AUDIT: &str = audit_select!(
    " WHERE seq > $1 AND ($2 = '' OR actor = $2) AND ($3 = '' OR action = $3) AND ($4 = '' OR target = $4) \
     AND time_ms >= $5 AND time_ms <= $6 ORDER BY seq LIMIT $7"
);
pub(crate) const AUDIT_RANGE: &str = audit_select!(" WHERE seq >= $1 AND seq <= $2 ORDER BY seq");
pub(crate) const AUDIT_RECORD: &str = audit_select!(" WHERE seq = $1");

/// Schema version 1, with the one column type the two engines spell differently.
macro_rules! migration_v1 {
    ($seq_column:literal) => {
        concat!(
            "CREATE TABLE admin_credentials (
                id TEXT PRIMARY KEY,
                secret_hash TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL
            );
            CREATE TABLE audit_log (
                seq ",
            $seq_column,
            ",
                time_ms BIGINT NOT NULL,
                actor TEXT NOT NULL,
                source_ip TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT NOT NULL
            );"
        )
    };
}

pub(crate) use migration_v1;

/// Schema version 2: IAM entities, their relations, credentials, and KMS-sealed server secrets.
pub(crate) const MIGRATION_V2: &str = "CREATE TABLE iam_entities (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        document TEXT NOT NULL,
        max_session_secs BIGINT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL,
        PRIMARY KEY (kind, name)
    );
    CREATE TABLE iam_relations (
        relation TEXT NOT NULL,
        subject TEXT NOT NULL,
        object TEXT NOT NULL,
        PRIMARY KEY (relation, subject, object)
    );
    CREATE INDEX iam_relations_object ON iam_relations (relation, object);
    CREATE TABLE iam_credentials (
        access_key_id TEXT PRIMARY KEY,
        owner_kind TEXT NOT NULL,
        owner_name TEXT NOT NULL,
        secret_enc TEXT NOT NULL,
        active BOOLEAN NOT NULL,
        token_hash TEXT,
        session_name TEXT,
        source_arn TEXT,
        expires_at_ms BIGINT,
        created_at_ms BIGINT NOT NULL,
        last_used_ms BIGINT
    );
    CREATE INDEX iam_credentials_owner ON iam_credentials (owner_kind, owner_name);
    CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        value_enc TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL
    );";

pub(crate) const INSERT_ENTITY: &str = "INSERT INTO iam_entities \
     (kind, name, id, document, max_session_secs, created_at_ms, updated_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, name) DO NOTHING";
pub(crate) const ENTITY_COLUMNS: &str = "kind, name, id, document, max_session_secs, created_at_ms, updated_at_ms";
pub(crate) const UPDATE_DOCUMENT: &str =
    "UPDATE iam_entities SET document = $3, updated_at_ms = $4 WHERE kind = $1 AND name = $2";
pub(crate) const DELETE_ENTITY: &str = "DELETE FROM iam_entities WHERE kind = $1 AND name = $2";
pub(crate) const INSERT_RELATION: &str =
    "INSERT INTO iam_relations (relation, subject, object) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
pub(crate) const DELETE_RELATION: &str =
    "DELETE FROM iam_relations WHERE relation = $1 AND subject = $2 AND object = $3";
pub(crate) const RELATION_OBJECTS: &str =
    "SELECT object FROM iam_relations WHERE relation = $1 AND subject = $2 ORDER BY object";
pub(crate) const RELATION_SUBJECTS: &str =
    "SELECT subject FROM iam_relations WHERE relation = $1 AND object = $2 ORDER BY subject";
pub(crate) const CREDENTIAL_COLUMNS: &str = "access_key_id, owner_kind, owner_name, secret_enc, active, token_hash, \
     session_name, source_arn, expires_at_ms, created_at_ms, last_used_ms";
pub(crate) const INSERT_IAM_CREDENTIAL: &str = "INSERT INTO iam_credentials \
     (access_key_id, owner_kind, owner_name, secret_enc, active, token_hash, session_name, source_arn, \
     expires_at_ms, created_at_ms, last_used_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
     ON CONFLICT DO NOTHING";
pub(crate) const LOCK_ENTITY: &str =
    "UPDATE iam_entities SET updated_at_ms = updated_at_ms WHERE kind = $1 AND name = $2";
pub(crate) const COUNT_USER_KEYS: &str =
    "SELECT COUNT(*) FROM iam_credentials WHERE owner_kind = 'user' AND owner_name = $1 AND token_hash IS NULL";
pub(crate) const SET_CREDENTIAL_ACTIVE: &str = "UPDATE iam_credentials SET active = $2 WHERE access_key_id = $1";
pub(crate) const SET_CREDENTIAL_SECRET: &str =
    "UPDATE iam_credentials SET secret_enc = $2 WHERE access_key_id = $1 AND secret_enc = $3";
pub(crate) const TOUCH_CREDENTIAL: &str = "UPDATE iam_credentials SET last_used_ms = $2 \
     WHERE access_key_id = $1 AND (last_used_ms IS NULL OR last_used_ms < $2 - 60000)";
pub(crate) const DELETE_CREDENTIAL: &str = "DELETE FROM iam_credentials WHERE access_key_id = $1";
pub(crate) const DELETE_EXPIRED_SESSIONS: &str =
    "DELETE FROM iam_credentials WHERE expires_at_ms IS NOT NULL AND expires_at_ms < $1";
pub(crate) const INSERT_SECRET: &str =
    "INSERT INTO secrets (name, value_enc, created_at_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
pub(crate) const SELECT_SECRET: &str = "SELECT value_enc FROM secrets WHERE name = $1";
pub(crate) const LIST_SECRETS: &str = "SELECT name, value_enc FROM secrets ORDER BY name";
pub(crate) const SET_SECRET: &str = "UPDATE secrets SET value_enc = $2 WHERE name = $1 AND value_enc = $3";

/// Schema version 3: API keys, their usage-plan attachments, and usage counted per plan, key,
/// day, API, stage and route.
pub(crate) const MIGRATION_V3: &str = "CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        prefix TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        enabled BOOLEAN NOT NULL,
        imported BOOLEAN NOT NULL,
        created_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL
    );
    CREATE TABLE usage_plan_keys (
        plan_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        PRIMARY KEY (plan_id, key_id)
    );
    CREATE INDEX usage_plan_keys_key ON usage_plan_keys (key_id);
    CREATE TABLE usage_records (
        plan_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        day TEXT NOT NULL,
        api TEXT NOT NULL,
        stage TEXT NOT NULL,
        route TEXT NOT NULL,
        count BIGINT NOT NULL,
        customer_id TEXT NOT NULL,
        PRIMARY KEY (plan_id, key_id, day, api, stage, route)
    );";

/// A select of every API key column, in the order [`api_key_from`] reads them, then `$rest`.
macro_rules! api_key_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, description, customer_id, prefix, hash, enabled, imported, created_at_ms, \
             updated_at_ms FROM api_keys",
            $rest
        )
    };
}

/// A select of every usage column, in the order [`usage_row_from`] reads them, then `$rest`.
macro_rules! usage_select {
    ($rest:literal) => {
        concat!("SELECT plan_id, key_id, day, api, stage, route, count, customer_id FROM usage_records", $rest)
    };
}

// Any unique column in conflict (the id or the hash) skips the insert.
pub(crate) const INSERT_API_KEY: &str = "INSERT INTO api_keys \
     (id, name, description, customer_id, prefix, hash, enabled, imported, created_at_ms, updated_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";
pub(crate) const COUNT_API_KEY_HASH: &str = "SELECT COUNT(*) FROM api_keys WHERE hash = $1";
pub(crate) const SELECT_API_KEY: &str = api_key_select!(" WHERE id = $1");
pub(crate) const SELECT_API_KEY_BY_HASH: &str = api_key_select!(" WHERE hash = $1");
pub(crate) const LIST_API_KEYS: &str = api_key_select!(" ORDER BY created_at_ms, id");
pub(crate) const SET_API_KEY_ENABLED: &str = "UPDATE api_keys SET enabled = $2, updated_at_ms = $3 WHERE id = $1";
pub(crate) const DELETE_KEY_ATTACHMENTS: &str = "DELETE FROM usage_plan_keys WHERE key_id = $1";
pub(crate) const DELETE_API_KEY: &str = "DELETE FROM api_keys WHERE id = $1";
pub(crate) const INSERT_PLAN_KEY: &str =
    "INSERT INTO usage_plan_keys (plan_id, key_id, created_at_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
pub(crate) const DELETE_PLAN_KEY: &str = "DELETE FROM usage_plan_keys WHERE plan_id = $1 AND key_id = $2";
pub(crate) const PLANS_OF_KEY: &str = "SELECT plan_id FROM usage_plan_keys WHERE key_id = $1 ORDER BY plan_id";
pub(crate) const KEYS_OF_PLAN: &str = "SELECT key_id FROM usage_plan_keys WHERE plan_id = $1 ORDER BY key_id";
pub(crate) const ADD_USAGE: &str = "INSERT INTO usage_records \
     (plan_id, key_id, day, api, stage, route, count, customer_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (plan_id, key_id, day, api, stage, route) \
     DO UPDATE SET count = usage_records.count + excluded.count";
pub(crate) const USAGE_OF_PLAN: &str =
    usage_select!(" WHERE plan_id = $1 AND day >= $2 AND day <= $3 ORDER BY key_id, day, api, stage, route");
pub(crate) const USAGE_OF_KEY: &str = usage_select!(
    " WHERE plan_id = $1 AND key_id = $2 AND day >= $3 AND day <= $4 ORDER BY key_id, day, api, stage, route"
);
// PostgreSQL's SUM of BIGINT is NUMERIC: cast back so both engines decode an i64.
pub(crate) const USAGE_TOTAL: &str = "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM usage_records \
     WHERE plan_id = $1 AND key_id = $2 AND day >= $3 AND day <= $4";

/// Schema version 4: TLS certificates (obtained through ACME or imported), and the leases that
/// let one node at a time order a certificate for a name. The leases have their own table: a
/// name is leased before its first certificate exists.
pub(crate) const MIGRATION_V4: &str = "CREATE TABLE certificates (
        name TEXT PRIMARY KEY,
        cert_pem TEXT NOT NULL,
        key_enc TEXT NOT NULL,
        source TEXT NOT NULL,
        issuer TEXT NOT NULL,
        not_after_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL
    );
    CREATE TABLE certificate_locks (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        until_ms BIGINT NOT NULL
    );";

/// A select of every certificate column, in the order [`certificate_from`] reads them, then
/// `$rest`.
macro_rules! certificate_select {
    ($rest:literal) => {
        concat!("SELECT name, cert_pem, key_enc, source, issuer, not_after_ms, updated_at_ms FROM certificates", $rest)
    };
}

pub(crate) const SELECT_CERTIFICATE: &str = certificate_select!(" WHERE name = $1");
pub(crate) const LIST_CERTIFICATES: &str = certificate_select!(" ORDER BY name");
pub(crate) const PUT_CERTIFICATE: &str = "INSERT INTO certificates \
     (name, cert_pem, key_enc, source, issuer, not_after_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (name) DO UPDATE SET cert_pem = excluded.cert_pem, key_enc = excluded.key_enc, \
     source = excluded.source, issuer = excluded.issuer, not_after_ms = excluded.not_after_ms, \
     updated_at_ms = excluded.updated_at_ms";
pub(crate) const DELETE_CERTIFICATE: &str = "DELETE FROM certificates WHERE name = $1";
// One statement, so the check and the write are atomic on both engines: a row comes back only
// when it was inserted, or updated because the lease had ended or was the owner's already. Two
// PostgreSQL inserts of a new name wait for each other; the second then takes the update path
// and sees the first's lease.
pub(crate) const LOCK_CERTIFICATE: &str = "INSERT INTO certificate_locks (name, owner, until_ms) \
     VALUES ($1, $2, $4) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms \
     WHERE certificate_locks.until_ms <= $3 OR certificate_locks.owner = excluded.owner RETURNING owner";
pub(crate) const UNLOCK_CERTIFICATE: &str = "DELETE FROM certificate_locks WHERE name = $1 AND owner = $2";

/// Schema version 5: the audit trail becomes a hash chain ([`crate::audit_chain`]). Each record
/// gets the hash of the one before it and its own; records written before keep empty hashes, and
/// the chain starts after them (the first chained record follows [`crate::audit_chain::GENESIS`]).
/// `audit_head` is one row: the last record's sequence number and hash. Appenders lock it, so
/// they take turns, and it shows whether records were cut off the end of the trail.
pub(crate) const MIGRATION_V5: &str = "ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
    ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
    CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL
    );
    INSERT INTO audit_head (id, seq, hash) SELECT 1, COALESCE(MAX(seq), 0), '' FROM audit_log;";

// An append runs these in one transaction. The no-op update comes first: it takes SQLite's write
// lock (waiting out other writers, in this process or another) and PostgreSQL's lock on the head
// row (waiting out other nodes' appends), so the head read next is the latest and stays so until
// commit. The sequence number is given explicitly: PostgreSQL's BIGSERIAL sequence is not used.
pub(crate) const LOCK_AUDIT_HEAD: &str = "UPDATE audit_head SET seq = seq WHERE id = 1";
pub(crate) const SELECT_AUDIT_HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log \
     (seq, time_ms, actor, source_ip, action, target, outcome, detail, access_key_id, user_agent, parameters, \
     prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
pub(crate) const SET_AUDIT_HEAD: &str = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1";

/// Schema version 6: audit records gain the principal's access key id, the client's user agent
/// and the request parameters (secrets removed), empty for records written before, whose hashes
/// stay valid ([`crate::audit_chain::record_hash`]); and alarms defined through the admin API,
/// kept so they survive restarts and every node sees the same ones.
pub(crate) const MIGRATION_V6: &str = "ALTER TABLE audit_log ADD COLUMN access_key_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE audit_log ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
    ALTER TABLE audit_log ADD COLUMN parameters TEXT NOT NULL DEFAULT '';
    CREATE TABLE alarms (
        name TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        updated_ms BIGINT NOT NULL
    );";

pub(crate) const SELECT_ALARM: &str = "SELECT name, definition, updated_ms FROM alarms WHERE name = $1";
pub(crate) const LIST_ALARMS: &str = "SELECT name, definition, updated_ms FROM alarms ORDER BY name";
pub(crate) const PUT_ALARM: &str = "INSERT INTO alarms (name, definition, updated_ms) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_ms = excluded.updated_ms";
pub(crate) const DELETE_ALARM: &str = "DELETE FROM alarms WHERE name = $1";

pub(crate) const CREATE_SCHEMA_VERSION: &str = "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)";
pub(crate) const CURRENT_VERSION: &str = "SELECT MAX(version) FROM schema_version";
pub(crate) const RECORD_VERSION: &str = "INSERT INTO schema_version (version) VALUES ($1)";

/// The insert of a credential with every column bound, for both engines and any executor.
macro_rules! insert_credential {
    ($c:expr) => {
        sqlx::query($crate::sql::INSERT_IAM_CREDENTIAL)
            .bind(&$c.access_key_id)
            .bind($c.owner_kind.as_str())
            .bind(&$c.owner_name)
            .bind(&$c.secret_enc)
            .bind($c.active)
            .bind(&$c.token_hash)
            .bind(&$c.session_name)
            .bind(&$c.source_arn)
            .bind($c.expires_at_ms)
            .bind($c.created_at_ms)
            .bind($c.last_used_ms)
    };
}

pub(crate) use insert_credential;

/// Implements migration and [`crate::Store`] for a store type with a `pool` field.
/// `$lock` is a statement run first in the migration transaction, to serialise nodes.
macro_rules! impl_store {
    ($store:ty, $row:ty, $migrations:expr, $lock:expr) => {
        impl $store {
            async fn migrate(&self) -> Result<(), StoreError> {
                use $crate::sql::*;
                let mut tx = self.pool.begin().await?;
                if let Some(lock) = $lock {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                sqlx::query(CREATE_SCHEMA_VERSION).execute(&mut *tx).await?;
                let current: Option<i64> = sqlx::query_scalar(CURRENT_VERSION).fetch_one(&mut *tx).await?;
                let current = current.unwrap_or(0);
                let known = $migrations.len() as i64;
                if current > known {
                    return Err(StoreError::SchemaTooNew { found: current, known });
                }
                for (i, m) in $migrations.iter().enumerate().skip(current as usize) {
                    sqlx::raw_sql(m).execute(&mut *tx).await?;
                    sqlx::query(RECORD_VERSION).bind(i as i64 + 1).execute(&mut *tx).await?;
                    tracing::info!(version = i + 1, store = stringify!($store), "store migrated");
                }
                tx.commit().await?;
                Ok(())
            }

            /// Adds usage counts inside `tx`. Rows are written in key order, so two PostgreSQL
            /// nodes flushing overlapping rows wait for each other instead of deadlocking. The
            /// first statement writes, so SQLite waits out other writers (see `iam_delete`).
            async fn usage_add_in(
                tx: &mut sqlx::Transaction<'_, <$row as sqlx::Row>::Database>,
                deltas: &[UsageRecord],
            ) -> Result<(), StoreError> {
                let mut sorted: Vec<&UsageRecord> = deltas.iter().collect();
                sorted.sort_unstable_by(|a, b| {
                    (&a.plan_id, &a.key_id, &a.day, &a.api, &a.stage, &a.route)
                        .cmp(&(&b.plan_id, &b.key_id, &b.day, &b.api, &b.stage, &b.route))
                });
                for d in sorted {
                    sqlx::query($crate::sql::ADD_USAGE)
                        .bind(&d.plan_id)
                        .bind(&d.key_id)
                        .bind(&d.day)
                        .bind(&d.api)
                        .bind(&d.stage)
                        .bind(&d.route)
                        .bind(d.count)
                        .bind(&d.customer_id)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }
        }

        impl Store for $store {
            async fn create_admin_credential(&self, cred: &AdminCredential) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::INSERT_CREDENTIAL)
                    .bind(&cred.id)
                    .bind(&cred.secret_hash)
                    .bind(cred.created_at_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn admin_credential(&self, id: &str) -> Result<Option<AdminCredential>, StoreError> {
                let row = sqlx::query($crate::sql::SELECT_CREDENTIAL).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.map(|r| AdminCredential { id: r.get(0), secret_hash: r.get(1), created_at_ms: r.get(2) }))
            }

            async fn append_audit(&self, rec: &NewAuditRecord) -> Result<i64, StoreError> {
                // One transaction, the head locked first (see `LOCK_AUDIT_HEAD`): appenders take
                // turns, and a failure anywhere leaves neither a record nor a moved head.
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::sql::LOCK_AUDIT_HEAD).execute(&mut *tx).await?;
                let head: $row = sqlx::query($crate::sql::SELECT_AUDIT_HEAD).fetch_one(&mut *tx).await?;
                let seq = head.try_get::<i64, _>(0)? + 1;
                let prev_hash: String = head.try_get(1)?;
                let hash = $crate::audit_chain::record_hash(&prev_hash, rec);
                sqlx::query($crate::sql::INSERT_AUDIT)
                    .bind(seq)
                    .bind(rec.time_ms)
                    .bind(&rec.actor)
                    .bind(&rec.source_ip)
                    .bind(&rec.action)
                    .bind(&rec.target)
                    .bind(rec.outcome.as_str())
                    .bind(&rec.detail)
                    .bind(&rec.access_key_id)
                    .bind(&rec.user_agent)
                    .bind(&rec.parameters)
                    .bind(&prev_hash)
                    .bind(&hash)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query($crate::sql::SET_AUDIT_HEAD).bind(seq).bind(&hash).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(seq)
            }

            async fn list_audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
                let rows: Vec<$row> = sqlx::query($crate::sql::LIST_AUDIT)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(|r| audit_record_from(r)).collect::<Result<_, _>>()?)
            }

            async fn search_audit(&self, q: &$crate::AuditSearch) -> Result<Vec<AuditRecord>, StoreError> {
                let rows: Vec<$row> = sqlx::query($crate::sql::SEARCH_AUDIT)
                    .bind(q.after)
                    .bind(q.actor.as_deref().unwrap_or(""))
                    .bind(q.action.as_deref().unwrap_or(""))
                    .bind(q.target.as_deref().unwrap_or(""))
                    .bind(q.from_ms.unwrap_or(i64::MIN))
                    .bind(q.to_ms.unwrap_or(i64::MAX))
                    .bind(i64::from(q.limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(|r| audit_record_from(r)).collect::<Result<_, _>>()?)
            }

            async fn audit_head(&self) -> Result<(i64, String), StoreError> {
                let row: $row = sqlx::query($crate::sql::SELECT_AUDIT_HEAD).fetch_one(&self.pool).await?;
                Ok((row.try_get(0)?, row.try_get(1)?))
            }

            async fn audit_range(&self, from_seq: i64, to_seq: i64) -> Result<Vec<AuditRecord>, StoreError> {
                let rows: Vec<$row> =
                    sqlx::query($crate::sql::AUDIT_RANGE).bind(from_seq).bind(to_seq).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(|r| audit_record_from(r)).collect::<Result<_, _>>()?)
            }

            async fn audit_record(&self, seq: i64) -> Result<Option<AuditRecord>, StoreError> {
                let row: Option<$row> = sqlx::query($crate::sql::AUDIT_RECORD).bind(seq).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(|r| audit_record_from(r)).transpose()?)
            }

            async fn iam_create(&self, e: &Entity) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::INSERT_ENTITY)
                    .bind(e.kind.as_str())
                    .bind(&e.name)
                    .bind(&e.id)
                    .bind(&e.document)
                    .bind(e.max_session_secs)
                    .bind(e.created_at_ms)
                    .bind(e.updated_at_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn iam_get(&self, kind: EntityKind, name: &str) -> Result<Option<Entity>, StoreError> {
                let q = format!("SELECT {} FROM iam_entities WHERE kind = $1 AND name = $2", $crate::sql::ENTITY_COLUMNS);
                let row: Option<$row> = sqlx::query(&q).bind(kind.as_str()).bind(name).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().and_then(|r| entity_from(r)))
            }

            async fn iam_list(&self, kind: EntityKind) -> Result<Vec<Entity>, StoreError> {
                let q = format!("SELECT {} FROM iam_entities WHERE kind = $1 ORDER BY name", $crate::sql::ENTITY_COLUMNS);
                let rows: Vec<$row> = sqlx::query(&q).bind(kind.as_str()).fetch_all(&self.pool).await?;
                Ok(rows.iter().filter_map(|r| entity_from(r)).collect())
            }

            async fn iam_set_document(&self, kind: EntityKind, name: &str, document: &str, now_ms: i64) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::UPDATE_DOCUMENT)
                    .bind(kind.as_str())
                    .bind(name)
                    .bind(document)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn iam_delete(&self, kind: EntityKind, name: &str, arn: &str) -> Result<DeleteOutcome, StoreError> {
                let mut tx = self.pool.begin().await?;
                // Write first: the no-op update takes SQLite's write lock (waiting out other
                // writers) and PostgreSQL's row lock before the checks read. A transaction that
                // read first would fail at once in SQLite's WAL mode if another connection wrote
                // in between, and in PostgreSQL could race a concurrent attach.
                sqlx::query($crate::sql::LOCK_ENTITY).bind(kind.as_str()).bind(name).execute(&mut *tx).await?;
                let subject = format!("{}/{name}", kind.as_str());
                let checks: &[(&str, &str, &str)] = match kind {
                    EntityKind::User => &[
                        ("SELECT COUNT(*) FROM iam_credentials WHERE owner_kind = 'user' AND owner_name = $1", name, "delete its access keys first"),
                        ("SELECT COUNT(*) FROM iam_relations WHERE relation = 'member_of' AND subject = $1", name, "remove it from its groups first"),
                        ("SELECT COUNT(*) FROM iam_relations WHERE relation = 'attached' AND subject = $1", &subject, "detach its policies first"),
                    ],
                    EntityKind::Group => &[
                        ("SELECT COUNT(*) FROM iam_relations WHERE relation = 'member_of' AND object = $1", name, "remove its users first"),
                        ("SELECT COUNT(*) FROM iam_relations WHERE relation = 'attached' AND subject = $1", &subject, "detach its policies first"),
                    ],
                    EntityKind::Role => &[
                        ("SELECT COUNT(*) FROM iam_relations WHERE relation = 'attached' AND subject = $1", &subject, "detach its policies first"),
                    ],
                    EntityKind::Policy => &[
                        ("SELECT COUNT(*) FROM iam_relations WHERE relation = 'attached' AND object = $1", arn, "detach it from every user, group and role first"),
                    ],
                };
                for (q, bind, what) in checks {
                    let n: i64 = sqlx::query_scalar(q).bind(*bind).fetch_one(&mut *tx).await?;
                    if n > 0 {
                        return Ok(DeleteOutcome::Conflict(format!("cannot delete {} `{name}`: {what}", kind.as_str())));
                    }
                }
                let done = sqlx::query($crate::sql::DELETE_ENTITY).bind(kind.as_str()).bind(name).execute(&mut *tx).await?;
                if kind == EntityKind::Role {
                    // Temporary credentials die with their role.
                    sqlx::query("DELETE FROM iam_credentials WHERE owner_kind = 'role' AND owner_name = $1")
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(if done.rows_affected() == 1 { DeleteOutcome::Deleted } else { DeleteOutcome::NotFound })
            }

            async fn iam_relate(&self, rel: Relation, subject: &str, object: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::INSERT_RELATION)
                    .bind(rel.as_str())
                    .bind(subject)
                    .bind(object)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn iam_unrelate(&self, rel: Relation, subject: &str, object: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::DELETE_RELATION)
                    .bind(rel.as_str())
                    .bind(subject)
                    .bind(object)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn iam_related(&self, rel: Relation, subject: &str) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar($crate::sql::RELATION_OBJECTS)
                    .bind(rel.as_str())
                    .bind(subject)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn iam_relating(&self, rel: Relation, object: &str) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar($crate::sql::RELATION_SUBJECTS)
                    .bind(rel.as_str())
                    .bind(object)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn iam_put_credential(&self, c: &Credential) -> Result<bool, StoreError> {
                let done = $crate::sql::insert_credential!(c)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn iam_put_user_key(&self, c: &Credential, max: i64) -> Result<KeyInsert, StoreError> {
                let mut tx = self.pool.begin().await?;
                // The user's row is locked first, so two concurrent creates count one after the
                // other (see `iam_delete` for why the write comes first).
                sqlx::query($crate::sql::LOCK_ENTITY).bind("user").bind(&c.owner_name).execute(&mut *tx).await?;
                let held: i64 = sqlx::query_scalar($crate::sql::COUNT_USER_KEYS)
                    .bind(&c.owner_name)
                    .fetch_one(&mut *tx)
                    .await?;
                if held >= max {
                    return Ok(KeyInsert::LimitReached);
                }
                let done = $crate::sql::insert_credential!(c)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(if done.rows_affected() == 1 { KeyInsert::Stored } else { KeyInsert::IdTaken })
            }

            async fn iam_credential(&self, access_key_id: &str) -> Result<Option<Credential>, StoreError> {
                let q = format!("SELECT {} FROM iam_credentials WHERE access_key_id = $1", $crate::sql::CREDENTIAL_COLUMNS);
                let row: Option<$row> = sqlx::query(&q).bind(access_key_id).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().and_then(|r| credential_from(r)))
            }

            async fn iam_credentials(&self, owner: Option<(EntityKind, &str)>) -> Result<Vec<Credential>, StoreError> {
                let cols = $crate::sql::CREDENTIAL_COLUMNS;
                let rows: Vec<$row> = match owner {
                    Some((kind, name)) => {
                        let q = format!("SELECT {cols} FROM iam_credentials WHERE owner_kind = $1 AND owner_name = $2 ORDER BY created_at_ms, access_key_id");
                        sqlx::query(&q).bind(kind.as_str()).bind(name).fetch_all(&self.pool).await?
                    }
                    None => {
                        let q = format!("SELECT {cols} FROM iam_credentials ORDER BY access_key_id");
                        sqlx::query(&q).fetch_all(&self.pool).await?
                    }
                };
                Ok(rows.iter().filter_map(|r| credential_from(r)).collect())
            }

            async fn iam_set_credential_active(&self, access_key_id: &str, active: bool) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::SET_CREDENTIAL_ACTIVE).bind(access_key_id).bind(active).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn iam_replace_credential_secret(&self, access_key_id: &str, new: &str, old: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::SET_CREDENTIAL_SECRET)
                    .bind(access_key_id)
                    .bind(new)
                    .bind(old)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn iam_touch_credential(&self, access_key_id: &str, now_ms: i64) -> Result<(), StoreError> {
                sqlx::query($crate::sql::TOUCH_CREDENTIAL).bind(access_key_id).bind(now_ms).execute(&self.pool).await?;
                Ok(())
            }

            async fn iam_delete_credential(&self, access_key_id: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::DELETE_CREDENTIAL).bind(access_key_id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn iam_delete_expired_sessions(&self, now_ms: i64) -> Result<u64, StoreError> {
                let done = sqlx::query($crate::sql::DELETE_EXPIRED_SESSIONS).bind(now_ms).execute(&self.pool).await?;
                Ok(done.rows_affected())
            }

            async fn create_secret(&self, name: &str, value_enc: &str, now_ms: i64) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::INSERT_SECRET).bind(name).bind(value_enc).bind(now_ms).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn secret(&self, name: &str) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar($crate::sql::SELECT_SECRET).bind(name).fetch_optional(&self.pool).await?)
            }

            async fn secrets(&self) -> Result<Vec<(String, String)>, StoreError> {
                let rows: Vec<$row> = sqlx::query($crate::sql::LIST_SECRETS).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            }

            async fn replace_secret(&self, name: &str, new: &str, old: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::SET_SECRET).bind(name).bind(new).bind(old).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn api_key_create(&self, k: &ApiKey) -> Result<ApiKeyInsert, StoreError> {
                let done = sqlx::query($crate::sql::INSERT_API_KEY)
                    .bind(&k.id)
                    .bind(&k.name)
                    .bind(&k.description)
                    .bind(&k.customer_id)
                    .bind(&k.prefix)
                    .bind(&k.hash)
                    .bind(k.enabled)
                    .bind(k.imported)
                    .bind(k.created_at_ms)
                    .bind(k.updated_at_ms)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 1 {
                    return Ok(ApiKeyInsert::Stored);
                }
                let same_value: i64 =
                    sqlx::query_scalar($crate::sql::COUNT_API_KEY_HASH).bind(&k.hash).fetch_one(&self.pool).await?;
                Ok(if same_value > 0 { ApiKeyInsert::ValueTaken } else { ApiKeyInsert::IdTaken })
            }

            async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
                let row: Option<$row> = sqlx::query($crate::sql::SELECT_API_KEY).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().and_then(|r| api_key_from(r)))
            }

            async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
                let row: Option<$row> =
                    sqlx::query($crate::sql::SELECT_API_KEY_BY_HASH).bind(hash).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().and_then(|r| api_key_from(r)))
            }

            async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
                let rows: Vec<$row> = sqlx::query($crate::sql::LIST_API_KEYS).fetch_all(&self.pool).await?;
                Ok(rows.iter().filter_map(|r| api_key_from(r)).collect())
            }

            async fn api_key_set_enabled(&self, id: &str, enabled: bool, now_ms: i64) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::SET_API_KEY_ENABLED)
                    .bind(id)
                    .bind(enabled)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn api_key_delete(&self, id: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::sql::DELETE_KEY_ATTACHMENTS).bind(id).execute(&mut *tx).await?;
                let done = sqlx::query($crate::sql::DELETE_API_KEY).bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn plan_key_attach(&self, plan_id: &str, key_id: &str, now_ms: i64) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::INSERT_PLAN_KEY)
                    .bind(plan_id)
                    .bind(key_id)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn plan_key_detach(&self, plan_id: &str, key_id: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::DELETE_PLAN_KEY).bind(plan_id).bind(key_id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn plans_of_key(&self, key_id: &str) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar($crate::sql::PLANS_OF_KEY).bind(key_id).fetch_all(&self.pool).await?)
            }

            async fn keys_of_plan(&self, plan_id: &str) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar($crate::sql::KEYS_OF_PLAN).bind(plan_id).fetch_all(&self.pool).await?)
            }

            async fn usage_add(&self, deltas: &[UsageRecord]) -> Result<(), StoreError> {
                if deltas.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                Self::usage_add_in(&mut tx, deltas).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn usage(&self, plan_id: &str, key_id: Option<&str>, from_day: &str, to_day: &str) -> Result<Vec<UsageRecord>, StoreError> {
                let rows: Vec<$row> = match key_id {
                    Some(key_id) => {
                        sqlx::query($crate::sql::USAGE_OF_KEY)
                            .bind(plan_id)
                            .bind(key_id)
                            .bind(from_day)
                            .bind(to_day)
                            .fetch_all(&self.pool)
                            .await?
                    }
                    None => {
                        sqlx::query($crate::sql::USAGE_OF_PLAN)
                            .bind(plan_id)
                            .bind(from_day)
                            .bind(to_day)
                            .fetch_all(&self.pool)
                            .await?
                    }
                };
                Ok(rows.iter().filter_map(|r| usage_row_from(r)).collect())
            }

            async fn usage_total(&self, plan_id: &str, key_id: &str, from_day: &str, to_day: &str) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar($crate::sql::USAGE_TOTAL)
                    .bind(plan_id)
                    .bind(key_id)
                    .bind(from_day)
                    .bind(to_day)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn certificate(&self, name: &str) -> Result<Option<StoredCertificate>, StoreError> {
                let row: Option<$row> =
                    sqlx::query($crate::sql::SELECT_CERTIFICATE).bind(name).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().and_then(|r| certificate_from(r)))
            }

            async fn certificates(&self) -> Result<Vec<StoredCertificate>, StoreError> {
                let rows: Vec<$row> = sqlx::query($crate::sql::LIST_CERTIFICATES).fetch_all(&self.pool).await?;
                Ok(rows.iter().filter_map(|r| certificate_from(r)).collect())
            }

            async fn put_certificate(&self, c: &StoredCertificate) -> Result<(), StoreError> {
                sqlx::query($crate::sql::PUT_CERTIFICATE)
                    .bind(&c.name)
                    .bind(&c.cert_pem)
                    .bind(&c.key_enc)
                    .bind(c.source.as_str())
                    .bind(&c.issuer)
                    .bind(c.not_after_ms)
                    .bind(c.updated_at_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_certificate(&self, name: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::DELETE_CERTIFICATE).bind(name).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn try_lock_certificate(
                &self,
                name: &str,
                owner: &str,
                now_ms: i64,
                until_ms: i64,
            ) -> Result<bool, StoreError> {
                let held: Option<String> = sqlx::query_scalar($crate::sql::LOCK_CERTIFICATE)
                    .bind(name)
                    .bind(owner)
                    .bind(now_ms)
                    .bind(until_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(held.is_some())
            }

            async fn release_certificate_lock(&self, name: &str, owner: &str) -> Result<bool, StoreError> {
                let done =
                    sqlx::query($crate::sql::UNLOCK_CERTIFICATE).bind(name).bind(owner).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_alarm(&self, alarm: &StoredAlarm) -> Result<(), StoreError> {
                sqlx::query($crate::sql::PUT_ALARM)
                    .bind(&alarm.name)
                    .bind(&alarm.definition)
                    .bind(alarm.updated_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn alarm(&self, name: &str) -> Result<Option<StoredAlarm>, StoreError> {
                let row: Option<$row> = sqlx::query($crate::sql::SELECT_ALARM).bind(name).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().and_then(|r| alarm_from(r)))
            }

            async fn alarms(&self) -> Result<Vec<StoredAlarm>, StoreError> {
                let rows: Vec<$row> = sqlx::query($crate::sql::LIST_ALARMS).fetch_all(&self.pool).await?;
                Ok(rows.iter().filter_map(|r| alarm_from(r)).collect())
            }

            async fn delete_alarm(&self, name: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($crate::sql::DELETE_ALARM).bind(name).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_store;

/// An audit record from the columns of `audit_select!`. A column that does not decode is an
/// error, not a skipped row: a record missing from a listing would read as a deleted one.
pub(crate) fn audit_record_from<'r, R>(r: &'r R) -> Result<crate::AuditRecord, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(crate::AuditRecord {
        seq: r.try_get(0)?,
        record: crate::NewAuditRecord {
            time_ms: r.try_get(1)?,
            actor: r.try_get(2)?,
            access_key_id: r.try_get(8)?,
            source_ip: r.try_get(3)?,
            user_agent: r.try_get(9)?,
            action: r.try_get(4)?,
            target: r.try_get(5)?,
            parameters: r.try_get(10)?,
            outcome: crate::Outcome::parse(r.try_get::<&str, _>(6)?),
            detail: r.try_get(7)?,
        },
        prev_hash: r.try_get(11)?,
        hash: r.try_get(12)?,
    })
}

/// Row readers shared by both engines: generic over the row type.
pub(crate) fn entity_from<'r, R>(r: &'r R) -> Option<crate::Entity>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Some(crate::Entity {
        kind: crate::EntityKind::parse(r.try_get::<&str, _>(0).ok()?)?,
        name: r.try_get(1).ok()?,
        id: r.try_get(2).ok()?,
        document: r.try_get(3).ok()?,
        max_session_secs: r.try_get(4).ok()?,
        created_at_ms: r.try_get(5).ok()?,
        updated_at_ms: r.try_get(6).ok()?,
    })
}

pub(crate) fn credential_from<'r, R>(r: &'r R) -> Option<crate::Credential>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Some(crate::Credential {
        access_key_id: r.try_get(0).ok()?,
        owner_kind: crate::EntityKind::parse(r.try_get::<&str, _>(1).ok()?)?,
        owner_name: r.try_get(2).ok()?,
        secret_enc: r.try_get(3).ok()?,
        active: r.try_get(4).ok()?,
        token_hash: r.try_get(5).ok()?,
        session_name: r.try_get(6).ok()?,
        source_arn: r.try_get(7).ok()?,
        expires_at_ms: r.try_get(8).ok()?,
        created_at_ms: r.try_get(9).ok()?,
        last_used_ms: r.try_get(10).ok()?,
    })
}

/// An API key from the columns of `api_key_select!`.
pub(crate) fn api_key_from<'r, R>(r: &'r R) -> Option<crate::ApiKey>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Some(crate::ApiKey {
        id: r.try_get(0).ok()?,
        name: r.try_get(1).ok()?,
        description: r.try_get(2).ok()?,
        customer_id: r.try_get(3).ok()?,
        prefix: r.try_get(4).ok()?,
        hash: r.try_get(5).ok()?,
        enabled: r.try_get(6).ok()?,
        imported: r.try_get(7).ok()?,
        created_at_ms: r.try_get(8).ok()?,
        updated_at_ms: r.try_get(9).ok()?,
    })
}

/// A usage row from the columns of `usage_select!`.
pub(crate) fn usage_row_from<'r, R>(r: &'r R) -> Option<crate::UsageRecord>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Some(crate::UsageRecord {
        plan_id: r.try_get(0).ok()?,
        key_id: r.try_get(1).ok()?,
        day: r.try_get(2).ok()?,
        api: r.try_get(3).ok()?,
        stage: r.try_get(4).ok()?,
        route: r.try_get(5).ok()?,
        count: r.try_get(6).ok()?,
        customer_id: r.try_get(7).ok()?,
    })
}

/// A certificate from the columns of `certificate_select!`.
pub(crate) fn certificate_from<'r, R>(r: &'r R) -> Option<crate::StoredCertificate>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Some(crate::StoredCertificate {
        name: r.try_get(0).ok()?,
        cert_pem: r.try_get(1).ok()?,
        key_enc: r.try_get(2).ok()?,
        source: crate::CertificateSource::parse(r.try_get::<&str, _>(3).ok()?)?,
        issuer: r.try_get(4).ok()?,
        not_after_ms: r.try_get(5).ok()?,
        updated_at_ms: r.try_get(6).ok()?,
    })
}

/// An alarm from the columns of `SELECT_ALARM` and `LIST_ALARMS`.
pub(crate) fn alarm_from<'r, R>(r: &'r R) -> Option<crate::StoredAlarm>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Some(crate::StoredAlarm {
        name: r.try_get(0).ok()?,
        definition: r.try_get(1).ok()?,
        updated_ms: r.try_get(2).ok()?,
    })
}
