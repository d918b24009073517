//! The IAM policy language and its evaluator, with AWS semantics (reference §2).
//!
//! A document is compiled once ([`Policy::parse`]) into statements whose actions are
//! pre-lower-cased, wildcard patterns pre-classified, and condition values (CIDRs, numbers,
//! dates, base64) pre-parsed; evaluation ([`evaluate`], [`evaluate_resource`]) walks no JSON and
//! allocates only where a pattern uses a policy variable.
//!
//! Identity policies (the default) must not name a principal; resource policies
//! ([`Policy::parse_resource_policy`]) must name one in every statement.

mod condition;
mod context;
mod error;
mod eval;
mod locate;
pub mod managed;
mod parse;
mod principal;
mod scalar;
mod variables;
mod wildcard;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

pub use context::{Principal, PrincipalKind, RequestContext};
pub use error::PolicyError;
pub use eval::{combine_cross_account, combine_same_account, evaluate, evaluate_all, evaluate_resource};

/// Whether a statement grants or refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Grants access when the statement matches.
    Allow,
    /// Refuses access when the statement matches, whatever else allows it.
    Deny,
}

/// The outcome of evaluating policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// A statement allowed the request and none denied it.
    Allow,
    /// A `Deny` statement matched.
    ExplicitDeny,
    /// Nothing matched.
    ImplicitDeny,
}

/// Where a policy is attached, which decides whether statements name a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a caller (user, role, group, or returned by an authorizer): no `Principal`.
    Identity,
    /// Attached to an API: every statement has `Principal` or `NotPrincipal`.
    Resource,
}

/// The document's `Version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    /// `2008-10-17`, also assumed when `Version` is absent: policy variables are plain text.
    V2008_10_17,
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
}

/// A compiled policy document. Cloning is cheap (shared).
#[derive(Clone)]
pub struct Policy {
    inner: Arc<Inner>,
}

struct Inner {
    document: Value,
    kind: PolicyKind,
    compiled: parse::Compiled,
    /// Lower-cased condition keys the statements test.
    condition_keys: Box<[String]>,
    /// Whether any value may substitute a policy variable (which can name any key).
    has_variables: bool,
}

impl Policy {
    /// Parses an identity policy from JSON text. Errors carry the path and the 1-based
    /// line/column of the offending element. Duplicate keys in one object are refused.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        Self::parse_as(json, PolicyKind::Identity)
    }

    /// Parses a resource policy from JSON text.
    pub fn parse_resource_policy(json: &str) -> Result<Self, PolicyError> {
        Self::parse_as(json, PolicyKind::Resource)
    }

    /// Parses a policy of the given kind from JSON text.
    pub fn parse_as(json: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let document: Value = serde_json::from_str(json).map_err(|e| PolicyError {
            path: String::new(),
            line: Some(e.line()),
            column: Some(e.column()),
            message: syntax_message(&e),
        })?;
        if let Some((segs, (line, column))) = locate::duplicate_key(json) {
            let key = match segs.last() {
                Some(error::Seg::Key(k)) => k.as_str(),
                _ => "",
            };
            let message = format!("duplicate key `{key}`");
            return Err(PolicyError {
                path: error::render_path(&segs),
                line: Some(line),
                column: Some(column),
                message,
            });
        }
        Self::compile(document, kind).map_err(|f| {
            let position = locate::position(json, &f.segs);
            f.into_error(position)
        })
    }

    /// Parses an identity policy already decoded (e.g. from YAML). Errors carry the path only.
    pub fn from_value(v: &Value) -> Result<Self, PolicyError> {
        Self::from_value_as(v, PolicyKind::Identity)
    }

    /// Parses a policy of the given kind already decoded. Errors carry the path only.
    pub fn from_value_as(v: &Value, kind: PolicyKind) -> Result<Self, PolicyError> {
        Self::compile(v.clone(), kind).map_err(|f| f.into_error(None))
    }

    fn compile(document: Value, kind: PolicyKind) -> Result<Self, error::Failure> {
        let compiled = parse::compile(&document, kind)?;
        let mut condition_keys: Vec<String> = compiled
            .statements
            .iter()
            .flat_map(|s| s.conditions.iter().map(|c| c.key().to_ascii_lowercase()))
            .collect();
        condition_keys.sort_unstable();
        condition_keys.dedup();
        let has_variables = compiled.version == PolicyVersion::V2012_10_17 && document.to_string().contains("${");
        let condition_keys = condition_keys.into_boxed_slice();
        Ok(Self { inner: Arc::new(Inner { document, kind, compiled, condition_keys, has_variables }) })
    }

    /// The original document (for storage and display).
    pub fn document(&self) -> &Value {
        &self.inner.document
    }

    /// Whether evaluating this policy may read condition key `key` (case-insensitive): a
    /// condition tests it, or a policy variable could name it. Callers use it to skip building
    /// request keys that no policy reads.
    pub fn may_read(&self, key: &str) -> bool {
        self.inner.has_variables || self.inner.condition_keys.iter().any(|k| k.eq_ignore_ascii_case(key))
    }

    /// Number of statements.
    pub fn statement_count(&self) -> usize {
        self.inner.compiled.statements.len()
    }

    /// Identity or resource policy.
    pub fn kind(&self) -> PolicyKind {
        self.inner.kind
    }

    /// The document's version (2008-10-17 when absent).
    pub fn version(&self) -> PolicyVersion {
        self.inner.compiled.version
    }

    /// The document's `Id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.inner.compiled.id.as_deref()
    }

    pub(crate) fn statements(&self) -> &[parse::Statement] {
        &self.inner.compiled.statements
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("kind", &self.inner.kind)
            .field("version", &self.inner.compiled.version)
            .field("statements", &self.statement_count())
            .field("document", &self.inner.document)
            .finish()
    }
}

/// serde_json's message without its " at line L column C" suffix, which the error carries apart.
fn syntax_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}
