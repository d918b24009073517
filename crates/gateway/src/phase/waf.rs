//! The WAF phase: the web ACL of the request's API, once routing has found the API and before
//! anything is authorised. A block answers 403 `WAF_FILTERED` (or the rule's custom response);
//! allow and count rules may insert `x-amzn-waf-*` request headers for the upstream. Requests
//! that match no API, and APIs without `web_acl`, are not inspected.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use model::ResponseType;

use crate::body::{self, ReqBody};
use crate::challenge;
use crate::ctx::{RequestCtx, WafDecision};
use crate::flow::Flow;
use crate::reject::Reject;
use crate::runtime::Runtime;

/// Evaluates the API's web ACL.
pub(crate) async fn check(rt: &Runtime, cx: &mut RequestCtx, req: &mut Request<ReqBody>) -> Result<Flow, Reject> {
    // A stage's own web ACL replaces the API's.
    let index = cx.stage(rt).and_then(|s| s.web_acl).or_else(|| cx.api(rt).and_then(|a| a.web_acl));
    let Some(index) = index else { return Ok(Flow::Continue) };
    let (Some(acl), Some(counters)) = (rt.compiled.web_acls.get(index), rt.waf_metrics.get(index)) else {
        return Ok(Flow::Continue);
    };
    // The body is read (within the size cap) only for ACLs that inspect it, and kept to send on.
    let body: Option<Bytes> =
        if acl.inspects_body() { Some(req.body_mut().buffer().await.map_err(|e| e.reject())?) } else { None };
    let now_s = u64::try_from(limits::now_us() / 1_000_000).unwrap_or(0);
    let ua = req.headers().get(http::header::USER_AGENT).map_or(&b""[..], HeaderValue::as_bytes);
    if acl.challenges() {
        if let Some(answer) = req.headers().get(challenge::SOLUTION_HEADER) {
            return answer_challenge(rt, cx, answer.as_bytes(), ua, now_s);
        }
    }
    let token_issued_s = cookie(req, challenge::COOKIE)
        .and_then(|t| challenge::token_issued(&rt.challenge_key, t, cx.source_ip, ua, now_s));
    let bot_verified = match acl.bot_domains(ua) {
        Some(domains) => Some(crate::bots::verify(cx.source_ip, domains).await),
        None => None,
    };
    let headers: Vec<(&str, &[u8])> = req.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
    let view = ::waf::RequestView {
        method: req.method().as_str(),
        path: req.uri().path().as_bytes(),
        query: req.uri().query().unwrap_or("").as_bytes(),
        headers,
        client_ip: cx.source_ip,
        body: body.as_ref().map(|b| &b[..b.len().min(acl.body_limit())]),
        body_truncated: body.as_ref().is_some_and(|b| b.len() > acl.body_limit()),
        content_type: req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        route: cx.api(rt).zip(cx.route).and_then(|(api, r)| api.route_labels.get(r)).map(|l| &**l),
        now_s,
        challenge_token_issued_s: token_issued_s,
        bot_verified,
    };
    let mut verdict = acl.evaluate(&view);
    let blocked = matches!(verdict.outcome, ::waf::Outcome::Block(_));
    let challenged = matches!(verdict.outcome, ::waf::Outcome::Challenge(_));
    // Indexes, not names: the log phase reads the names from the runtime, so nothing is copied.
    let index_of = |name: &str| acl.rules().iter().position(|r| r.name == name);
    let rule = verdict.terminating_rule.and_then(index_of);
    cx.waf = Some(Box::new(WafDecision {
        acl: index,
        rule,
        blocked,
        challenged,
        labels: std::mem::take(&mut verdict.labels),
    }));
    match (challenged, rule) {
        (true, Some(rule)) => counters.challenged(rule),
        _ => counters.decided(rule, blocked),
    }
    let (action, sampled_rule) = match (blocked, challenged, verdict.terminating_rule, verdict.counted.first()) {
        (true, _, r, _) => ("BLOCK", r),
        (_, true, r, _) => ("CHALLENGE", r),
        (_, _, Some(r), _) => ("ALLOW", Some(r)),
        (_, _, None, Some(c)) => ("COUNT", Some(*c)),
        (_, _, None, None) => ("ALLOW", None),
    };
    let labels = cx.waf.as_ref().map_or(&[][..], |w| &w.labels[..]);
    let decision = crate::waf_samples::Decision {
        acl: acl.name(),
        action,
        rule: sampled_rule,
        labels,
        matched: verdict.matched.as_ref().map(|m| (m.field, m.value_excerpt.as_str())),
    };
    rt.waf_samples.record(&decision, cx.source_ip, req.method(), req.uri(), req.headers());
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
        ::waf::Outcome::Challenge(settings) => {
            let browser = req.method() == http::Method::GET
                && req
                    .headers()
                    .get_all(http::header::ACCEPT)
                    .iter()
                    .any(|v| v.as_bytes().windows(9).any(|w| w == b"text/html"));
            let page = browser.then(|| {
                let puzzle = challenge::puzzle(&rt.challenge_key, cx.source_ip, ua, now_s, settings.difficulty);
                challenge::page(&puzzle, settings.difficulty)
            });
            Ok(Flow::Reply(challenge_response(page)))
        }
    }
}

/// The value of cookie `name` in the request's `cookie` headers.
fn cookie<'r>(req: &'r Request<ReqBody>, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('=')))
}

/// Checks an answer to a challenge: a valid one gets the token cookie (204), any other 403.
fn answer_challenge(rt: &Runtime, cx: &RequestCtx, answer: &[u8], ua: &[u8], now_s: u64) -> Result<Flow, Reject> {
    let answer = std::str::from_utf8(answer).unwrap_or("");
    match challenge::check_answer(&rt.challenge_key, answer, cx.source_ip, ua, now_s) {
        Ok(()) => {
            let token = challenge::token(&rt.challenge_key, cx.source_ip, ua, now_s);
            let cookie = format!(
                "{}={token}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Lax",
                challenge::COOKIE,
                challenge::TOKEN_MAX_AGE_S
            );
            let mut resp = Response::new(body::full(Vec::new()));
            *resp.status_mut() = StatusCode::NO_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(http::header::SET_COOKIE, v);
            }
            resp.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(Flow::Reply(resp))
        }
        Err(why) => Err(Reject::client(ResponseType::WafFiltered, format!("challenge answer refused: {why:?}"))),
    }
}

/// The 202 that answers a challenged request: the proof-of-work page for a browser, an empty
/// body for any other client; both say `x-portcullis-waf-action: challenge`.
fn challenge_response(page: Option<String>) -> Response<crate::body::ResBody> {
    let html = page.is_some();
    let mut resp = Response::new(body::full(page.unwrap_or_default().into_bytes()));
    *resp.status_mut() = StatusCode::ACCEPTED;
    let h = resp.headers_mut();
    h.insert(challenge::ACTION_HEADER, HeaderValue::from_static("challenge"));
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if html {
        h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    }
    resp
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
