//! IAM entities as the store keeps them. The store knows shapes, not meaning: policy
//! documents are JSON text checked by the IAM crate, secrets are KMS envelopes it cannot open.

use std::fmt;

/// What kind of IAM entity a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// A person or program with long-term access keys.
    User,
    /// A set of users sharing policies.
    Group,
    /// An identity assumed for a while through `AssumeRole`.
    Role,
    /// A customer-managed policy document.
    Policy,
}

/// A user, group, role or managed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// Kind.
    pub kind: EntityKind,
    /// Name, unique per kind.
    pub name: String,
    /// Stable unique id (`AIDA…` for users, `AROA…` roles, `AGPA…` groups, `ANPA…` policies).
    pub id: String,
    /// Policy document (policies) or trust policy (roles), JSON text; empty otherwise.
    pub document: String,
    /// Roles: the longest session `AssumeRole` may grant, seconds. Otherwise 0.
    pub max_session_secs: i64,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at_ms: i64,
}

/// A relation between IAM entities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// subject: user name; object: group name.
    MemberOf,
    /// subject: `user/NAME`, `group/NAME` or `role/NAME`; object: a policy ARN.
    Attached,
}

/// Long-term access keys of users and temporary credentials of assumed roles.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// `AKIA…` (user keys) or `ASIA…` (temporary).
    pub access_key_id: String,
    /// `user` or `role`.
    pub owner_kind: EntityKind,
    /// The user or role name.
    pub owner_name: String,
    /// The secret access key, sealed by the KMS (text form).
    pub secret_enc: String,
    /// Active or inactive.
    pub active: bool,
    /// Temporary credentials: SHA-256 of the session token, hex.
    pub token_hash: Option<String>,
    /// Temporary credentials: the session name given to `AssumeRole`.
    pub session_name: Option<String>,
    /// Temporary credentials: the ARN of who assumed the role.
    pub source_arn: Option<String>,
    /// Temporary credentials: expiry, ms since the Unix epoch.
    pub expires_at_ms: Option<i64>,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// Last successful use, ms since the Unix epoch (coarse: updated at most once a minute).
    pub last_used_ms: Option<i64>,
}

/// What became of a new user access key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyInsert {
    /// Stored.
    Stored,
    /// The user already has the most keys allowed.
    LimitReached,
    /// A credential with that id exists.
    IdTaken,
}

/// Why a delete did not happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Deleted.
    Deleted,
    /// No such entity.
    NotFound,
    /// Still referenced: AWS's `DeleteConflict`; the text says by what.
    Conflict(String),
}

// === impl EntityKind ===

impl EntityKind {
    /// `user`, `group`, `role` or `policy`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
            Self::Role => "role",
            Self::Policy => "policy",
        }
    }

    /// The kind named by [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::User, Self::Group, Self::Role, Self::Policy].into_iter().find(|k| k.as_str() == s)
    }
}

impl Relation {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::MemberOf => "member_of",
            Self::Attached => "attached",
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("owner_kind", &self.owner_kind)
            .field("owner_name", &self.owner_name)
            .field("active", &self.active)
            .field("session_name", &self.session_name)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}
