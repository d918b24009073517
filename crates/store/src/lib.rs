//! Runtime state that outlives a request and a reload: admin credentials and the audit trail
//! (later: API keys, usage, IAM principals). One [`Store`] trait, two implementations:
//! embedded SQLite (the default) and PostgreSQL (for a cluster). [`AnyStore`] picks one by URL.
//!
//! Both run versioned migrations at open, inside a transaction, and refuse a database whose
//! schema is newer than this build knows.

mod any;
mod error;
mod postgres;
mod sql;
mod sqlite;
mod types;

pub use any::AnyStore;
pub use error::StoreError;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use types::{AdminCredential, AuditRecord, NewAuditRecord, Outcome};

use std::future::Future;

/// What the gateway keeps at run time. Every method is one round trip or one transaction.
pub trait Store: Send + Sync {
    /// Creates the bootstrap credential unless one exists. `Ok(false)` when another
    /// process or an earlier start created it first.
    fn create_admin_credential(&self, cred: &AdminCredential) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The credential with this id, if any.
    fn admin_credential(&self, id: &str) -> impl Future<Output = Result<Option<AdminCredential>, StoreError>> + Send;

    /// Appends an audit record and returns its sequence number.
    fn append_audit(&self, rec: &NewAuditRecord) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Audit records with a sequence number above `after`, oldest first, at most `limit`.
    fn list_audit(&self, after: i64, limit: u32) -> impl Future<Output = Result<Vec<AuditRecord>, StoreError>> + Send;

    /// Checks that the store answers (for readiness).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
