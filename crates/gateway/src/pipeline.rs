//! The life of a request: the only place the order of the phases is written.
//!
//! ```text
//!   accept ─▶ normalise ─▶ waf ─▶ route ─▶ cors ─▶ route::require ─▶ authorize ─▶ meter
//!          ─▶ throttle ─▶ validate ─▶ integrate          (then, on every way out:)
//!                                                        respond ─▶ log
//! ```
//!
//! Each phase returns `Result<Flow, Reject>`: `Continue` goes on to the next line, `Reply`
//! ends the pipeline with that answer, and a `Reject` becomes a gateway response (`rescue`).
//! `respond` and `log` run for every request, whichever way it ended.

use http::{Request, Response};

use crate::body::{ReqBody, ResBody};
use crate::ctx::RequestCtx;
use crate::flow::Flow;
use crate::phase;
use crate::reject::Reject;
use crate::runtime::Runtime;

macro_rules! step {
    ($phase:expr) => {
        match $phase? {
            Flow::Continue => {}
            Flow::Reply(resp) => return Ok(resp),
        }
    };
}

/// Runs the request phases in order.
pub(crate) async fn run(
    rt: &Runtime,
    cx: &mut RequestCtx,
    req: &mut Request<ReqBody>,
) -> Result<Response<ResBody>, Reject> {
    // Limits and the canonical path come first: every later phase must see the same,
    // already-checked request.
    step!(phase::normalise::check(rt, cx, req));
    // Routing finds API, stage and route; an unknown route is not refused yet, because a
    // CORS preflight must be answered even where no OPTIONS route exists.
    step!(phase::route::resolve(rt, cx, req));
    // The API's web ACL sees its requests before anything is authorised or answered.
    step!(phase::waf::check(rt, cx, req).await);
    // Preflights carry no credentials, so they are answered before authorisation.
    step!(phase::cors::preflight(rt, cx, req));
    step!(phase::route::require(rt, cx, req));
    step!(phase::authorize::check(rt, cx, req).await);
    // Keys and quotas are metered only for authorised callers, so rejected requests never
    // count against a client.
    step!(phase::meter::check(rt, cx, req).await);
    step!(phase::throttle::check(rt, cx, req).await);
    step!(phase::validate::check(rt, cx, req));
    step!(phase::integrate::call(rt, cx, req).await);
    Err(Reject::internal(model::ResponseType::ApiConfigurationError, "the integration phase did not answer"))
}
