//! `portcullis logs cat|tail|grep`: reads access-log segments where they lie (the files, or
//! copies of them). Encrypted segments are opened with their data keys, which the admin API
//! hands out to callers allowed `portcullis:DecryptLogs`; plain segments are read as they are.
//!
//! Problems are reported on stderr naming the file and byte offset. An altered or cut segment,
//! or a file whose name is not the segment it holds, makes the exit code 1 (after everything
//! readable was printed); a segment without its closing chunk (its writer was still running,
//! or crashed) is only noted.

use std::fs::File;
use std::io::{BufReader, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde_json::json;
use telemetry::segment::{self, Chunk, ChunkReader, SegmentError, SegmentHeader, ENCRYPTED_SUFFIX};
use zeroize::Zeroizing;

use super::commands::{Call, Shows, Target};
use super::{Connection, Session};

/// Read access-log segments.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum LogsCommand {
    /// Print every line of the segments, oldest first.
    Cat {
        /// Segment files, or directories whose `access-*` segments are all read.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Print the last lines; with --follow, keep printing what the newest encrypted segment
    /// gains, and the segments that follow it in the same directory.
    Tail {
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: usize,
        /// Keep reading the newest segment as it grows (until interrupted).
        #[arg(short, long)]
        follow: bool,
        /// Segment files, or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Print the lines that match a regular expression.
    Grep {
        /// The regular expression (Rust `regex` syntax).
        pattern: String,
        /// Segment files, or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

impl LogsCommand {
    /// Runs the command; the exit code says whether every segment read cleanly.
    pub(crate) fn run(self, conn: &Connection) -> ExitCode {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => return fail(&format!("cannot start the runtime: {e}")),
        };
        match rt.block_on(self.execute(conn)) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => fail(&e),
        }
    }

    async fn execute(self, conn: &Connection) -> Result<bool, String> {
        let (paths, follow) = match &self {
            Self::Cat { paths } | Self::Grep { paths, .. } => (paths, false),
            Self::Tail { paths, follow, .. } => (paths, *follow),
        };
        let files = segments(paths)?;
        let mut reader = Reader { conn, session: None, keys: std::collections::HashMap::new(), clean: true };
        match &self {
            Self::Cat { .. } => reader.each(&files, &mut print_line).await?,
            Self::Grep { pattern, .. } => {
                let re = regex::Regex::new(pattern).map_err(|e| format!("bad pattern: {e}"))?;
                reader.each(&files, &mut |l: &str| if re.is_match(l) { print_line(l) } else { true }).await?;
            }
            Self::Tail { lines, .. } => {
                let mut last = std::collections::VecDeque::with_capacity(*lines);
                reader
                    .each(&files, &mut |l: &str| {
                        if last.len() == *lines {
                            last.pop_front();
                        }
                        if *lines > 0 {
                            last.push_back(l.to_owned());
                        }
                        true
                    })
                    .await?;
                if !last.iter().all(|l| print_line(l)) {
                    return Ok(reader.clean);
                }
                if follow {
                    reader.follow_from(paths, files.last().cloned()).await?;
                }
            }
        }
        Ok(reader.clean)
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("portcullis: {message}");
    ExitCode::FAILURE
}

/// Writes one line to stdout; false when stdout is closed (`| head`), which ends the command.
fn print_line(line: &str) -> bool {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")).is_ok()
}

/// The segment files named by `paths`, directories expanded, in name order (node, then time).
fn segments(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|f| {
                    let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    name.starts_with("access-") && (name.ends_with(".log") || name.ends_with(ENCRYPTED_SUFFIX))
                })
                .collect();
            found.sort_by_key(|f| segment_order(f));
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Orders `access-NODE-TIME-SEQ` names by node, time and sequence number (which is not
/// zero-padded).
fn segment_order(path: &Path) -> (String, u64) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.trim_end_matches(ENCRYPTED_SUFFIX).trim_end_matches(".log");
    match stem.rsplit_once('-') {
        Some((head, seq)) => (head.to_owned(), seq.parse().unwrap_or(0)),
        None => (stem.to_owned(), 0),
    }
}

struct Reader<'a> {
    conn: &'a Connection,
    session: Option<Session>,
    /// Data keys already handed out, by segment, so following one asks only once.
    keys: std::collections::HashMap<String, Zeroizing<[u8; 32]>>,
    /// No segment was altered, cut or misnamed.
    clean: bool,
}

impl Reader<'_> {
    /// Feeds every line of `files` to `line` (which returns false to stop).
    async fn each(&mut self, files: &[PathBuf], line: &mut dyn FnMut(&str) -> bool) -> Result<(), String> {
        for f in files {
            if !self.read(f, line).await? {
                break;
            }
        }
        Ok(())
    }

    fn problem(&mut self, path: &Path, what: &dyn std::fmt::Display) {
        self.clean = false;
        eprintln!("portcullis: {}: {what}", path.display());
    }

    /// Reads one segment; false when the output is closed.
    async fn read(&mut self, path: &Path, line: &mut dyn FnMut(&str) -> bool) -> Result<bool, String> {
        let Some(mut chunks) = self.open(path).await? else { return Ok(true) };
        loop {
            match chunks.next_chunk() {
                Ok(Chunk::Data(text)) => {
                    if !feed(&text, line) {
                        return Ok(false);
                    }
                }
                Ok(Chunk::Closed) => return Ok(true),
                Ok(Chunk::End) => {
                    eprintln!(
                        "portcullis: {}: no closing chunk: the segment is still being written, or its writer stopped",
                        path.display()
                    );
                    return Ok(true);
                }
                Err(e) => {
                    self.problem(path, &e);
                    return Ok(true);
                }
            }
        }
    }

    /// Follows the newest segment of `paths` from its end, then each newer one that appears
    /// (rotation), until interrupted.
    async fn follow_from(&mut self, paths: &[PathBuf], newest: Option<PathBuf>) -> Result<(), String> {
        let mut current = newest;
        let mut skip = true;
        loop {
            if let Some(path) = &current {
                if !self.follow(path, skip).await? {
                    return Ok(());
                }
            }
            skip = false;
            // Wait for a segment newer than the one just closed.
            let next = loop {
                let later = segments(paths)?
                    .into_iter()
                    .filter(|f| f.to_string_lossy().ends_with(ENCRYPTED_SUFFIX))
                    .find(|f| current.as_ref().is_none_or(|c| segment_order(f) > segment_order(c)));
                if let Some(f) = later {
                    break f;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            current = Some(next);
        }
    }

    /// Prints what `path` gains (after what is there now, if `skip`) until it is closed; false
    /// when the output is closed or the segment cannot be followed.
    async fn follow(&mut self, path: &Path, skip: bool) -> Result<bool, String> {
        let Some(mut chunks) = self.open(path).await? else { return Ok(false) };
        if skip {
            // Skip what `tail` already printed.
            while let Ok(Chunk::Data(_)) = chunks.next_chunk() {}
            chunks.rewind().map_err(|e| e.to_string())?;
        }
        loop {
            match chunks.next_chunk() {
                Ok(Chunk::Data(text)) => {
                    if !feed(&text, &mut print_line) {
                        return Ok(false);
                    }
                }
                Ok(Chunk::Closed) => return Ok(true),
                // Still being written: wait for the next whole chunk.
                Ok(Chunk::End) | Err(SegmentError::TornTail { .. }) => {
                    chunks.rewind().map_err(|e| e.to_string())?;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    self.problem(path, &e);
                    return Ok(false);
                }
            }
        }
    }

    /// Opens a segment's chunks; `None` (reported) if it cannot be read at all. A plain
    /// segment is read through the same interface with no key.
    async fn open(&mut self, path: &Path) -> Result<Option<Box<dyn Chunks>>, String> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.problem(path, &e);
                return Ok(None);
            }
        };
        let mut file = BufReader::new(file);
        let (header, raw) = match segment::read_header(&mut file) {
            Ok(h) => h,
            Err(SegmentError::NotASegment) if !path.to_string_lossy().ends_with(ENCRYPTED_SUFFIX) => {
                // The magic check read the line's first bytes.
                file.seek(SeekFrom::Start(0)).map_err(|e| format!("{}: {e}", path.display()))?;
                return Ok(Some(Box::new(Plain(Some(file)))));
            }
            Err(e) => {
                self.problem(path, &e);
                return Ok(None);
            }
        };
        let stem = path.file_name().map(|n| n.to_string_lossy().trim_end_matches(ENCRYPTED_SUFFIX).to_owned());
        if stem.as_deref() != Some(header.segment.as_str()) {
            self.problem(path, &format!("the file holds segment {}, not the one its name says", header.segment));
        }
        let key = self.data_key(&header).await?;
        Ok(Some(Box::new(ChunkReader::new(file, key, &raw))))
    }

    /// Asks the admin API for a segment's data key.
    async fn data_key(&mut self, header: &SegmentHeader) -> Result<kms::DataKey, String> {
        if let Some(key) = self.keys.get(&header.segment) {
            return Ok(kms::DataKey::from_derived(**key));
        }
        if self.session.is_none() {
            self.session = Some(Session::open(self.conn)?);
        }
        let session = self.session.as_ref().ok_or("no session")?;
        let body = json!({ "node": header.node, "segment": header.segment, "key": header.key });
        let call = Call {
            method: Method::POST,
            target: Target::Segments(vec!["logs".into(), "data-key".into()], Vec::new()),
            body: Some(body),
            shows: Shows::Json,
            output: None,
        };
        let answer = session.send(&call).await?;
        if !answer.status.is_success() {
            return Err(format!("segment {}: {}", header.segment, answer.error()));
        }
        let b64 = answer.json().and_then(|v| v["key"].as_str().map(str::to_owned)).unwrap_or_default();
        let bytes = Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default());
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| "the admin API sent a malformed key".to_owned())?;
        self.keys.insert(header.segment.clone(), Zeroizing::new(key));
        Ok(kms::DataKey::from_derived(key))
    }
}

/// Feeds each line of a chunk (chunks hold whole lines) to `line`.
fn feed(text: &[u8], line: &mut dyn FnMut(&str) -> bool) -> bool {
    String::from_utf8_lossy(text).lines().all(line)
}

/// A segment's chunks, encrypted or plain.
trait Chunks {
    fn next_chunk(&mut self) -> Result<Chunk, SegmentError>;
    fn rewind(&mut self) -> Result<(), SegmentError>;
}

impl<R: std::io::Read + std::io::Seek> Chunks for ChunkReader<R> {
    fn next_chunk(&mut self) -> Result<Chunk, SegmentError> {
        Self::next_chunk(self)
    }
    fn rewind(&mut self) -> Result<(), SegmentError> {
        Self::rewind(self)
    }
}

/// A plain segment: its whole remaining text is one chunk, then it reads as closed (plain
/// files have no closing marker to check).
struct Plain(Option<BufReader<File>>);

impl Chunks for Plain {
    fn next_chunk(&mut self) -> Result<Chunk, SegmentError> {
        use std::io::Read as _;
        let Some(mut f) = self.0.take() else { return Ok(Chunk::Closed) };
        let mut text = Vec::new();
        f.read_to_end(&mut text).map_err(|e| SegmentError::Io(e.to_string()))?;
        Ok(Chunk::Data(Zeroizing::new(text)))
    }
    fn rewind(&mut self) -> Result<(), SegmentError> {
        Ok(())
    }
}
