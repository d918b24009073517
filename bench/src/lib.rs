//! Benchmarks live in benches/. This library holds what the benchmarks and the helper binaries
//! share: signing a request with AWS's own SigV4 signer (the `aws-sigv4` crate), the way an
//! SDK client would, and the answer of the benchmarks' custom-authorizer function.

use std::time::SystemTime;

pub mod jwt_issuer;
pub mod waf_corpus;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// Signs a request without a body for `execute-api` in `region` at `time`, and returns the
/// headers to add to it (`x-amz-date` and `authorization`, plus `x-amz-security-token` when
/// `token` is given), as lower-case `(name, value)` pairs.
///
/// `url` is the absolute URL the client sends to (`https://host:port/path?query`): the signer
/// takes the `host` it signs from it, so the request must carry that `Host`.
pub fn sign_headers(
    method: &str,
    url: &str,
    key: (&str, &str, Option<&str>),
    region: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let (access_key_id, secret, token) = key;
    let identity: Identity =
        Credentials::new(access_key_id, secret, token.map(str::to_owned), None, "portcullis-bench").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("execute-api")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("signing params: {e}"))?
        .into();
    let signable = SignableRequest::new(method, url, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| format!("signable request: {e}"))?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| format!("sign: {e}"))?.into_parts();
    let (headers, query) = instructions.into_parts();
    if !query.is_empty() {
        return Err("the signer asked for query parameters; expected headers only".into());
    }
    Ok(headers.iter().map(|h| (h.name().to_ascii_lowercase(), h.value().to_owned())).collect())
}

/// What the benchmarks' authorizer function answers (`POST /authorize` on `bench-upstream`):
/// a Lambda authorizer's policy allowing every method of API `bench` in every stage, with a
/// context, so a cached answer serves every request of the benchmark.
pub const AUTHORIZER_ANSWER: &str = r#"{"principalId":"bench","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:*:*:bench/*"}]},"context":{"tier":"gold"}}"#;
