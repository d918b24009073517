use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row;

use crate::{AdminCredential, AuditRecord, NewAuditRecord, Outcome, Store, StoreError};

/// The PostgreSQL store, for several gateway nodes on one database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

/// Migrations, oldest first; each runs once, in a transaction.
const MIGRATIONS: &[&str] = &["CREATE TABLE admin_credentials (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL
    );
    CREATE TABLE audit_log (
        seq BIGSERIAL PRIMARY KEY,
        time_ms BIGINT NOT NULL,
        actor TEXT NOT NULL,
        source_ip TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL
    );"];

// === impl PostgresStore ===

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/db`) and migrates the database.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(opts)
            .await?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)").execute(&mut *tx).await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM schema_version").fetch_one(&mut *tx).await?;
        let current = current.unwrap_or(0);
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(StoreError::SchemaTooNew { found: current, known });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            sqlx::raw_sql(m).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                .bind(i as i64 + 1)
                .execute(&mut *tx)
                .await?;
            tracing::info!(version = i + 1, "postgres store migrated");
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Store for PostgresStore {
    async fn create_admin_credential(&self, cred: &AdminCredential) -> Result<bool, StoreError> {
        let done = sqlx::query("INSERT INTO admin_credentials (id, secret_hash, created_at_ms) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
            .bind(&cred.id)
            .bind(&cred.secret_hash)
            .bind(cred.created_at_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn admin_credential(&self, id: &str) -> Result<Option<AdminCredential>, StoreError> {
        let row = sqlx::query("SELECT id, secret_hash, created_at_ms FROM admin_credentials WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| AdminCredential { id: r.get(0), secret_hash: r.get(1), created_at_ms: r.get(2) }))
    }

    async fn append_audit(&self, rec: &NewAuditRecord) -> Result<i64, StoreError> {
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO audit_log (time_ms, actor, source_ip, action, target, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
        )
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
        let rows = sqlx::query(
            "SELECT seq, time_ms, actor, source_ip, action, target, outcome, detail FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(audit_from_row).collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn audit_from_row(r: &sqlx::postgres::PgRow) -> AuditRecord {
    AuditRecord {
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
    }
}
