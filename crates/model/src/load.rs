//! Reading a config file: environment interpolation, YAML parsing, serde, compilation, and
//! errors that name the file, line, column and field path.

use std::fmt;
use std::path::Path;

use crate::compile::Compiled;
use crate::config::Config;
use crate::interpolate::interpolate;
use crate::positions::Positions;
use crate::suggest;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Field path such as `apis[0].routes[2].integration.url`; empty for the whole document.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Every problem found in a config file (at least one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

// === impl ConfigError ===

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Reads, interpolates, parses and compiles the config file at `path`, using the process
/// environment for `${VAR}`.
pub fn load_file(path: &Path) -> Result<Compiled, ConfigErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: name.clone(),
            line: 0,
            column: 0,
            path: String::new(),
            message: format!("cannot read the file: {e}"),
        }])
    })?;
    load_str(&name, &text, |k| std::env::var(k).ok())
}

/// As [`load_file`], from text, with an explicit environment.
pub fn load_str(name: &str, text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Compiled, ConfigErrors> {
    load_layered(name, text, env, None)
}

/// A config published to the store, as one node serves it: `text` gives everything but the
/// settings that belong to the node (see [`Config::keep_node_settings`]), which come from
/// `local`, the node's own file. Errors name `name` and the published text's lines.
pub fn load_published(
    name: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
    local: &Config,
) -> Result<Compiled, ConfigErrors> {
    load_layered(name, text, env, Some(local))
}

fn load_layered(
    name: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
    local: Option<&Config>,
) -> Result<Compiled, ConfigErrors> {
    let error = |line, column, path: &str, message: String| ConfigError {
        file: name.to_owned(),
        line,
        column,
        path: path.to_owned(),
        message,
    };
    let text = interpolate(text, env).map_err(|e| ConfigErrors(vec![error(e.line, e.column, "", e.message)]))?;
    let positions = Positions::index(&text)
        .map_err(|e| ConfigErrors(vec![error(e.line, e.column, "", format!("YAML syntax error: {}", e.message))]))?;
    let mut config = parse(&text).map_err(|(path, message, fallback)| {
        let (line, column) = positions.find(&path).or(fallback).unwrap_or((1, 1));
        ConfigErrors(vec![error(line, column, &path, message)])
    })?;
    if let Some(local) = local {
        config.keep_node_settings(local);
    }
    Compiled::build(config).map_err(|issues| {
        ConfigErrors(
            issues
                .into_iter()
                .map(|(path, message)| {
                    let (line, column) = positions.find(&path).unwrap_or((1, 1));
                    error(line, column, &path, message)
                })
                .collect(),
        )
    })
}

type ParseFailure = (String, String, Option<(usize, usize)>);

fn parse(text: &str) -> Result<Config, ParseFailure> {
    if text.trim().is_empty() {
        return Err((String::new(), "the file is empty; see examples/quickstart.yaml".into(), None));
    }
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = render_path(e.path());
        let inner = e.into_inner();
        let fallback = inner.location().map(|l| (l.line(), l.column()));
        (path, suggest::decorate(&clean_message(&inner.to_string())), fallback)
    })
}

/// serde_yaml's message carries its own path prefix and location suffix; we print ours.
fn clean_message(raw: &str) -> String {
    let mut msg = raw;
    if let Some(i) = msg.rfind(" at line ") {
        if msg[i..].contains(" column ") {
            msg = &msg[..i];
        }
    }
    if let Some((head, tail)) = msg.split_once(": ") {
        let looks_like_path = !head.contains(' ') && !head.contains('`');
        if looks_like_path {
            msg = tail;
        }
    }
    msg.to_owned()
}

fn render_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out = crate::positions::join_index(&out, *index),
            Segment::Map { key } => out = crate::positions::join_key(&out, key),
            Segment::Enum { variant } => out = crate::positions::join_key(&out, variant),
            Segment::Unknown => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
