//! What both stores share: the statements (written with `$n` placeholders, which SQLite and
//! PostgreSQL both accept) and, through [`impl_store!`], the code that runs them. Only the
//! migrations and the connection set-up differ between the two.

pub(crate) const INSERT_CREDENTIAL: &str =
    "INSERT INTO admin_credentials (id, secret_hash, created_at_ms) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING";
pub(crate) const SELECT_CREDENTIAL: &str = "SELECT id, secret_hash, created_at_ms FROM admin_credentials WHERE id = $1";
pub(crate) const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (time_ms, actor, source_ip, action, target, outcome, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq";
pub(crate) const LIST_AUDIT: &str = "SELECT seq, time_ms, actor, source_ip, action, target, outcome, detail \
     FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2";
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

pub(crate) const CREATE_SCHEMA_VERSION: &str = "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)";
pub(crate) const CURRENT_VERSION: &str = "SELECT MAX(version) FROM schema_version";
pub(crate) const RECORD_VERSION: &str = "INSERT INTO schema_version (version) VALUES ($1)";

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
                let seq: i64 = sqlx::query_scalar($crate::sql::INSERT_AUDIT)
                    .bind(rec.time_ms)
                    .bind(&rec.actor)
                    .bind(&rec.source_ip)
                    .bind(&rec.action)
                    .bind(&rec.target)
                    .bind(rec.outcome.as_str())
                    .bind(&rec.detail)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(seq)
            }

            async fn list_audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
                let rows = sqlx::query($crate::sql::LIST_AUDIT)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r: &$row| AuditRecord {
                        seq: r.get(0),
                        record: NewAuditRecord {
                            time_ms: r.get(1),
                            actor: r.get(2),
                            source_ip: r.get(3),
                            action: r.get(4),
                            target: r.get(5),
                            outcome: Outcome::parse(r.get(6)),
                            detail: r.get(7),
                        },
                    })
                    .collect())
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_store;
