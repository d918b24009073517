//! A second reading of HTTP/1.1 request framing, beside the HTTP codec's. The codec (hyper)
//! quietly merges identical duplicate `Content-Length` headers and drops `Content-Length`
//! when `Transfer-Encoding` is present, so the gateway would never see the ambiguity. The
//! house rule is to refuse ambiguous framing (request-smuggling material), so this module
//! watches the bytes of each HTTP/1 connection as the codec reads them, follows message
//! boundaries (Content-Length and chunked bodies), and marks the requests whose head is
//! ambiguous or whose chunking is invalid. The normalise phase then answers those with 400
//! and closes the connection.
//!
//! It never changes a byte: it only reads what passes through.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Per-connection verdicts, shared between the byte watcher and the request handler.
#[derive(Debug, Default)]
pub struct FramingFlags {
    /// 1-based index of the first request found ambiguous (0: none).
    first_bad: AtomicU64,
    /// Requests handed to the service so far.
    served: AtomicU64,
}

// === impl FramingFlags ===

impl FramingFlags {
    /// Counts a request reaching the service; returns whether its framing was ambiguous.
    /// HTTP/1 requests on one connection reach the service one at a time and in order.
    pub(crate) fn next_request_is_ambiguous(&self) -> bool {
        let n = self.served.fetch_add(1, Ordering::AcqRel) + 1;
        let bad = self.first_bad.load(Ordering::Acquire);
        bad != 0 && n >= bad
    }

    fn mark(&self, request: u64) {
        let _ = self.first_bad.compare_exchange(0, request, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// An I/O stream whose reads are watched by a [`Scanner`].
#[derive(Debug)]
pub(crate) struct Watched<T> {
    inner: T,
    scanner: Option<Scanner>,
}

impl<T> Watched<T> {
    /// Watches `inner`; `flags` is `None` for HTTP/2 connections, which need no watching.
    pub(crate) fn new(inner: T, flags: Option<Arc<FramingFlags>>) -> Self {
        Self { inner, scanner: flags.map(Scanner::new) }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(s)) = (&polled, this.scanner.as_mut()) {
            s.feed(&buf.filled()[before..]);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Follows HTTP/1.1 message boundaries in a byte stream.
#[derive(Debug)]
pub(crate) struct Scanner {
    state: State,
    line: Vec<u8>,
    requests: u64,
    flags: Arc<FramingFlags>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a request head.
    Head,
    /// Skipping a fixed-length body.
    Fixed(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Skipping chunk data.
    ChunkData(u64),
    /// Expecting the CRLF after chunk data (bytes of it still due).
    ChunkEnd(u8),
    /// Reading trailer lines after the last chunk.
    Trailers,
    /// Stopped following: a head the codec will refuse, or a flagged error. (The gateway never
    /// switches protocols, so `Upgrade` and `CONNECT` do not stop it.)
    Off,
}

// === impl Scanner ===

impl Scanner {
    pub(crate) fn new(flags: Arc<FramingFlags>) -> Self {
        Self { state: State::Head, line: Vec::new(), requests: 0, flags }
    }

    pub(crate) fn feed(&mut self, mut buf: &[u8]) {
        while !buf.is_empty() {
            buf = match self.state {
                State::Off => return,
                State::Head => self.head(buf),
                State::Fixed(n) => {
                    let k = n.min(buf.len() as u64);
                    self.state = if k == n { State::Head } else { State::Fixed(n - k) };
                    &buf[k as usize..]
                }
                State::ChunkSize => self.chunk_size(buf),
                State::ChunkData(n) => {
                    let k = n.min(buf.len() as u64);
                    self.state = if k == n { State::ChunkEnd(2) } else { State::ChunkData(n - k) };
                    &buf[k as usize..]
                }
                State::ChunkEnd(due) => {
                    let want = if due == 2 { b'\r' } else { b'\n' };
                    if buf[0] != want {
                        self.bad();
                        return;
                    }
                    self.state = if due == 2 { State::ChunkEnd(1) } else { State::ChunkSize };
                    &buf[1..]
                }
                State::Trailers => self.trailers(buf),
            };
        }
    }

    fn head<'b>(&mut self, mut buf: &'b [u8]) -> &'b [u8] {
        if self.line.is_empty() {
            // Empty lines before a request line are skipped, as the codec skips them.
            let blank = buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            buf = &buf[blank..];
            if buf.is_empty() {
                return buf;
            }
            // Usual case: the whole head arrived in one read; look at it where it lies.
            if let Some(end) = head_end(buf) {
                self.requests += 1;
                let (flags, n) = (&self.flags, self.requests);
                self.state = framing(&buf[..end], || flags.mark(n));
                return &buf[end..];
            }
        }
        let before = self.line.len();
        self.line.extend_from_slice(buf);
        let Some(end) = head_end(&self.line) else {
            if self.line.len() > MAX_HEAD {
                self.off();
            }
            return &[];
        };
        let head = std::mem::take(&mut self.line);
        self.requests += 1;
        let (flags, n) = (&self.flags, self.requests);
        self.state = framing(&head[..end], || flags.mark(n));
        buf.get(end.saturating_sub(before)..).unwrap_or_default()
    }

    fn chunk_size<'b>(&mut self, buf: &'b [u8]) -> &'b [u8] {
        let Some((line, rest)) = self.take_line(buf) else { return &[] };
        let size = line.split(|b| *b == b';').next().and_then(|s| std::str::from_utf8(s).ok()).map(str::trim);
        match size.and_then(|s| (!s.is_empty()).then(|| u64::from_str_radix(s, 16).ok()).flatten()) {
            Some(0) => self.state = State::Trailers,
            Some(n) => self.state = State::ChunkData(n),
            None => {
                self.bad();
                return &[];
            }
        }
        rest
    }

    fn trailers<'b>(&mut self, buf: &'b [u8]) -> &'b [u8] {
        let Some((line, rest)) = self.take_line(buf) else { return &[] };
        if line.is_empty() {
            self.state = State::Head;
        }
        rest
    }

    /// Takes one CRLF-terminated line, buffering partial lines across reads.
    fn take_line<'b>(&mut self, buf: &'b [u8]) -> Option<(Vec<u8>, &'b [u8])> {
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                self.line.extend_from_slice(&buf[..i]);
                let mut line = std::mem::take(&mut self.line);
                if line.pop() != Some(b'\r') {
                    self.bad();
                    return None;
                }
                Some((line, &buf[i + 1..]))
            }
            None => {
                self.line.extend_from_slice(buf);
                if self.line.len() > MAX_LINE {
                    self.bad();
                }
                None
            }
        }
    }

    fn bad(&mut self) {
        self.flags.mark(self.requests.max(1));
        self.off();
    }

    fn off(&mut self) {
        self.state = State::Off;
        self.line = Vec::new();
    }
}

/// The length of the request head at the start of `bytes` (through its blank line), if it
/// is complete. Lines may end in CRLF or, as the codec also accepts, a bare LF.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = bytes.get(from..)?.iter().position(|&b| b == b'\n') {
        let at = from + p;
        match bytes.get(at + 1..) {
            Some([b'\n', ..]) => return Some(at + 2),
            Some([b'\r', b'\n', ..]) => return Some(at + 3),
            _ => from = at + 1,
        }
    }
    None
}

/// Works out how the body after this head is framed, calling `ambiguous` when the head has
/// more than one `Content-Length`, or one together with `Transfer-Encoding`. A plain line scan:
/// whatever it reads more loosely than the codec, the codec refuses anyway.
fn framing(head: &[u8], ambiguous: impl FnOnce()) -> State {
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    if request_line.split(|&b| b == b' ').count() != 3 {
        // Not a request line the codec accepts.
        return State::Off;
    }
    let mut lengths: Vec<&[u8]> = Vec::new();
    let mut last_te: Option<&[u8]> = None;
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some(colon) = line.iter().position(|&b| b == b':') else { return State::Off };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"content-length") {
            lengths.push(value);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            last_te = Some(value);
        }
    }
    if lengths.len() > 1 || (!lengths.is_empty() && last_te.is_some()) {
        ambiguous();
        return State::Off;
    }
    if let Some(te) = last_te {
        let last = te.rsplit(|&b| b == b',').next().map(trim).unwrap_or_default();
        return if last.eq_ignore_ascii_case(b"chunked") { State::ChunkSize } else { State::Off };
    }
    match lengths.first().map(|v| std::str::from_utf8(v).ok().and_then(|v| v.parse::<u64>().ok())) {
        None | Some(Some(0)) => State::Head,
        Some(Some(n)) => State::Fixed(n),
        Some(None) => State::Off,
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or_default()
}

/// Longest request head followed; beyond it the codec answers 431 itself.
const MAX_HEAD: usize = 1024 * 1024;
/// Longest chunk-size or trailer line.
const MAX_LINE: usize = 4096;

#[cfg(test)]
mod tests;
