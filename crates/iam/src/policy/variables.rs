//! Policy variables (`${aws:username}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`), substituted
//! only in Version 2012-10-17 documents. Strings without `${` never become templates, so the
//! per-request rendering (and its allocation) happens only where a variable is used.

use super::context::RequestContext;
use super::wildcard::{tokens, Case, Pattern, Tok};

/// A string either compiled once or holding variables to render per request.
#[derive(Debug, Clone)]
pub(crate) enum Tmpl<T> {
    Static(T),
    Dynamic(Template),
}

#[derive(Debug, Clone)]
enum Part {
    /// Policy text; wildcards in it keep their meaning where the operator has wildcards.
    Text(Box<str>),
    /// An escape such as `${*}`: always the literal character.
    Char(char),
    /// A context key (lower-cased) with an optional default.
    Var { key: Box<str>, default: Option<Box<str>> },
}

/// A string with at least one `${…}`.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    parts: Box<[Part]>,
}

impl Template {
    /// `Ok(None)` when `s` contains no variable.
    pub(crate) fn parse(s: &str) -> Result<Option<Self>, String> {
        if !s.contains("${") {
            return Ok(None);
        }
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].into()));
            }
            let body = &rest[start + 2..];
            let end = body.find('}').ok_or_else(|| format!("unterminated policy variable in `{s}`"))?;
            parts.push(variable(&body[..end]).map_err(|m| format!("{m} in `{s}`"))?);
            rest = &body[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.into()));
        }
        Ok(Some(Self { parts: parts.into() }))
    }

    /// The rendered string with every character literal (for equality operators), or `None`
    /// when a variable has no value and no default: the pattern then matches nothing.
    pub(crate) fn render_text(&self, ctx: &RequestContext) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Char(c) => out.push(*c),
                Part::Var { key, default } => out.push_str(resolve(ctx, key, default.as_deref())?),
            }
        }
        Some(out)
    }

    /// Tokens for a wildcard pattern: substituted values are literal, so a `*` inside a user
    /// name cannot widen the pattern.
    pub(crate) fn render_tokens(&self, ctx: &RequestContext) -> Option<Vec<Tok>> {
        let mut out = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.extend(tokens(t)),
                Part::Char(c) => out.push(Tok::Lit(*c)),
                Part::Var { key, default } => out.extend(resolve(ctx, key, default.as_deref())?.chars().map(Tok::Lit)),
            }
        }
        Some(out)
    }
}

impl Tmpl<Pattern> {
    /// Compiles `s` as a wildcard pattern, with variables when `variables` is on.
    pub(crate) fn pattern(s: &str, variables: bool) -> Result<Self, String> {
        Ok(match variables.then(|| Template::parse(s)).transpose()?.flatten() {
            Some(t) => Self::Dynamic(t),
            None => Self::Static(Pattern::new(s, Case::Sensitive)),
        })
    }

    pub(crate) fn matches(&self, text: &str, ctx: &RequestContext) -> bool {
        match self {
            Self::Static(p) => p.matches(text),
            Self::Dynamic(t) => {
                t.render_tokens(ctx).is_some_and(|toks| Pattern::from_tokens(&toks, Case::Sensitive).matches(text))
            }
        }
    }
}

fn resolve<'a>(ctx: &'a RequestContext, key: &str, default: Option<&'a str>) -> Option<&'a str> {
    ctx.lookup(key).and_then(|v| v.single()).or(default)
}

fn variable(body: &str) -> Result<Part, String> {
    let (key, default) = match body.split_once(',') {
        Some((k, d)) => {
            let d = d.trim();
            let quoted = d.strip_prefix('\'').and_then(|d| d.strip_suffix('\''));
            let d = quoted.ok_or_else(|| format!("default value `{d}` must be in single quotes"))?;
            (k.trim(), Some(d.into()))
        }
        None => (body.trim(), None),
    };
    match key {
        "" => Err("empty policy variable".to_owned()),
        "*" | "?" | "$" if default.is_none() => Ok(Part::Char(key.chars().next().unwrap_or('$'))),
        _ => Ok(Part::Var { key: key.to_ascii_lowercase().into(), default }),
    }
}
