//! The one canonical form of a request path. Routing, authorisation, the WAF, logs and the
//! upstream all see this form, so a path cannot mean one thing to one phase and another thing
//! to the next.
//!
//! The rules, in order:
//! 1. The path must start with `/`.
//! 2. Percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded; every other
//!    percent-encoding is kept, with its hex digits upper-cased. `%2F` stays `%2F`: an encoded
//!    slash is part of a segment, never a separator. A `%` not followed by two hex digits is
//!    refused.
//! 3. Runs of slashes are merged into one (`/a//b` is `/a/b`).
//! 4. `.` segments are removed and `..` removes the segment before it (RFC 3986 §5.2.4).
//!    A `..` that would climb above the root is refused.
//! 5. A trailing slash is kept: `/a/` and `/a` are different paths.

use std::borrow::Cow;

/// Why a path has no canonical form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("the path does not start with `/`")]
    NotAbsolute,
    /// A `%` is not followed by two hex digits.
    #[error("the path has a malformed percent-encoding")]
    BadPercentEncoding,
    /// A `..` segment climbs above the root.
    #[error("the path climbs above the root")]
    AboveRoot,
}

/// Returns the canonical form of `raw` (the path without its query).
pub fn canonicalize(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if !needs_work(raw.as_bytes()) {
        return Ok(Cow::Borrowed(raw));
    }
    let decoded = decode_unreserved(raw)?;
    Ok(Cow::Owned(remove_dots(&decoded)?))
}

fn needs_work(b: &[u8]) -> bool {
    b.contains(&b'%') || b.windows(2).any(|w| w == b"//" || w == b"/.")
}

fn decode_unreserved(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c != b'%' {
            // Multi-byte UTF-8 is copied whole: find the next char boundary.
            let next = (i + 1..=bytes.len()).find(|&j| raw.is_char_boundary(j)).unwrap_or(bytes.len());
            out.push_str(&raw[i..next]);
            i = next;
            continue;
        }
        let (Some(hi), Some(lo)) = (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        else {
            return Err(PathError::BadPercentEncoding);
        };
        let v = hi * 16 + lo;
        if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(v));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(hi)]));
            out.push(char::from(HEX[usize::from(lo)]));
        }
        i += 3;
    }
    Ok(out)
}

fn remove_dots(path: &str) -> Result<String, PathError> {
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing = false;
    for seg in path.split('/').skip(1) {
        trailing = false;
        match seg {
            "" => trailing = true,
            "." => trailing = true,
            ".." => {
                segments.pop().ok_or(PathError::AboveRoot)?;
                trailing = true;
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing || out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::{canonicalize, PathError};

    fn c(p: &str) -> Result<String, PathError> {
        canonicalize(p).map(|c| c.into_owned())
    }

    #[test]
    fn canonical_forms() {
        let cases = [
            ("/", "/"),
            ("/pets/1", "/pets/1"),
            ("//pets///1", "/pets/1"),
            ("/pets/./1", "/pets/1"),
            ("/pets/x/../1", "/pets/1"),
            ("/pets/1/", "/pets/1/"),
            ("/pets/1/.", "/pets/1/"),
            ("/a/b/..", "/a/"),
            ("/%70ets/%7e%2d", "/pets/~-"),
            ("/a%2fb", "/a%2Fb"),
            ("/a%2e%2e/b", "/a../b"),
            ("/x/%2e%2e/y", "/y"),
            ("/caf%C3%A9", "/caf%C3%A9"),
            ("/café", "/café"),
            ("/..a", "/..a"),
        ];
        for (raw, want) in cases {
            assert_eq!(c(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(c("/.."), Err(PathError::AboveRoot));
        assert_eq!(c("/a/../../b"), Err(PathError::AboveRoot));
        assert_eq!(c("/%2e%2e/etc/passwd"), Err(PathError::AboveRoot));
        assert_eq!(c("/a%zz"), Err(PathError::BadPercentEncoding));
        assert_eq!(c("/a%4"), Err(PathError::BadPercentEncoding));
        assert_eq!(c("a/b"), Err(PathError::NotAbsolute));
    }

    #[test]
    fn canonical_form_is_a_fixed_point() {
        for raw in ["//a/./b/../c%2f%41/", "/%2e/x", "/a/b/c/../../d"] {
            let once = c(raw).unwrap_or_default();
            assert_eq!(c(&once).as_deref(), Ok(once.as_str()));
        }
    }
}
