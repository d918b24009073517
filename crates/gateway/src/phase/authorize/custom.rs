//! `auth: custom`: a custom authorizer decides (reference §3).
//!
//! ```text
//!   identity sources present? TOKEN regex matches?       no → 401, the function is not called
//!   resource policy explicitly denies (anonymous)?       yes → 403, not called
//!   answer: this node's cache ▸ Redis ▸ call the function (one call per key at a time)
//!     Unauthorized                                       → 401
//!     policy, evaluated against this request's ARN      → Table A with the resource policy
//!     simple {isAuthorized}                              → allow or 403
//!     function failed                                    → 500 AUTHORIZER_FAILURE
//!     unreachable, timeout, malformed answer             → 500 AUTHORIZER_CONFIGURATION_ERROR
//! ```

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::BodyExt as _;
use iam::policy::{combine_same_account, evaluate_resource, Decision, RequestContext};
use identity::custom::{self as az, answer::MAX_ANSWER_BYTES, CacheHint, CallError, Called, Resolved, Source, Verdict};
use model::{CompiledAuthorizer, ContextVar, IdentitySource, ResponseType, TemplateVars as _};

use crate::body::ReqBody;
use crate::ctx::{RequestCtx, Vars};
use crate::flow::Flow;
use crate::reject::Reject;
use crate::runtime::Runtime;
use crate::upstream::UpstreamClient;

/// Authorizes the request with the API's authorizer `index`.
pub(super) async fn check(
    rt: &Runtime,
    cx: &mut RequestCtx,
    req: &mut Request<ReqBody>,
    index: usize,
) -> Result<Flow, Reject> {
    let started = Instant::now();
    let result = decide(rt, cx, req, index).await;
    let outcome = cx.authorizer.get_or_insert_with(Box::default);
    outcome.latency = started.elapsed();
    if let Err(rej) = &result {
        outcome.error.get_or_insert_with(|| rej.context.to_string());
    }
    rt.metrics.authorizer(outcome.source.unwrap_or("none"), label(&result));
    result
}

async fn decide(rt: &Runtime, cx: &mut RequestCtx, req: &Request<ReqBody>, index: usize) -> Result<Flow, Reject> {
    let (Some(api_index), Some(api)) = (cx.api, cx.api(rt)) else {
        return Err(Reject::internal(ResponseType::ApiConfigurationError, "authorizer without an API"));
    };
    let (Some(spec), Some(endpoint)) = (api.authorizers.get(index), rt.authorizer(api_index, index)) else {
        return Err(Reject::internal(ResponseType::AuthorizerConfigurationError, "no such authorizer"));
    };
    let Some(identity) = identity_values(rt, cx, req, spec) else {
        return Err(unauthorized("an identity source is missing or empty; the function was not called"));
    };
    if spec.validation.as_ref().is_some_and(|re| !identity.first().is_some_and(|t| re.is_match(t))) {
        return Err(unauthorized("the token does not match validation_regex; the function was not called"));
    }
    let arn = super::method_arn(rt, cx);
    let resource_policy = api.resource_policy.as_ref();
    // A resource policy's explicit deny is final: the function is not even asked (§2.4).
    if let Some(p) = resource_policy {
        let request = request_context(cx, req, &arn, &|k| p.may_read(k));
        if evaluate_resource(p, &request) == Decision::ExplicitDeny {
            let message = format!(
                "User: anonymous is not authorized to perform: {} on resource: {arn} with an explicit deny in a resource-based policy",
                super::ACTION
            );
            return Err(Reject::client(
                ResponseType::AccessDenied,
                "denied by the resource policy before the authorizer",
            )
            .saying(message, None));
        }
    }
    let stage = cx.stage(rt).map_or("", |s| s.name.as_str());
    let key = rt.decisions.key(&endpoint.fingerprint, stage, &identity);
    let resolved = match rt.decisions.cached(&key) {
        Some(verdict) => Resolved { verdict, source: Source::Node },
        None => {
            let call = call(endpoint.client.clone(), spec, event(rt, cx, req, spec, &arn, &identity));
            let result = if spec.ttl.is_zero() && spec.unauthorized_ttl.is_zero() {
                // Caching is off: every request asks the function itself.
                call.await.map(|c| Resolved {
                    verdict: Arc::new(c.verdict),
                    source: Source::Function { status: c.status, latency: c.latency },
                })
            } else {
                rt.decisions.resolve(key, call).await
            };
            result.map_err(|e| failed(cx, e))?
        }
    };
    let outcome = cx.authorizer.get_or_insert_with(Box::default);
    outcome.source = Some(match resolved.source {
        Source::Node => "node",
        Source::Shared => "shared",
        Source::Function { status, latency } => {
            (outcome.call_status, outcome.call_latency) = (Some(status), Some(latency));
            "function"
        }
    });
    outcome.verdict = Some(resolved.verdict.clone());
    match &*resolved.verdict {
        Verdict::Unauthorized => Err(unauthorized("the authorizer answered Unauthorized")),
        Verdict::Simple { authorized: true, .. } => Ok(Flow::Continue),
        Verdict::Simple { authorized: false, .. } => {
            Err(Reject::client(ResponseType::AccessDenied, "the authorizer answered isAuthorized: false")
                .saying("Forbidden", None))
        }
        Verdict::Policy { policy, .. } => {
            // The policy, cached or fresh, is checked against this request's own ARN (§3.7).
            let read = |k: &str| policy.may_read(k) || resource_policy.is_some_and(|p| p.may_read(k));
            let request = request_context(cx, req, &arn, &read);
            let identity = iam::policy::evaluate(&[policy], &request);
            let resource = resource_policy.map(|p| evaluate_resource(p, &request));
            match resource.map_or(identity, |r| combine_same_account(identity, r)) {
                Decision::Allow => Ok(Flow::Continue),
                Decision::ExplicitDeny => {
                    Err(denied("User is not authorized to access this resource with an explicit deny".into()))
                }
                Decision::ImplicitDeny => Err(denied("User is not authorized to access this resource".into())),
            }
        }
    }
}

/// The identity-source values in config order; `None` if any is missing or empty (§3.3).
fn identity_values(
    rt: &Runtime,
    cx: &RequestCtx,
    req: &Request<ReqBody>,
    spec: &CompiledAuthorizer,
) -> Option<Vec<String>> {
    let mut values = Vec::with_capacity(spec.identity.len());
    for source in &spec.identity {
        let value = match source {
            IdentitySource::Header(name) => {
                let mut all = req.headers().get_all(name).iter().filter_map(|v| v.to_str().ok());
                let first = all.next()?.to_owned();
                all.fold(first, |acc, v| acc + "," + v)
            }
            IdentitySource::Query(name) => {
                let all: Vec<String> = az::event::query_pairs(cx.query.as_deref())
                    .filter_map(|(k, v)| (&k == name).then_some(v))
                    .collect();
                all.join(",")
            }
            IdentitySource::StageVariable(name) => cx.stage(rt)?.variables.get(name)?.clone(),
            IdentitySource::Context(var) => {
                let mut out = String::new();
                Vars { rt, cx, response_length: None, latency: None }.context(*var, &mut out);
                out
            }
        };
        if value.is_empty() {
            return None;
        }
        values.push(value);
    }
    Some(values)
}

/// The condition keys any of the policies may read, for an anonymous caller.
fn request_context(cx: &RequestCtx, req: &Request<ReqBody>, arn: &str, read: &dyn Fn(&str) -> bool) -> RequestContext {
    let mut request = RequestContext::new(super::ACTION, arn);
    super::fill_condition_keys(cx, req, None, read, &mut request);
    request
}

/// The event JSON for this request.
fn event(
    rt: &Runtime,
    cx: &RequestCtx,
    req: &Request<ReqBody>,
    spec: &CompiledAuthorizer,
    arn: &str,
    identity: &[String],
) -> Bytes {
    let route = cx.route(rt).map(|(k, _)| k);
    let route_key = route.map(model::RouteKey::display).unwrap_or_default();
    let mut protocol = String::new();
    Vars { rt, cx, response_length: None, latency: None }.context(ContextVar::Protocol, &mut protocol);
    let (source_ip, request_time) = (cx.source_ip.to_string(), crate::time_fmt::clf(cx.time));
    let facts = az::RequestFacts {
        account_id: &rt.compiled.config.iam.account_id,
        api_id: cx.api(rt).map_or("", |a| a.name.as_str()),
        stage: cx.stage(rt).map_or("", |s| s.name.as_str()),
        request_id: cx.request_id(),
        source_ip: &source_ip,
        user_agent: cx.user_agent.as_ref().and_then(|v| v.to_str().ok()),
        protocol: &protocol,
        domain_name: cx.host(),
        request_time: &request_time,
        request_time_epoch: u64::try_from(crate::time_fmt::epoch_ms(cx.time)).unwrap_or(0),
        client_cert: cx.client_cert.as_deref().map(|c| az::ClientCertFacts {
            pem: &c.pem,
            subject_dn: &c.subject_dn,
            issuer_dn: &c.issuer_dn,
            serial: &c.serial,
            not_before: &c.not_before,
            not_after: &c.not_after,
        }),
    };
    let empty = std::collections::BTreeMap::new();
    let event = az::Event {
        kind: spec.kind,
        format: spec.format,
        method_arn: arn,
        identity,
        method: cx.method.as_str(),
        path: &cx.path,
        resource: route.map_or("", |k| k.path.as_str()),
        route_key: &route_key,
        headers: req.headers(),
        query: cx.query.as_deref(),
        path_params: &cx.params,
        stage_variables: cx.stage(rt).map_or(&empty, |s| &s.variables),
        facts,
    };
    Bytes::from(event.to_json())
}

/// Calls the function: POST the event, read at most [`MAX_ANSWER_BYTES`] of answer, all within
/// the authorizer's timeout. Owns everything it needs, so a call can outlive the request that
/// started it (others may be waiting for its answer).
fn call(
    client: UpstreamClient,
    spec: &CompiledAuthorizer,
    event: Bytes,
) -> impl std::future::Future<Output = Result<Called, CallError>> + Send + 'static {
    let (url, timeout, format, simple) = (spec.url.clone(), spec.timeout, spec.format, spec.simple_responses);
    let (ttl, unauthorized_ttl) = (spec.ttl, spec.unauthorized_ttl);
    async move {
        let started = Instant::now();
        let (status, headers, body) = match tokio::time::timeout(timeout, exchange(&client, url, event)).await {
            Ok(r) => r?,
            Err(_) => return Err(CallError::Configuration(format!("no answer within {timeout:?}"))),
        };
        let verdict = az::parse_answer(status, &headers, &body, format, simple)?;
        let ttl = if matches!(verdict, Verdict::Unauthorized) { unauthorized_ttl } else { ttl };
        Ok(Called { verdict, ttl: CacheHint::from_headers(&headers).cap(ttl), status, latency: started.elapsed() })
    }
}

async fn exchange(client: &UpstreamClient, url: Uri, event: Bytes) -> Result<(u16, http::HeaderMap, Bytes), CallError> {
    let mut request = Request::new(ReqBody::from_bytes(event));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = url;
    request.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    let resp = client.request(request).await.map_err(|e| {
        CallError::Configuration(format!("cannot call the function: {}", crate::http_fetch::error_chain(&e)))
    })?;
    let (parts, body) = resp.into_parts();
    let body = http_body_util::Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| CallError::Configuration(format!("reading the answer: {e}")))?
        .to_bytes();
    Ok((parts.status.as_u16(), parts.headers, body))
}

fn unauthorized(why: &'static str) -> Reject {
    Reject::client(ResponseType::Unauthorized, why)
}

fn denied(message: String) -> Reject {
    Reject::client(ResponseType::AccessDenied, "denied by the authorizer's policy").saying(message, None)
}

/// The gateway response for a call that gave no answer; the reason goes to the log and to
/// `$context.authorizer.error`, never to the client.
fn failed(cx: &mut RequestCtx, e: CallError) -> Reject {
    let outcome = cx.authorizer.get_or_insert_with(Box::default);
    outcome.error = Some(e.to_string());
    outcome.source = Some("function");
    match e {
        CallError::Failure(_) => {
            Reject::upstream(ResponseType::AuthorizerFailure, "the authorizer function failed", Some(Box::new(e)))
        }
        CallError::Configuration(_) => {
            Reject::internal(ResponseType::AuthorizerConfigurationError, "no valid answer from the authorizer")
                .because(e)
        }
    }
}

/// The metric's `result` label.
fn label(result: &Result<Flow, Reject>) -> &'static str {
    match result {
        Ok(_) => "allow",
        Err(r) => match r.kind {
            ResponseType::Unauthorized => "unauthorized",
            ResponseType::AccessDenied => "deny",
            ResponseType::AuthorizerFailure => "failure",
            _ => "configuration_error",
        },
    }
}
