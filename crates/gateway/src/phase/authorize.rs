//! The authorisation phase: resource policy, then the route's authorizer (IAM, JWT, custom). Runs after routing and CORS preflight. Every route's authorisation is `NONE` until the IAM and identity issues add the others, so it always continues.

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
