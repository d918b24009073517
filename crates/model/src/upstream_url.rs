//! An upstream URL template: an absolute http(s) URL whose path may hold `{param}` and
//! `${stageVariables.NAME}` placeholders.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A checked upstream URL template (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamUrl {
    text: String,
    /// Scheme and authority, e.g. `http://127.0.0.1:9000`.
    origin: String,
    /// Path template (may be empty) without the query.
    path: String,
    /// A fixed query string from the template, if any.
    query: Option<String>,
}

/// One piece of a URL path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlPart {
    /// Text copied as is.
    Literal(String),
    /// A path parameter of the route (`{id}`, or `{proxy}` for `{proxy+}`).
    PathParam(String),
    /// A stage variable (`${stageVariables.NAME}`).
    StageVariable(String),
}

// === impl UpstreamUrl ===

impl UpstreamUrl {
    /// Parses and checks a URL template.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (origin_end, scheme) = if let Some(rest) = text.strip_prefix("http://") {
            (text.len() - rest.len(), "http")
        } else if let Some(rest) = text.strip_prefix("https://") {
            (text.len() - rest.len(), "https")
        } else {
            return Err(format!("invalid URL `{text}`: it must start with http:// or https://"));
        };
        let after = &text[origin_end..];
        let authority_len = after.find(['/', '?']).unwrap_or(after.len());
        let authority = &after[..authority_len];
        if authority.is_empty() || authority.contains(['{', '}', '$', '@']) {
            return Err(format!("invalid URL `{text}`: the host must be a fixed name or address"));
        }
        let origin = format!("{scheme}://{authority}");
        origin.parse::<http::Uri>().map_err(|e| format!("invalid URL `{text}`: {e}"))?;
        let rest = &after[authority_len..];
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (rest.to_owned(), None),
        };
        let url = Self { text: text.to_owned(), origin, path, query };
        url.parts()?;
        Ok(url)
    }

    /// Scheme and authority.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The fixed query string of the template, if any.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The path template split into literal text and placeholders.
    pub fn parts(&self) -> Result<Vec<UrlPart>, String> {
        let mut parts = Vec::new();
        let mut rest = self.path.as_str();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("${") {
                let end = after.find('}').ok_or_else(|| self.unclosed())?;
                let name = after[..end]
                    .strip_prefix("stageVariables.")
                    .ok_or_else(|| format!("invalid URL `{}`: only ${{stageVariables.NAME}} may be used", self.text))?;
                check_name(name, &self.text)?;
                parts.push(UrlPart::StageVariable(name.to_owned()));
                rest = &after[end + 1..];
            } else if let Some(after) = rest.strip_prefix('{') {
                let end = after.find('}').ok_or_else(|| self.unclosed())?;
                let name = &after[..end];
                check_name(name, &self.text)?;
                parts.push(UrlPart::PathParam(name.to_owned()));
                rest = &after[end + 1..];
            } else {
                let end = rest.find(['{', '$']).unwrap_or(rest.len()).max(1);
                let lit = &rest[..end];
                if lit.contains('}') || lit.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!("invalid URL `{}`: unexpected character in path", self.text));
                }
                match parts.last_mut() {
                    Some(UrlPart::Literal(prev)) => prev.push_str(lit),
                    _ => parts.push(UrlPart::Literal(lit.to_owned())),
                }
                rest = &rest[end..];
            }
        }
        Ok(parts)
    }

    fn unclosed(&self) -> String {
        format!("invalid URL `{}`: a `{{` is not closed", self.text)
    }
}

impl fmt::Display for UpstreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for UpstreamUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for UpstreamUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl JsonSchema for UpstreamUrl {
    fn schema_name() -> Cow<'static, str> {
        "UpstreamUrl".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^https?://",
            "description": "An http(s) URL; the path may use {param} and ${stageVariables.NAME}."
        })
    }
}

fn check_name(name: &str, text: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!("invalid URL `{text}`: bad placeholder name `{name}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::{UpstreamUrl, UrlPart};

    #[test]
    fn splits_placeholders() {
        let u = UpstreamUrl::parse("http://127.0.0.1:9000/v1/${stageVariables.v}/{proxy}?a=1")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.origin(), "http://127.0.0.1:9000");
        assert_eq!(u.query(), Some("a=1"));
        assert_eq!(
            u.parts(),
            Ok(vec![
                UrlPart::Literal("/v1/".into()),
                UrlPart::StageVariable("v".into()),
                UrlPart::Literal("/".into()),
                UrlPart::PathParam("proxy".into()),
            ])
        );
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in ["ftp://x", "http://", "http://{host}/", "http://a/{x", "http://a/${env.X}", "nope", "http://a b/"] {
            assert!(UpstreamUrl::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
