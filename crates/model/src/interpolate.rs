//! `${VAR}` and `${VAR:-default}` environment interpolation, applied to the config text
//! before it is parsed. `$${` writes a literal `${`. Placeholders whose name is not an
//! environment-variable name (such as `${stageVariables.x}`) are left as they are, and so are
//! comment lines (lines whose first non-blank character is `#`).

/// Where interpolation failed: 1-based line and column, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InterpolateError {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
}

/// Replaces every `${VAR}` / `${VAR:-default}` in `text` using `lookup`.
pub(crate) fn interpolate(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if on_comment_line(text, text.len() - tail.len()) {
            out.push('$');
            rest = &tail[1..];
            continue;
        }
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
            continue;
        }
        let Some(body) = tail.strip_prefix("${") else {
            out.push('$');
            rest = &tail[1..];
            continue;
        };
        let Some(end) = body.find('}') else {
            out.push_str(tail);
            rest = "";
            continue;
        };
        let inner = &body[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        if !is_env_name(name) {
            out.push_str(&tail[..end + 3]);
            rest = &body[end + 1..];
            continue;
        }
        let value = match (lookup(name), default) {
            (Some(v), _) if !v.is_empty() => v,
            (_, Some(d)) => d.to_owned(),
            (Some(v), None) => v,
            (None, None) => {
                let offset = text.len() - tail.len();
                let (line, column) = line_col(text, offset);
                return Err(InterpolateError {
                    line,
                    column,
                    message: format!(
                        "environment variable {name} is not set (use ${{{name}:-default}} to give a default)"
                    ),
                });
            }
        };
        if value.contains('\n') {
            let (line, column) = line_col(text, text.len() - tail.len());
            return Err(InterpolateError {
                line,
                column,
                message: format!("environment variable {name} holds a newline, which config values may not"),
            });
        }
        out.push_str(&value);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn on_comment_line(text: &str, offset: usize) -> bool {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..offset].trim_start().starts_with('#')
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::interpolate;

    fn env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("8443".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_defaults_and_escapes() {
        let got = interpolate("a: ${PORT}\nb: ${NOPE:-x:y}\nc: $${PORT}\nd: ${EMPTY:-z}\ne: $5", env);
        assert_eq!(got.as_deref(), Ok("a: 8443\nb: x:y\nc: ${PORT}\nd: z\ne: $5"));
    }

    #[test]
    fn comment_lines_are_left_alone() {
        let got = interpolate("# uses ${NOT_SET}\n  # ${ALSO}\na: ${PORT} # ${PORT}\n", env);
        assert_eq!(got.as_deref(), Ok("# uses ${NOT_SET}\n  # ${ALSO}\na: 8443 # 8443\n"));
    }

    #[test]
    fn leaves_stage_variables_alone() {
        let got = interpolate("url: http://h/${stageVariables.v}/", env);
        assert_eq!(got.as_deref(), Ok("url: http://h/${stageVariables.v}/"));
    }

    #[test]
    fn names_the_place_of_a_missing_variable() {
        let err = interpolate("a: 1\nb:   ${MISSING}\n", env).err().unwrap_or_else(|| panic!("expected an error"));
        assert_eq!((err.line, err.column), (2, 6));
        assert!(err.message.contains("MISSING"));
    }
}
