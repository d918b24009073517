//! The CORS phase: answers preflight requests for APIs with a CORS policy (reference §7.2).
//! Runs after routing, before authorisation (preflights carry no credentials), and even when
//! no route matches. Replies 204 with the policy's headers, or with only `Vary: Origin` when
//! the origin, method or headers are not allowed. Response decoration happens in `respond`.

use http::{Request, Response, StatusCode};
use model::CorsPolicy;

use crate::body::{self, ReqBody};
use crate::ctx::RequestCtx;
use crate::flow::Flow;
use crate::reject::Reject;
use crate::runtime::Runtime;

/// Answers a preflight, or continues.
pub(crate) fn preflight(rt: &Runtime, cx: &mut RequestCtx, req: &mut Request<ReqBody>) -> Result<Flow, Reject> {
    let Some(policy) = cx.api(rt).and_then(|a| a.cors.as_ref()) else { return Ok(Flow::Continue) };
    if !CorsPolicy::is_preflight(&cx.method, req.headers()) {
        return Ok(Flow::Continue);
    }
    cx.preflight = true;
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    *resp.headers_mut() = policy.preflight_headers(req.headers());
    Ok(Flow::Reply(resp))
}
