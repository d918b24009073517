use thiserror::Error;

/// Why a store operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The URL is not `sqlite://…` or `postgres://…`, or is malformed.
    #[error("invalid store URL: {0}")]
    BadUrl(String),
    /// The database has a schema newer than this build.
    #[error("the database schema is version {found}, newer than this build knows ({known}); upgrade portcullis")]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// PostgreSQL is known to be unreachable (the change feed lost it and has not yet got it
    /// back): nothing is tried until it returns.
    #[error("the store is unreachable; waiting for PostgreSQL to come back")]
    Offline,
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}
