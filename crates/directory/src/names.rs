//! ARNs and identifiers of IAM entities, and the checks on names users choose.

use rand::Rng as _;

use crate::DirectoryError;
use store::EntityKind;

/// ARN of a user, group, role or customer-managed policy in `account`.
pub fn entity_arn(account: &str, kind: EntityKind, name: &str) -> String {
    format!("arn:aws:iam::{account}:{}/{name}", kind.as_str())
}

/// ARN of a role session: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
pub fn session_arn(account: &str, role: &str, session: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{role}/{session}")
}

/// The `subject` of attachments for an entity: `user/NAME`, `group/NAME`, `role/NAME`.
pub(crate) fn subject(kind: EntityKind, name: &str) -> String {
    format!("{}/{name}", kind.as_str())
}

/// A new unique id with AWS's prefix for the kind (`AIDA`, `AGPA`, `AROA`, `ANPA`).
pub(crate) fn new_entity_id(kind: EntityKind) -> String {
    let prefix = match kind {
        EntityKind::User => "AIDA",
        EntityKind::Group => "AGPA",
        EntityKind::Role => "AROA",
        EntityKind::Policy => "ANPA",
    };
    format!("{prefix}{}", random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17))
}

/// A new access key id: `AKIA` for long-term keys, `ASIA` for temporary ones, then 16
/// base-32 characters, as AWS forms them.
pub(crate) fn new_access_key_id(temporary: bool) -> String {
    let prefix = if temporary { "ASIA" } else { "AKIA" };
    format!("{prefix}{}", random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))
}

/// A new 40-character secret access key (240 bits from the thread-local CSPRNG, seeded by
/// the OS).
pub(crate) fn new_secret() -> String {
    random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
}

/// A new session token (64 random bytes, base64).
pub(crate) fn new_session_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 64];
    rand::rng().fill(&mut bytes[..]);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A new API key value: a readable prefix and 40 base-62 characters (238 bits).
pub(crate) fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_from(BASE62, 40))
}

/// A new API key id: 10 lower-case letters and digits, as API Gateway forms them.
pub(crate) fn new_api_key_id() -> String {
    random_from(b"abcdefghijklmnopqrstuvwxyz0123456789", 10)
}

/// What every generated API key starts with, so that a leaked one is recognisable (secret
/// scanners look for such prefixes).
pub(crate) const API_KEY_PREFIX: &str = "pck_";
const BASE62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

/// IAM's rule for user, group, role and policy names: 1–64 (roles and policies 128)
/// characters from letters, digits and `+=,.@_-`.
pub(crate) fn check_name(kind: EntityKind, name: &str) -> Result<(), DirectoryError> {
    let max = match kind {
        EntityKind::User | EntityKind::Group => 64,
        EntityKind::Role | EntityKind::Policy => 128,
    };
    let ok = !name.is_empty()
        && name.len() <= max
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(DirectoryError::Invalid(format!(
            "a {} name is 1-{max} letters, digits or `+=,.@_-`, got `{}`",
            kind.as_str(),
            name.chars().take(80).collect::<String>()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_aws_shapes() {
        let id = new_access_key_id(false);
        assert!(id.starts_with("AKIA") && id.len() == 20, "{id}");
        assert!(new_access_key_id(true).starts_with("ASIA"));
        let s = new_secret();
        assert_eq!(s.len(), 40);
        assert_ne!(s, new_secret());
        assert!(new_entity_id(EntityKind::Role).starts_with("AROA"));
    }

    #[test]
    fn names_follow_iam_rules() {
        assert!(check_name(EntityKind::User, "alice.b@example.com").is_ok());
        assert!(check_name(EntityKind::User, "").is_err());
        assert!(check_name(EntityKind::User, "a/b").is_err());
        assert!(check_name(EntityKind::User, &"a".repeat(65)).is_err());
        assert!(check_name(EntityKind::Role, &"a".repeat(128)).is_ok());
    }
}
