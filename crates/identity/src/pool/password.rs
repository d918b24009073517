//! Passwords: the pool's policy, and Argon2id hashes (OWASP's parameters: 19 MiB, two passes,
//! one lane). Hashing takes tens of milliseconds on purpose, so it runs on the blocking pool.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use model::PasswordPolicy;

use super::PoolError;

/// Checks `password` against `policy`; the error names the first rule it breaks.
pub(super) fn check(policy: &PasswordPolicy, password: &str) -> Result<(), PoolError> {
    let count = password.chars().count();
    let rule = if count < policy.min_length {
        Some(format!("Password not long enough (at least {} characters)", policy.min_length))
    } else if count > 256 {
        Some("Password longer than 256 characters".to_owned())
    } else if policy.require_lowercase && !password.chars().any(char::is_lowercase) {
        Some("Password must have lowercase characters".to_owned())
    } else if policy.require_uppercase && !password.chars().any(char::is_uppercase) {
        Some("Password must have uppercase characters".to_owned())
    } else if policy.require_digits && !password.chars().any(|c| c.is_ascii_digit()) {
        Some("Password must have numeric characters".to_owned())
    } else if policy.require_symbols && !password.chars().any(|c| c.is_ascii_punctuation() || c == ' ') {
        Some("Password must have symbol characters".to_owned())
    } else {
        None
    };
    rule.map_or(Ok(()), |r| Err(PoolError::InvalidPassword(r)))
}

/// The Argon2id hash of `password` with a fresh salt, in PHC form.
pub(super) async fn hash(password: &str) -> Result<String, PoolError> {
    let password = zeroize::Zeroizing::new(password.as_bytes().to_vec());
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(&password, &salt)
            .map(|h| h.to_string())
            .map_err(|e| PoolError::Internal(format!("argon2: {e}")))
    })
    .await
    .map_err(|e| PoolError::Internal(format!("hashing task: {e}")))?
}

/// Whether `password` matches `phc`. An unparsable hash matches nothing. With `phc` `None`
/// (no such user) the work is done against a fixed hash all the same, so that the answer takes
/// as long whether or not the user exists.
pub(super) async fn verify(phc: Option<String>, password: &str) -> bool {
    let password = zeroize::Zeroizing::new(password.as_bytes().to_vec());
    let known = phc.is_some();
    let phc = phc.unwrap_or_else(|| DUMMY.to_owned());
    tokio::task::spawn_blocking(move || {
        let ok = PasswordHash::new(&phc).is_ok_and(|h| Argon2::default().verify_password(&password, &h).is_ok());
        ok && known
    })
    .await
    .unwrap_or(false)
}

/// A hash with the default parameters (of the password `dummy`), verified against when a
/// name is unknown.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$VdYqbgcT5Zaq7J1sy4jSv5v7K/BBrDmfQVzJzHfb3Lc";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn hashes_verify_their_password_only() {
        let h = hash("Correct horse 1!").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify(Some(h.clone()), "Correct horse 1!").await);
        assert!(!verify(Some(h.clone()), "Correct horse 1?").await);
        assert_ne!(hash("Correct horse 1!").await.unwrap(), h, "salted");
        assert!(!verify(Some("not a hash".into()), "x").await);
        assert!(!verify(None, "dummy").await, "an unknown user never matches, even the dummy's password");
    }

    #[test]
    fn the_dummy_hash_has_the_real_parameters() {
        // Otherwise an unknown name would answer faster than a known one.
        let parsed = PasswordHash::new(DUMMY).unwrap();
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let real = Argon2::default().hash_password(b"x", &salt).unwrap();
        assert_eq!(parsed.params, real.params);
        assert_eq!(parsed.algorithm, real.algorithm);
    }

    #[test]
    fn the_policy_names_the_rule_broken() {
        let p = PasswordPolicy::default();
        let why = |pw: &str| check(&p, pw).unwrap_err().to_string();
        assert!(why("Ab1!").contains("not long enough"));
        assert!(why("ABCDEFG1!").contains("lowercase"));
        assert!(why("abcdefg1!").contains("uppercase"));
        assert!(why("Abcdefgh!").contains("numeric"));
        assert!(why("Abcdefgh1").contains("symbol"));
        assert!(check(&p, "Abcdefg1!").is_ok());
        let relaxed = PasswordPolicy { require_symbols: false, require_uppercase: false, ..p };
        assert!(check(&relaxed, "abcdefg1").is_ok());
    }
}
