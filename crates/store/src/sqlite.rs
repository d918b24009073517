use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::Row;

use crate::sql::{
    alarm_from, api_key_from, audit_record_from, certificate_from, credential_from, entity_from, usage_row_from,
};
use crate::{
    AdminCredential, ApiKey, ApiKeyInsert, AuditRecord, Credential, DeleteOutcome, Entity, EntityKind, KeyInsert,
    NewAuditRecord, Relation, Store, StoreError, StoredAlarm, StoredCertificate, UsageRecord,
};

/// The embedded store: one SQLite file, WAL journal.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

/// Migrations, oldest first; each runs once, in a transaction.
const MIGRATIONS: &[&str] = &[
    crate::sql::migration_v1!("INTEGER PRIMARY KEY AUTOINCREMENT"),
    crate::sql::MIGRATION_V2,
    crate::sql::MIGRATION_V3,
    crate::sql::MIGRATION_V4,
    crate::sql::MIGRATION_V5,
    crate::sql::MIGRATION_V6,
    crate::pool_sql::MIGRATION_V7,
    crate::cluster_sql::MIGRATION_V8,
];

// === impl SqliteStore ===

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path`) and migrates it.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }
}

// SQLite serialises writers itself; no lock statement is needed.
crate::sql::impl_store!(SqliteStore, SqliteRow, MIGRATIONS, None::<&str>);
crate::pool_sql::impl_pool_store!(SqliteStore, SqliteRow);
crate::cluster_sql::impl_cluster_store!(SqliteStore, SqliteRow);
