//! User-pool users, their one-time codes and refresh tokens as the store keeps them. Passwords
//! are Argon2id hashes, codes and refresh tokens keyed hashes, TOTP secrets KMS-sealed: the
//! store never holds a secret a reader could use.

use std::fmt;

/// A user of a user pool.
#[derive(Clone, PartialEq, Eq)]
pub struct PoolUser {
    /// The pool's name.
    pub pool: String,
    /// The user's stable id (a UUID), the tokens' `sub`.
    pub sub: String,
    /// The sign-in name, unique in the pool (case as given; compared lower-cased).
    pub username: String,
    /// The e-mail address, lower-cased; empty when none.
    pub email: String,
    /// `UNCONFIRMED`, `CONFIRMED`, `RESET_REQUIRED` or `FORCE_CHANGE_PASSWORD`.
    pub status: String,
    /// Disabled users cannot sign in, and their refresh tokens stop working.
    pub enabled: bool,
    /// The password's Argon2id hash in PHC form.
    pub password_hash: String,
    /// The other attributes, a JSON object of strings.
    pub attributes: String,
    /// The KMS-sealed TOTP secret; empty when none is associated.
    pub mfa_secret: String,
    /// Whether sign-in asks for a TOTP code.
    pub mfa_enabled: bool,
    /// The last TOTP time step accepted (a code is good once).
    pub mfa_last_step: i64,
    /// Failed sign-ins since the last success.
    pub failed_signins: i64,
    /// No sign-in is tried before this time, ms since the epoch.
    pub locked_until_ms: i64,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Last change, ms since the epoch: the version a replacement must name.
    pub updated_ms: i64,
}

impl fmt::Debug for PoolUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolUser")
            .field("pool", &self.pool)
            .field("sub", &self.sub)
            .field("username", &self.username)
            .field("status", &self.status)
            .field("enabled", &self.enabled)
            .field("password_hash", &"…")
            .field("mfa_secret", &if self.mfa_secret.is_empty() { "" } else { "…" })
            .field("mfa_enabled", &self.mfa_enabled)
            .field("failed_signins", &self.failed_signins)
            .field("locked_until_ms", &self.locked_until_ms)
            .finish_non_exhaustive()
    }
}

/// A one-time code sent to a user (sign-up confirmation, password reset).
#[derive(Clone, PartialEq, Eq)]
pub struct PoolCode {
    /// The pool's name.
    pub pool: String,
    /// The user's `sub`.
    pub sub: String,
    /// What the code is for: `confirm` or `reset`. A new code replaces the last of its purpose.
    pub purpose: String,
    /// A keyed hash of the code.
    pub code_hash: String,
    /// The code is refused after this time, ms since the epoch.
    pub expires_ms: i64,
    /// Wrong codes tried against it.
    pub attempts: i64,
}

impl fmt::Debug for PoolCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolCode")
            .field("pool", &self.pool)
            .field("sub", &self.sub)
            .field("purpose", &self.purpose)
            .field("expires_ms", &self.expires_ms)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// A refresh token, by a keyed hash of its value. Each use replaces it with a new one of the
/// same family; a second use of a used one is a theft signal and revokes the family.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The pool's name.
    pub pool: String,
    /// A keyed hash of the token.
    pub token_hash: String,
    /// The user's `sub`.
    pub sub: String,
    /// The app client it was issued to.
    pub client_id: String,
    /// The chain of rotations it belongs to.
    pub family: String,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// When the sign-in that started the family happened, ms since the epoch (`auth_time`).
    pub auth_time_ms: i64,
    /// Refused after this time, ms since the epoch.
    pub expires_ms: i64,
    /// Whether it was exchanged already.
    pub used: bool,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("pool", &self.pool)
            .field("sub", &self.sub)
            .field("client_id", &self.client_id)
            .field("family", &self.family)
            .field("expires_ms", &self.expires_ms)
            .field("used", &self.used)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

/// What a refresh token turned out to be when it was exchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshTake {
    /// Unused until now; it is marked used.
    Fresh(RefreshToken),
    /// Used or revoked before: the caller should revoke its family.
    Replayed(RefreshToken),
    /// No such token.
    Unknown,
}
