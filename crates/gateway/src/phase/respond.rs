//! The respond phase: headers every response gets. Runs on every way out, after the pipeline
//! or `rescue`: the request id, `Strict-Transport-Security` (the domain's or the default), and the API's CORS decoration (except on a preflight, which
//! the CORS phase answered in full), and the `RateLimit-*` / `Retry-After` headers of a
//! metered or throttled request.

use http::header::HeaderName;
use http::Response;

use crate::body::ResBody;
use crate::ctx::RequestCtx;
use crate::runtime::Runtime;

/// Finishes the response head.
pub(crate) fn finish(rt: &Runtime, cx: &mut RequestCtx, resp: &mut Response<ResBody>) {
    resp.headers_mut().insert(X_AMZN_REQUEST_ID, cx.request_id.clone());
    if !cx.preflight {
        if let Some(policy) = cx.api(rt).and_then(|a| a.cors.as_ref()) {
            policy.decorate(cx.origin.as_ref(), resp.headers_mut());
        }
    }
    // The domain's own setting came with the connection; otherwise the config's default.
    if let Some(v) = cx.hsts.clone().unwrap_or_else(|| rt.compiled.hsts.clone()) {
        resp.headers_mut().insert(http::header::STRICT_TRANSPORT_SECURITY, v);
    }
    if let Some(v) = cx.www_authenticate.take() {
        resp.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
    }
    if let Some(r) = cx.rate_limit {
        let headers = resp.headers_mut();
        headers.insert(RATELIMIT_LIMIT, r.limit.into());
        headers.insert(RATELIMIT_REMAINING, r.remaining.into());
        headers.insert(RATELIMIT_RESET, r.reset_secs.into());
        if r.retry_after {
            headers.insert(http::header::RETRY_AFTER, r.reset_secs.into());
        }
    }
    cx.status = resp.status().as_u16();
}

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

const X_AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
