//! AWS Signature Version 4, checked the way `execute-api` checks it (reference §1): the
//! `Authorization` header form and the presigned query form, the double-encoded canonical URI,
//! the sorted canonical query, the credential scope and the ±5-minute clock window.
//!
//! The work is split so the caller can do I/O between the steps: [`parse`] reads the request's
//! signature parts; [`Signature::check_scope`] checks region, service and time; the caller then
//! looks up the secret for [`Signature::access_key_id`] and derives (or takes from its cache) a
//! [`SigningKey`]; [`Signature::verify`] rebuilds the canonical request and compares signatures
//! in constant time.

mod canonical;
mod encode;
mod error;
mod key;
mod parse;
mod time;

#[cfg(test)]
mod tests;

pub use canonical::normalize_path;
use canonical::Form;
pub use error::{ErrorKind, SigV4Error};
pub use key::SigningKey;
pub use parse::{declared_payload_hash, parse};
pub use time::{format_amz_date, parse_amz_date};

use http::HeaderMap;

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The SHA-256 of an empty body, the payload hash of every request without one.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The longest validity a presigned URL may ask for (seven days), as in every AWS service.
pub const MAX_PRESIGN_EXPIRES: u32 = 604_800;

/// The parts of an HTTP request that SigV4 covers, exactly as they arrived.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path as it arrived on the wire, still percent-encoded.
    pub path: &'a str,
    /// The raw query string without `?`, if any.
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The HTTP/2 `:authority`, used as `host` when there is no `Host` header.
    pub authority: Option<&'a str>,
}

/// Where the signature was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…`.
    Header,
    /// `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…` (a presigned URL).
    Query,
}

/// The credential scope: `<date>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `YYYYMMDD`.
    pub date: String,
    /// Region, e.g. `us-east-1`.
    pub region: String,
    /// Service, `execute-api` for the data plane.
    pub service: String,
}

/// What a request's signature claims, parsed and well-formed but not yet verified.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    /// Header or query.
    pub carrier: Carrier,
    /// The access key id (not secret).
    pub access_key_id: String,
    /// The credential scope.
    pub scope: Scope,
    /// Lower-case header names, in the order the client listed them.
    pub signed_headers: Vec<String>,
    /// The signing time in ISO 8601 basic format, as it enters the string to sign.
    pub amz_date: String,
    /// The signing time, Unix seconds.
    pub timestamp: i64,
    /// `X-Amz-Expires` of a presigned URL.
    pub expires: Option<u32>,
    /// `X-Amz-Security-Token`, for temporary credentials.
    pub security_token: Option<String>,
    /// The signature the client sent.
    signature: [u8; 32],
}

/// What the verifier expects of every signature.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The region in the scope.
    pub region: &'a str,
    /// The service in the scope.
    pub service: &'a str,
    /// How far the signing time may be from now (execute-api: 300 s).
    pub skew_secs: i64,
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The signature is a one-time MAC, but it still has no business in logs.
        f.debug_struct("Signature")
            .field("carrier", &self.carrier)
            .field("access_key_id", &self.access_key_id)
            .field("scope", &self.scope)
            .field("signed_headers", &self.signed_headers)
            .field("amz_date", &self.amz_date)
            .field("expires", &self.expires)
            .field("security_token", &self.security_token.as_ref().map(|_| "<present>"))
            .finish_non_exhaustive()
    }
}

// === impl Signature ===

impl Signature {
    /// Checks the scope against what the verifier serves, that `host` is signed, and the time.
    pub fn check_scope(&self, expect: &Expect<'_>, now: i64) -> Result<(), SigV4Error> {
        if self.scope.service != expect.service {
            return Err(SigV4Error::WrongService { expected: expect.service.to_owned() });
        }
        if self.scope.region != expect.region {
            return Err(SigV4Error::WrongRegion { got: self.scope.region.clone() });
        }
        if !self.signed_headers.iter().any(|h| h == "host") {
            return Err(SigV4Error::HostNotSigned);
        }
        time::check_window(self, expect.skew_secs, now)
    }

    /// Rebuilds the canonical request and the string to sign, and compares the signature in
    /// constant time. On a mismatch the error carries what the client should have signed.
    ///
    /// `payload_hash` is the lower-case hex SHA-256 of the body (or the signed
    /// `x-amz-content-sha256` the caller will hold the body to).
    pub fn verify(&self, req: &Request<'_>, payload_hash: &str, key: &SigningKey) -> Result<(), SigV4Error> {
        // SDKs normalise `/a/./b` and `//a` before signing, and may add a presigned URL's
        // session token after signing (the suite's `post-sts-header-after`). Those forms are
        // tried only when they differ, so the common case costs one HMAC.
        let can_normalize = normalize_path(req.path) != req.path;
        let can_omit_token = self.carrier == Carrier::Query && self.security_token.is_some();
        let forms = [
            Some(Form::default()),
            can_normalize.then_some(Form { normalize: true, omit_token: false }),
            can_omit_token.then_some(Form { normalize: false, omit_token: true }),
        ];
        let mut first = None;
        for form in forms.into_iter().flatten() {
            let creq = canonical::request(req, self, payload_hash, form)?;
            let sts = self.string_to_sign(&creq);
            if key.verify(&sts, &self.signature) {
                return Ok(());
            }
            first.get_or_insert((creq, sts));
        }
        let (canonical_request, string_to_sign) = first.unwrap_or_default();
        Err(SigV4Error::Mismatch { canonical_request, string_to_sign })
    }

    /// `AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex sha256 of the canonical request>`.
    pub fn string_to_sign(&self, canonical_request: &str) -> String {
        use sha2::{Digest as _, Sha256};
        let hash = hex::encode(Sha256::digest(canonical_request.as_bytes()));
        let Scope { date, region, service } = &self.scope;
        format!("{ALGORITHM}\n{}\n{date}/{region}/{service}/aws4_request\n{hash}", self.amz_date)
    }

    /// The canonical request for this signature (for tests and the debug echo).
    pub fn canonical_request(&self, req: &Request<'_>, payload_hash: &str) -> Result<String, SigV4Error> {
        canonical::request(req, self, payload_hash, Form::default())
    }
}
