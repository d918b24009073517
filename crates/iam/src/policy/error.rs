//! Parse errors: the public [`PolicyError`] and the cheap path tracking used while compiling.

use std::fmt;

/// Why a policy document was refused.
///
/// `path` names the offending element, e.g. `Statement[1].Condition.StringEquals.aws:SourceIp`
/// (array indices are 0-based; a single `Statement` object has no index). `line` and `column`
/// (1-based) are present when the document was parsed from text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// JSON path of the offending element; empty for whole-document problems.
    pub path: String,
    /// 1-based line of the offending element in the source text.
    pub line: Option<usize>,
    /// 1-based column of the offending element in the source text.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}")?;
            if let Some(column) = self.column {
                write!(f, " column {column}")?;
            }
            f.write_str(": ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A compile failure before it is located in the source text.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) segs: Vec<Seg>,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn into_error(self, position: Option<(usize, usize)>) -> PolicyError {
        PolicyError {
            path: render_path(&self.segs),
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            message: self.message,
        }
    }
}

pub(crate) fn render_path(segs: &[Seg]) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Where the compiler currently is, as a borrowed linked list: building it costs nothing, and
/// the owned path is materialised only when an error is reported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loc<'a> {
    parent: Option<&'a Self>,
    step: Step<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> Loc<'a> {
    pub(crate) const ROOT: Loc<'static> = Loc { parent: None, step: Step::Root };

    pub(crate) fn key(&'a self, key: &'a str) -> Self {
        Loc { parent: Some(self), step: Step::Key(key) }
    }

    pub(crate) fn index(&'a self, index: usize) -> Self {
        Loc { parent: Some(self), step: Step::Index(index) }
    }

    pub(crate) fn fail(&self, message: impl Into<String>) -> Failure {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(loc) = cur {
            match loc.step {
                Step::Root => {}
                Step::Key(k) => segs.push(Seg::Key(k.to_owned())),
                Step::Index(i) => segs.push(Seg::Index(i)),
            }
            cur = loc.parent;
        }
        segs.reverse();
        Failure { segs, message: message.into() }
    }
}

/// The closest candidate to a misspelt name, for "did you mean" hints.
pub(crate) fn suggest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Appends "; did you mean `X`?" when a close candidate exists.
pub(crate) fn with_hint<'c>(message: String, name: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    match suggest(name, candidates) {
        Some(s) => format!("{message}; did you mean `{s}`?"),
        None => message,
    }
}
