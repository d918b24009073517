//! The WAF phase: web ACL rules by priority. Runs after normalise, before routing, on every request. No web ACL can be configured yet (the WAF issue adds them), so it always continues.

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
