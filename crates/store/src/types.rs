use std::fmt;

/// An admin API credential. Only a hash of the secret is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminCredential {
    /// Public identifier, part of the token.
    pub id: String,
    /// SHA-256 of the secret part of the token, hex.
    pub secret_hash: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

impl fmt::Debug for AdminCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminCredential")
            .field("id", &self.id)
            .field("created_at_ms", &self.created_at_ms)
            .finish_non_exhaustive()
    }
}

/// How an audited action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It was done.
    Success,
    /// It was refused or failed; the record's detail says why.
    Failure,
}

impl Outcome {
    /// `success` or `failure`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }

    /// Reads the stored text.
    pub fn parse(s: &str) -> Self {
        if s == "success" {
            Self::Success
        } else {
            Self::Failure
        }
    }
}

/// An audit record to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditRecord {
    /// When, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Who: a credential id, or `system`.
    pub actor: String,
    /// The access key id the principal signed with; empty when none (a token, the process).
    pub access_key_id: String,
    /// From where: the client IP, or empty for the process itself.
    pub source_ip: String,
    /// The client's `User-Agent`; empty when none.
    pub user_agent: String,
    /// What, e.g. `config.reload`.
    pub action: String,
    /// On what, e.g. the config file.
    pub target: String,
    /// The request parameters as JSON text, made by the caller with secrets removed (the store
    /// does not parse it); empty when none.
    pub parameters: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Free text (error message on failure). Never a secret.
    pub detail: String,
}

/// A stored audit record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Sequence number, increasing.
    pub seq: i64,
    /// The record.
    pub record: NewAuditRecord,
    /// The hash of the record written before it ([`crate::audit_chain::GENESIS`] for the
    /// first); empty for records written before the trail was chained.
    pub prev_hash: String,
    /// Its own hash ([`crate::audit_chain::record_hash`]); empty before the chain.
    pub hash: String,
}

/// What to look for in the audit trail; `None` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditSearch {
    /// Only records numbered above this.
    pub after: i64,
    /// At most this many.
    pub limit: u32,
    /// Exactly this actor (an ARN, `anonymous`, `system`, …).
    pub actor: Option<String>,
    /// Exactly this action (`iam.CreateUser`, …).
    pub action: Option<String>,
    /// Exactly this target.
    pub target: Option<String>,
    /// Written at or after this time (ms since the epoch).
    pub from_ms: Option<i64>,
    /// Written at or before this time.
    pub to_ms: Option<i64>,
}
