//! A compiled CORS policy (reference §7.2): which origins, methods and headers are allowed,
//! and the headers that answer a preflight or decorate a response.

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method};

use crate::config::CorsConfig;

/// A checked CORS policy.
#[derive(Clone, Debug)]
pub struct CorsPolicy {
    origins: Origins,
    methods: Option<Vec<Method>>,
    headers: Option<Vec<String>>,
    allow_methods_value: HeaderValue,
    allow_headers_value: Option<HeaderValue>,
    expose_value: Option<HeaderValue>,
    max_age_value: Option<HeaderValue>,
    credentials: bool,
}

#[derive(Clone, Debug)]
enum Origins {
    Any,
    List { exact: Vec<String>, wildcard: Vec<(String, String)> },
}

// === impl CorsPolicy ===

impl CorsPolicy {
    /// Checks a config. Errors name the offending field (relative to the `cors` object).
    pub fn compile(cfg: &CorsConfig) -> Result<Self, (&'static str, String)> {
        let any_origin = cfg.allow_origins.iter().any(|o| o == "*");
        if any_origin && cfg.allow_credentials {
            return Err((
                "allow_credentials",
                "allow_credentials cannot be true when allow_origins contains `*` (browsers refuse it)".into(),
            ));
        }
        let origins = if any_origin {
            Origins::Any
        } else {
            let mut exact = Vec::new();
            let mut wildcard = Vec::new();
            for o in &cfg.allow_origins {
                let o = o.to_ascii_lowercase();
                let (scheme, host) = o
                    .split_once("://")
                    .filter(|(s, h)| matches!(*s, "http" | "https") && !h.is_empty() && !h.contains('/'))
                    .ok_or(("allow_origins", format!("origin `{o}` must look like `https://host[:port]`")))?;
                match host.strip_prefix("*.") {
                    Some(rest) if !rest.contains('*') && rest.contains('.') => {
                        wildcard.push((format!("{scheme}://"), format!(".{rest}")));
                    }
                    Some(_) => {
                        return Err(("allow_origins", format!("wildcard origin `{o}` must be `scheme://*.domain.tld`")))
                    }
                    None if host.contains('*') => {
                        return Err(("allow_origins", format!("`*` may only be the first label of `{o}`")))
                    }
                    None => exact.push(o.clone()),
                }
            }
            Origins::List { exact, wildcard }
        };
        let methods = if cfg.allow_methods.iter().any(|m| m == "*") {
            None
        } else if cfg.allow_methods.is_empty() {
            Some(vec![Method::GET, Method::HEAD, Method::POST])
        } else {
            let parsed: Result<Vec<Method>, _> = cfg
                .allow_methods
                .iter()
                .map(|m| {
                    m.to_ascii_uppercase().parse::<Method>().map_err(|_| ("allow_methods", format!("bad method `{m}`")))
                })
                .collect();
            Some(parsed?)
        };
        let headers = if cfg.allow_headers.iter().any(|h| h == "*") {
            None
        } else {
            for h in &cfg.allow_headers {
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| ("allow_headers", format!("bad header name `{h}`")))?;
            }
            Some(cfg.allow_headers.iter().map(|h| h.to_ascii_lowercase()).collect::<Vec<_>>())
        };
        for h in &cfg.expose_headers {
            HeaderName::from_bytes(h.as_bytes()).map_err(|_| ("expose_headers", format!("bad header name `{h}`")))?;
        }
        if let Some(age) = cfg.max_age {
            if age > 86_400 {
                return Err(("max_age", "max_age must be at most 86400 seconds".into()));
            }
        }
        let list = |v: &[String]| HeaderValue::from_str(&v.join(", ")).ok();
        let allow_methods_value = match &methods {
            Some(ms) => list(&ms.iter().map(|m| m.to_string()).collect::<Vec<_>>()),
            None => Some(HeaderValue::from_static("*")),
        }
        .ok_or(("allow_methods", "methods do not form a valid header".to_owned()))?;
        Ok(Self {
            origins,
            allow_headers_value: headers.as_ref().filter(|h| !h.is_empty()).and_then(|h| list(h)),
            methods,
            headers,
            expose_value: (!cfg.expose_headers.is_empty()).then(|| list(&cfg.expose_headers)).flatten(),
            max_age_value: cfg.max_age.map(HeaderValue::from),
            allow_methods_value,
            credentials: cfg.allow_credentials,
        })
    }

    /// Whether a request is a CORS preflight: `OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`.
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// Headers answering a preflight. Empty but for `Vary` when the origin, method or a
    /// requested header is not allowed: the browser then refuses the call.
    pub fn preflight_headers(&self, req: &HeaderMap) -> HeaderMap {
        let mut out = HeaderMap::new();
        out.insert(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = self.allowed_origin(req.get(header::ORIGIN)) else { return out };
        let method_ok = req
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
            .and_then(|m| m.parse::<Method>().ok())
            .is_some_and(|m| self.methods.as_ref().is_none_or(|ms| ms.contains(&m)));
        let requested = req.get(header::ACCESS_CONTROL_REQUEST_HEADERS);
        let headers_ok = match (&self.headers, requested.and_then(|v| v.to_str().ok())) {
            (Some(allowed), Some(list)) => list
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .all(|h| allowed.contains(&h)),
            _ => true,
        };
        if !method_ok || !headers_ok {
            return out;
        }
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods_value.clone());
        let allow_headers = match &self.headers {
            // With `*`, echo what was asked: a literal `*` does not cover credentialed requests.
            None => requested.cloned(),
            Some(_) => self.allow_headers_value.clone(),
        };
        if let Some(v) = allow_headers {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if let Some(v) = &self.max_age_value {
            out.insert(header::ACCESS_CONTROL_MAX_AGE, v.clone());
        }
        if self.credentials {
            out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        out
    }

    /// Decorates a response (the integration's or a gateway response). Any CORS headers the
    /// upstream sent are replaced: the policy is the gateway's.
    pub fn decorate(&self, origin: Option<&HeaderValue>, resp: &mut HeaderMap) {
        for name in CORS_RESPONSE_HEADERS {
            resp.remove(name);
        }
        resp.append(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = self.allowed_origin(origin) else { return };
        resp.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if self.credentials {
            resp.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if let Some(v) = &self.expose_value {
            resp.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v.clone());
        }
    }

    /// The `Access-Control-Allow-Origin` value for this request, if its origin is allowed.
    fn allowed_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        let origin = origin?;
        let text = origin.to_str().ok()?.to_ascii_lowercase();
        match &self.origins {
            Origins::Any if !self.credentials => Some(HeaderValue::from_static("*")),
            Origins::Any => Some(origin.clone()),
            Origins::List { exact, wildcard } => {
                let ok = exact.contains(&text)
                    || wildcard.iter().any(|(scheme, suffix)| {
                        text.strip_prefix(scheme.as_str())
                            .and_then(|rest| rest.strip_suffix(suffix.as_str()))
                            .is_some_and(is_label)
                    });
                ok.then(|| origin.clone())
            }
        }
    }
}

fn is_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

const CORS_RESPONSE_HEADERS: [HeaderName; 6] = [
    header::ACCESS_CONTROL_ALLOW_ORIGIN,
    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
    header::ACCESS_CONTROL_EXPOSE_HEADERS,
    header::ACCESS_CONTROL_ALLOW_METHODS,
    header::ACCESS_CONTROL_ALLOW_HEADERS,
    header::ACCESS_CONTROL_MAX_AGE,
];

#[cfg(test)]
mod tests {
    use http::header::{self, HeaderMap, HeaderValue};

    use super::CorsPolicy;
    use crate::config::CorsConfig;

    fn policy(origins: &[&str], credentials: bool) -> Result<CorsPolicy, (&'static str, String)> {
        CorsPolicy::compile(&CorsConfig {
            allow_origins: origins.iter().map(|s| s.to_string()).collect(),
            allow_methods: vec!["GET".into(), "PUT".into()],
            allow_headers: vec!["Content-Type".into()],
            expose_headers: vec!["X-Total".into()],
            max_age: Some(600),
            allow_credentials: credentials,
        })
    }

    fn req(origin: &str, method: &str, headers: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap_or(HeaderValue::from_static("x")));
        h.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_str(method).unwrap_or(HeaderValue::from_static("x")),
        );
        if let Some(v) = headers {
            h.insert(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("x")),
            );
        }
        h
    }

    #[test]
    fn wildcard_origins_cover_one_label() {
        let p = policy(&["https://*.example.com", "https://app.test"], true).unwrap_or_else(|e| panic!("{e:?}"));
        let ok = p.preflight_headers(&req("https://a.example.com", "PUT", Some("content-type")));
        assert_eq!(
            ok.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.as_bytes()),
            Some(&b"https://a.example.com"[..])
        );
        assert_eq!(ok.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).map(|v| v.as_bytes()), Some(&b"true"[..]));
        assert_eq!(ok.get(header::ACCESS_CONTROL_MAX_AGE).map(|v| v.as_bytes()), Some(&b"600"[..]));
        for bad in [
            "https://a.b.example.com",
            "http://a.example.com",
            "https://example.com",
            "https://evilexample.com",
            "https://app.test.evil",
        ] {
            let h = p.preflight_headers(&req(bad, "GET", None));
            assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{bad}");
            assert!(h.get(header::VARY).is_some());
        }
    }

    #[test]
    fn disallowed_method_or_header_gets_no_grant() {
        let p = policy(&["https://app.test"], false).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(p
            .preflight_headers(&req("https://app.test", "DELETE", None))
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
        assert!(p
            .preflight_headers(&req("https://app.test", "GET", Some("x-secret")))
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
    }

    #[test]
    fn credentials_with_any_origin_is_refused() {
        assert_eq!(policy(&["*"], true).err().map(|e| e.0), Some("allow_credentials"));
        assert!(policy(&["https://*.*.com"], false).is_err());
        assert!(policy(&["app.test"], false).is_err());
    }

    #[test]
    fn decorate_replaces_upstream_cors_headers() {
        let p = policy(&["https://app.test"], false).unwrap_or_else(|e| panic!("{e:?}"));
        let mut resp = HeaderMap::new();
        resp.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        p.decorate(req("https://evil.test", "GET", None).get(header::ORIGIN), &mut resp);
        assert!(resp.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        p.decorate(req("https://app.test", "GET", None).get(header::ORIGIN), &mut resp);
        assert_eq!(resp.get(header::ACCESS_CONTROL_EXPOSE_HEADERS).map(|v| v.as_bytes()), Some(&b"X-Total"[..]));
    }
}
