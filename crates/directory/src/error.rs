//! Why a directory operation failed. The admin API maps each variant to a status.

use thiserror::Error;

impl From<iam::policy::PolicyError> for DirectoryError {
    fn from(e: iam::policy::PolicyError) -> Self {
        Self::Policy(e)
    }
}

/// Why [`crate::Directory::authenticate`] did not return a caller.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The client's fault: an unknown or inactive key, a bad or expired session token.
    #[error(transparent)]
    Refused(#[from] iam::sigv4::SigV4Error),
    /// The store or the KMS failed: nothing is known about the key, so the request is refused
    /// (fail closed), but as the gateway's fault (5xx), not the client's.
    #[error("the IAM directory is unavailable")]
    Unavailable,
}

/// A refused or failed IAM operation. Messages never contain secrets.
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// No such entity or key (404).
    #[error("{0}")]
    NotFound(String),
    /// It exists already (409).
    #[error("{0}")]
    AlreadyExists(String),
    /// A bad name, duration or argument (400).
    #[error("{0}")]
    Invalid(String),
    /// Still in use (409, AWS's `DeleteConflict`).
    #[error("{0}")]
    Conflict(String),
    /// Clashes with the current state, such as a key's second plan on one stage (409).
    #[error("{0}")]
    Clash(String),
    /// A quota such as two access keys per user (409, AWS's `LimitExceeded`).
    #[error("{0}")]
    LimitExceeded(String),
    /// A policy document that does not parse (400); says where and why. (Not a `source`:
    /// the message already carries it, and chains would print it twice.)
    #[error("the policy document is not valid: {0}")]
    Policy(iam::policy::PolicyError),
    /// The caller may not do this (403).
    #[error("{0}")]
    AccessDenied(String),
    /// The store failed (503).
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A secret could not be sealed or opened (500).
    #[error("key management failed")]
    Kms(#[from] kms::KmsError),
}
