//! Protocol anomalies of `core`: requests that no ordinary client sends, read from the request
//! as a whole. Framing itself (`Content-Length` with `Transfer-Encoding`, duplicate lengths,
//! bad request lines) never reaches the WAF: the gateway refuses it first.

use crate::RequestView;

/// A protocol check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// A `GET` or `HEAD` with a body: what request smuggling and cache poisoning ride on.
    BodyOnGetOrHead,
    /// More than one `Content-Type`: the WAF and the application may read the body differently.
    MultipleContentType,
    /// A `%` not followed by two hex digits (or `u` and four) in the path, the query or a form
    /// body: decoders disagree on what it means.
    InvalidUrlEncoding,
    /// A multipart body without a boundary, or one that never uses its boundary.
    InvalidMultipart,
    /// A `Range` header with a range that ends before it starts, or more than
    /// [`MAX_RANGES`] ranges.
    InvalidRange,
}

/// More ranges than this in one `Range` header is an attempt to make the server do the work
/// many times over (CVE-2011-3192).
const MAX_RANGES: usize = 10;

impl Protocol {
    /// What the check saw, when the request has the anomaly.
    pub(crate) fn find(self, view: &RequestView<'_>) -> Option<String> {
        match self {
            Self::BodyOnGetOrHead => (matches!(view.method, "GET" | "HEAD")
                && view.body.is_some_and(|b| !b.is_empty()))
            .then(|| format!("{} with a body", view.method)),
            Self::MultipleContentType => (view.header_values("content-type").count() > 1)
                .then(|| "HEADER content-type: more than one".to_owned()),
            Self::InvalidUrlEncoding => {
                let form = view.content_type.is_some_and(|t| {
                    t.split(';')
                        .next()
                        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
                });
                let body = view.body.filter(|_| form).unwrap_or_default();
                [("PATH", view.path), ("QUERY_STRING", view.query), ("BODY", body)]
                    .into_iter()
                    .find(|(_, text)| bad_escape(text))
                    .map(|(part, text)| format!("{part}: {}", crate::eval::excerpt(text)))
            }
            Self::InvalidMultipart => {
                let ct = view.content_type?;
                let media = ct.split(';').next()?.trim();
                if !media.eq_ignore_ascii_case("multipart/form-data") {
                    return None;
                }
                match crate::inputs::boundary(ct) {
                    None => Some("HEADER content-type: multipart without a boundary".to_owned()),
                    Some(b) => {
                        let delimiter = [b"--".as_slice(), b.as_bytes()].concat();
                        let body = view.body.unwrap_or_default();
                        // A cut body may have lost its parts, not its first delimiter.
                        (!body.is_empty() && crate::statement::find_from(body, &delimiter, 0).is_none())
                            .then(|| "BODY: multipart without its boundary".to_owned())
                    }
                }
            }
            Self::InvalidRange => view
                .header_values("range")
                .find(|r| bad_range(r))
                .map(|r| format!("HEADER range: {}", crate::eval::excerpt(r))),
        }
    }
}

/// Whether `text` holds a `%` that is not an escape (`%HH` or `%uHHHH`).
fn bad_escape(text: &[u8]) -> bool {
    let hex = |i: usize| text.get(i).is_some_and(u8::is_ascii_hexdigit);
    memchr::memchr_iter(b'%', text).any(|i| {
        let unicode = matches!(text.get(i + 1), Some(b'u' | b'U')) && (2..6).all(|k| hex(i + k));
        !(hex(i + 1) && hex(i + 2) || unicode)
    })
}

/// Whether a `Range` value of the `bytes` unit has a range that ends before it starts, or more
/// than [`MAX_RANGES`] ranges. Other units are left to the application.
fn bad_range(value: &[u8]) -> bool {
    let Some(ranges) = value.strip_prefix(b"bytes=") else { return false };
    let mut count = 0;
    for range in ranges.split(|&b| b == b',') {
        count += 1;
        let text = String::from_utf8_lossy(range);
        let Some((first, last)) = text.trim().split_once('-') else { return true };
        if let (Ok(first), Ok(last)) = (first.trim().parse::<u64>(), last.trim().parse::<u64>()) {
            if last < first {
                return true;
            }
        }
    }
    count > MAX_RANGES
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{view, with_body};

    #[test]
    fn each_anomaly_and_its_ordinary_counterpart() {
        let get_with_body = RequestView { method: "GET", ..with_body(b"x=1", false) };
        assert!(Protocol::BodyOnGetOrHead.find(&get_with_body).is_some());
        assert!(Protocol::BodyOnGetOrHead.find(&RequestView { method: "POST", ..with_body(b"x=1", false) }).is_none());
        assert!(Protocol::BodyOnGetOrHead.find(&view(b"", &[])).is_none());

        let two = view(b"", &[("content-type", b"application/json"), ("content-type", b"text/plain")]);
        assert!(Protocol::MultipleContentType.find(&two).is_some());
        assert!(Protocol::MultipleContentType.find(&view(b"", &[("content-type", b"text/plain")])).is_none());

        for bad in [&b"q=100%"[..], b"q=%zz", b"q=%u12", b"a=%2"] {
            assert!(Protocol::InvalidUrlEncoding.find(&view(bad, &[])).is_some(), "{}", bad.escape_ascii());
        }
        for good in [&b"q=100%25"[..], b"q=%u2215", b"q=%E2%82%AC", b""] {
            assert!(Protocol::InvalidUrlEncoding.find(&view(good, &[])).is_none(), "{}", good.escape_ascii());
        }
        let form = RequestView { content_type: Some("application/x-www-form-urlencoded"), ..with_body(b"a=5%", false) };
        assert!(Protocol::InvalidUrlEncoding.find(&form).is_some());
        let json = RequestView { content_type: Some("application/json"), ..with_body(b"{\"a\":\"5%\"}", false) };
        assert!(Protocol::InvalidUrlEncoding.find(&json).is_none(), "only form bodies are URL-encoded");

        let multipart =
            |ct: &'static str, body: &'static [u8]| RequestView { content_type: Some(ct), ..with_body(body, false) };
        assert!(Protocol::InvalidMultipart.find(&multipart("multipart/form-data", b"--x\r\n")).is_some());
        assert!(Protocol::InvalidMultipart
            .find(&multipart("multipart/form-data; boundary=abc", b"--xyz\r\n"))
            .is_some());
        assert!(Protocol::InvalidMultipart
            .find(&multipart(
                "multipart/form-data; boundary=\"abc\"",
                b"--abc\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--abc--\r\n"
            ))
            .is_none());

        for bad in [&b"bytes=10-5"[..], b"bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21", b"bytes=abc"]
        {
            assert!(Protocol::InvalidRange.find(&view(b"", &[("range", bad)])).is_some(), "{}", bad.escape_ascii());
        }
        for good in [&b"bytes=0-499"[..], b"bytes=500-", b"bytes=-500", b"bytes=0-0,-1", b"items=5-1"] {
            assert!(Protocol::InvalidRange.find(&view(b"", &[("range", good)])).is_none(), "{}", good.escape_ascii());
        }
    }
}
