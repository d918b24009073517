use crate::{AdminCredential, AuditRecord, NewAuditRecord, PostgresStore, SqliteStore, Store, StoreError};

/// The store chosen by URL scheme at start-up.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// `sqlite://…`
    Sqlite(SqliteStore),
    /// `postgres://…` or `postgresql://…`
    Postgres(PostgresStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Self::Sqlite($s) => $e,
            Self::Postgres($s) => $e,
        }
    };
}

// === impl AnyStore ===

impl AnyStore {
    /// Opens the store named by `url` and runs its migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(SqliteStore::open(url).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(PostgresStore::open(url).await?))
        } else {
            Err(StoreError::BadUrl("use sqlite://PATH or postgres://USER@HOST/DB".into()))
        }
    }

    /// `sqlite` or `postgres`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl Store for AnyStore {
    async fn create_admin_credential(&self, cred: &AdminCredential) -> Result<bool, StoreError> {
        dispatch!(self, s => s.create_admin_credential(cred).await)
    }

    async fn admin_credential(&self, id: &str) -> Result<Option<AdminCredential>, StoreError> {
        dispatch!(self, s => s.admin_credential(id).await)
    }

    async fn append_audit(&self, rec: &NewAuditRecord) -> Result<i64, StoreError> {
        dispatch!(self, s => s.append_audit(rec).await)
    }

    async fn list_audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        dispatch!(self, s => s.list_audit(after, limit).await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }
}
