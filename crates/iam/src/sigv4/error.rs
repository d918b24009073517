//! Why a signature was refused, with the texts `execute-api` sends (reference §0, §1.4, §1.5).

use std::fmt;

/// The family of a refusal: decides the gateway response type and `x-amzn-ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No signature at all: `MissingAuthenticationTokenException`.
    MissingToken,
    /// A signature that cannot be parsed: `IncompleteSignatureException`.
    Incomplete,
    /// A well-formed signature that is wrong, out of date, or for another scope:
    /// `InvalidSignatureException`.
    Invalid,
    /// An access key or session token the gateway does not know: `UnrecognizedClientException`.
    UnrecognizedClient,
    /// A session token past its expiry: `ExpiredTokenException`.
    ExpiredToken,
}

/// A refused signature. `Display` gives the message for the client; `Debug` shows the same,
/// never the canonical request a mismatch carries (it holds signed header values).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor `X-Amz-Algorithm` in the query.
    #[error("Missing Authentication Token")]
    Missing,
    /// Both carriers at once: refuse rather than guess which one counts.
    #[error("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")]
    BothCarriers,
    /// A component of the `Authorization` header without `=`. The value is not echoed: it is
    /// usually someone's bearer token.
    #[error("'<redacted>' not a valid key=value pair (missing equal-sign) in Authorization header: '<redacted>'.")]
    NotKeyValue,
    /// The header names a parameter twice.
    #[error("Authorization header has a duplicate '{0}' parameter.")]
    DuplicateParameter(&'static str),
    /// Required header parameters are missing (each listed, in AWS's order).
    #[error("{}Authorization=<redacted>", missing_text(.0))]
    MissingParameters(Vec<MissingPart>),
    /// Required presigned-URL parameters are missing.
    #[error("AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', and 'X-Amz-Expires'. Re-examine the query-string parameters.")]
    MissingQueryParameters,
    /// An algorithm other than `AWS4-HMAC-SHA256`.
    #[error("Unsupported AWS 'algorithm': '{0}'.")]
    Algorithm(String),
    /// `Credential` does not have five parts.
    #[error("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{0}'")]
    CredentialShape(String),
    /// The scope's last part is not `aws4_request`.
    #[error("Credential should be scoped with a valid terminator: 'aws4_request', not '{0}'.")]
    Terminator(String),
    /// The scope names another service.
    #[error("Credential should be scoped to correct service: '{expected}'. ")]
    WrongService {
        /// The service this verifier serves.
        expected: String,
    },
    /// The scope names another region.
    #[error("Credential should be scoped to a valid region, not '{got}'. ")]
    WrongRegion {
        /// The region the client used.
        got: String,
    },
    /// The scope date is not the signing date.
    #[error("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope}' != '{date}', from '{amz_date}'.")]
    ScopeDate {
        /// Date in the scope.
        scope: String,
        /// First eight characters of the signing time.
        date: String,
        /// The signing time as sent.
        amz_date: String,
    },
    /// `X-Amz-Date` (or `Date`) cannot be read.
    #[error("Date must be in ISO-8601 'basic format'. Got '{0}'. See http://en.wikipedia.org/wiki/ISO_8601")]
    DateFormat(String),
    /// `SignedHeaders` is empty or names something that is not a header name.
    #[error("SignedHeaders must be a ';'-separated list of lower-case header names, got '{0}'.")]
    SignedHeadersShape(String),
    /// `Signature` is not 64 hex digits.
    #[error("Signature must be 64 lower-case hexadecimal digits.")]
    SignatureShape,
    /// `host` is not among the signed headers.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// A signed header is absent from the request.
    #[error("SignedHeaders lists '{0}', which the request does not carry.")]
    SignedHeaderAbsent(String),
    /// A signed header's value is not UTF-8 text.
    #[error("The value of the signed header '{0}' is not UTF-8 text.")]
    SignedHeaderNotText(String),
    /// `X-Amz-Expires` is not a number or above seven days.
    #[error("X-Amz-Expires must be a number of seconds from 1 to 604800, got '{0}'.")]
    Expires(String),
    /// `x-amz-content-sha256` is not a hex digest (`UNSIGNED-PAYLOAD` included: the body is
    /// always signed here).
    #[error("x-amz-content-sha256 must be the lower-case hex SHA-256 of the body; '{0}' is not accepted.")]
    ContentSha256(String),
    /// The body does not hash to the `x-amz-content-sha256` the signature covered.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    PayloadMismatch,
    /// The signing time is more than the allowed skew in the past.
    #[error("Signature expired: {amz_date} is now earlier than {limit} ({now} - {skew})")]
    Expired {
        /// The signing time.
        amz_date: String,
        /// The earliest time accepted.
        limit: String,
        /// Now.
        now: String,
        /// `5 min.` or `3600 sec.` (the presign validity).
        skew: String,
    },
    /// The signing time is more than the allowed skew in the future.
    #[error("Signature not yet current: {amz_date} is still later than {limit} ({now} + {skew})")]
    NotYetCurrent {
        /// The signing time.
        amz_date: String,
        /// The latest time accepted.
        limit: String,
        /// Now.
        now: String,
        /// `5 min.`
        skew: String,
    },
    /// The signature does not match. The canonical forms are for the debug echo only.
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    Mismatch {
        /// What the client should have signed.
        canonical_request: String,
        /// The string to sign built from it.
        string_to_sign: String,
    },
    /// Unknown or inactive access key, or a session token that does not belong to it.
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// A temporary credential past its expiry.
    #[error("The security token included in the request is expired")]
    TokenExpired,
}

/// A required `Authorization` header part that is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingPart {
    /// `Credential=`.
    Credential,
    /// `Signature=`.
    Signature,
    /// `SignedHeaders=`.
    SignedHeaders,
    /// `X-Amz-Date` or `Date` header.
    Date,
}

/// Hides the value of `x-amz-security-token` (header line) and `X-Amz-Security-Token` (query).
/// Header values shown in the debug echo; every other value is `<redacted>`.
const SHOWN_HEADERS: &[&str] =
    &["host", "content-type", "content-length", "content-md5", "x-amz-date", "x-amz-content-sha256", "x-amz-target"];

/// Query values shown in the debug echo (the presigned-URL fields, less the signature).
const SHOWN_QUERY: &[&str] =
    &["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders"];

/// The canonical request with values removed by allowlist: the echo also becomes
/// `$context.error.message` in access logs, and a signed header or query parameter may be a
/// credential (an API key, a cookie, a session token). Names, order and the allowed values
/// still show what was signed.
fn redact_values(canonical: &str) -> String {
    let mut out = String::with_capacity(canonical.len());
    let mut in_headers = false;
    for (i, line) in canonical.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match i {
            0 | 1 => out.push_str(line),
            2 => {
                let pairs: Vec<String> = line
                    .split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| match p.split_once('=') {
                        Some((k, _)) if !SHOWN_QUERY.contains(&k) => format!("{k}=<redacted>"),
                        _ => p.to_owned(),
                    })
                    .collect();
                out.push_str(&pairs.join("&"));
                in_headers = true;
            }
            _ if in_headers && line.is_empty() => {
                in_headers = false;
            }
            _ if in_headers => match line.split_once(':') {
                Some((name, _)) if !SHOWN_HEADERS.contains(&name) => {
                    out.push_str(name);
                    out.push_str(":<redacted>");
                }
                _ => out.push_str(line),
            },
            _ => out.push_str(line),
        }
    }
    out
}

fn missing_text(parts: &[MissingPart]) -> String {
    let mut out = String::new();
    for p in parts {
        out.push_str(match p {
            MissingPart::Credential => "Authorization header requires 'Credential' parameter. ",
            MissingPart::Signature => "Authorization header requires 'Signature' parameter. ",
            MissingPart::SignedHeaders => "Authorization header requires 'SignedHeaders' parameter. ",
            MissingPart::Date => {
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            }
        });
    }
    out
}

// === impl SigV4Error ===

impl SigV4Error {
    /// The family this error belongs to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Missing => ErrorKind::MissingToken,
            Self::UnknownKey => ErrorKind::UnrecognizedClient,
            Self::TokenExpired => ErrorKind::ExpiredToken,
            Self::WrongService { .. }
            | Self::WrongRegion { .. }
            | Self::ScopeDate { .. }
            | Self::Expired { .. }
            | Self::NotYetCurrent { .. }
            | Self::Mismatch { .. }
            | Self::PayloadMismatch
            | Self::SignatureShape => ErrorKind::Invalid,
            _ => ErrorKind::Incomplete,
        }
    }

    /// The message with AWS's canonical-request echo on a mismatch: only for a debug switch,
    /// since it shows how the gateway canonicalises.
    /// A session token in the canonical request is replaced by `<redacted>`: the echo may
    /// reach the access log.
    pub fn debug_message(&self) -> String {
        match self {
            Self::Mismatch { canonical_request, string_to_sign } => format!(
                "{self}\n\nThe Canonical String for this request should have been\n'{}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n",
                redact_values(canonical_request)
            ),
            _ => self.to_string(),
        }
    }
}

impl fmt::Debug for SigV4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SigV4Error").field(&self.kind()).field(&self.to_string()).finish()
    }
}

impl ErrorKind {
    /// The `x-amzn-ErrorType` value.
    pub fn error_type(self) -> &'static str {
        match self {
            Self::MissingToken => "MissingAuthenticationTokenException",
            Self::Incomplete => "IncompleteSignatureException",
            Self::Invalid => "InvalidSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::ExpiredToken => "ExpiredTokenException",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error_type())
    }
}
