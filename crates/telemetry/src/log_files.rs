//! Access-log files: segments rotated by size and time, deleted after the retention, and, with
//! a KMS, encrypted (see [`crate::segment`] for the format).
//!
//! A segment is named `access-NODE-YYYYMMDDTHHMMSSZ-SEQ.log` (plain) or `.log.enc`
//! (encrypted). Every start opens a new segment: an earlier process's last segment is never
//! appended to, so a crash cannot mix two writers' chunks. Files are created `0600` in a `0700`
//! directory: lines hold client addresses and caller identities.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::segment::{self, ChunkSealer, SegmentHeader, ENCRYPTED_SUFFIX, MAX_CHUNK};

/// Where and how access-log files are written.
#[derive(Clone, Debug)]
pub struct FileSettings {
    /// The directory segments are written to.
    pub dir: PathBuf,
    /// This node's name, in file names and in the encryption context.
    pub node: String,
    /// Encrypts segments with data keys from this KMS; `None` writes plain JSON lines.
    pub kms: Option<kms::Kms>,
    /// A segment is closed once it holds this many bytes.
    pub max_segment_bytes: u64,
    /// A segment is closed once it is this old.
    pub rotate_every: Duration,
    /// Closed segments older than this are deleted.
    pub retain: Duration,
}

/// The file sink: the segment being written and the settings for the next ones.
pub(crate) struct FileSink {
    settings: FileSettings,
    current: Option<Segment>,
    seq: u64,
}

struct Segment {
    file: File,
    path: PathBuf,
    opened: Instant,
    bytes: u64,
    sealer: Option<ChunkSealer>,
    unsynced: bool,
    last_sync: Instant,
}

/// How often written data is forced to disk (it survives a process kill without this; this
/// bounds what a power loss takes).
const SYNC_EVERY: Duration = Duration::from_secs(1);

impl FileSink {
    /// Creates the directory, deletes expired segments and opens the first segment.
    pub(crate) fn open(settings: FileSettings) -> io::Result<Self> {
        create_private_dir(&settings.dir)?;
        let mut sink = Self { settings, current: None, seq: 0 };
        sink.start_segment()?;
        sink.expire();
        Ok(sink)
    }

    /// Appends a batch of whole lines (each ending in `\n`). After a failed write the segment
    /// is abandoned (its chunk counter has moved on, so nothing more may follow the partial
    /// chunk); the next batch starts a new one.
    pub(crate) fn write_batch(&mut self, batch: &[u8]) -> io::Result<()> {
        if self.current.as_ref().is_none_or(|s| self.due(s)) {
            self.rotate()?;
        }
        let written = self.append(batch);
        if written.is_err() {
            self.current = None;
        }
        written
    }

    fn append(&mut self, batch: &[u8]) -> io::Result<()> {
        let seg = self.current.as_mut().ok_or_else(|| io::Error::other("no open segment"))?;
        match &mut seg.sealer {
            None => seg.file.write_all(batch)?,
            Some(sealer) => {
                for piece in split_lines(batch, MAX_CHUNK) {
                    let chunk = sealer.seal(piece).map_err(io::Error::other)?;
                    seg.file.write_all(&chunk)?;
                    seg.bytes += chunk.len() as u64;
                }
            }
        }
        if seg.sealer.is_none() {
            seg.bytes += batch.len() as u64;
        }
        seg.unsynced = true;
        Ok(())
    }

    /// Time-based work while idle: rotation and syncing.
    pub(crate) fn tick(&mut self) -> io::Result<()> {
        if self.current.as_ref().is_some_and(|s| self.due(s)) {
            self.rotate()?;
        }
        if let Some(seg) = self.current.as_mut() {
            if seg.unsynced && seg.last_sync.elapsed() >= SYNC_EVERY {
                seg.file.sync_data()?;
                seg.unsynced = false;
                seg.last_sync = Instant::now();
            }
        }
        Ok(())
    }

    /// Closes the current segment (at shutdown); nothing is written after this.
    pub(crate) fn close(&mut self) -> io::Result<()> {
        match self.current.take() {
            Some(seg) => finish(seg),
            None => Ok(()),
        }
    }

    /// The segment being written now.
    pub(crate) fn current_path(&self) -> Option<&Path> {
        self.current.as_ref().map(|s| s.path.as_path())
    }

    fn due(&self, seg: &Segment) -> bool {
        seg.bytes >= self.settings.max_segment_bytes || seg.opened.elapsed() >= self.settings.rotate_every
    }

    fn rotate(&mut self) -> io::Result<()> {
        if let Some(seg) = self.current.take() {
            if let Err(e) = finish(seg) {
                tracing::error!(error = %e, "cannot close an access-log segment; it will read as unclosed");
            }
        }
        self.start_segment()?;
        self.expire();
        Ok(())
    }

    fn start_segment(&mut self) -> io::Result<()> {
        let now = SystemTime::now();
        let suffix = if self.settings.kms.is_some() { ENCRYPTED_SUFFIX } else { ".log" };
        // A name is never reused: a process restarted within the same second (or another
        // writer on the same node name) takes the next sequence number.
        let (name, path, mut file) = loop {
            self.seq += 1;
            let name = segment_name(&self.settings.node, now, self.seq);
            let path = self.settings.dir.join(format!("{name}{suffix}"));
            match create_private_file(&path) {
                Ok(file) => break (name, path, file),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && self.seq < 1_000_000 => {}
                Err(e) => return Err(e),
            }
        };
        let sealer = match &self.settings.kms {
            None => None,
            Some(kms) => {
                let ctx = segment::context(&self.settings.node, &name);
                let (key, wrapped) = kms.read(|k| k.generate_data_key(&ctx)).map_err(io::Error::other)?;
                let header = SegmentHeader {
                    node: self.settings.node.clone(),
                    segment: name,
                    created_ms: millis(now),
                    key: kms::to_text(&wrapped),
                };
                let head = segment::encode_header(&header);
                file.write_all(&head)?;
                Some(ChunkSealer::new(key, &head))
            }
        };
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let now = Instant::now();
        self.current = Some(Segment { file, path, opened: now, bytes, sealer, unsynced: false, last_sync: now });
        Ok(())
    }

    /// Deletes this node's segments last written before the retention.
    fn expire(&self) {
        let prefix = format!("access-{}-", self.settings.node);
        let Ok(entries) = fs::read_dir(&self.settings.dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            // `access-NODE-` then the date: node `gw` must not take node `gw-2`'s segments.
            let dated = name.strip_prefix(&prefix).is_some_and(|rest| {
                rest.len() > 9 && rest.as_bytes()[..8].iter().all(u8::is_ascii_digit) && rest.as_bytes()[8] == b'T'
            });
            let ours = dated && (name.ends_with(".log") || name.ends_with(ENCRYPTED_SUFFIX));
            if !ours || Some(path.as_path()) == self.current_path() {
                continue;
            }
            let age = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
            if age.is_some_and(|a| a > self.settings.retain) {
                match fs::remove_file(&path) {
                    Ok(()) => tracing::info!(segment = %name, "access-log segment past its retention deleted"),
                    Err(e) => {
                        tracing::warn!(segment = %name, error = %e, "cannot delete an expired access-log segment")
                    }
                }
            }
        }
    }
}

fn finish(mut seg: Segment) -> io::Result<()> {
    if let Some(sealer) = &mut seg.sealer {
        let chunk = sealer.close().map_err(io::Error::other)?;
        seg.file.write_all(&chunk)?;
    }
    seg.file.sync_all()
}

/// Splits a batch of lines into pieces of at most `max` bytes, at line ends where a line fits.
fn split_lines(batch: &[u8], max: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = batch;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = if rest.len() <= max {
            rest.len()
        } else {
            rest[..max].iter().rposition(|b| *b == b'\n').map_or(max, |i| i + 1)
        };
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

/// `access-NODE-20261125T104500Z-1`: sorts by time for one node.
fn segment_name(node: &str, at: SystemTime, seq: u64) -> String {
    let t = time::OffsetDateTime::from(at);
    format!(
        "access-{node}-{:04}{:02}{:02}T{:02}{:02}{:02}Z-{seq}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn create_private_file(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create_new(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn batches_split_at_line_ends() {
        let batch = b"aaaa\nbbbb\ncc\n";
        let pieces: Vec<_> = split_lines(batch, 10).collect();
        assert_eq!(pieces, [&b"aaaa\nbbbb\n"[..], b"cc\n"]);
        let long = [b'x'; 25];
        let pieces: Vec<_> = split_lines(&long, 10).map(<[u8]>::len).collect();
        assert_eq!(pieces, [10, 10, 5]);
    }

    fn settings(dir: &Path, kms: Option<kms::Kms>) -> FileSettings {
        FileSettings {
            dir: dir.to_owned(),
            node: "n1".into(),
            kms,
            max_segment_bytes: 200,
            rotate_every: Duration::from_secs(3600),
            retain: Duration::from_secs(3600),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn plain_segments_rotate_by_size_and_hold_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = FileSink::open(settings(dir.path(), None)).unwrap();
        for i in 0..20 {
            sink.write_batch(format!("{{\"line\":{i:03}}}\n").as_bytes()).unwrap();
        }
        sink.close().unwrap();
        let files = names(dir.path());
        assert!(files.len() >= 2, "{files:?}");
        assert!(files.iter().all(|f| f.starts_with("access-n1-") && f.ends_with(".log")));
        let text: String = files.iter().map(|f| fs::read_to_string(dir.path().join(f)).unwrap()).collect();
        assert_eq!(text.lines().count(), 20);
    }

    #[test]
    fn encrypted_segments_hold_no_plaintext_and_close() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = kms::Keyring::from_env_value("q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=").unwrap();
        let mut sink = FileSink::open(settings(dir.path(), Some(kms::Kms::new(keyring)))).unwrap();
        sink.write_batch(b"{\"secret-looking\":\"needle\"}\n").unwrap();
        sink.close().unwrap();
        let files = names(dir.path());
        assert_eq!(files.len(), 1);
        assert!(files[0].ends_with(ENCRYPTED_SUFFIX));
        let bytes = fs::read(dir.path().join(&files[0])).unwrap();
        assert!(bytes.starts_with(segment::MAGIC));
        assert!(!bytes.windows(6).any(|w| w == b"needle"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(&files[0])).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "segment readable by others: {mode:o}");
        }
    }

    #[test]
    fn expired_segments_of_this_node_are_deleted_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("access-n1-20200101T000000Z-1.log");
        let other = dir.path().join("access-n1-x-20200101T000000Z-1.log");
        let unrelated = dir.path().join("notes.txt");
        for p in [&old, &other, &unrelated] {
            fs::write(p, b"x\n").unwrap();
            let f = File::options().write(true).open(p).unwrap();
            f.set_modified(SystemTime::now() - Duration::from_secs(7200)).unwrap();
        }
        let _sink = FileSink::open(settings(dir.path(), None)).unwrap();
        assert!(!old.exists());
        assert!(other.exists(), "another node's segment is its own to expire");
        assert!(unrelated.exists());
    }
}
