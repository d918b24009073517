use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::Row;

use crate::sql::{
    alarm_from, api_key_from, audit_record_from, certificate_from, credential_from, entity_from, usage_row_from,
};
use crate::{
    AdminCredential, ApiKey, ApiKeyInsert, AuditRecord, Credential, DeleteOutcome, Entity, EntityKind, KeyInsert,
    NewAuditRecord, Relation, Store, StoreError, StoredAlarm, StoredCertificate, UsageRecord,
};

/// The PostgreSQL store, for several gateway nodes on one database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

/// Migrations, oldest first; each runs once, in a transaction.
const MIGRATIONS: &[&str] = &[
    crate::sql::migration_v1!("BIGSERIAL PRIMARY KEY"),
    crate::sql::MIGRATION_V2,
    crate::sql::MIGRATION_V3,
    crate::sql::MIGRATION_V4,
    crate::sql::MIGRATION_V5,
    crate::sql::MIGRATION_V6,
    crate::pool_sql::MIGRATION_V7,
];

/// Nodes starting together migrate one at a time: the others wait on this lock, then find
/// nothing left to do.
const MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7242001)";

// === impl PostgresStore ===

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/db`, `?sslmode=require` for TLS) and migrates
    /// the database.
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
}

crate::sql::impl_store!(PostgresStore, PgRow, MIGRATIONS, Some(MIGRATION_LOCK));
crate::pool_sql::impl_pool_store!(PostgresStore, PgRow);
