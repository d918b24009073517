//! The normalise phase: size and framing limits, the canonical path, the client address.
//! Runs first, on every request. Continues with `cx.path`, `cx.query`, `cx.source_ip` set;
//! rejects with 431 (`REQUEST_HEADERS_TOO_LARGE`) for too many or too large headers, 413
//! (`REQUEST_TOO_LARGE`) for a declared body over the limit, 400 (`BAD_REQUEST`) for ambiguous
//! framing or a path with no canonical form. Framing and size rejections close the connection.

use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::Request;
use model::ResponseType;

use crate::body::ReqBody;
use crate::client_ip;
use crate::ctx::RequestCtx;
use crate::flow::Flow;
use crate::reject::Reject;
use crate::runtime::Runtime;

/// Checks limits and framing, and computes the canonical path and client address.
pub(crate) fn check(rt: &Runtime, cx: &mut RequestCtx, req: &mut Request<ReqBody>) -> Result<Flow, Reject> {
    if cx.ambiguous_framing {
        return Err(Reject::client(ResponseType::BadRequest, "ambiguous or invalid HTTP/1.1 framing").and_close());
    }
    let limits = &rt.compiled.config.limits;
    let headers = req.headers();
    if headers.len() > limits.max_headers as usize {
        return Err(Reject::client(ResponseType::RequestHeadersTooLarge, "too many header fields").and_close());
    }
    let head_bytes = req.method().as_str().len()
        + req.uri().path_and_query().map_or(1, |p| p.as_str().len())
        + headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum::<usize>();
    if head_bytes > limits.max_header_bytes as usize {
        return Err(Reject::client(ResponseType::RequestHeadersTooLarge, "header block over the limit").and_close());
    }
    // Routing reads the URI's authority (HTTP/2 `:authority`, an absolute-form target) and a
    // signature covers the `Host` header: when both are present they must name the same host,
    // or a request signed for one API could be routed to another.
    if let (Some(authority), Some(host)) = (req.uri().authority(), headers.get(HOST)) {
        if !authority.as_str().as_bytes().eq_ignore_ascii_case(host.as_bytes()) {
            return Err(Reject::client(ResponseType::BadRequest, "Host differs from the request's authority"));
        }
    }
    check_domain(rt, cx)?;
    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    if let Some(first) = lengths.next() {
        if lengths.next().is_some() || headers.contains_key(TRANSFER_ENCODING) {
            return Err(Reject::client(ResponseType::BadRequest, "ambiguous body framing").and_close());
        }
        let declared = first
            .to_str()
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| Reject::client(ResponseType::BadRequest, "malformed content-length").and_close())?;
        if declared > limits.max_body_bytes {
            return Err(Reject::client(ResponseType::RequestTooLarge, "declared body over the limit").and_close());
        }
    }
    let path = model::canonicalize(req.uri().path())
        .map_err(|e| Reject::client(ResponseType::BadRequest, "path has no canonical form").because(e))?;
    cx.path = path.into_owned();
    cx.query = req.uri().query().map(str::to_owned);
    let fwd = client_ip::resolve(cx.peer.ip(), headers, &rt.compiled.config.trusted_proxies);
    let untrusted_peer = fwd.client == cx.peer.ip() && !fwd.chain.contains(',');
    cx.source_ip = fwd.client;
    cx.forwarded_for = header_value(fwd.chain);
    // Usually the chain is just the client: share the value instead of formatting it again.
    cx.real_ip = if untrusted_peer { cx.forwarded_for.clone() } else { header_value(fwd.client.to_string()) };
    Ok(Flow::Continue)
}

/// A connection is made for one custom domain (its TLS version and client-certificate rules);
/// a request on it whose `Host` names another (HTTP/2 connection reuse, or a client trying to
/// skip a domain's mutual TLS) is answered 421, as RFC 9110 §15.5.20 provides.
fn check_domain(rt: &Runtime, cx: &RequestCtx) -> Result<(), Reject> {
    if cx.domain.is_none() && !rt.tls.has_domains() {
        return Ok(());
    }
    let host = cx.host().map(model::strip_port).unwrap_or_default();
    if rt.tls.domain_of_host(host) != cx.domain {
        return Err(Reject::client(
            ResponseType::MisdirectedRequest,
            "Host names another domain than the connection's SNI",
        ));
    }
    Ok(())
}

/// A header value that takes over the string's buffer; addresses are always valid values.
fn header_value(text: String) -> http::HeaderValue {
    http::HeaderValue::from_maybe_shared(bytes::Bytes::from(text)).unwrap_or(http::HeaderValue::from_static(""))
}
