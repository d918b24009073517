//! Request and response bodies. The request body is streamed to the upstream through
//! [`ReqBody`], which enforces the size cap and the idle timeout as it goes, so a large or slow
//! body is refused without ever being buffered.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use std::future::Future as _;

use sha2::{Digest as _, Sha256};
use tokio::time::Sleep;

use model::ResponseType;

use crate::reject::{BoxError, Reject};

/// Every response body the gateway sends.
pub type ResBody = BoxBody<Bytes, BoxError>;

/// A response body from bytes.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ResBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

/// An empty response body.
pub(crate) fn empty() -> ResBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Why reading the client's body failed. The integration phase finds this in the upstream
/// client's error chain to blame the client, not the upstream.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientBodyError {
    /// More bytes than `limits.max_body_bytes`.
    #[error("request body is over the limit of {0} bytes")]
    TooLarge(u64),
    /// No bytes for longer than `limits.body_read_timeout`.
    #[error("request body stalled for more than {0:?}")]
    Idle(Duration),
    /// Bad chunked framing, or the client went away.
    #[error("request body is malformed or was cut: {0}")]
    Malformed(#[source] hyper::Error),
    /// The body does not hash to the signed `x-amz-content-sha256`.
    #[error("request body does not match its signed x-amz-content-sha256")]
    Digest,
}

impl ClientBodyError {
    /// The gateway response for this client fault; the connection closes, since the rest of
    /// the body was not read.
    pub(crate) fn reject(&self) -> Reject {
        let (kind, why) = match self {
            Self::TooLarge(_) => (ResponseType::RequestTooLarge, "request body over the limit"),
            Self::Idle(_) => (ResponseType::RequestTimeout, "request body stalled"),
            Self::Malformed(_) => (ResponseType::BadRequest, "request body malformed or cut"),
            Self::Digest => {
                let e = iam::sigv4::SigV4Error::PayloadMismatch;
                let why = "body does not match the signed x-amz-content-sha256";
                return Reject::client(ResponseType::InvalidSignature, why)
                    .saying(e.to_string(), Some(e.kind().error_type()))
                    .and_close();
            }
        };
        Reject::client(kind, why).and_close()
    }
}

/// The client's request body, capped and timed; optionally held to a signed digest.
#[derive(Debug, Default)]
pub(crate) struct ReqBody {
    inner: Option<Incoming>,
    /// The whole body, once [`ReqBody::buffer`] read it; sent instead of `inner`.
    buffered: Option<Bytes>,
    read: u64,
    max: u64,
    idle: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    digest: Option<Box<DigestCheck>>,
    /// Trailers that arrived while the digest check held data back.
    pending_trailers: Option<http::HeaderMap>,
}

/// Streams the body while hashing it, one frame behind: the last frame goes out only after
/// the digest matched, so an upstream never receives a complete body that fails the check.
struct DigestCheck {
    hasher: Sha256,
    want: [u8; 32],
    held: Option<Frame<Bytes>>,
    trailers: Option<Frame<Bytes>>,
}

impl std::fmt::Debug for DigestCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestCheck").field("held", &self.held.is_some()).finish_non_exhaustive()
    }
}

// === impl ReqBody ===

impl ReqBody {
    /// Wraps a body from hyper.
    pub(crate) fn new(inner: Incoming, max: u64, idle: Duration) -> Self {
        Self {
            inner: Some(inner),
            buffered: None,
            read: 0,
            max,
            idle,
            timer: None,
            digest: None,
            pending_trailers: None,
        }
    }

    /// A body the gateway made itself (an authorizer event).
    pub(crate) fn from_bytes(bytes: Bytes) -> Self {
        Self { buffered: Some(bytes), ..Self::default() }
    }

    /// Reads the whole body (within the size cap and idle timeout) and keeps it to send on.
    pub(crate) async fn buffer(&mut self) -> Result<Bytes, ClientBodyError> {
        if let Some(b) = &self.buffered {
            return Ok(b.clone());
        }
        let mut buf = bytes::BytesMut::new();
        while let Some(frame) = self.frame().await {
            if let Some(data) = frame?.data_ref() {
                buf.extend_from_slice(data);
            }
        }
        let bytes = buf.freeze();
        self.inner = None;
        self.buffered = Some(bytes.clone());
        Ok(bytes)
    }

    /// From now on, the body must hash (SHA-256) to `want`, or the stream ends in
    /// [`ClientBodyError::Digest`] before its last bytes are passed on.
    pub(crate) fn expect_sha256(&mut self, want: [u8; 32]) {
        self.digest = Some(Box::new(DigestCheck { hasher: Sha256::new(), want, held: None, trailers: None }));
    }

    fn poll_checked(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, ClientBodyError>>> {
        loop {
            let polled = self.poll_raw(cx);
            let Some(check) = self.digest.as_mut() else { return polled };
            match polled {
                Poll::Ready(Some(Ok(frame))) if frame.is_data() => {
                    // An empty frame (HTTP/2's bare END_STREAM) must not take the place of the
                    // held one, or the last real bytes would go out before the check.
                    let Some(d) = frame.data_ref().filter(|d| !d.is_empty()) else { continue };
                    check.hasher.update(d);
                    if let Some(prev) = check.held.replace(frame) {
                        return Poll::Ready(Some(Ok(prev)));
                    }
                }
                Poll::Ready(Some(Ok(trailers))) => {
                    check.trailers = Some(trailers);
                    return Poll::Ready(self.finish_checked());
                }
                Poll::Ready(None) => return Poll::Ready(self.finish_checked()),
                Poll::Ready(Some(Err(e))) => {
                    // A failed body is never compared or released.
                    self.digest = None;
                    return Poll::Ready(Some(Err(e)));
                }
                other => return other,
            }
        }
    }

    /// The body is complete: compare digests, then release what was held back.
    fn finish_checked(&mut self) -> Option<Result<Frame<Bytes>, ClientBodyError>> {
        let check = self.digest.as_mut()?;
        let got: [u8; 32] = std::mem::take(&mut check.hasher).finalize().into();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&got[..], &check.want[..])) {
            self.digest = None;
            self.inner = None;
            return Some(Err(ClientBodyError::Digest));
        }
        let (held, trailers) = (check.held.take(), check.trailers.take());
        self.digest = None;
        self.inner = None;
        match (held, trailers) {
            (Some(h), t) => {
                self.keep_trailers(t);
                Some(Ok(h))
            }
            (None, t) => t.map(Ok),
        }
    }

    fn keep_trailers(&mut self, t: Option<Frame<Bytes>>) {
        // Trailers after held data go out on the next poll.
        if let Some(t) = t {
            if let Ok(map) = t.into_trailers() {
                self.pending_trailers = Some(map);
            }
        }
    }

    /// The capped, timed stream from hyper.
    fn poll_raw(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, ClientBodyError>>> {
        let this = self;
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.timer = None;
                if let Some(data) = frame.data_ref() {
                    this.read += data.len() as u64;
                    if this.read > this.max {
                        this.inner = None;
                        return Poll::Ready(Some(Err(ClientBodyError::TooLarge(this.max))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.inner = None;
                Poll::Ready(Some(Err(ClientBodyError::Malformed(e))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let idle = this.idle;
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if timer.as_mut().poll(cx).is_ready() {
                    this.inner = None;
                    return Poll::Ready(Some(Err(ClientBodyError::Idle(idle))));
                }
                Poll::Pending
            }
        }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = ClientBodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, ClientBodyError>>> {
        let this = self.get_mut();
        if let Some(b) = this.buffered.take() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        if let Some(t) = this.pending_trailers.take() {
            return Poll::Ready(Some(Ok(Frame::trailers(t))));
        }
        if this.digest.is_some() {
            this.poll_checked(cx)
        } else {
            this.poll_raw(cx)
        }
    }

    fn is_end_stream(&self) -> bool {
        self.buffered.is_none()
            && self.pending_trailers.is_none()
            && self.digest.as_ref().is_none_or(|d| d.held.is_none())
            && self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        if let Some(b) = &self.buffered {
            return SizeHint::with_exact(b.len() as u64);
        }
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}
