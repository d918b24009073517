//! Templates with `$context.*` and `$stageVariables.*` variables, as API Gateway uses them in
//! access-log formats and gateway-response bodies. Parsed once when config is compiled;
//! rendering is a walk over the pieces.

use std::fmt::Write as _;

macro_rules! context_vars {
    ($( $variant:ident = $name:literal ),* $(,)?) => {
        /// A `$context` variable the gateway can fill in.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ContextVar { $( #[doc = concat!("`$context.", $name, "`")] $variant, )* }

        impl ContextVar {
            /// Every variable, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The name after `$context.`.
            pub const fn name(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            pub(crate) fn from_name(name: &str) -> Option<Self> {
                match name { $($name => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

context_vars! {
    AccountId = "accountId",
    ApiId = "apiId",
    CipherSuite = "cipherSuite",
    CustomDomainBasePathMatched = "customDomain.basePathMatched",
    ClientCertFingerprint = "identity.clientCert.fingerprint",
    ClientCertIssuerDn = "identity.clientCert.issuerDN",
    ClientCertNotAfter = "identity.clientCert.validity.notAfter",
    ClientCertNotBefore = "identity.clientCert.validity.notBefore",
    ClientCertPem = "identity.clientCert.clientCertPem",
    ClientCertSans = "identity.clientCert.subjectAlternativeNames",
    ClientCertSerialNumber = "identity.clientCert.serialNumber",
    ClientCertSubjectDn = "identity.clientCert.subjectDN",
    DomainName = "domainName",
    WafResponseCode = "wafResponseCode",
    WebAclArn = "webaclArn",
    WafTerminatingRule = "waf.terminatingRule",
    WafLabels = "waf.labels",
    ErrorMessage = "error.message",
    ErrorMessageString = "error.messageString",
    ErrorResponseType = "error.responseType",
    ExtendedRequestId = "extendedRequestId",
    HttpMethod = "httpMethod",
    IdentityApiKey = "identity.apiKey",
    IdentityApiKeyId = "identity.apiKeyId",
    IdentityAccessKey = "identity.accessKey",
    IdentityCaller = "identity.caller",
    IdentitySourceIp = "identity.sourceIp",
    IdentityUser = "identity.user",
    IdentityUserAgent = "identity.userAgent",
    IdentityUserArn = "identity.userArn",
    IntegrationError = "integration.error",
    IntegrationLatency = "integrationLatency",
    IntegrationStatus = "integration.status",
    Path = "path",
    Protocol = "protocol",
    RequestId = "requestId",
    RequestTime = "requestTime",
    RequestTimeEpoch = "requestTimeEpoch",
    ResourcePath = "resourcePath",
    ResponseLatency = "responseLatency",
    ResponseLength = "responseLength",
    RouteKey = "routeKey",
    Stage = "stage",
    Status = "status",
    TlsVersion = "tlsVersion",
}

/// What a template needs from the request being rendered.
pub trait TemplateVars {
    /// Appends the value of `var` to `out`, unescaped. Returns `false` when it has no value.
    fn context(&self, var: ContextVar, out: &mut String) -> bool;
    /// The value of a stage variable, if set.
    fn stage_variable(&self, name: &str) -> Option<&str>;
    /// Appends `$context.authorizer.KEY` to `out`; `false` when it has no value.
    fn authorizer(&self, key: &str, out: &mut String) -> bool {
        let _ = (key, out);
        false
    }
}

/// How values are written into the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// Escaped for the inside of a JSON string (quotes, backslashes, control characters).
    Json,
    /// Control characters removed (for header values).
    Header,
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Context(ContextVar),
    StageVariable(String),
    /// `$context.authorizer.KEY`: `principalId`, a key of the answer's `context`, or one of
    /// the log-only values (`error`, `latency`, …).
    Authorizer(String),
}

// === impl Template ===

impl Template {
    /// Parses `text`. Unknown `$context` variables are an error that lists the known ones.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            let tail = &rest[at + 1..];
            let (body, braced) = match tail.strip_prefix('{') {
                Some(inner) => match inner.find('}') {
                    Some(end) => (&inner[..end], true),
                    None => return Err("a `${` is not closed".to_owned()),
                },
                None => (ident_prefix(tail), false),
            };
            let consumed = if braced { body.len() + 2 } else { body.len() };
            if let Some(key) = body.strip_prefix("context.authorizer.") {
                if key.is_empty() {
                    return Err("`$context.authorizer.` needs a key, e.g. `principalId`".to_owned());
                }
                flush(&mut pieces, &mut literal);
                pieces.push(Piece::Authorizer(key.to_owned()));
            } else if let Some(name) = body.strip_prefix("context.") {
                let var = ContextVar::from_name(name).ok_or_else(|| unknown_var(name))?;
                flush(&mut pieces, &mut literal);
                pieces.push(Piece::Context(var));
            } else if let Some(name) = body.strip_prefix("stageVariables.") {
                if name.is_empty() {
                    return Err("`$stageVariables.` needs a variable name".to_owned());
                }
                flush(&mut pieces, &mut literal);
                pieces.push(Piece::StageVariable(name.to_owned()));
            } else {
                literal.push('$');
                literal.push_str(&tail[..consumed]);
            }
            rest = &tail[consumed..];
        }
        literal.push_str(rest);
        flush(&mut pieces, &mut literal);
        Ok(Self { pieces })
    }

    /// Whether the template is plain text, with no variable.
    pub fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Literal(_)))
    }

    /// Whether the template uses `var`.
    pub fn uses(&self, var: ContextVar) -> bool {
        self.pieces.contains(&Piece::Context(var))
    }

    /// Renders into `out`. Missing values are written as `-`, as API Gateway logs them;
    /// `error.messageString` is a quoted JSON string or `null`.
    pub fn render(&self, vars: &dyn TemplateVars, escape: Escape, out: &mut String) {
        let mut scratch = String::new();
        for piece in &self.pieces {
            scratch.clear();
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Context(ContextVar::ErrorMessageString) => {
                    if vars.context(ContextVar::ErrorMessage, &mut scratch) {
                        out.push('"');
                        push_escaped(out, &scratch, escape);
                        out.push('"');
                    } else {
                        out.push_str("null");
                    }
                }
                Piece::Context(var) => {
                    if vars.context(*var, &mut scratch) {
                        push_escaped(out, &scratch, escape);
                    } else {
                        out.push('-');
                    }
                }
                Piece::StageVariable(name) => match vars.stage_variable(name) {
                    Some(v) => push_escaped(out, v, escape),
                    None => out.push('-'),
                },
                Piece::Authorizer(key) => {
                    if vars.authorizer(key, &mut scratch) {
                        push_escaped(out, &scratch, escape);
                    } else {
                        out.push('-');
                    }
                }
            }
        }
    }

    /// Renders into a new string, or `None` if any variable has no value (where [`render`]
    /// would write `-`): for header values, which must not claim a value nobody gave.
    ///
    /// [`render`]: Self::render
    pub fn render_complete(&self, vars: &dyn TemplateVars, escape: Escape) -> Option<String> {
        let mut out = String::new();
        let mut scratch = String::new();
        for piece in &self.pieces {
            scratch.clear();
            let found = match piece {
                Piece::Literal(s) => {
                    out.push_str(s);
                    continue;
                }
                Piece::Context(var) => vars.context(*var, &mut scratch),
                Piece::StageVariable(name) => vars.stage_variable(name).map(|v| scratch.push_str(v)).is_some(),
                Piece::Authorizer(key) => vars.authorizer(key, &mut scratch),
            };
            if !found {
                return None;
            }
            push_escaped(&mut out, &scratch, escape);
        }
        Some(out)
    }

    /// Renders into a new string.
    pub fn render_to_string(&self, vars: &dyn TemplateVars, escape: Escape) -> String {
        let mut out = String::new();
        self.render(vars, escape, &mut out);
        out
    }
}

fn ident_prefix(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(s.len());
    s[..end].trim_end_matches('.')
}

fn flush(pieces: &mut Vec<Piece>, literal: &mut String) {
    if !literal.is_empty() {
        pieces.push(Piece::Literal(std::mem::take(literal)));
    }
}

fn unknown_var(name: &str) -> String {
    let known: Vec<&str> = ContextVar::ALL.iter().map(|v| v.name()).collect();
    let hint = crate::suggest::closest(name, known.iter().copied())
        .map(|s| format!(" (did you mean `$context.{s}`?)"))
        .unwrap_or_default();
    format!("unknown variable `$context.{name}`{hint}")
}

fn push_escaped(out: &mut String, value: &str, escape: Escape) {
    for c in value.chars() {
        match (escape, c) {
            (Escape::Json, '"') => out.push_str("\\\""),
            (Escape::Json, '\\') => out.push_str("\\\\"),
            (Escape::Json, '\n') => out.push_str("\\n"),
            (Escape::Json, '\r') => out.push_str("\\r"),
            (Escape::Json, '\t') => out.push_str("\\t"),
            (Escape::Json, c) if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            (Escape::Header, c) if c.is_control() => {}
            (_, c) => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ContextVar, Escape, Template, TemplateVars};

    struct Vars;
    impl TemplateVars for Vars {
        fn context(&self, var: ContextVar, out: &mut String) -> bool {
            match var {
                ContextVar::RequestId => out.push_str("r-1"),
                ContextVar::ErrorMessage => out.push_str("say \"hi\"\n"),
                ContextVar::Path => out.push_str("/a\\b"),
                _ => return false,
            }
            true
        }
        fn stage_variable(&self, name: &str) -> Option<&str> {
            (name == "v").then_some("7")
        }
    }

    #[test]
    fn renders_json_escaped_values() {
        let t = Template::parse(r#"{"id":"$context.requestId","m":$context.error.messageString,"p":"${context.path}","s":"$stageVariables.v","x":"$context.stage","c":"$5"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.render_to_string(&Vars, Escape::Json),
            r#"{"id":"r-1","m":"say \"hi\"\n","p":"/a\\b","s":"7","x":"-","c":"$5"}"#
        );
    }

    #[test]
    fn authorizer_values_render_and_complete_rendering_refuses_gaps() {
        struct Az;
        impl TemplateVars for Az {
            fn context(&self, _: ContextVar, _: &mut String) -> bool {
                false
            }
            fn stage_variable(&self, _: &str) -> Option<&str> {
                None
            }
            fn authorizer(&self, key: &str, out: &mut String) -> bool {
                (key == "principalId").then(|| out.push_str("u\n7")).is_some()
            }
        }
        let t = Template::parse("id=$context.authorizer.principalId").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.render_complete(&Az, Escape::Header).as_deref(), Some("id=u7"));
        let t = Template::parse("$context.authorizer.principalId/$context.authorizer.tenant")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.render_to_string(&Az, Escape::Json), "u\\n7/-");
        assert_eq!(t.render_complete(&Az, Escape::Header), None);
        assert!(Template::parse("$context.authorizer.").is_err());
    }

    #[test]
    fn message_string_is_null_without_message() {
        struct None_;
        impl TemplateVars for None_ {
            fn context(&self, _: ContextVar, _: &mut String) -> bool {
                false
            }
            fn stage_variable(&self, _: &str) -> Option<&str> {
                None
            }
        }
        let t = Template::parse(r#"{"message":$context.error.messageString}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.render_to_string(&None_, Escape::Json), r#"{"message":null}"#);
    }

    #[test]
    fn unknown_variables_are_refused_with_a_hint() {
        let err = Template::parse("$context.requestTme").err().unwrap_or_default();
        assert!(err.contains("did you mean `$context.requestTime`"), "{err}");
    }
}
