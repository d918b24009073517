#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::{EncryptionContext, KeyVersion, Keyring, KmsError};

fn b64(byte: u8, len: usize) -> String {
    STANDARD.encode(vec![byte; len])
}

fn env_error(value: &str) -> String {
    match Keyring::from_env_value(value) {
        Err(err @ KmsError::InvalidEnvKey(_)) => err.to_string(),
        other => panic!("expected InvalidEnvKey for {value:?}, got {other:?}"),
    }
}

#[test]
fn single_env_key_is_version_one() {
    let ring = Keyring::from_env_value(&format!("  {}\n", b64(1, 32))).unwrap();
    assert_eq!(ring.current_version(), 1);
    assert_eq!(ring.versions(), vec![KeyVersion { version: 1, created_at: None }]);
}

#[test]
fn versioned_env_list_uses_highest_version() {
    let ring = Keyring::from_env_value(&format!("3:{} , 1:{}", b64(3, 32), b64(1, 32))).unwrap();
    assert_eq!(ring.current_version(), 3);
    let versions: Vec<u32> = ring.versions().iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![1, 3]);
}

#[test]
fn single_key_and_version_one_entry_are_the_same_key() {
    let ctx = EncryptionContext::new().with("purpose", "test");
    let plain = Keyring::from_env_value(&b64(9, 32)).unwrap();
    let listed = Keyring::from_env_value(&format!("1:{}", b64(9, 32))).unwrap();
    let envelope = plain.seal(&ctx, b"secret").unwrap();
    assert_eq!(&listed.open(&ctx, &envelope).unwrap()[..], b"secret");
}

#[test]
fn bad_env_values_are_refused_without_echoing_them() {
    assert!(env_error("   ").contains("empty"));
    assert!(env_error("not base64!!").contains("not valid base64"));
    assert!(env_error(&b64(1, 16)).contains("exactly 32 bytes"));
    assert!(env_error(&b64(1, 33)).contains("exactly 32 bytes"));
    assert!(env_error(&b64(1, 64)).contains("exactly 32 bytes"));
    let missing_colon = env_error(&format!("1:{},{}", b64(1, 32), b64(2, 32)));
    assert!(missing_colon.contains("entry 2") && missing_colon.contains("<version>:<base64 key>"));
    assert!(env_error(&format!("0:{}", b64(1, 32))).contains("integer from 1"));
    assert!(env_error(&format!("x:{}", b64(1, 32))).contains("integer from 1"));
    assert!(env_error(&format!("1:{},1:{}", b64(1, 32), b64(2, 32))).contains("version 1 appears twice"));
    assert!(env_error(&format!("1:{},", b64(1, 32))).contains("entry 2"));
    let short = b64(5, 31);
    assert!(!env_error(&format!("2:{short}")).contains(&short));
}

#[test]
fn env_keyring_does_not_rotate() {
    let mut ring = Keyring::from_env_value(&b64(1, 32)).unwrap();
    let err = ring.rotate().unwrap_err();
    assert!(matches!(err, KmsError::NotRotatable));
    assert!(err.to_string().contains("PORTCULLIS_MASTER_KEY"));
    assert_eq!(ring.current_version(), 1);
}

#[test]
fn debug_shows_versions_not_keys() {
    let key = b64(0xAB, 32);
    let ring = Keyring::from_env_value(&format!("1:{key},2:{}", b64(0xCD, 32))).unwrap();
    let debug = format!("{ring:?}");
    assert!(debug.contains("versions: [1, 2]") && debug.contains("current: 2"), "{debug}");
    assert!(!debug.contains(&key[..8]) && !debug.contains("171"), "{debug}");
}
