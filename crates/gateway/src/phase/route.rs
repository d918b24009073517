//! The route phase: which API, stage and route a request is for.
//!
//! `resolve` runs after the WAF. It rejects with 403 `MISSING_AUTHENTICATION_TOKEN` (as API
//! Gateway answers unknown resources) when no API serves the host and path; when the API is
//! known but no route matches it continues without a route, so the CORS phase can answer a
//! preflight. `require` then rejects requests that still have no route, the same way.

use http::Request;
use model::ResponseType;

use crate::body::ReqBody;
use crate::ctx::RequestCtx;
use crate::flow::Flow;
use crate::reject::Reject;
use crate::runtime::Runtime;

/// Finds API, stage and route.
pub(crate) fn resolve(rt: &Runtime, cx: &mut RequestCtx, _req: &mut Request<ReqBody>) -> Result<Flow, Reject> {
    let Some(sel) = rt.compiled.select(cx.host(), &cx.path) else {
        return Err(Reject::client(ResponseType::MissingAuthenticationToken, "no API serves this host and path"));
    };
    cx.api = Some(sel.api_index);
    cx.stage = Some(sel.stage_index);
    cx.base_path_matched = sel.base_path_matched.map(str::to_owned);
    // `rest` is a suffix of the path, except the stage root, where it is "/" and the path may
    // not end in one; then the stage-relative path is empty.
    cx.rest_at = if cx.path.ends_with(sel.rest) { cx.path.len() - sel.rest.len() } else { cx.path.len() };
    if let Some(m) = sel.api.routes.find(&cx.method, sel.rest) {
        cx.route = Some(m.index);
        cx.params = m.params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    }
    Ok(Flow::Continue)
}

/// Refuses requests without a route.
pub(crate) fn require(_rt: &Runtime, cx: &mut RequestCtx, _req: &mut Request<ReqBody>) -> Result<Flow, Reject> {
    if cx.route.is_none() {
        return Err(Reject::client(ResponseType::MissingAuthenticationToken, "no route for this method and path"));
    }
    Ok(Flow::Continue)
}
