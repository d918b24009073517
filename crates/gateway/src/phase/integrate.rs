//! The integration phase: a mock answer, or the upstream's. Runs last. Replies with the
//! upstream's response (hop-by-hop headers removed, body streamed); rejects with 504
//! `INTEGRATION_TIMEOUT` when the upstream's head does not arrive within the route's timeout,
//! 502 `INTEGRATION_FAILURE` when it cannot be reached or breaks the exchange, and with the
//! client's fault (413, 408, 400) when reading the client's body failed.

use std::time::Instant;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri, Version};
use http_body_util::BodyExt;
use model::{CompiledAuth, CompiledRoute, Escape, HttpIntegration, MockIntegration, ResponseType, UrlPart};

use crate::body::{self, ClientBodyError, ReqBody};
use crate::ctx::{RequestCtx, Vars};
use crate::flow::Flow;
use crate::reject::{BoxError, Reject};
use crate::runtime::Runtime;

/// Calls the route's integration.
pub(crate) async fn call(rt: &Runtime, cx: &mut RequestCtx, req: &mut Request<ReqBody>) -> Result<Flow, Reject> {
    let Some((_, route)) = cx.route(rt) else {
        return Err(Reject::internal(ResponseType::ApiConfigurationError, "integrate ran without a route"));
    };
    match route {
        CompiledRoute::Mock(m) => Ok(Flow::Reply(mock(m))),
        CompiledRoute::Http(h) => proxy(rt, cx, req, h).await.map(Flow::Reply),
        CompiledRoute::UserPool(i) => user_pool(rt, cx, req, *i).await.map(Flow::Reply),
    }
}

/// A user pool's endpoint: the path under the route's greedy parameter, the whole body.
async fn user_pool(
    rt: &Runtime,
    cx: &mut RequestCtx,
    req: &mut Request<ReqBody>,
    index: usize,
) -> Result<Response<body::ResBody>, Reject> {
    let Some(slot) = rt.pool_slots.get(index) else {
        return Err(Reject::internal(ResponseType::ApiConfigurationError, "no such user pool"));
    };
    let now_ms = i64::try_from(crate::time_fmt::epoch_ms(cx.time)).unwrap_or(i64::MAX);
    let pool = slot.get(&rt.directory, now_ms).await.map_err(|e| {
        Reject::internal(ResponseType::IntegrationFailure, "the user pool could not be opened").because(e)
    })?;
    let body = req.body_mut().buffer().await.map_err(|e| e.reject())?;
    let greedy = cx.route(rt).is_some_and(|(key, _)| key.greedy);
    let path = format!("/{}", cx.params.last().filter(|_| greedy).map_or("", |(_, v)| v.as_str()));
    let base = cx.path.strip_suffix(path.trim_end_matches('/')).unwrap_or("").trim_end_matches('/');
    let request = identity::pool::PoolRequest {
        method: &cx.method,
        path: &path,
        base,
        query: cx.query.as_deref(),
        headers: req.headers(),
        body: &body,
        source: cx.source_ip,
        now_ms,
    };
    let answer = identity::pool::handle(&pool, request).await;
    let mut resp = Response::new(body::full(answer.body));
    *resp.status_mut() = http::StatusCode::from_u16(answer.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    for (name, value) in answer.headers {
        headers.insert(name, value);
    }
    Ok(resp)
}

fn mock(m: &MockIntegration) -> Response<body::ResBody> {
    let mut resp = Response::new(body::full(m.body.clone()));
    *resp.status_mut() = m.status;
    *resp.headers_mut() = m.headers.clone();
    resp
}

async fn proxy(
    rt: &Runtime,
    cx: &mut RequestCtx,
    req: &mut Request<ReqBody>,
    h: &HttpIntegration,
) -> Result<Response<body::ResBody>, Reject> {
    let uri = upstream_uri(rt, cx, h)?;
    let mut out = Request::new(std::mem::take(req.body_mut()));
    *out.method_mut() = cx.method.clone();
    *out.uri_mut() = uri;
    *out.version_mut() = Version::HTTP_11;
    // The client's headers move to the upstream request (later phases need only what the
    // context kept), minus hop-by-hop ones.
    *out.headers_mut() = std::mem::take(req.headers_mut());
    let headers = out.headers_mut();
    strip_hop_by_hop(headers);
    headers.insert(header::HOST, h.host.clone());
    // Configured headers may replace `Host` and client headers, but not what the gateway
    // vouches for: the forwarding chain and the request id are set last.
    for (name, value) in &h.headers {
        headers.insert(name.clone(), value.clone());
    }
    set_templated(rt, cx, headers, &h.header_templates);
    set_authorizer_headers(rt, cx, headers);
    set_forwarding(cx, headers);
    // The principal header is the gateway's word: whatever the client sent under that name
    // goes, and only an authenticated caller puts it back.
    if let Some(name) = &rt.compiled.principal_header {
        headers.remove(name);
        if let Some(v) = cx.caller.as_ref().and_then(|c| HeaderValue::from_str(&c.principal.arn).ok()) {
            headers.insert(name.clone(), v);
        }
    }
    let Some(client) = rt.upstream_client(cx.api, cx.route) else {
        return Err(Reject::internal(ResponseType::ApiConfigurationError, "no upstream client for this route"));
    };
    let started = Instant::now();
    let result = tokio::time::timeout(h.timeout.as_std(), client.request(out)).await;
    cx.integration_latency = Some(started.elapsed());
    let resp = match result {
        Err(_) => {
            cx.integration_error = Some("timeout".into());
            return Err(Reject::upstream(ResponseType::IntegrationTimeout, "upstream did not answer in time", None));
        }
        Ok(Err(e)) => return Err(classify(cx, e)),
        Ok(Ok(resp)) => resp,
    };
    cx.integration_status = Some(resp.status().as_u16());
    let (mut parts, incoming) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(parts, incoming.map_err(|e| Box::new(e) as BoxError).boxed()))
}

/// The route's authorizer's `upstream_headers`, rendered for this request. Whatever the client
/// sent under those names is dropped first: only the gateway vouches for them. A header whose
/// template names a value the request does not have is not sent at all, rather than as `-`.
fn set_authorizer_headers(rt: &Runtime, cx: &RequestCtx, headers: &mut HeaderMap) {
    let Some(api) = cx.api(rt) else { return };
    let templates = match cx.route.and_then(|r| api.route_auth.get(r)) {
        Some(&CompiledAuth::Custom(i)) => api.authorizers.get(i).map(|a| &a.upstream_headers),
        Some(&CompiledAuth::Jwt(i)) => api.jwt_authorizers.get(i).map(|a| &a.upstream_headers),
        _ => None,
    };
    if let Some(templates) = templates {
        set_templated(rt, cx, headers, templates);
    }
}

/// Sets headers rendered from templates, each replacing the client's of the same name; one
/// whose variables have no value for this request is not sent at all, rather than as `-`.
fn set_templated(rt: &Runtime, cx: &RequestCtx, headers: &mut HeaderMap, templates: &[(HeaderName, model::Template)]) {
    if templates.is_empty() {
        return;
    }
    let vars = Vars { rt, cx, response_length: None, latency: None };
    for (name, template) in templates {
        headers.remove(name);
        let Some(value) = template.render_complete(&vars, Escape::Header) else { continue };
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name.clone(), v);
        }
    }
}

/// Builds the upstream URI: the template with parameters and stage variables filled in, then
/// the template's own query and the client's.
fn upstream_uri(rt: &Runtime, cx: &RequestCtx, h: &HttpIntegration) -> Result<Uri, Reject> {
    let mut path = String::with_capacity(64);
    for part in &h.path {
        match part {
            UrlPart::Literal(s) => path.push_str(s),
            UrlPart::PathParam(p) => {
                if let Some((_, v)) = cx.params.iter().find(|(k, _)| k == p) {
                    path.push_str(v);
                }
            }
            UrlPart::StageVariable(v) => {
                if let Some(val) = cx.stage(rt).and_then(|s| s.variables.get(v)) {
                    path.push_str(val);
                }
            }
        }
    }
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    match (&h.query, &cx.query) {
        (Some(a), Some(b)) => {
            path.push('?');
            path.push_str(a);
            path.push('&');
            path.push_str(b);
        }
        (Some(q), None) | (None, Some(q)) => {
            path.push('?');
            path.push_str(q);
        }
        (None, None) => {}
    }
    Uri::builder()
        .scheme(h.scheme.clone())
        .authority(h.authority.clone())
        .path_and_query(path)
        .build()
        .map_err(|e| Reject::internal(ResponseType::ApiConfigurationError, "upstream URI is invalid").because(e))
}

/// The forwarding headers: `X-Forwarded-For` (the chain believed so far), `X-Real-IP` (the
/// client), `-Proto`, `-Host`, and the request id. A client's own `Forwarded` header is
/// dropped: the gateway cannot vouch for it.
fn set_forwarding(cx: &RequestCtx, headers: &mut HeaderMap) {
    headers.remove(header::FORWARDED);
    headers.insert(X_FORWARDED_FOR, cx.forwarded_for.clone());
    headers.insert(X_REAL_IP, cx.real_ip.clone());
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("https"));
    match &cx.host {
        Some(v) => {
            headers.insert(X_FORWARDED_HOST, v.clone());
        }
        None => {
            headers.remove(X_FORWARDED_HOST);
        }
    }
    headers.insert(X_REQUEST_ID, cx.request_id.clone());
    headers.insert(X_AMZN_REQUEST_ID, cx.request_id.clone());
}

/// Maps a client error to the right gateway response: the client's body or the upstream.
fn classify(cx: &mut RequestCtx, e: hyper_util::client::legacy::Error) -> Reject {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(body) = err.downcast_ref::<ClientBodyError>() {
            return body.reject();
        }
        source = err.source();
    }
    cx.integration_error = Some(if e.is_connect() { "connect".into() } else { "exchange".into() });
    let why = if e.is_connect() { "cannot connect to the upstream" } else { "upstream exchange failed" };
    Reject::upstream(ResponseType::IntegrationFailure, why, Some(Box::new(e)))
}

/// Removes hop-by-hop headers: the fixed list and those named in `Connection`.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Usually there are none: one pass over the names is cheaper than a lookup per name.
    if !headers.keys().any(|n| HOP_BY_HOP.contains(n)) {
        return;
    }
    let listed = connection_listed(headers);
    for name in HOP_BY_HOP.iter().chain(&listed) {
        headers.remove(name);
    }
}

/// Header names listed in `Connection` (usually none, so no allocation).
fn connection_listed(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect()
}

const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
