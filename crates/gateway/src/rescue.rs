//! The only place a [`Reject`] becomes an HTTP response: the API's gateway-response override
//! for the kind (or its family, or the default), with `x-amzn-ErrorType` and the public message
//! (the kind's, or the one the phase chose, such as a SigV4 error text). The internal reason
//! and its cause chain go to the log, never to the client.

use http::header::{self, HeaderValue};
use http::Response;
use model::{Escape, ResponseOverrides, ResponseType};

use crate::body::{self, ResBody};
use crate::ctx::{RequestCtx, Vars};
use crate::reject::{Blame, Connection, Reject};
use crate::runtime::Runtime;

/// Renders the gateway response for `rej`.
pub(crate) fn render(rt: &Runtime, cx: &mut RequestCtx, rej: &Reject) -> Response<ResBody> {
    match rej.blame {
        Blame::Client => tracing::debug!(request_id = cx.request_id(), error = %rej, "request refused"),
        Blame::Upstream => tracing::warn!(request_id = cx.request_id(), error = %rej, "upstream failed"),
        Blame::Internal => tracing::error!(request_id = cx.request_id(), error = %rej, "gateway error"),
    }
    cx.error = Some(rej.kind);
    cx.error_message.clone_from(&rej.message);
    rt.metrics.gateway_response(rej.kind.name());
    let none = ResponseOverrides::default();
    let overrides = cx.api(rt).map_or(&none, |a| &a.responses);
    let default_body = if rej.kind == ResponseType::AccessDenied {
        &rt.compiled.access_denied_body
    } else {
        &rt.compiled.default_response_body
    };
    let spec = overrides.resolve(rej.kind, default_body);
    let vars = Vars { rt, cx, response_length: None, latency: None };
    let mut resp = Response::new(body::full(spec.body.render_to_string(&vars, Escape::Json)));
    *resp.status_mut() = spec.status;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(rej.error_type.unwrap_or(rej.kind.error_type())) {
        headers.insert("x-amzn-errortype", v);
    }
    for (name, template) in spec.headers {
        if let Ok(v) = HeaderValue::from_str(&template.render_to_string(&vars, Escape::Header)) {
            headers.insert(name.clone(), v);
        }
    }
    if rej.connection == Connection::Close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
