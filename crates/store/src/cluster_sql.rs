//! What running several nodes on one store needs from it: published config versions, the
//! nodes' heartbeats, and the ids of usage batches already counted (so that a batch sent again
//! after a crash is not counted twice). The [`ClusterStore`] trait, its statements (valid on
//! SQLite and PostgreSQL alike) and, through `impl_cluster_store!`, the code that runs them.
//!
//! On PostgreSQL, migration 8 also installs triggers that announce changes on the
//! [`CHANGES_CHANNEL`] channel (see [`crate::ChangeFeed`]); SQLite has one node and no channel.

use std::future::Future;

use crate::{StoreError, UsageRecord};

/// The PostgreSQL channel that carries change notifications. The payload is a [`Topic`] name.
pub const CHANGES_CHANNEL: &str = "portcullis_changes";

/// A published version of the declarative config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigVersion {
    /// 1, 2, 3…: the newest is served.
    pub version: i64,
    /// The config file's text, as published.
    pub document: String,
    /// Hex SHA-256 of `document`.
    pub sha256: String,
    /// Who published it (an ARN).
    pub author: String,
    /// A note from the publisher.
    pub comment: String,
    /// When it was published.
    pub created_ms: i64,
}

/// What a node last said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBeat {
    /// The node's name (`node_name`).
    pub name: String,
    /// Where its API listener is.
    pub address: String,
    /// The config version it serves; 0 for its local file.
    pub config_version: i64,
    /// The build it runs.
    pub build: String,
    /// When it started.
    pub started_ms: i64,
    /// When it was last heard from.
    pub seen_ms: i64,
}

/// Published config, node heartbeats and usage batches.
pub trait ClusterStore: Send + Sync {
    /// Stores `document` as the next version and returns its number. Two publishers at once
    /// get consecutive numbers.
    fn config_publish(
        &self,
        document: &str,
        sha256: &str,
        author: &str,
        comment: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// The newest published version, if any.
    fn config_latest(&self) -> impl Future<Output = Result<Option<ConfigVersion>, StoreError>> + Send;

    /// The newest `limit` versions, newest first, with empty documents.
    fn config_history(&self, limit: u32) -> impl Future<Output = Result<Vec<ConfigVersion>, StoreError>> + Send;

    /// Records a node's heartbeat (creating or replacing its row).
    fn node_beat(&self, beat: &NodeBeat) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every node that ever beat, by name.
    fn nodes(&self) -> impl Future<Output = Result<Vec<NodeBeat>, StoreError>> + Send;

    /// Adds a batch of usage counts once: in one transaction, records `batch_id` and adds the
    /// counts, unless that id was recorded before. `Ok(false)` when it was (the batch was
    /// counted by an earlier attempt whose answer was lost).
    fn usage_add_batch(
        &self,
        batch_id: &str,
        node: &str,
        deltas: &[UsageRecord],
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// How long the ids of counted usage batches are kept: a batch held on a node's disk for
/// longer than this (the node down for a month with the store unreachable) could be counted
/// twice.
pub(crate) const USAGE_BATCH_RETENTION_MS: i64 = 31 * 24 * 3600 * 1000;

/// The tables of migration 8, for both engines.
macro_rules! v8_tables {
    () => {
        "CREATE TABLE config_versions (
        version BIGINT PRIMARY KEY,
        document TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        author TEXT NOT NULL,
        comment TEXT NOT NULL,
        created_ms BIGINT NOT NULL
    );
    CREATE TABLE cluster_nodes (
        name TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        config_version BIGINT NOT NULL,
        build TEXT NOT NULL,
        started_ms BIGINT NOT NULL,
        seen_ms BIGINT NOT NULL
    );
    CREATE TABLE usage_batches (
        id TEXT PRIMARY KEY,
        node TEXT NOT NULL,
        requests BIGINT NOT NULL,
        written_ms BIGINT NOT NULL
    );
    CREATE INDEX usage_batches_written ON usage_batches (written_ms);"
    };
}

/// Migration 8 on SQLite.
pub(crate) const MIGRATION_V8: &str = v8_tables!();

/// PostgreSQL's part of migration 8: a trigger per table whose changes other nodes must hear
/// of, fired once per statement and delivered at commit. Written to run again over itself (a
/// database rolled back by hand to version 7 keeps its triggers). What happens in normal use is
/// left out, so that use does not empty every node's caches: an access key's last use, a
/// user's failed sign-ins, a refresh token's rotation, and the credentials STS creates and
/// deletes once expired with every `AssumeRole` (a new credential was in no cache but the
/// short-lived one of unknown ids; an expired one is refused anyway). A credential deleted
/// before it expires is announced.
pub(crate) const MIGRATION_V8_POSTGRES: &str = concat!(
    v8_tables!(),
    "
    CREATE OR REPLACE FUNCTION portcullis_notify_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('portcullis_changes', TG_ARGV[0]);
        RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS iam_entities_changed ON iam_entities;
    CREATE TRIGGER iam_entities_changed AFTER INSERT OR UPDATE OR DELETE ON iam_entities
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_change('iam');
    DROP TRIGGER IF EXISTS iam_relations_changed ON iam_relations;
    CREATE TRIGGER iam_relations_changed AFTER INSERT OR UPDATE OR DELETE ON iam_relations
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_change('iam');
    DROP TRIGGER IF EXISTS iam_credentials_changed ON iam_credentials;
    CREATE TRIGGER iam_credentials_changed
        AFTER UPDATE OF active, secret_enc, token_hash, expires_at_ms ON iam_credentials
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_change('iam');
    DROP TRIGGER IF EXISTS iam_credentials_deleted ON iam_credentials;
    CREATE TRIGGER iam_credentials_deleted AFTER DELETE ON iam_credentials FOR EACH ROW
        WHEN (OLD.expires_at_ms IS NULL OR OLD.expires_at_ms > EXTRACT(EPOCH FROM clock_timestamp()) * 1000)
        EXECUTE FUNCTION portcullis_notify_change('iam');
    DROP TRIGGER IF EXISTS api_keys_changed ON api_keys;
    CREATE TRIGGER api_keys_changed AFTER INSERT OR DELETE OR UPDATE OF enabled, hash ON api_keys
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_change('api_keys');
    DROP TRIGGER IF EXISTS usage_plan_keys_changed ON usage_plan_keys;
    CREATE TRIGGER usage_plan_keys_changed AFTER INSERT OR UPDATE OR DELETE ON usage_plan_keys
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_change('api_keys');
    DROP TRIGGER IF EXISTS secrets_changed ON secrets;
    CREATE TRIGGER secrets_changed AFTER INSERT OR UPDATE OR DELETE ON secrets
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_change('secrets');
    DROP TRIGGER IF EXISTS pool_users_changed ON pool_users;
    CREATE TRIGGER pool_users_changed AFTER DELETE OR UPDATE OF enabled ON pool_users
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_change('pool_users');
    DROP TRIGGER IF EXISTS pool_refresh_tokens_changed ON pool_refresh_tokens;
    CREATE TRIGGER pool_refresh_tokens_changed AFTER DELETE OR UPDATE OF revoked ON pool_refresh_tokens
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_change('pool_sessions');
    DROP TRIGGER IF EXISTS alarms_changed ON alarms;
    CREATE TRIGGER alarms_changed AFTER INSERT OR UPDATE OR DELETE ON alarms
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_change('alarms');
    DROP TRIGGER IF EXISTS certificates_changed ON certificates;
    CREATE TRIGGER certificates_changed AFTER INSERT OR UPDATE OR DELETE ON certificates
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_change('certificates');
    DROP TRIGGER IF EXISTS config_versions_changed ON config_versions;
    CREATE TRIGGER config_versions_changed AFTER INSERT ON config_versions
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notify_change('config');"
);

/// The next version number is taken in the insert itself; a publisher that lost the race to
/// the same number inserts nothing and tries again. (`WHERE true` lets SQLite tell the upsert
/// clause from a join.)
pub(crate) const PUBLISH_CONFIG: &str = "INSERT INTO config_versions \
     (version, document, sha256, author, comment, created_ms) \
     SELECT COALESCE(MAX(version), 0) + 1, $1, $2, $3, $4, $5 FROM config_versions WHERE true \
     ON CONFLICT (version) DO NOTHING RETURNING version";
pub(crate) const LATEST_CONFIG: &str = "SELECT version, document, sha256, author, comment, created_ms \
     FROM config_versions ORDER BY version DESC LIMIT 1";
pub(crate) const CONFIG_HISTORY: &str = "SELECT version, '', sha256, author, comment, created_ms \
     FROM config_versions ORDER BY version DESC LIMIT $1";
pub(crate) const NODE_BEAT: &str = "INSERT INTO cluster_nodes \
     (name, address, config_version, build, started_ms, seen_ms) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (name) DO UPDATE SET address = excluded.address, config_version = excluded.config_version, \
     build = excluded.build, started_ms = excluded.started_ms, seen_ms = excluded.seen_ms";
pub(crate) const NODES: &str =
    "SELECT name, address, config_version, build, started_ms, seen_ms FROM cluster_nodes ORDER BY name";
pub(crate) const INSERT_BATCH: &str = "INSERT INTO usage_batches (id, node, requests, written_ms) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";
pub(crate) const PRUNE_BATCHES: &str = "DELETE FROM usage_batches WHERE written_ms < $1";

/// Implements [`ClusterStore`] for a store type with a `pool` field and `usage_add_in`.
macro_rules! impl_cluster_store {
    ($store:ty, $row:ty) => {
        impl $crate::ClusterStore for $store {
            async fn config_publish(
                &self,
                document: &str,
                sha256: &str,
                author: &str,
                comment: &str,
                now_ms: i64,
            ) -> Result<i64, StoreError> {
                // Each lost race means another version was stored meanwhile; a bound keeps a
                // broken database from spinning here.
                for _ in 0..100 {
                    let won: Option<i64> = sqlx::query_scalar($crate::cluster_sql::PUBLISH_CONFIG)
                        .bind(document)
                        .bind(sha256)
                        .bind(author)
                        .bind(comment)
                        .bind(now_ms)
                        .fetch_optional(&self.pool)
                        .await?;
                    if let Some(version) = won {
                        return Ok(version);
                    }
                }
                Err(StoreError::Database(sqlx::Error::Protocol(
                    "config_versions: too many concurrent publishers".into(),
                )))
            }

            async fn config_latest(&self) -> Result<Option<$crate::ConfigVersion>, StoreError> {
                let row: Option<$row> =
                    sqlx::query($crate::cluster_sql::LATEST_CONFIG).fetch_optional(&self.pool).await?;
                Ok(row.map(|r| $crate::cluster_sql::version_from(&r)).transpose()?)
            }

            async fn config_history(&self, limit: u32) -> Result<Vec<$crate::ConfigVersion>, StoreError> {
                let rows: Vec<$row> = sqlx::query($crate::cluster_sql::CONFIG_HISTORY)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(|r| $crate::cluster_sql::version_from(r)).collect::<Result<_, _>>()?)
            }

            async fn node_beat(&self, b: &$crate::NodeBeat) -> Result<(), StoreError> {
                sqlx::query($crate::cluster_sql::NODE_BEAT)
                    .bind(&b.name)
                    .bind(&b.address)
                    .bind(b.config_version)
                    .bind(&b.build)
                    .bind(b.started_ms)
                    .bind(b.seen_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn nodes(&self) -> Result<Vec<$crate::NodeBeat>, StoreError> {
                let rows: Vec<$row> = sqlx::query($crate::cluster_sql::NODES).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(|r| $crate::cluster_sql::beat_from(r)).collect::<Result<_, _>>()?)
            }

            async fn usage_add_batch(
                &self,
                batch_id: &str,
                node: &str,
                deltas: &[UsageRecord],
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let requests: i64 = deltas.iter().map(|d| d.count).sum();
                let mut tx = self.pool.begin().await?;
                // The batch's row is written first: a second attempt with the same id waits for
                // the first one's transaction, then finds the row and adds nothing.
                let fresh = sqlx::query($crate::cluster_sql::INSERT_BATCH)
                    .bind(batch_id)
                    .bind(node)
                    .bind(requests)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if fresh {
                    Self::usage_add_in(&mut tx, deltas).await?;
                    sqlx::query($crate::cluster_sql::PRUNE_BATCHES)
                        .bind(now_ms - $crate::cluster_sql::USAGE_BATCH_RETENTION_MS)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(fresh)
            }
        }
    };
}
pub(crate) use impl_cluster_store;

pub(crate) fn version_from<'r, R>(r: &'r R) -> Result<ConfigVersion, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ConfigVersion {
        version: r.try_get(0)?,
        document: r.try_get(1)?,
        sha256: r.try_get(2)?,
        author: r.try_get(3)?,
        comment: r.try_get(4)?,
        created_ms: r.try_get(5)?,
    })
}

pub(crate) fn beat_from<'r, R>(r: &'r R) -> Result<NodeBeat, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(NodeBeat {
        name: r.try_get(0)?,
        address: r.try_get(1)?,
        config_version: r.try_get(2)?,
        build: r.try_get(3)?,
        started_ms: r.try_get(4)?,
        seen_ms: r.try_get(5)?,
    })
}
