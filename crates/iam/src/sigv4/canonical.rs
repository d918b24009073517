//! The canonical request of reference §1.2, as `execute-api` builds it.

use std::borrow::Cow;

use super::encode::{query_decode, uri_encode_into};
use super::{Carrier, Request, SigV4Error, Signature};

/// The variants of the canonical request that clients produce.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Form {
    /// Remove dot segments and empty segments from the path first, as the SDKs do.
    pub(crate) normalize: bool,
    /// Leave a presigned URL's `X-Amz-Security-Token` out (added after signing).
    pub(crate) omit_token: bool,
}

/// Builds the canonical request in the given form.
pub(crate) fn request(
    req: &Request<'_>,
    sig: &Signature,
    payload_hash: &str,
    form: Form,
) -> Result<String, SigV4Error> {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    let path = if form.normalize { normalize_path(req.path) } else { Cow::Borrowed(req.path) };
    if path.is_empty() {
        out.push('/');
    } else {
        // The path is encoded once more, as it arrived: a `%` the client sent becomes `%25`.
        uri_encode_into(&mut out, path.as_bytes(), true);
    }
    out.push('\n');
    query(&mut out, req.query.unwrap_or(""), sig.carrier == Carrier::Query, form.omit_token);
    out.push('\n');
    headers(&mut out, req, &sig.signed_headers)?;
    out.push('\n');
    out.push_str(&sig.signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}

/// RFC 3986 dot-segment removal plus collapsing of empty segments (`//a//` → `/a/`). A
/// trailing slash stays, as the SDKs keep it.
pub fn normalize_path(path: &str) -> Cow<'_, str> {
    let needs = path.contains("//") || path.split('/').any(|s| s == "." || s == "..");
    if !needs {
        return Cow::Borrowed(path);
    }
    let mut stack: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &stack {
        out.push('/');
        out.push_str(s);
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if trailing || out.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}

fn query(out: &mut String, raw: &str, presigned: bool, omit_token: bool) {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = query_decode(k);
        if presigned && (k == b"X-Amz-Signature" || (omit_token && k == b"X-Amz-Security-Token")) {
            continue;
        }
        let (mut ek, mut ev) = (String::new(), String::new());
        uri_encode_into(&mut ek, &k, false);
        uri_encode_into(&mut ev, &query_decode(v), false);
        pairs.push((ek, ev));
    }
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

fn headers(out: &mut String, req: &Request<'_>, signed: &[String]) -> Result<(), SigV4Error> {
    for name in signed {
        out.push_str(name);
        out.push(':');
        let mut values = req.headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() {
            match (name.as_str(), req.authority) {
                ("host", Some(authority)) => push_trimmed(out, name, authority.as_bytes())?,
                _ => return Err(SigV4Error::SignedHeaderAbsent(name.clone())),
            }
        }
        let mut first = true;
        for v in values {
            if !first {
                out.push(',');
            }
            first = false;
            push_trimmed(out, name, v.as_bytes())?;
        }
        out.push('\n');
    }
    Ok(())
}

/// Appends a header value with leading and trailing blanks removed and inner runs of blanks
/// collapsed to one space. A value that is not UTF-8 is refused: replacing its bytes would let
/// different values canonicalise alike.
fn push_trimmed(out: &mut String, name: &str, value: &[u8]) -> Result<(), SigV4Error> {
    let text = std::str::from_utf8(value).map_err(|_| SigV4Error::SignedHeaderNotText(name.to_owned()))?;
    let mut words = text.split([' ', '\t']).filter(|w| !w.is_empty());
    if let Some(w) = words.next() {
        out.push_str(w);
    }
    for w in words {
        out.push(' ');
        out.push_str(w);
    }
    Ok(())
}
