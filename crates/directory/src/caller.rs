//! An authenticated caller as the data plane and the admin API see it: who it is, what its
//! policies say, and the material to check its signatures, cached together.

use std::sync::Arc;

use iam::policy::{Decision, Policy, Principal, RequestContext};
use iam::sigv4::{Scope, SigV4Error, SigningKey};
use parking_lot::Mutex;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// What temporary credentials add to a caller.
#[derive(Debug)]
pub(crate) struct Session {
    /// SHA-256 of the session token.
    pub(crate) token_hash: [u8; 32],
    /// Expiry, ms since the Unix epoch.
    pub(crate) expires_at_ms: i64,
    /// Issue time, ms since the Unix epoch.
    pub(crate) issued_at_ms: i64,
}

/// A caller resolved from an access key.
pub struct Caller {
    /// The identity, for policies and `$context.identity.*`.
    pub principal: Arc<Principal>,
    /// The access key id it signed with.
    pub access_key_id: String,
    /// Identity policies: the user's and its groups', or the role's.
    pub policies: Vec<Policy>,
    /// Temporary credentials: when they expire, ms since the Unix epoch.
    pub expires_at_ms: Option<i64>,
    /// Temporary credentials: when they were issued (`aws:TokenIssueTime`), ms.
    pub issued_at_ms: Option<i64>,
    secret: Zeroizing<String>,
    token_hash: Option<[u8; 32]>,
    /// The signing keys of the last scopes used (one per service the caller talks to).
    keys: Mutex<Vec<(Scope, SigningKey)>>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("principal", &self.principal.arn)
            .field("access_key_id", &self.access_key_id)
            .field("policies", &self.policies.len())
            .finish_non_exhaustive()
    }
}

// === impl Caller ===

impl Caller {
    pub(crate) fn new(
        principal: Principal,
        access_key_id: String,
        policies: Vec<Policy>,
        secret: Zeroizing<String>,
        session: Option<Session>,
    ) -> Self {
        Self {
            principal: Arc::new(principal),
            access_key_id,
            policies,
            expires_at_ms: session.as_ref().map(|s| s.expires_at_ms),
            issued_at_ms: session.as_ref().map(|s| s.issued_at_ms),
            secret,
            token_hash: session.map(|s| s.token_hash),
            keys: Mutex::new(Vec::new()),
        }
    }

    /// Checks the session token: required and matching for temporary credentials, absent for
    /// long-term keys; and the expiry.
    pub fn check_token(&self, token: Option<&str>, now_ms: i64) -> Result<(), SigV4Error> {
        match (&self.token_hash, token) {
            (None, None) => Ok(()),
            (Some(want), Some(got)) => {
                let got: [u8; 32] = Sha256::digest(got.as_bytes()).into();
                if !bool::from(got.ct_eq(want)) {
                    return Err(SigV4Error::UnknownKey);
                }
                match self.expires_at_ms {
                    Some(exp) if exp <= now_ms => Err(SigV4Error::TokenExpired),
                    _ => Ok(()),
                }
            }
            _ => Err(SigV4Error::UnknownKey),
        }
    }

    /// The signing key for a scope, derived once per scope and kept.
    pub fn signing_key(&self, scope: &Scope) -> SigningKey {
        let mut keys = self.keys.lock();
        if let Some((_, k)) = keys.iter().find(|(s, _)| s == scope) {
            return k.clone();
        }
        let key = SigningKey::derive(&self.secret, &scope.date, &scope.region, &scope.service);
        // Two scopes cover a caller of both the data plane and the admin API on one day.
        if keys.len() >= 2 {
            keys.remove(0);
        }
        keys.push((scope.clone(), key.clone()));
        key
    }

    /// Evaluates the caller's identity policies.
    pub fn evaluate(&self, req: &RequestContext) -> Decision {
        iam::policy::evaluate_all(&self.policies, req)
    }
}
