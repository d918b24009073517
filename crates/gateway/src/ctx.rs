//! What the phases learn about one request. Made when the request arrives, passed `&mut` to
//! every phase, read by the log phase, dropped when the response ends.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderValue, Method, Version};
use model::{CompiledApi, CompiledRoute, CompiledStage, ContextVar, ResponseType, RouteKey, TemplateVars};

use crate::runtime::Runtime;

/// Facts about the client connection, shared by its requests.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// `TLSv1.2` or `TLSv1.3`.
    pub tls_version: &'static str,
    /// The negotiated cipher suite, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher_suite: &'static str,
    /// The SNI name the client sent.
    pub sni: Option<String>,
    /// HTTP/1 framing verdicts for this connection (`None` on HTTP/2).
    pub framing: Option<std::sync::Arc<crate::framing::FramingFlags>>,
    /// The custom domain the handshake was made for (`None`: the default endpoint).
    pub domain: Option<std::sync::Arc<str>>,
    /// The domain's own `Strict-Transport-Security` (`Some(None)`: it turned HSTS off);
    /// `None`: the config's default applies.
    pub hsts: Option<Option<HeaderValue>>,
    /// The client's verified certificate, on a mutual-TLS domain.
    pub client_cert: Option<std::sync::Arc<crate::client_cert::ClientCert>>,
}

/// Per-request state. Each field says which phase sets it.
#[derive(Debug)]
pub(crate) struct RequestCtx {
    /// accept: a fresh UUID, returned as `x-amzn-RequestId` and sent upstream. Kept as a
    /// header value so each use is a reference-count increment, not a copy.
    pub(crate) request_id: HeaderValue,
    /// accept: when the request arrived.
    pub(crate) started: Instant,
    /// accept: wall-clock arrival time, for `requestTime`.
    pub(crate) time: SystemTime,
    /// accept: the connection.
    pub(crate) peer: SocketAddr,
    /// accept.
    pub(crate) tls_version: &'static str,
    /// accept.
    pub(crate) cipher_suite: &'static str,
    /// accept.
    pub(crate) method: Method,
    /// accept.
    pub(crate) version: Version,
    /// accept: `Host` or `:authority`.
    pub(crate) host: Option<HeaderValue>,
    /// accept.
    pub(crate) user_agent: Option<HeaderValue>,
    /// accept: the connection's byte watcher found this request's framing ambiguous.
    pub(crate) ambiguous_framing: bool,
    /// accept: the custom domain of the connection.
    pub(crate) domain: Option<std::sync::Arc<str>>,
    /// accept: the connection's domain's own HSTS, if it sets one.
    pub(crate) hsts: Option<Option<HeaderValue>>,
    /// accept: the client's verified certificate (mutual TLS).
    pub(crate) client_cert: Option<std::sync::Arc<crate::client_cert::ClientCert>>,
    /// accept: the `Origin` header, for CORS decoration after the body is gone.
    pub(crate) origin: Option<HeaderValue>,
    /// normalise: the canonical path (empty until then).
    pub(crate) path: String,
    /// normalise: the raw query string.
    pub(crate) query: Option<String>,
    /// normalise: the client address (through trusted proxies).
    pub(crate) source_ip: IpAddr,
    /// normalise: the `X-Forwarded-For` chain for the upstream.
    pub(crate) forwarded_for: HeaderValue,
    /// normalise: the client address as a header value, for `X-Real-IP`.
    pub(crate) real_ip: HeaderValue,
    /// route: index of the API in the compiled config.
    pub(crate) api: Option<usize>,
    /// route: index of the stage in the API.
    pub(crate) stage: Option<usize>,
    /// route: index of the route in the API's table.
    pub(crate) route: Option<usize>,
    /// cors: the request was a preflight answered by the gateway.
    pub(crate) preflight: bool,
    /// route: path parameters (canonical form).
    pub(crate) params: Vec<(String, String)>,
    /// integrate: time to the upstream's response head.
    pub(crate) integration_latency: Option<Duration>,
    /// integrate: the upstream's status.
    pub(crate) integration_status: Option<u16>,
    /// integrate: why the upstream call failed.
    pub(crate) integration_error: Option<String>,
    /// route: the custom domain's base-path mapping that chose the API (`(none)` for `/`).
    pub(crate) base_path_matched: Option<String>,
    /// route: where the stage-relative path starts in `path` (for the method ARN).
    pub(crate) rest_at: usize,
    /// authorize: the authenticated IAM caller.
    pub(crate) caller: Option<std::sync::Arc<directory::Caller>>,
    /// authorize: what the route's custom authorizer said.
    pub(crate) authorizer: Option<Box<AuthorizerOutcome>>,
    /// meter: the caller's API key, on routes that require one.
    pub(crate) api_key: Option<std::sync::Arc<directory::KeyInfo>>,
    /// meter: the index, in the stage's plans, of the key's usage plan.
    pub(crate) usage_plan: Option<usize>,
    /// throttle: what the `RateLimit-*` headers say.
    pub(crate) rate_limit: Option<crate::metering::RateInfo>,
    /// authorize: the `WWW-Authenticate` challenge of a refused bearer token (RFC 6750 §3).
    pub(crate) www_authenticate: Option<HeaderValue>,
    /// waf: what the API's web ACL decided.
    pub(crate) waf: Option<Box<WafDecision>>,
    /// rescue: the gateway response sent, if any.
    pub(crate) error: Option<ResponseType>,
    /// rescue: the public message sent, when it is not the kind's default.
    pub(crate) error_message: Option<String>,
    /// respond: the status sent.
    pub(crate) status: u16,
}

/// What a web ACL decided about a request.
#[derive(Debug)]
pub(crate) struct WafDecision {
    /// The ACL's index in `compiled.web_acls`.
    pub(crate) acl: usize,
    /// The index of the rule that allowed or blocked; `None` for the default action.
    pub(crate) rule: Option<usize>,
    /// Whether it was blocked.
    pub(crate) blocked: bool,
    /// Whether it was answered with a challenge.
    pub(crate) challenged: bool,
    /// Labels the matching rules added.
    pub(crate) labels: Vec<String>,
}

/// What a custom or JWT authorizer said about a request, for `$context.authorizer.*`, the
/// upstream headers and the API key of `api_key_source: AUTHORIZER`.
#[derive(Debug, Default)]
pub(crate) struct AuthorizerOutcome {
    /// The answer, when there was one.
    pub(crate) verdict: Option<std::sync::Arc<identity::custom::Verdict>>,
    /// A JWT authorizer's verified token (`$context.authorizer.claims.NAME`).
    pub(crate) jwt: Option<std::sync::Arc<identity::jwt::Verified>>,
    /// Why the request was refused or failed (`$context.authorizer.error`).
    pub(crate) error: Option<String>,
    /// The whole authorizer step (`$context.authorizer.latency`).
    pub(crate) latency: Duration,
    /// The function call, when this request made or waited for one.
    pub(crate) call_latency: Option<Duration>,
    /// The function's HTTP status, likewise.
    pub(crate) call_status: Option<u16>,
    /// Where the answer came from (`node`, `shared`, `function`), for the metric.
    pub(crate) source: Option<&'static str>,
}

// === impl RequestCtx ===

impl RequestCtx {
    /// Starts the context of a request (the accept phase).
    pub(crate) fn new(conn: &ConnInfo, req: &http::Request<impl Sized>) -> Self {
        let headers = req.headers();
        Self {
            request_id: new_request_id(),
            started: Instant::now(),
            time: SystemTime::now(),
            peer: conn.peer,
            tls_version: conn.tls_version,
            cipher_suite: conn.cipher_suite,
            method: req.method().clone(),
            version: req.version(),
            host: match req.uri().authority() {
                Some(a) => HeaderValue::from_str(a.as_str()).ok(),
                None => headers.get(http::header::HOST).cloned(),
            },
            user_agent: headers.get(http::header::USER_AGENT).cloned(),
            ambiguous_framing: conn.framing.as_ref().is_some_and(|f| f.next_request_is_ambiguous()),
            origin: headers.get(http::header::ORIGIN).cloned(),
            domain: conn.domain.clone(),
            hsts: conn.hsts.clone(),
            client_cert: conn.client_cert.clone(),
            path: String::new(),
            query: None,
            source_ip: conn.peer.ip(),
            forwarded_for: HeaderValue::from_static(""),
            real_ip: HeaderValue::from_static(""),
            api: None,
            stage: None,
            route: None,
            preflight: false,
            params: Vec::new(),
            integration_latency: None,
            integration_status: None,
            integration_error: None,
            rest_at: 0,
            base_path_matched: None,
            caller: None,
            authorizer: None,
            api_key: None,
            usage_plan: None,
            rate_limit: None,
            www_authenticate: None,
            waf: None,
            error: None,
            error_message: None,
            status: 0,
        }
    }

    /// The request id as text.
    pub(crate) fn request_id(&self) -> &str {
        self.request_id.to_str().unwrap_or("")
    }

    /// The `Host` / `:authority` as text, if it is text.
    pub(crate) fn host(&self) -> Option<&str> {
        self.host.as_ref().and_then(|h| h.to_str().ok())
    }

    /// The API this request belongs to, once routed.
    pub(crate) fn api<'r>(&self, rt: &'r Runtime) -> Option<&'r CompiledApi> {
        rt.compiled.apis.get(self.api?)
    }

    /// The stage, once routed.
    pub(crate) fn stage<'r>(&self, rt: &'r Runtime) -> Option<&'r CompiledStage> {
        self.api(rt)?.stages.get(self.stage?)
    }

    /// The route, once routed.
    pub(crate) fn route<'r>(&self, rt: &'r Runtime) -> Option<&'r (RouteKey, CompiledRoute)> {
        self.api(rt)?.routes.get(self.route?)
    }
}

/// A request's context seen through the runtime it runs on: what templates read.
pub(crate) struct Vars<'a> {
    pub(crate) rt: &'a Runtime,
    pub(crate) cx: &'a RequestCtx,
    /// Bytes of the response body, when known.
    pub(crate) response_length: Option<u64>,
    /// Time from arrival to the end of the response, when known.
    pub(crate) latency: Option<Duration>,
}

impl TemplateVars for Vars<'_> {
    fn context(&self, var: ContextVar, out: &mut String) -> bool {
        use std::fmt::Write as _;
        let cx = self.cx;
        let mut put = |s: &str| {
            out.push_str(s);
            true
        };
        match var {
            ContextVar::RequestId | ContextVar::ExtendedRequestId => put(cx.request_id()),
            ContextVar::ApiId => cx.api(self.rt).is_some_and(|a| put(&a.name)),
            ContextVar::Stage => cx.stage(self.rt).is_some_and(|s| put(&s.name)),
            ContextVar::RouteKey => cx.route(self.rt).is_some_and(|r| put(&r.0.display())),
            ContextVar::ResourcePath => cx.route(self.rt).is_some_and(|r| put(&r.0.path)),
            ContextVar::Path => !cx.path.is_empty() && put(&cx.path),
            ContextVar::HttpMethod => put(cx.method.as_str()),
            ContextVar::Protocol => put(match cx.version {
                Version::HTTP_2 => "HTTP/2.0",
                Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            }),
            ContextVar::DomainName => cx.host().is_some_and(put),
            ContextVar::IdentitySourceIp => write!(out, "{}", cx.source_ip).is_ok(),
            ContextVar::IdentityUserAgent => cx.user_agent.as_ref().and_then(|v| v.to_str().ok()).is_some_and(put),
            ContextVar::RequestTime => put(&crate::time_fmt::clf(cx.time)),
            ContextVar::RequestTimeEpoch => write!(out, "{}", crate::time_fmt::epoch_ms(cx.time)).is_ok(),
            ContextVar::Status => cx.status != 0 && write!(out, "{}", cx.status).is_ok(),
            ContextVar::ResponseLength => self.response_length.is_some_and(|n| write!(out, "{n}").is_ok()),
            ContextVar::ResponseLatency => self.latency.is_some_and(|d| write!(out, "{}", d.as_millis()).is_ok()),
            ContextVar::IntegrationLatency => {
                cx.integration_latency.is_some_and(|d| write!(out, "{}", d.as_millis()).is_ok())
            }
            ContextVar::IntegrationStatus => cx.integration_status.is_some_and(|s| write!(out, "{s}").is_ok()),
            ContextVar::IntegrationError => cx.integration_error.as_deref().is_some_and(put),
            ContextVar::ErrorResponseType => cx.error.is_some_and(|e| put(e.name())),
            ContextVar::ErrorMessage => match &cx.error_message {
                Some(m) => put(m),
                None => cx.error.and_then(ResponseType::default_message).is_some_and(put),
            },
            ContextVar::IdentityUser | ContextVar::IdentityCaller => {
                cx.caller.as_ref().is_some_and(|c| put(&c.principal.user_id))
            }
            ContextVar::IdentityUserArn => cx.caller.as_ref().is_some_and(|c| put(&c.principal.arn)),
            ContextVar::IdentityAccessKey => cx.caller.as_ref().is_some_and(|c| put(&c.access_key_id)),
            // The key's id only: its value is a secret and never reaches a log line, whatever
            // the template asks (`identity.apiKey` renders nothing).
            ContextVar::IdentityApiKeyId => cx.api_key.as_ref().is_some_and(|k| put(&k.id)),
            // As in API Gateway: the account that owns the API, not the caller's.
            ContextVar::AccountId => put(&self.rt.compiled.config.iam.account_id),
            ContextVar::TlsVersion => put(cx.tls_version),
            ContextVar::CipherSuite => !cx.cipher_suite.is_empty() && put(cx.cipher_suite),
            ContextVar::CustomDomainBasePathMatched => cx.base_path_matched.as_deref().is_some_and(put),
            ContextVar::ClientCertPem => cx.client_cert.as_ref().is_some_and(|c| put(&c.pem)),
            ContextVar::ClientCertSubjectDn => cx.client_cert.as_ref().is_some_and(|c| put(&c.subject_dn)),
            ContextVar::ClientCertIssuerDn => cx.client_cert.as_ref().is_some_and(|c| put(&c.issuer_dn)),
            ContextVar::ClientCertSerialNumber => cx.client_cert.as_ref().is_some_and(|c| put(&c.serial)),
            ContextVar::ClientCertNotBefore => cx.client_cert.as_ref().is_some_and(|c| put(&c.not_before)),
            ContextVar::ClientCertNotAfter => cx.client_cert.as_ref().is_some_and(|c| put(&c.not_after)),
            ContextVar::ClientCertFingerprint => cx.client_cert.as_ref().is_some_and(|c| put(&c.fingerprint)),
            ContextVar::ClientCertSans => cx.client_cert.as_ref().is_some_and(|c| put(&c.sans.join(","))),
            // As in API Gateway: WAF_ALLOW or WAF_BLOCK, and the ACL's ARN.
            ContextVar::WafResponseCode => cx.waf.as_ref().is_some_and(|w| {
                put(if w.blocked {
                    "WAF_BLOCK"
                } else if w.challenged {
                    "WAF_CHALLENGE"
                } else {
                    "WAF_ALLOW"
                })
            }),
            ContextVar::WebAclArn => {
                cx.waf.as_ref().and_then(|w| self.rt.compiled.web_acls.get(w.acl)).is_some_and(|acl| {
                    let account = &self.rt.compiled.config.iam.account_id;
                    put(&format!("arn:portcullis:waf::{account}:webacl/{}", acl.name()))
                })
            }
            ContextVar::WafTerminatingRule => cx
                .waf
                .as_ref()
                .and_then(|w| Some(self.rt.compiled.web_acls.get(w.acl)?.rules().get(w.rule?)?.name.as_str()))
                .is_some_and(put),
            ContextVar::WafLabels => {
                cx.waf.as_ref().filter(|w| !w.labels.is_empty()).is_some_and(|w| put(&w.labels.join(",")))
            }
            _ => false,
        }
    }

    fn stage_variable(&self, name: &str) -> Option<&str> {
        self.cx.stage(self.rt)?.variables.get(name).map(String::as_str)
    }

    /// `principalId`, the gateway's own `error`, `latency`, `integrationLatency` and
    /// `integrationStatus` (these names win over `context` keys), then the answer's `context`;
    /// for a JWT authorizer, `claims.NAME`.
    fn authorizer(&self, key: &str, out: &mut String) -> bool {
        use std::fmt::Write as _;
        let Some(a) = self.cx.authorizer.as_deref() else { return false };
        let verdict = a.verdict.as_deref();
        let written = match key {
            "principalId" => verdict.and_then(identity::custom::Verdict::principal_id).map(|p| out.push_str(p)),
            "error" => a.error.as_deref().map(|e| out.push_str(e)),
            "latency" => write!(out, "{}", a.latency.as_millis()).ok(),
            "integrationLatency" => a.call_latency.and_then(|d| write!(out, "{}", d.as_millis()).ok()),
            "integrationStatus" | "status" => a.call_status.and_then(|s| write!(out, "{s}").ok()),
            _ if a.jwt.is_some() => {
                key.strip_prefix("claims.").and_then(|name| a.jwt.as_ref()?.claims.text(name)).map(|v| out.push_str(&v))
            }
            _ => verdict
                .and_then(identity::custom::Verdict::context)
                .and_then(|c| c.get(key))
                .map(|v| out.push_str(&identity::custom::answer::context_text(v))),
        };
        written.is_some()
    }
}

/// A fresh UUID v4 as a header value (one allocation).
fn new_request_id() -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("-"))
}
