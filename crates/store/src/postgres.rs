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
    /// Set while the change feed cannot reach the database: calls then fail at once instead
    /// of each waiting out the pool's connection timeout.
    offline: std::sync::Arc<std::sync::atomic::AtomicBool>,
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
    crate::cluster_sql::MIGRATION_V8_POSTGRES,
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
        let store = Self { pool, offline: std::sync::Arc::default() };
        store.migrate().await?;
        Ok(store)
    }
}

crate::sql::impl_store!(PostgresStore, PgRow, MIGRATIONS, Some(MIGRATION_LOCK));
crate::pool_sql::impl_pool_store!(PostgresStore, PgRow);
crate::cluster_sql::impl_cluster_store!(PostgresStore, PgRow);

/// What the change feed reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Listening (again): changes made while the feed was not listening were missed, so
    /// whatever was cached before now must be read again.
    Subscribed,
    /// A change to the named topic (`iam`, `api_keys`, `secrets`, `pool_users`,
    /// `pool_sessions`, `alarms`, `certificates`, `config`), committed by some node.
    Topic(String),
    /// The connection dropped; the next call reconnects.
    Lost(String),
}

/// Change notifications from every node (PostgreSQL's LISTEN on
/// [`crate::cluster_sql::CHANGES_CHANNEL`], fed by the triggers of migration 8), on a
/// connection of its own.
pub struct ChangeFeed {
    pool: PgPool,
    listener: Option<sqlx::postgres::PgListener>,
    offline: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed").field("listening", &self.listener.is_some()).finish()
    }
}

impl ChangeFeed {
    /// The next event. Connects first when not connected, and then answers
    /// [`Change::Subscribed`]; an error means the connection could not be made (try again
    /// later). From a lost connection until the next subscription, the store that made this
    /// feed is offline: its calls fail at once with [`StoreError::Offline`].
    pub async fn next(&mut self) -> Result<Change, StoreError> {
        use std::sync::atomic::Ordering;
        let Some(listener) = self.listener.as_mut() else {
            let listening = async {
                let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
                listener.listen(crate::cluster_sql::CHANGES_CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let listener = listening.await.inspect_err(|_| self.offline.store(true, Ordering::SeqCst))?;
            self.listener = Some(listener);
            self.offline.store(false, Ordering::SeqCst);
            return Ok(Change::Subscribed);
        };
        let event = match listener.try_recv().await {
            Ok(Some(n)) => return Ok(Change::Topic(n.payload().to_owned())),
            Ok(None) => Change::Lost("the connection closed".into()),
            Err(e) => Change::Lost(e.to_string()),
        };
        self.listener = None;
        self.offline.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(event)
    }
}

impl PostgresStore {
    /// A feed of the changes every node commits.
    pub fn changes(&self) -> ChangeFeed {
        ChangeFeed { pool: self.pool.clone(), listener: None, offline: self.offline.clone() }
    }

    /// Whether the change feed has lost the database (see [`ChangeFeed::next`]).
    pub fn is_offline(&self) -> bool {
        self.offline.load(std::sync::atomic::Ordering::SeqCst)
    }
}
