//! The WAF phase: the web ACL of the request's API, once routing has found the API and before
//! anything is authorised. A block answers 403 `WAF_FILTERED` (or the rule's custom response);
//! allow and count rules may insert `x-amzn-waf-*` request headers for the upstream. Requests
//! that match no API, and APIs without `web_acl`, are not inspected.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use model::ResponseType;

use crate::body::{self, ReqBody};
use crate::ctx::{RequestCtx, WafDecision};
use crate::flow::Flow;
use crate::reject::Reject;
use crate::runtime::Runtime;

/// How much of the body a web ACL inspects: API Gateway's default (16 KiB) in AWS WAF.
const BODY_LIMIT: usize = 16 * 1024;

/// Evaluates the API's web ACL.
pub(crate) async fn check(rt: &Runtime, cx: &mut RequestCtx, req: &mut Request<ReqBody>) -> Result<Flow, Reject> {
    let Some(index) = cx.api(rt).and_then(|a| a.web_acl) else { return Ok(Flow::Continue) };
    let (Some(acl), Some(counters)) = (rt.compiled.web_acls.get(index), rt.waf_metrics.get(index)) else {
        return Ok(Flow::Continue);
    };
    // The body is read (within the size cap) only for ACLs that inspect it, and kept to send on.
    let body: Option<Bytes> =
        if acl.inspects_body() { Some(req.body_mut().buffer().await.map_err(|e| e.reject())?) } else { None };
    let headers: Vec<(&str, &[u8])> = req.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
    let view = ::waf::RequestView {
        method: req.method().as_str(),
        path: req.uri().path().as_bytes(),
        query: req.uri().query().unwrap_or("").as_bytes(),
        headers,
        client_ip: cx.source_ip,
        body: body.as_ref().map(|b| &b[..b.len().min(BODY_LIMIT)]),
        body_truncated: body.as_ref().is_some_and(|b| b.len() > BODY_LIMIT),
        content_type: req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        route: cx.api(rt).zip(cx.route).and_then(|(api, r)| api.route_labels.get(r)).map(|l| &**l),
        now_s: u64::try_from(limits::now_us() / 1_000_000).unwrap_or(0),
    };
    let mut verdict = acl.evaluate(&view);
    let blocked = matches!(verdict.outcome, ::waf::Outcome::Block(_));
    // Indexes, not names: the log phase reads the names from the runtime, so nothing is copied.
    let index_of = |name: &str| acl.rules().iter().position(|r| r.name == name);
    let rule = verdict.terminating_rule.and_then(index_of);
    cx.waf = Some(Box::new(WafDecision { acl: index, rule, blocked, labels: std::mem::take(&mut verdict.labels) }));
    counters.decided(rule, blocked);
    for rule in verdict.counted.iter().filter_map(|r| index_of(r)) {
        counters.counted(rule);
    }
    match verdict.outcome {
        ::waf::Outcome::Allow => {
            for (name, value) in &verdict.insert_headers {
                if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
                    req.headers_mut().insert(n, v);
                }
            }
            Ok(Flow::Continue)
        }
        ::waf::Outcome::Block(None) => Err(Reject::client(ResponseType::WafFiltered, "blocked by the web ACL")),
        ::waf::Outcome::Block(Some(custom)) => Ok(Flow::Reply(custom_response(custom))),
    }
}

/// A rule's own answer to a blocked request.
fn custom_response(c: &::waf::CustomResponse) -> Response<crate::body::ResBody> {
    let (content_type, bytes) = match &c.body {
        Some((t, b)) => (Some(t.clone()), b.clone()),
        None => (None, Vec::new()),
    };
    let mut resp = Response::new(body::full(bytes));
    *resp.status_mut() = StatusCode::from_u16(c.status).unwrap_or(StatusCode::FORBIDDEN);
    let h = resp.headers_mut();
    if let Some(v) = content_type.and_then(|t| HeaderValue::from_str(&t).ok()) {
        h.insert(http::header::CONTENT_TYPE, v);
    }
    for (name, value) in &c.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            h.append(n, v);
        }
    }
    resp
}
