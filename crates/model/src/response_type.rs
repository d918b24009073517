//! The gateway's own responses, named as API Gateway names them (reference §0 and §9).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! response_types {
    ($( $(#[$doc:meta])* $variant:ident = ($name:literal, $status:literal, $error_type:literal, $message:expr) ),* $(,)?) => {
        /// A gateway response type. Each has a default status, an `x-amzn-ErrorType` value
        /// and a default message; an API may override status, headers and body.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
        pub enum ResponseType {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        impl ResponseType {
            /// Every type, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The name used in config and in `$context.error.responseType`.
            pub const fn name(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// Default status code (0 for the `DEFAULT_*` families, which have none).
            pub const fn default_status(self) -> u16 {
                match self { $(Self::$variant => $status,)* }
            }

            /// Value of the `x-amzn-ErrorType` header.
            pub const fn error_type(self) -> &'static str {
                match self { $(Self::$variant => $error_type,)* }
            }

            /// Default `$context.error.message`; `None` renders as JSON `null`.
            pub const fn default_message(self) -> Option<&'static str> {
                match self { $(Self::$variant => $message,)* }
            }
        }
    };
}

response_types! {
    /// An authorizer, resource or IAM policy denied the request.
    AccessDenied = ("ACCESS_DENIED", 403, "AccessDeniedException", Some("User is not authorized to access this resource")),
    /// The gateway's configuration for this route cannot serve it.
    ApiConfigurationError = ("API_CONFIGURATION_ERROR", 500, "ApiConfigurationException", Some("Internal server error")),
    /// An authorizer could not be reached or answered badly.
    AuthorizerConfigurationError = ("AUTHORIZER_CONFIGURATION_ERROR", 500, "AuthorizerConfigurationException", None),
    /// An authorizer failed.
    AuthorizerFailure = ("AUTHORIZER_FAILURE", 500, "AuthorizerFailureException", None),
    /// Portcullis extension: the shared rate-limit counters (Redis) are unreachable and the
    /// failure mode is `fail_closed`.
    LimitsUnavailable = ("LIMITS_UNAVAILABLE", 503, "ServiceUnavailableException", Some("Service Unavailable")),
    /// Required request parameters are missing.
    BadRequestParameters = ("BAD_REQUEST_PARAMETERS", 400, "BadRequestException", Some("Missing required request parameters")),
    /// The request body failed validation.
    BadRequestBody = ("BAD_REQUEST_BODY", 400, "BadRequestException", Some("Invalid request body")),
    /// Portcullis extension: the request is malformed (bad path, ambiguous framing, bad chunking).
    BadRequest = ("BAD_REQUEST", 400, "BadRequestException", Some("Bad Request")),
    /// Family default for every 4xx type without its own override.
    Default4xx = ("DEFAULT_4XX", 0, "", None),
    /// Family default for every 5xx type without its own override.
    Default5xx = ("DEFAULT_5XX", 0, "", None),
    /// The AWS credentials token expired.
    ExpiredToken = ("EXPIRED_TOKEN", 403, "ExpiredTokenException", Some("The security token included in the request is expired")),
    /// The upstream could not be reached or broke the exchange. (AWS documents 504; the
    /// status users see for a down backend is 502, which we use.)
    IntegrationFailure = ("INTEGRATION_FAILURE", 502, "InternalServerErrorException", Some("Internal server error")),
    /// The upstream did not answer within the integration timeout.
    IntegrationTimeout = ("INTEGRATION_TIMEOUT", 504, "InternalServerErrorException", Some("Endpoint request timed out")),
    /// A required API key is missing, unknown or disabled.
    InvalidApiKey = ("INVALID_API_KEY", 403, "ForbiddenException", Some("Forbidden")),
    /// A SigV4 signature does not match or has expired.
    InvalidSignature = ("INVALID_SIGNATURE", 403, "InvalidSignatureException", Some("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")),
    /// No credentials on a protected route, or no such resource or method.
    MissingAuthenticationToken = ("MISSING_AUTHENTICATION_TOKEN", 403, "MissingAuthenticationTokenException", Some("Missing Authentication Token")),
    /// Portcullis extension: the request's `Host` names a custom domain other than the one its
    /// connection was made for (each domain has its own TLS and client-certificate rules).
    MisdirectedRequest = ("MISDIRECTED_REQUEST", 421, "MisdirectedRequestException", Some("Misdirected Request")),
    /// A usage-plan quota is used up.
    QuotaExceeded = ("QUOTA_EXCEEDED", 429, "LimitExceededException", Some("Limit Exceeded")),
    /// Portcullis extension: the request line and headers are over the limit.
    RequestHeadersTooLarge = ("REQUEST_HEADERS_TOO_LARGE", 431, "RequestHeaderFieldsTooLargeException", Some("Request Header Fields Too Large")),
    /// Portcullis extension: the client stopped sending its request body.
    RequestTimeout = ("REQUEST_TIMEOUT", 408, "RequestTimeoutException", Some("Request Timeout")),
    /// The request body is over the limit.
    RequestTooLarge = ("REQUEST_TOO_LARGE", 413, "RequestTooLargeException", Some("Request Too Long")),
    /// Not found after authentication and authorisation.
    ResourceNotFound = ("RESOURCE_NOT_FOUND", 404, "ResourceNotFoundException", Some("Not Found")),
    /// A throttle (usage plan, route, stage or global) refused the request.
    Throttled = ("THROTTLED", 429, "TooManyRequestsException", Some("Too Many Requests")),
    /// An authorizer could not authenticate the caller.
    Unauthorized = ("UNAUTHORIZED", 401, "UnauthorizedException", Some("Unauthorized")),
    /// No template for the request's media type.
    UnsupportedMediaType = ("UNSUPPORTED_MEDIA_TYPE", 415, "BadRequestException", Some("Unsupported Media Type")),
    /// The WAF blocked the request.
    WafFiltered = ("WAF_FILTERED", 403, "WafFilteredException", Some("Forbidden")),
}

// === impl ResponseType ===

impl ResponseType {
    /// The family default this type falls back to, if it has one.
    pub const fn family(self) -> Option<Self> {
        match self.default_status() {
            // Every 4xx type, UNAUTHORIZED included: that is how `DEFAULT_4XX` is commonly used
            // to put CORS headers on authorizer 401s.
            400..=499 => Some(Self::Default4xx),
            500..=599 => Some(Self::Default5xx),
            _ => None,
        }
    }
}

impl fmt::Display for ResponseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
