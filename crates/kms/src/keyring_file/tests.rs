#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::{envelope_version, EncryptionContext, Keyring, KmsError};

fn ctx() -> EncryptionContext {
    EncryptionContext::new().with("purpose", "test")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn write_keyring(dir: &Path, content: &str, mode: u32) -> PathBuf {
    let path = dir.join("keyring.json");
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn only_keyring_in(dir: &Path) {
    let mut names: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["keyring.json", "keyring.json.lock"], "temporary files must not be left behind");
}

#[test]
fn creates_a_0600_keyring_and_reopens_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    let created = Keyring::open_or_create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(created.current_version(), 1);
    only_keyring_in(dir.path());

    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc["format"], 1);
    assert_eq!(STANDARD.decode(doc["keys"][0]["key"].as_str().unwrap()).unwrap().len(), 32);

    let envelope = created.seal(&ctx(), b"secret").unwrap();
    let reopened = Keyring::open_or_create(&path).unwrap();
    assert_eq!(reopened.versions(), created.versions());
    assert!(reopened.versions()[0].created_at.unwrap() > 1_700_000_000);
    assert_eq!(&reopened.open(&ctx(), &envelope).unwrap()[..], b"secret");
}

#[test]
fn rotation_persists_and_old_envelopes_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    let mut ring = Keyring::open_or_create(&path).unwrap();
    let old = ring.seal(&ctx(), b"old").unwrap();

    assert_eq!(ring.rotate().unwrap(), 2);
    assert_eq!(ring.current_version(), 2);
    assert_eq!(mode(&path), 0o600);
    only_keyring_in(dir.path());
    let new = ring.seal(&ctx(), b"new").unwrap();
    assert_eq!(envelope_version(&new).unwrap(), 2);
    assert_eq!(&ring.open(&ctx(), &old).unwrap()[..], b"old");

    let reopened = Keyring::open_or_create(&path).unwrap();
    assert_eq!(reopened.versions().iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(&reopened.open(&ctx(), &old).unwrap()[..], b"old");
    assert_eq!(&reopened.open(&ctx(), &new).unwrap()[..], b"new");
    let moved = reopened.rewrap(&ctx(), &old).unwrap().unwrap();
    assert_eq!(&reopened.open(&ctx(), &moved).unwrap()[..], b"old");
}

#[test]
fn failed_rotation_leaves_the_keyring_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("keyring.json");
    fs::create_dir(path.parent().unwrap()).unwrap();
    let mut ring = Keyring::open_or_create(&path).unwrap();
    fs::remove_dir_all(path.parent().unwrap()).unwrap();
    assert!(matches!(ring.rotate(), Err(KmsError::Io { .. })));
    assert_eq!(ring.current_version(), 1);
    assert_eq!(ring.versions().len(), 1);
}

#[test]
fn group_or_world_access_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    drop(Keyring::open_or_create(&path).unwrap());
    for bad in [0o644, 0o640, 0o604, 0o601] {
        fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
        let err = Keyring::open_or_create(&path).unwrap_err();
        assert!(matches!(err, KmsError::Permissions { mode, .. } if mode == bad));
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()) && message.contains(&format!("{bad:04o}")), "{message}");
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    assert!(Keyring::open_or_create(&path).is_ok());
}

#[test]
fn symlinks_and_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.json");
    drop(Keyring::open_or_create(&target).unwrap());
    let link = dir.path().join("keyring.json");
    symlink(&target, &link).unwrap();
    let err = Keyring::open_or_create(&link).unwrap_err();
    assert!(matches!(err, KmsError::NotRegularFile { found: "a symlink", .. }), "{err}");
    assert!(err.to_string().contains(&link.display().to_string()));

    let dangling = dir.path().join("dangling.json");
    symlink(dir.path().join("missing.json"), &dangling).unwrap();
    assert!(matches!(Keyring::open_or_create(&dangling), Err(KmsError::NotRegularFile { .. })));
    assert!(!dir.path().join("missing.json").exists(), "must not create through a symlink");

    let subdir = dir.path().join("adir");
    fs::create_dir(&subdir).unwrap();
    assert!(matches!(Keyring::open_or_create(&subdir), Err(KmsError::NotRegularFile { found: "a directory", .. })));
}

#[test]
fn invalid_content_is_refused_naming_the_file_and_the_problem() {
    let good = STANDARD.encode([7u8; 32]);
    let cases = [
        ("not json".to_string(), "not keyring JSON"),
        (r#"{"keys":[]}"#.to_string(), "missing field `format`"),
        (r#"{"format":2,"keys":[]}"#.to_string(), "unknown format 2"),
        (r#"{"format":1,"keys":[]}"#.to_string(), "key list is empty"),
        (format!(r#"{{"format":1,"keys":[{{"version":1,"created_at":1,"key":"{good}","x":1}}]}}"#), "unknown field"),
        (r#"{"format":1,"keys":[{"version":1,"created_at":1,"key":"@@@"}]}"#.to_string(), "not valid base64"),
        (
            format!(r#"{{"format":1,"keys":[{{"version":3,"created_at":1,"key":"{}"}}]}}"#, STANDARD.encode([1u8; 16])),
            "key of version 3 must decode to exactly 32 bytes",
        ),
        (format!(r#"{{"format":1,"keys":[{{"version":0,"created_at":1,"key":"{good}"}}]}}"#), "version 0"),
        (
            format!(
                r#"{{"format":1,"keys":[{{"version":1,"created_at":1,"key":"{good}"}},{{"version":1,"created_at":2,"key":"{good}"}}]}}"#
            ),
            "key version 1 appears twice",
        ),
    ];
    for (content, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = write_keyring(dir.path(), &content, 0o600);
        let err = Keyring::open_or_create(&path).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, KmsError::InvalidKeyring { .. }), "{message}");
        assert!(message.contains(&path.display().to_string()) && message.contains(expected), "{message}");
        assert!(!message.contains(&good), "{message}");
    }
}

#[test]
fn a_hand_written_keyring_loads() {
    let dir = tempfile::tempdir().unwrap();
    let content = format!(
        r#"{{"format":1,"keys":[{{"version":2,"created_at":1700000100,"key":"{}"}},{{"version":1,"created_at":1700000000,"key":"{}"}}]}}"#,
        STANDARD.encode([2u8; 32]),
        STANDARD.encode([1u8; 32])
    );
    let ring = Keyring::open_or_create(&write_keyring(dir.path(), &content, 0o600)).unwrap();
    assert_eq!(ring.current_version(), 2);
    assert_eq!(ring.versions()[0].created_at, Some(1_700_000_000));
    let env = Keyring::from_env_value(&format!("2:{}", STANDARD.encode([2u8; 32]))).unwrap();
    assert_eq!(&env.open(&ctx(), &ring.seal(&ctx(), b"same key").unwrap()).unwrap()[..], b"same key");
}

#[test]
fn missing_directory_is_an_io_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope").join("keyring.json");
    let err = Keyring::open_or_create(&path).unwrap_err();
    assert!(matches!(err, KmsError::Io { .. }));
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn two_processes_rotating_one_file_lose_no_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    let mut a = Keyring::open_or_create(&path).unwrap();
    let mut b = Keyring::open_or_create(&path).unwrap();
    assert_eq!(a.rotate().unwrap(), 2);
    let sealed_by_a = a.seal(&ctx(), b"from a").unwrap();
    // `b` still believes version 1 is current; its rotation builds on the file, not on that.
    assert_eq!(b.rotate().unwrap(), 3);
    assert_eq!(&b.open(&ctx(), &sealed_by_a).unwrap()[..], b"from a");
    let again = Keyring::open_or_create(&path).unwrap();
    assert_eq!(again.versions().iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(mode(&path), 0o600);
}
