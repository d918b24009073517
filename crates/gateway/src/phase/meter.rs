//! The metering phase: API key, usage-plan throttle and quota, usage records. Runs after authorisation so refused callers are never counted. No route can require a key yet (the API-keys issue adds it), so it always continues.

use http::Request;

use crate::body::ReqBody;
use crate::ctx::RequestCtx;
use crate::flow::Flow;
use crate::reject::Reject;
use crate::runtime::Runtime;

/// Lets every request through (see the module doc).
pub(crate) fn check(_rt: &Runtime, _cx: &mut RequestCtx, _req: &mut Request<ReqBody>) -> Result<Flow, Reject> {
    Ok(Flow::Continue)
}
