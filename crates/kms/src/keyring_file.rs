//! The keyring file: `0600` JSON in the data directory, written atomically.
//!
//! ```json
//! {"format":1,"keys":[{"version":1,"created_at":1700000000,"key":"<base64 of 32 bytes>"}]}
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::data_key::random_key;
use crate::keyring::{decode_key, Keyring, MasterKey, Source};
use crate::KmsError;

const FORMAT: u32 = 1;

/// Read first, alone, so that a file from a newer build is reported as such rather than as a
/// schema error.
#[derive(Deserialize)]
struct FormatProbe {
    format: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: u32,
    keys: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    version: u32,
    created_at: i64,
    key: String,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl Keyring {
    /// Loads the keyring file at `path`, or creates it with one fresh key if it does not exist.
    ///
    /// Refuses a file that is a symlink or not a regular file, one whose mode grants any access to
    /// group or others, and one that does not parse; every error names the path.
    pub fn open_or_create(path: &Path) -> Result<Self, KmsError> {
        // Two processes starting on one data directory must not both create a keyring.
        let _lock = lock(path)?;
        Ok(Self::from_parts(read_or_create(path)?, Source::File(path.to_owned())))
    }
}

/// Holds an exclusive advisory lock on `<path>.lock` while the keyring file is created or
/// rotated, so that two processes sharing a data directory serialise: no key version is lost
/// to a concurrent rotation. Released when dropped.
pub(crate) fn lock(path: &Path) -> Result<File, KmsError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = std::path::PathBuf::from(name);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io_error(&lock_path))?;
    file.lock().map_err(io_error(&lock_path))?;
    Ok(file)
}

/// The keys in the file at `path` (created with one fresh key when missing), with the
/// file's type and mode checked. The caller holds [`lock`].
pub(crate) fn read_or_create(path: &Path) -> Result<BTreeMap<u32, MasterKey>, KmsError> {
    {
        let lstat = match fs::symlink_metadata(path) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => return create(path),
            other => other.map_err(io_error(path))?,
        };
        check_regular(path, &lstat)?;
        let mut file = File::open(path).map_err(io_error(path))?;
        // Checks run on the opened handle: the path could have been swapped since `lstat`.
        let meta = file.metadata().map_err(io_error(path))?;
        check_regular(path, &meta)?;
        if (meta.dev(), meta.ino()) != (lstat.dev(), lstat.ino()) {
            return Err(KmsError::NotRegularFile { path: path.to_owned(), found: "a path replaced while opening" });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KmsError::Permissions { path: path.to_owned(), mode });
        }
        // Sized up front so that the buffer holding the keys is not reallocated (and left unwiped).
        let mut text = Zeroizing::new(Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1)));
        file.read_to_end(&mut text).map_err(io_error(path))?;
        parse(path, &text)
    }
}

fn create(path: &Path) -> Result<BTreeMap<u32, MasterKey>, KmsError> {
    let created_at = Some(time::OffsetDateTime::now_utc().unix_timestamp());
    let keys = BTreeMap::from([(1, MasterKey { created_at, key: random_key() })]);
    write(path, &keys)?;
    Ok(keys)
}

fn check_regular(path: &Path, meta: &fs::Metadata) -> Result<(), KmsError> {
    let kind = meta.file_type();
    let found = if kind.is_file() {
        return Ok(());
    } else if kind.is_symlink() {
        "a symlink"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "a special file"
    };
    Err(KmsError::NotRegularFile { path: path.to_owned(), found })
}

fn parse(path: &Path, text: &[u8]) -> Result<BTreeMap<u32, MasterKey>, KmsError> {
    let invalid = |reason: String| KmsError::InvalidKeyring { path: path.to_owned(), reason };
    let probe: FormatProbe = serde_json::from_slice(text).map_err(|err| invalid(format!("not keyring JSON: {err}")))?;
    if probe.format != FORMAT {
        return Err(invalid(format!("unknown format {} (this build reads format {FORMAT})", probe.format)));
    }
    let doc: Document = serde_json::from_slice(text).map_err(|err| invalid(format!("not keyring JSON: {err}")))?;
    if doc.keys.is_empty() {
        return Err(invalid("the key list is empty".into()));
    }
    let mut keys = BTreeMap::new();
    for entry in &doc.keys {
        let version = entry.version;
        if version == 0 {
            return Err(invalid("key version 0: versions start at 1".into()));
        }
        let key = decode_key(&entry.key).map_err(|why| invalid(format!("the key of version {version} {why}")))?;
        if keys.insert(version, MasterKey { created_at: Some(entry.created_at), key }).is_some() {
            return Err(invalid(format!("key version {version} appears twice")));
        }
    }
    Ok(keys)
}

/// Replaces the file at `path` atomically: a `0600` temporary file in the same directory is
/// written and synced, renamed over `path`, and the directory synced so the rename survives a crash.
pub(crate) fn write(path: &Path, keys: &BTreeMap<u32, MasterKey>) -> Result<(), KmsError> {
    let entries = keys.iter().map(|(&version, master)| Entry {
        version,
        created_at: master.created_at.unwrap_or(0),
        key: STANDARD.encode(&master.key[..]),
    });
    let doc = Document { format: FORMAT, keys: entries.collect() };
    // Generous capacity: a reallocation would leave an unwiped copy of the keys behind.
    let mut json = Zeroizing::new(Vec::with_capacity(256 + 256 * keys.len()));
    serde_json::to_writer_pretty(&mut *json, &doc).map_err(|err| io_error(path)(io::Error::other(err)))?;
    json.push(b'\n');

    let name = path.file_name().ok_or_else(|| KmsError::InvalidKeyring {
        path: path.to_owned(),
        reason: "the path does not name a file".into(),
    })?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{:016x}", rand::rng().next_u64()));
    let tmp = dir.join(tmp_name);

    let written = write_new(&tmp, &json).and_then(|()| fs::rename(&tmp, path).map_err(io_error(path)));
    if written.is_err() {
        // Best effort: the temporary file holds keys, and the original error matters more.
        let _ = fs::remove_file(&tmp);
    }
    written?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), KmsError> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io_error(path))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io_error(path))
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> KmsError + '_ {
    move |source| KmsError::Io { path: PathBuf::from(path), source }
}

#[cfg(test)]
mod tests;
