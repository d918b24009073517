//! A custom authorizer's answer, as the function's HTTP response: parsing any status, header
//! and body never panics, in every format; a policy that comes back is usable; and the same
//! answer read twice gives the same verdict kind.
#![no_main]

use identity::custom::{parse_answer, CacheHint, Verdict};
use model::PayloadFormat;

libfuzzer_sys::fuzz_target!(|input: (u16, bool, &str, &[u8])| {
    let (status, function_error, cache_control, body) = input;
    let mut headers = http::HeaderMap::new();
    if function_error {
        headers.insert("x-amz-function-error", http::HeaderValue::from_static("Unhandled"));
    }
    if let Ok(v) = http::HeaderValue::from_str(cache_control) {
        headers.insert(http::header::CACHE_CONTROL, v);
    }
    let hint = CacheHint::from_headers(&headers);
    assert!(hint.cap(std::time::Duration::from_secs(300)) <= std::time::Duration::from_secs(300));
    for (format, simple) in [(PayloadFormat::V1, false), (PayloadFormat::V2, false), (PayloadFormat::V2, true)] {
        let first = parse_answer(status, &headers, body, format, simple);
        let again = parse_answer(status, &headers, body, format, simple);
        assert_eq!(first.is_ok(), again.is_ok());
        if let Ok(Verdict::Policy { policy, .. }) = &first {
            assert!(iam::policy::Policy::from_value(policy.document()).is_ok());
            let req =
                iam::policy::RequestContext::new("execute-api:Invoke", "arn:aws:execute-api:us-east-1:1:a/s/GET/x");
            let _ = iam::policy::evaluate(&[policy], &req);
        }
    }
});
