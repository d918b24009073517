//! Gateway-response overrides of one API, and the lookup order of reference §9.2:
//! the type's own override, else its family (`DEFAULT_4XX` / `DEFAULT_5XX`), else the default.

use std::collections::HashMap;

use http::header::HeaderName;
use http::StatusCode;

use crate::config::GatewayResponseConfig;
use crate::response_type::ResponseType;
use crate::template::Template;

/// The compiled overrides of one API.
#[derive(Clone, Debug, Default)]
pub struct ResponseOverrides {
    by_type: HashMap<ResponseType, Override>,
}

/// What a gateway response of one type looks like for one API.
#[derive(Debug, Clone, Copy)]
pub struct ResponseSpec<'a> {
    /// Status to send.
    pub status: StatusCode,
    /// Extra headers (templates).
    pub headers: &'a [(HeaderName, Template)],
    /// Body template.
    pub body: &'a Template,
}

#[derive(Clone, Debug)]
struct Override {
    status: Option<StatusCode>,
    headers: Vec<(HeaderName, Template)>,
    body: Option<Template>,
}

// === impl ResponseOverrides ===

impl ResponseOverrides {
    /// Compiles the overrides. Errors carry the field path below `gateway_responses`.
    pub fn compile(
        cfg: &std::collections::BTreeMap<ResponseType, GatewayResponseConfig>,
    ) -> Result<Self, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut by_type = HashMap::new();
        for (ty, o) in cfg {
            let at = |f: &str| format!("{}.{f}", ty.name());
            let status = match o.status.map(StatusCode::from_u16) {
                Some(Ok(s)) if (400..=599).contains(&s.as_u16()) => Some(s),
                Some(_) => {
                    errors.push((at("status"), "status must be between 400 and 599".to_owned()));
                    None
                }
                None => None,
            };
            let mut headers = Vec::new();
            for (name, value) in &o.headers {
                let path = at(&format!("headers.{name}"));
                match (HeaderName::from_bytes(name.as_bytes()), Template::parse(value)) {
                    (Ok(n), Ok(t)) => headers.push((n, t)),
                    (Err(_), _) => errors.push((path, format!("`{name}` is not a valid header name"))),
                    (_, Err(e)) => errors.push((path, e)),
                }
            }
            let body = match o.template.as_deref().map(Template::parse) {
                Some(Ok(t)) => Some(t),
                Some(Err(e)) => {
                    errors.push((at("template"), e));
                    None
                }
                None => None,
            };
            by_type.insert(*ty, Override { status, headers, body });
        }
        if errors.is_empty() {
            Ok(Self { by_type })
        } else {
            Err(errors)
        }
    }

    /// How a response of type `ty` looks.
    pub fn resolve<'a>(&'a self, ty: ResponseType, default_body: &'a Template) -> ResponseSpec<'a> {
        let own_status = StatusCode::from_u16(ty.default_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let chosen = self.by_type.get(&ty).or_else(|| ty.family().and_then(|f| self.by_type.get(&f)));
        match chosen {
            Some(o) => ResponseSpec {
                status: o.status.unwrap_or(own_status),
                headers: &o.headers,
                body: o.body.as_ref().unwrap_or(default_body),
            },
            None => ResponseSpec { status: own_status, headers: &[], body: default_body },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::ResponseOverrides;
    use crate::config::GatewayResponseConfig;
    use crate::response_type::ResponseType;
    use crate::template::Template;

    #[test]
    fn own_entry_beats_family_and_family_keeps_status() {
        let mut cfg = BTreeMap::new();
        cfg.insert(
            ResponseType::Default4xx,
            GatewayResponseConfig { template: Some("four".into()), ..Default::default() },
        );
        cfg.insert(
            ResponseType::MissingAuthenticationToken,
            GatewayResponseConfig { status: Some(404), ..Default::default() },
        );
        let o = ResponseOverrides::compile(&cfg).unwrap_or_else(|e| panic!("{e:?}"));
        let default = Template::parse("default").unwrap_or_else(|e| panic!("{e}"));
        let missing = o.resolve(ResponseType::MissingAuthenticationToken, &default);
        assert_eq!(missing.status.as_u16(), 404);
        assert_eq!(missing.body, &default);
        let throttled = o.resolve(ResponseType::Throttled, &default);
        assert_eq!(throttled.status.as_u16(), 429);
        assert_eq!(throttled.body, &Template::parse("four").unwrap_or_else(|e| panic!("{e}")));
        let unauthorized = o.resolve(ResponseType::Unauthorized, &default);
        assert_eq!(unauthorized.status.as_u16(), 401, "DEFAULT_4XX covers 401 and keeps its status");
        assert_eq!(unauthorized.body, &Template::parse("four").unwrap_or_else(|e| panic!("{e}")));
        let failure = o.resolve(ResponseType::IntegrationFailure, &default);
        assert_eq!((failure.status.as_u16(), failure.body), (502, &default));
    }

    #[test]
    fn bad_overrides_name_their_field() {
        let mut cfg = BTreeMap::new();
        cfg.insert(ResponseType::Throttled, GatewayResponseConfig { status: Some(200), ..Default::default() });
        let errs = ResponseOverrides::compile(&cfg).err().unwrap_or_default();
        assert_eq!(errs[0].0, "THROTTLED.status");
    }
}
