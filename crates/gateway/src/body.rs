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

use tokio::time::Sleep;

use crate::reject::BoxError;

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
}

/// The client's request body, capped and timed.
#[derive(Debug, Default)]
pub(crate) struct ReqBody {
    inner: Option<Incoming>,
    read: u64,
    max: u64,
    idle: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

// === impl ReqBody ===

impl ReqBody {
    /// Wraps a body from hyper.
    pub(crate) fn new(inner: Incoming, max: u64, idle: Duration) -> Self {
        Self { inner: Some(inner), read: 0, max, idle, timer: None }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = ClientBodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, ClientBodyError>>> {
        let this = self.get_mut();
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

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}
