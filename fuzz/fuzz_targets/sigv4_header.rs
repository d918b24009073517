//! SigV4 on hostile requests: the `Authorization` header (or presigned query) with its date,
//! token and content-hash headers, through parse, scope check, canonical request and verify.
//! Must never panic; a signature that parses has a well-formed scope.
//!
//! Input: NUL-separated fields, `authorization \0 x-amz-date \0 date \0 x-amz-security-token
//! \0 x-amz-content-sha256 \0 query \0 path \0 extra-header-name \0 extra-header-value`. An
//! empty field means the header (or query) is absent; a field that is not a valid header value
//! is dropped.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use iam::sigv4::{self, Expect, SigningKey};

/// 2015-08-30T12:36:00Z, the date of AWS's test suite, around which the seeds sign.
const NOW: i64 = 1_440_938_160;

fn put(headers: &mut HeaderMap, name: &'static str, raw: Option<&[u8]>) {
    if let Some(v) = raw.filter(|v| !v.is_empty()).and_then(|v| HeaderValue::from_bytes(v).ok()) {
        headers.append(name, v);
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|b| *b == 0);
    let mut headers = HeaderMap::new();
    put(&mut headers, "authorization", fields.next());
    put(&mut headers, "x-amz-date", fields.next());
    put(&mut headers, "date", fields.next());
    put(&mut headers, "x-amz-security-token", fields.next());
    put(&mut headers, "x-amz-content-sha256", fields.next());
    let query = fields.next().filter(|q| !q.is_empty()).and_then(|q| std::str::from_utf8(q).ok());
    let path = fields.next().and_then(|p| std::str::from_utf8(p).ok()).filter(|p| !p.is_empty()).unwrap_or("/");
    if let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(name, value);
        }
    }
    headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));

    let req = sigv4::Request { method: "GET", path, query, headers: &headers, authority: None };
    let _ = sigv4::declared_payload_hash(&headers);
    let Ok(sig) = sigv4::parse(&req) else { return };
    assert_eq!(sig.scope.date.len(), 8, "{sig:?}");
    assert!(sig.amz_date.starts_with(&sig.scope.date), "{sig:?}");
    let expect = Expect { region: "us-east-1", service: "execute-api", skew_secs: 300 };
    let _ = sig.check_scope(&expect, NOW);
    // At its own signing time a header signature is current (whatever its scope says).
    if sig.carrier == sigv4::Carrier::Header {
        let expect = Expect { region: &sig.scope.region, service: &sig.scope.service, skew_secs: 300 };
        let signed_host = sig.signed_headers.iter().any(|h| h == "host");
        assert_eq!(sig.check_scope(&expect, sig.timestamp).is_ok(), signed_host, "{sig:?}");
    }
    let _ = sig.canonical_request(&req, sigv4::EMPTY_SHA256);
    let key = SigningKey::derive(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        &sig.scope.date,
        &sig.scope.region,
        &sig.scope.service,
    );
    let _ = sig.verify(&req, sigv4::EMPTY_SHA256, &key);
});
