//! Signing admin requests with AWS's own SigV4 signer (the `aws-sigv4` crate), so that the
//! CLI exercises the gateway exactly as an AWS SDK would.

use std::time::SystemTime;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use reqwest::header::{HeaderName, HeaderValue};

use super::credentials::Credentials;

/// Adds `Authorization`, `X-Amz-Date` and (for temporary credentials) `X-Amz-Security-Token`
/// to `req`, signed for `service` in `region` over its method, URL, headers and body.
pub(crate) fn sign_request(
    req: &mut reqwest::Request,
    creds: &Credentials,
    region: &str,
    service: &str,
) -> Result<(), String> {
    let identity: Identity = aws_credential_types::Credentials::new(
        creds.access_key_id.as_str(),
        creds.secret_access_key.as_str(),
        creds.session_token.as_ref().map(|t| t.to_string()),
        None,
        "portcullis-cli",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into();
    let body = req.body().and_then(reqwest::Body::as_bytes).unwrap_or_default().to_vec();
    let headers: Vec<(String, String)> =
        req.headers().iter().filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect();
    let url = req.url().to_string();
    let signable = SignableRequest::new(
        req.method().as_str(),
        &url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&body),
    )
    .map_err(|e| format!("cannot sign the request: {e}"))?;
    let (instructions, _signature) =
        sign(signable, &params).map_err(|e| format!("cannot sign the request: {e}"))?.into_parts();
    let (new_headers, _query) = instructions.into_parts();
    for h in new_headers {
        let name = HeaderName::from_bytes(h.name().as_bytes()).map_err(|e| format!("signing header: {e}"))?;
        let value = HeaderValue::from_str(h.value()).map_err(|e| format!("signing header {name}: {e}"))?;
        req.headers_mut().insert(name, value);
    }
    Ok(())
}
