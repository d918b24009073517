//! Requests signed by AWS's own SigV4 signer (the `aws-sigv4` crate), for the gateway's
//! data plane (`execute-api`) and its admin API (`portcullis`).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// An access key, with a session token for temporary credentials.
#[derive(Clone, Debug)]
pub struct Creds {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl Creds {
    pub fn new(id: &str, secret: &str) -> Self {
        Self { id: id.to_owned(), secret: secret.to_owned(), token: None }
    }
}

/// How to sign: where, for whom, when.
#[derive(Clone, Debug)]
pub struct How {
    pub region: &'static str,
    pub service: &'static str,
    pub time: SystemTime,
    /// Presigned URL valid this long, instead of the `Authorization` header.
    pub presign: Option<Duration>,
    /// Send and sign `x-amz-content-sha256`.
    pub content_sha256: bool,
}

impl How {
    pub fn api() -> Self {
        Self {
            region: "us-east-1",
            service: "execute-api",
            time: SystemTime::now(),
            presign: None,
            content_sha256: false,
        }
    }

    pub fn admin() -> Self {
        Self { service: "portcullis", ..Self::api() }
    }
}

/// Signs `req` in place (headers or query) with the `aws-sigv4` crate.
pub fn sign_request(req: &mut reqwest::Request, creds: &Creds, how: &How) {
    let identity: Identity =
        Credentials::new(&creds.id, &creds.secret, creds.token.clone(), None, "portcullis-e2e").into();
    let mut settings = SigningSettings::default();
    if how.content_sha256 {
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    }
    if let Some(expires) = how.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(how.region)
        .name(how.service)
        .time(how.time)
        .settings(settings)
        .build()
        .unwrap_or_else(|e| panic!("signing params: {e}"))
        .into();
    let body = req.body().and_then(|b| b.as_bytes()).unwrap_or(&[]).to_vec();
    let headers: Vec<(String, String)> =
        req.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    let url = req.url().to_string();
    let signable = SignableRequest::new(
        req.method().as_str(),
        &url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&body),
    )
    .unwrap_or_else(|e| panic!("signable request: {e}"));
    let (instructions, _) = sign(signable, &params).unwrap_or_else(|e| panic!("sign: {e}")).into_parts();
    let (new_headers, params) = instructions.into_parts();
    for h in new_headers {
        req.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(h.name().as_bytes()).unwrap_or_else(|e| panic!("{e}")),
            reqwest::header::HeaderValue::from_str(h.value()).unwrap_or_else(|e| panic!("{e}")),
        );
    }
    if !params.is_empty() {
        let mut pairs = req.url_mut().query_pairs_mut();
        for (k, v) in params {
            pairs.append_pair(k, &v);
        }
    }
}
