//! The encrypted access-log segment format.
//!
//! ```text
//! segment := MAGIC  header_len:u32be  header:JSON  chunk*
//! chunk   := len:u32be  kind:u8  AES-256-GCM(ciphertext ‖ tag), len bytes
//! ```
//!
//! Each segment has its own data key from the KMS, stored wrapped in the header under an
//! encryption context naming the node and the segment, so a header moved to another file, or
//! edited, no longer opens its key. Chunk `i` is sealed with nonce `0⁴ ‖ i` (the key is used by
//! this one segment, so a counter never repeats) and associated data
//! `SHA-256(header) ‖ i ‖ kind`: a chunk edited, dropped, duplicated or moved fails to open at
//! its own offset. A chunk is written with one `write` call, after which it is final: a crash
//! can only lose the chunk being written, which the reader reports as a torn tail. A clean close
//! appends a `FINAL` chunk, so a segment cut at a chunk boundary is told apart from a closed one.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};

use kms::{DataKey, EncryptionContext, KmsError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The first bytes of every encrypted segment.
pub const MAGIC: &[u8; 8] = b"PCLOG\x001\n";
/// The most plaintext one chunk holds.
pub const MAX_CHUNK: usize = 64 * 1024;
/// The file-name suffix of encrypted segments (plain ones end in `.log`).
pub const ENCRYPTED_SUFFIX: &str = ".log.enc";
const MAX_HEADER: usize = 16 * 1024;
const TAG_LEN: usize = 16;
const FRAME_LEN: usize = 5;
const DATA: u8 = 0;
const FINAL: u8 = 1;

/// What a segment says about itself, in clear text.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SegmentHeader {
    /// The node that wrote it.
    pub node: String,
    /// The segment's name: its file name without the suffix.
    pub segment: String,
    /// When it was opened, milliseconds since the epoch.
    pub created_ms: i64,
    /// The data key, wrapped by the KMS (base64).
    pub key: String,
}

impl SegmentHeader {
    /// The encryption context its data key is wrapped under.
    pub fn context(&self) -> EncryptionContext {
        context(&self.node, &self.segment)
    }
}

/// The encryption context of a segment's data key.
pub fn context(node: &str, segment: &str) -> EncryptionContext {
    EncryptionContext::new().with("purpose", "access-log").with("node", node).with("segment", segment)
}

/// Why a segment cannot be read (further). Offsets count from the start of the file.
#[derive(Debug, PartialEq, Eq)]
pub enum SegmentError {
    /// The file does not start with [`MAGIC`].
    NotASegment,
    /// The header is cut or not the expected JSON.
    BadHeader(String),
    /// The chunk at `offset` does not authenticate: the file was altered there (or the key is
    /// not this segment's).
    Tampered {
        /// Where the chunk starts.
        offset: u64,
    },
    /// The file ends inside the chunk starting at `offset`: the writer stopped mid-write.
    TornTail {
        /// Where the chunk starts.
        offset: u64,
    },
    /// Bytes follow the closing chunk, at `offset`.
    AfterClose {
        /// Where the extra bytes start.
        offset: u64,
    },
    /// Reading the file failed.
    Io(String),
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotASegment => f.write_str("not an encrypted access-log segment (bad magic)"),
            Self::BadHeader(why) => write!(f, "unreadable segment header: {why}"),
            Self::Tampered { offset } => {
                write!(f, "the chunk at byte offset {offset} fails authentication: the segment was altered there")
            }
            Self::TornTail { offset } => {
                write!(f, "the segment ends inside the chunk at byte offset {offset} (the writer stopped mid-write)")
            }
            Self::AfterClose { offset } => {
                write!(f, "unexpected bytes after the closing chunk, at byte offset {offset}")
            }
            Self::Io(e) => write!(f, "read failed: {e}"),
        }
    }
}

impl std::error::Error for SegmentError {}

/// The bytes that start a segment: magic, length and header.
pub fn encode_header(header: &SegmentHeader) -> Vec<u8> {
    let json = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + json.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u32::try_from(json.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&json);
    out
}

fn nonce(index: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&index.to_be_bytes());
    n
}

fn aad(header_hash: &[u8; 32], index: u64, kind: u8) -> [u8; 41] {
    let mut a = [0u8; 41];
    a[..32].copy_from_slice(header_hash);
    a[32..40].copy_from_slice(&index.to_be_bytes());
    a[40] = kind;
    a
}

fn header_hash(header_bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(header_bytes).into()
}

/// Seals chunks for one segment, in order.
#[derive(Debug)]
pub struct ChunkSealer {
    key: DataKey,
    header_hash: [u8; 32],
    next: u64,
}

impl ChunkSealer {
    /// A sealer for the segment that starts with `header_bytes` (from [`encode_header`]).
    pub fn new(key: DataKey, header_bytes: &[u8]) -> Self {
        Self { key, header_hash: header_hash(header_bytes), next: 0 }
    }

    /// One framed data chunk holding `plaintext` (at most [`MAX_CHUNK`] bytes).
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, KmsError> {
        self.frame(DATA, plaintext)
    }

    /// The closing chunk: nothing may follow it.
    pub fn close(&mut self) -> Result<Vec<u8>, KmsError> {
        self.frame(FINAL, b"")
    }

    fn frame(&mut self, kind: u8, plaintext: &[u8]) -> Result<Vec<u8>, KmsError> {
        let index = self.next;
        self.next += 1;
        let sealed = self.key.encrypt(nonce(index), &aad(&self.header_hash, index, kind), plaintext)?;
        let mut out = Vec::with_capacity(FRAME_LEN + sealed.len());
        out.extend_from_slice(&u32::try_from(sealed.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.push(kind);
        out.extend_from_slice(&sealed);
        Ok(out)
    }
}

/// Reads a segment's header from the start of `r`, returning it with its raw bytes.
pub fn read_header(r: &mut impl Read) -> Result<(SegmentHeader, Vec<u8>), SegmentError> {
    let mut start = [0u8; 12];
    read_full(r, &mut start).map_err(|e| match e {
        Short::Eof(0) => SegmentError::NotASegment,
        Short::Eof(_) => SegmentError::BadHeader("the file ends inside the header".into()),
        Short::Io(e) => SegmentError::Io(e),
    })?;
    if &start[..8] != MAGIC {
        return Err(SegmentError::NotASegment);
    }
    let len = u32::from_be_bytes([start[8], start[9], start[10], start[11]]) as usize;
    if len > MAX_HEADER {
        return Err(SegmentError::BadHeader(format!("header length {len} is over {MAX_HEADER}")));
    }
    let mut json = vec![0u8; len];
    read_full(r, &mut json).map_err(|e| match e {
        Short::Eof(_) => SegmentError::BadHeader("the file ends inside the header".into()),
        Short::Io(e) => SegmentError::Io(e),
    })?;
    let header = serde_json::from_slice(&json).map_err(|e| SegmentError::BadHeader(e.to_string()))?;
    let mut raw = start.to_vec();
    raw.extend_from_slice(&json);
    Ok((header, raw))
}

/// What [`ChunkReader::next_chunk`] found.
#[derive(Debug)]
pub enum Chunk {
    /// Plaintext lines.
    Data(Zeroizing<Vec<u8>>),
    /// The closing chunk; the segment is complete.
    Closed,
    /// The end of the file at a chunk boundary, without a closing chunk: the segment is still
    /// being written, or its writer stopped (crash, kill) after its last whole chunk.
    End,
}

/// Opens a segment's chunks in order.
#[derive(Debug)]
pub struct ChunkReader<R> {
    r: R,
    key: DataKey,
    header_hash: [u8; 32],
    next: u64,
    offset: u64,
    closed: bool,
}

impl<R: Read + Seek> ChunkReader<R> {
    /// A reader positioned just after the header `header_bytes` (from [`read_header`]).
    pub fn new(r: R, key: DataKey, header_bytes: &[u8]) -> Self {
        let offset = header_bytes.len() as u64;
        Self { r, key, header_hash: header_hash(header_bytes), next: 0, offset, closed: false }
    }

    /// The next chunk. On [`SegmentError::TornTail`] and [`Chunk::End`] the reader stays at the
    /// chunk's start, so a reader following a live segment can call again once it has grown.
    pub fn next_chunk(&mut self) -> Result<Chunk, SegmentError> {
        let at = self.offset;
        let mut frame = [0u8; FRAME_LEN];
        match read_full(&mut self.r, &mut frame) {
            Ok(()) => {}
            Err(Short::Eof(0)) => return Ok(if self.closed { Chunk::Closed } else { Chunk::End }),
            Err(Short::Eof(_)) => return self.torn(at),
            Err(Short::Io(e)) => return Err(SegmentError::Io(e)),
        }
        if self.closed {
            return Err(SegmentError::AfterClose { offset: at });
        }
        let len = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        let kind = frame[4];
        if !(TAG_LEN..=MAX_CHUNK + TAG_LEN).contains(&len) || kind > FINAL {
            return Err(SegmentError::Tampered { offset: at });
        }
        let mut sealed = vec![0u8; len];
        match read_full(&mut self.r, &mut sealed) {
            Ok(()) => {}
            Err(Short::Eof(_)) => return self.torn(at),
            Err(Short::Io(e)) => return Err(SegmentError::Io(e)),
        }
        let plain = self
            .key
            .decrypt(nonce(self.next), &aad(&self.header_hash, self.next, kind), &sealed)
            .map_err(|_| SegmentError::Tampered { offset: at })?;
        self.next += 1;
        self.offset = at + (FRAME_LEN + len) as u64;
        if kind == FINAL {
            self.closed = true;
            return Ok(Chunk::Closed);
        }
        Ok(Chunk::Data(plain))
    }

    fn torn(&mut self, at: u64) -> Result<Chunk, SegmentError> {
        self.r.seek(SeekFrom::Start(at)).map_err(|e| SegmentError::Io(e.to_string()))?;
        Err(SegmentError::TornTail { offset: at })
    }

    /// Rewinds to the current chunk's start after [`Chunk::End`], for following a live file.
    pub fn rewind(&mut self) -> Result<(), SegmentError> {
        self.r.seek(SeekFrom::Start(self.offset)).map(|_| ()).map_err(|e| SegmentError::Io(e.to_string()))
    }
}

enum Short {
    /// End of input after this many bytes.
    Eof(usize),
    Io(String),
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<(), Short> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Err(Short::Eof(got)),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Short::Io(e.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::io::Cursor;

    use super::*;

    fn fresh() -> (kms::Keyring, SegmentHeader, DataKey) {
        let keyring = kms::Keyring::from_env_value("q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=").unwrap();
        let header =
            SegmentHeader { node: "n1".into(), segment: "access-n1-1".into(), created_ms: 1, key: String::new() };
        let (key, wrapped) = keyring.generate_data_key(&header.context()).unwrap();
        let header = SegmentHeader { key: kms::to_text(&wrapped), ..header };
        (keyring, header, key)
    }

    fn build(chunks: &[&[u8]], close: bool) -> (kms::Keyring, Vec<u8>) {
        let (keyring, header, key) = fresh();
        let mut file = encode_header(&header);
        let mut sealer = ChunkSealer::new(key, &file);
        for c in chunks {
            file.extend(sealer.seal(c).unwrap());
        }
        if close {
            file.extend(sealer.close().unwrap());
        }
        (keyring, file)
    }

    fn read_all(keyring: &kms::Keyring, file: &[u8]) -> (Vec<u8>, Result<Chunk, SegmentError>) {
        let mut cur = Cursor::new(file.to_vec());
        let (header, raw) = read_header(&mut cur).unwrap();
        let key = keyring.unwrap_data_key(&header.context(), &kms::from_text(&header.key).unwrap()).unwrap();
        let mut reader = ChunkReader::new(cur, key, &raw);
        let mut out = Vec::new();
        loop {
            match reader.next_chunk() {
                Ok(Chunk::Data(d)) => out.extend_from_slice(&d),
                // Read once more: nothing may follow the closing chunk.
                Ok(Chunk::Closed) => return (out, reader.next_chunk()),
                other => return (out, other),
            }
        }
    }

    #[test]
    fn round_trip_until_closed() {
        let (keyring, file) = build(&[b"one\n", b"two\nthree\n"], true);
        let (text, end) = read_all(&keyring, &file);
        assert_eq!(text, b"one\ntwo\nthree\n");
        assert!(matches!(end, Ok(Chunk::Closed)));
    }

    #[test]
    fn an_unclosed_segment_ends_without_error() {
        let (keyring, file) = build(&[b"one\n"], false);
        let (text, end) = read_all(&keyring, &file);
        assert_eq!(text, b"one\n");
        assert!(matches!(end, Ok(Chunk::End)));
    }

    #[test]
    fn a_cut_chunk_is_a_torn_tail_at_its_start() {
        let (keyring, file) = build(&[b"one\n", b"two\n"], false);
        let (_, whole) = build(&[b"one\n"], false);
        let first_end = whole.len() as u64;
        for cut in [file.len() - 1, file.len() - 20, first_end as usize + 3] {
            let (text, end) = read_all(&keyring, &file[..cut]);
            assert_eq!(text, b"one\n");
            assert_eq!(end.unwrap_err(), SegmentError::TornTail { offset: first_end });
        }
    }

    #[test]
    fn every_altered_byte_is_caught_at_its_chunk() {
        let (keyring, file) = build(&[b"first line\n", b"second line\n"], true);
        let header_len = encode_header(&fresh().1).len();
        for i in header_len..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            let (_, end) = read_all(&keyring, &bad);
            match end {
                Err(SegmentError::Tampered { offset }) | Err(SegmentError::TornTail { offset }) => {
                    assert!(offset <= i as u64, "byte {i} reported at {offset}")
                }
                other => panic!("byte {i} altered but read as {other:?}"),
            }
        }
    }

    #[test]
    fn reordered_or_dropped_chunks_fail() {
        let (keyring, header, key) = fresh();
        let head = encode_header(&header);
        let mut sealer = ChunkSealer::new(key, &head);
        let a = sealer.seal(b"a\n").unwrap();
        let b = sealer.seal(b"b\n").unwrap();
        let swapped = [head.clone(), b.clone(), a.clone()].concat();
        assert_eq!(read_all(&keyring, &swapped).1.unwrap_err(), SegmentError::Tampered { offset: head.len() as u64 });
        let dropped = [head.clone(), b].concat();
        assert_eq!(read_all(&keyring, &dropped).1.unwrap_err(), SegmentError::Tampered { offset: head.len() as u64 });
    }

    #[test]
    fn a_header_moved_to_another_segment_does_not_open_its_key() {
        let (keyring, header, _) = fresh();
        let moved = SegmentHeader { segment: "access-n1-2".into(), ..header };
        let wrapped = kms::from_text(&moved.key).unwrap();
        assert!(keyring.unwrap_data_key(&moved.context(), &wrapped).is_err());
    }

    #[test]
    fn bytes_after_the_close_are_refused() {
        let (keyring, mut file) = build(&[b"a\n"], true);
        let at = file.len() as u64;
        file.extend_from_slice(&[0, 0, 0, 20, 0]);
        let (_, end) = read_all(&keyring, &file);
        assert_eq!(end.unwrap_err(), SegmentError::AfterClose { offset: at });
    }

    #[test]
    fn other_files_are_not_segments() {
        assert_eq!(
            read_header(&mut Cursor::new(b"{\"requestId\":1}\n".to_vec())).unwrap_err(),
            SegmentError::NotASegment
        );
        assert_eq!(read_header(&mut Cursor::new(Vec::new())).unwrap_err(), SegmentError::NotASegment);
    }
}
