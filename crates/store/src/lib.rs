//! Runtime state that outlives a request and a reload: admin credentials, the audit trail,
//! IAM entities and credentials, KMS-sealed server secrets, API keys with their usage-plan
//! attachments, metered usage per plan, key and day, TLS certificates with the leases that
//! let one node at a time order one, alarm definitions, and user pools' users, codes and
//! refresh tokens ([`PoolStore`]), and what several nodes share ([`ClusterStore`]: published
//! config versions, heartbeats, counted usage batches; on PostgreSQL, a [`ChangeFeed`]).
//! One [`Store`] trait, two implementations: embedded SQLite (the default) and PostgreSQL
//! (for a cluster). [`AnyStore`] picks one by URL.
//!
//! Both run versioned migrations at open, inside a transaction, and refuse a database whose
//! schema is newer than this build knows.

mod alarm_types;
mod any;
mod api_key_types;
pub mod audit_chain;
mod certificate_types;
mod cluster_sql;
mod error;
mod iam_types;
mod pool_sql;
mod pool_types;
mod postgres;
mod sql;
mod sqlite;
mod types;

pub use alarm_types::StoredAlarm;
pub use any::AnyStore;
pub use api_key_types::{ApiKey, ApiKeyInsert, UsageRecord};
pub use certificate_types::{CertificateSource, StoredCertificate};
pub use cluster_sql::{ClusterStore, ConfigVersion, NodeBeat, CHANGES_CHANNEL};
pub use error::StoreError;
pub use iam_types::{Credential, DeleteOutcome, Entity, EntityKind, KeyInsert, Relation};
pub use pool_sql::PoolStore;
pub use pool_types::{PoolCode, PoolUser, RefreshTake, RefreshToken};
pub use postgres::{Change, ChangeFeed, PostgresStore};
pub use sqlite::SqliteStore;
pub use types::{AdminCredential, AuditRecord, AuditSearch, NewAuditRecord, Outcome};

use std::future::Future;

/// What the gateway keeps at run time. Every method is one round trip or one transaction.
pub trait Store: Send + Sync {
    /// Creates the bootstrap credential unless one exists. `Ok(false)` when another
    /// process or an earlier start created it first.
    fn create_admin_credential(&self, cred: &AdminCredential) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The credential with this id, if any.
    fn admin_credential(&self, id: &str) -> impl Future<Output = Result<Option<AdminCredential>, StoreError>> + Send;

    /// Appends an audit record to the chain and returns its sequence number: in one
    /// transaction, locks the head, numbers the record one past it, hashes it after the head's
    /// hash ([`audit_chain::record_hash`]), and moves the head to it. Appenders on every node
    /// take turns, so the numbers have no gaps and each record follows the one before.
    fn append_audit(&self, rec: &NewAuditRecord) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Audit records with a sequence number above `after`, oldest first, at most `limit`.
    fn list_audit(&self, after: i64, limit: u32) -> impl Future<Output = Result<Vec<AuditRecord>, StoreError>> + Send;

    /// Audit records matching `q`, oldest first.
    fn search_audit(&self, q: &AuditSearch) -> impl Future<Output = Result<Vec<AuditRecord>, StoreError>> + Send;

    /// The head of the audit chain, `(seq, hash)`: the last record appended, as the store
    /// recorded it. `(0, "")` before the first record; on a database migrated from version 4,
    /// the last unchained record's number and `""` until the first chained record. Pass it to
    /// [`audit_chain::verify`] to find records cut off the end.
    fn audit_head(&self) -> impl Future<Output = Result<(i64, String), StoreError>> + Send;

    /// The audit records numbered `from_seq` to `to_seq`, both inclusive, oldest first (empty
    /// when `from_seq > to_seq`). Numbers with no record (deleted) are simply absent.
    fn audit_range(
        &self,
        from_seq: i64,
        to_seq: i64,
    ) -> impl Future<Output = Result<Vec<AuditRecord>, StoreError>> + Send;

    /// The audit record numbered `seq`, if there is one: the anchor to verify a stretch that
    /// starts after it.
    fn audit_record(&self, seq: i64) -> impl Future<Output = Result<Option<AuditRecord>, StoreError>> + Send;

    /// Creates an IAM entity. `Ok(false)` when one of that kind and name exists.
    fn iam_create(&self, e: &Entity) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The entity of that kind and name.
    fn iam_get(&self, kind: EntityKind, name: &str) -> impl Future<Output = Result<Option<Entity>, StoreError>> + Send;

    /// Every entity of a kind, by name.
    fn iam_list(&self, kind: EntityKind) -> impl Future<Output = Result<Vec<Entity>, StoreError>> + Send;

    /// Replaces a policy document or trust policy. `Ok(false)` when there is no such entity.
    fn iam_set_document(
        &self,
        kind: EntityKind,
        name: &str,
        document: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes an entity unless something still refers to it (AWS's `DeleteConflict`). `arn`
    /// is the entity's ARN, the name attachments use for policies. A role's temporary
    /// credentials go with it.
    fn iam_delete(
        &self,
        kind: EntityKind,
        name: &str,
        arn: &str,
    ) -> impl Future<Output = Result<DeleteOutcome, StoreError>> + Send;

    /// Adds a relation. `Ok(false)` when it existed.
    fn iam_relate(
        &self,
        rel: Relation,
        subject: &str,
        object: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes a relation. `Ok(false)` when it did not exist.
    fn iam_unrelate(
        &self,
        rel: Relation,
        subject: &str,
        object: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The objects a subject is related to (a user's groups, a principal's policy ARNs).
    fn iam_related(&self, rel: Relation, subject: &str)
        -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The subjects related to an object (a group's users, a policy's attachments).
    fn iam_relating(&self, rel: Relation, object: &str)
        -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Stores a new access key or temporary credential. `Ok(false)` when the id exists.
    fn iam_put_credential(&self, c: &Credential) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a user's long-term access key unless the user already holds `max` of them,
    /// counted and inserted atomically.
    fn iam_put_user_key(&self, c: &Credential, max: i64) -> impl Future<Output = Result<KeyInsert, StoreError>> + Send;

    /// The credential with this access key id.
    fn iam_credential(
        &self,
        access_key_id: &str,
    ) -> impl Future<Output = Result<Option<Credential>, StoreError>> + Send;

    /// The credentials of one user or role, or of everyone.
    fn iam_credentials(
        &self,
        owner: Option<(EntityKind, &str)>,
    ) -> impl Future<Output = Result<Vec<Credential>, StoreError>> + Send;

    /// Activates or deactivates a credential. `Ok(false)` when there is no such key.
    fn iam_set_credential_active(
        &self,
        access_key_id: &str,
        active: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Replaces a sealed secret if it is still `old` (KMS re-wrap; compare-and-set so a
    /// concurrent change is not overwritten).
    fn iam_replace_credential_secret(
        &self,
        access_key_id: &str,
        new: &str,
        old: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records a use of a credential (at most one write a minute per key).
    fn iam_touch_credential(
        &self,
        access_key_id: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes a credential. `Ok(false)` when there was none.
    fn iam_delete_credential(&self, access_key_id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes temporary credentials that expired before `now_ms`; returns how many.
    fn iam_delete_expired_sessions(&self, now_ms: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Stores a KMS-sealed server secret unless one of that name exists (`Ok(false)`).
    fn create_secret(
        &self,
        name: &str,
        value_enc: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A sealed server secret.
    fn secret(&self, name: &str) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Every sealed server secret, `(name, sealed)`.
    fn secrets(&self) -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send;

    /// Replaces a sealed server secret if it is still `old` (KMS re-wrap).
    fn replace_secret(&self, name: &str, new: &str, old: &str)
        -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a new API key. [`ApiKeyInsert::ValueTaken`] when a key with the same hash exists
    /// (checked first), [`ApiKeyInsert::IdTaken`] when one with the same id does.
    fn api_key_create(&self, k: &ApiKey) -> impl Future<Output = Result<ApiKeyInsert, StoreError>> + Send;

    /// The API key with this id.
    fn api_key(&self, id: &str) -> impl Future<Output = Result<Option<ApiKey>, StoreError>> + Send;

    /// The API key whose value hashes to `hash` (the per-request lookup).
    fn api_key_by_hash(&self, hash: &str) -> impl Future<Output = Result<Option<ApiKey>, StoreError>> + Send;

    /// Every API key, oldest first (ties by id).
    fn api_keys(&self) -> impl Future<Output = Result<Vec<ApiKey>, StoreError>> + Send;

    /// Enables or disables an API key. `Ok(false)` when there is no such key.
    fn api_key_set_enabled(
        &self,
        id: &str,
        enabled: bool,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes an API key and its usage-plan attachments, in one transaction. Its usage records
    /// stay: they are billing data. `Ok(false)` when there was no such key.
    fn api_key_delete(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Attaches an API key to a usage plan. `Ok(false)` when it was attached already.
    fn plan_key_attach(
        &self,
        plan_id: &str,
        key_id: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Detaches an API key from a usage plan. `Ok(false)` when it was not attached.
    fn plan_key_detach(&self, plan_id: &str, key_id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The usage plans a key is attached to, sorted.
    fn plans_of_key(&self, key_id: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The keys attached to a usage plan, sorted.
    fn keys_of_plan(&self, plan_id: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Adds counts to usage rows, creating them as needed, all in one transaction. An empty
    /// slice does not touch the database.
    fn usage_add(&self, deltas: &[UsageRecord]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A plan's usage rows from `from_day` to `to_day` inclusive (`YYYY-MM-DD`), of one key or
    /// of all, ordered by key, day, API, stage and route.
    fn usage(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        from_day: &str,
        to_day: &str,
    ) -> impl Future<Output = Result<Vec<UsageRecord>, StoreError>> + Send;

    /// The requests of one key under one plan from `from_day` to `to_day` inclusive; 0 when none.
    fn usage_total(
        &self,
        plan_id: &str,
        key_id: &str,
        from_day: &str,
        to_day: &str,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// The certificate for this domain name.
    fn certificate(&self, name: &str) -> impl Future<Output = Result<Option<StoredCertificate>, StoreError>> + Send;

    /// Every certificate, by name.
    fn certificates(&self) -> impl Future<Output = Result<Vec<StoredCertificate>, StoreError>> + Send;

    /// Stores a certificate, replacing any of the same name (every column: a renewal or a
    /// re-import). Leaves the name's lease alone.
    fn put_certificate(&self, c: &StoredCertificate) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes a certificate. `Ok(false)` when there was none. Leaves the name's lease alone.
    fn delete_certificate(&self, name: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes or renews the lease on ordering a certificate for `name` until `until_ms`, in one
    /// atomic statement: `Ok(true)` when nobody held it (no lease, or one that ended at or
    /// before `now_ms`) or `owner` held it already; `Ok(false)` when another owner holds it.
    /// Works whether or not a certificate of that name exists.
    fn try_lock_certificate(
        &self,
        name: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives up the lease on `name` if `owner` holds it, expired or not. `Ok(false)` when it
    /// did not (no lease, or another owner's), which is left alone.
    fn release_certificate_lock(
        &self,
        name: &str,
        owner: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores an alarm, replacing any of the same name.
    fn put_alarm(&self, alarm: &StoredAlarm) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The alarm with this name.
    fn alarm(&self, name: &str) -> impl Future<Output = Result<Option<StoredAlarm>, StoreError>> + Send;

    /// Every alarm, by name.
    fn alarms(&self) -> impl Future<Output = Result<Vec<StoredAlarm>, StoreError>> + Send;

    /// Deletes an alarm. `Ok(false)` when there was none.
    fn delete_alarm(&self, name: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Checks that the store answers (for readiness).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
