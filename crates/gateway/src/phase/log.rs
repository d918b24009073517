//! The log phase: one access-log line and the request metrics, for every request, written when
//! the response body ends (or the client goes away), so length and latency are the real ones.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use model::{Escape, ResponseType};

use crate::body::ResBody;
use crate::ctx::{RequestCtx, Vars};
use crate::reject::BoxError;
use crate::runtime::Runtime;

/// Wraps the response body so the log line is written when it ends.
pub(crate) fn attach(rt: Arc<Runtime>, cx: RequestCtx, resp: Response<ResBody>) -> Response<ResBody> {
    resp.map(|inner| LoggedBody { inner, done: Some(Finish { rt, cx, bytes: 0 }) }.boxed())
}

struct LoggedBody {
    inner: ResBody,
    done: Option<Finish>,
}

struct Finish {
    rt: Arc<Runtime>,
    cx: RequestCtx,
    bytes: u64,
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(d), Some(f)) = (frame.data_ref(), this.done.as_mut()) {
                    f.bytes += d.len() as u64;
                }
            }
            Poll::Ready(_) => {
                if let Some(f) = this.done.take() {
                    f.write();
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        if let Some(f) = self.done.take() {
            f.write();
        }
    }
}

// === impl Finish ===

impl Finish {
    fn write(self) {
        let Self { rt, cx, bytes } = self;
        let latency = cx.started.elapsed();
        let sample = sample(&cx, latency);
        rt.route_metrics(cx.api, cx.stage, cx.route).record(&sample);
        if let Some(key) = &cx.api_key {
            rt.metrics.series().key(&key.id).record(&sample);
        }
        let stage = cx.stage(&rt);
        let Some(template) = &rt.compiled.access_log else { return };
        if !stage.is_none_or(|s| s.settings.access_log) {
            return;
        }
        let vars = Vars { rt: &rt, cx: &cx, response_length: Some(bytes), latency: Some(latency) };
        rt.access_log.write(template.render_to_string(&vars, Escape::Json));
    }
}

/// What the request tells the metrics.
fn sample(cx: &RequestCtx, latency: std::time::Duration) -> telemetry::Sample {
    telemetry::Sample {
        status: cx.status,
        latency,
        integration_latency: cx.integration_latency,
        throttled: cx.error == Some(ResponseType::Throttled),
        quota_exceeded: cx.error == Some(ResponseType::QuotaExceeded),
        // The gateway refused the caller's credentials or permissions (not an upstream's 401/403).
        auth_failure: cx.error.is_some()
            && cx.error != Some(ResponseType::WafFiltered)
            && matches!(cx.status, 401 | 403),
        waf_blocked: cx.waf.as_ref().is_some_and(|w| w.blocked),
    }
}
