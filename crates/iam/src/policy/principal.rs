//! `Principal` / `NotPrincipal` elements of resource policies.
//!
//! Accepted forms: `"*"`, or an object whose keys are `AWS`, `Federated` or `Service`, each a
//! string or an array of strings. `AWS` values are `"*"` (everyone, anonymous included), a
//! 12-digit account id or `arn:…:iam::ACCOUNT:root` (any principal of that account), a role ARN
//! (the role's sessions too), or any other principal ARN (compared exactly). IAM forbids partial
//! wildcards in principals, so they are refused. `Federated` and `Service` values are compared
//! literally with the caller ARN: this gateway has no federation or service callers of its own,
//! so they only match callers whose ARN is exactly that string.

use serde_json::Value;

use super::context::{Principal, PrincipalKind};
use super::error::{with_hint, Failure, Loc};
use super::parse::strings;

#[derive(Debug, Clone)]
enum Matcher {
    Everyone,
    Account(Box<str>),
    Role { arn: Box<str>, account: Box<str>, name: Box<str> },
    Exact(Box<str>),
}

/// A compiled `Principal` (or, with `negated`, `NotPrincipal`) element.
#[derive(Debug, Clone)]
pub(crate) struct PrincipalSet {
    negated: bool,
    matchers: Box<[Matcher]>,
}

const KEYS: [&str; 3] = ["AWS", "Federated", "Service"];

impl PrincipalSet {
    pub(crate) fn compile(v: &Value, loc: &Loc<'_>, negated: bool) -> Result<Self, Failure> {
        let mut matchers = Vec::new();
        match v {
            Value::String(s) if s == "*" => matchers.push(Matcher::Everyone),
            Value::Object(map) if !map.is_empty() => {
                for (key, value) in map {
                    let loc = loc.key(key);
                    match key.as_str() {
                        "AWS" => strings(value, &loc, |s, loc| {
                            matchers.push(aws(s).map_err(|m| loc.fail(m))?);
                            Ok(())
                        })?,
                        "Federated" | "Service" => strings(value, &loc, |s, _| {
                            matchers.push(Matcher::Exact(s.into()));
                            Ok(())
                        })?,
                        _ => {
                            let msg = format!("unsupported principal type `{key}`");
                            return Err(loc.fail(with_hint(msg, key, KEYS)));
                        }
                    }
                }
            }
            _ => {
                return Err(loc.fail("must be \"*\" or an object such as {\"AWS\": \"arn:aws:iam::123456789012:root\"}"))
            }
        }
        Ok(Self { negated, matchers: matchers.into() })
    }

    /// Whether the statement applies to `caller` (`None` or an anonymous kind: anonymous).
    pub(crate) fn applies(&self, caller: Option<&Principal>) -> bool {
        let caller = caller.filter(|p| p.kind != PrincipalKind::Anonymous);
        self.matchers.iter().any(|m| m.matches(caller)) != self.negated
    }
}

impl Matcher {
    fn matches(&self, caller: Option<&Principal>) -> bool {
        let Some(p) = caller else { return matches!(self, Self::Everyone) };
        match self {
            Self::Everyone => true,
            Self::Account(a) => p.account == **a,
            Self::Exact(arn) => p.arn == **arn,
            Self::Role { arn, account, name } => {
                p.arn == **arn
                    || (p.kind == PrincipalKind::AssumedRole
                        && p.account == **account
                        && assumed_role_name(&p.arn) == Some(&**name))
            }
        }
    }
}

/// `arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION` → `NAME`.
fn assumed_role_name(arn: &str) -> Option<&str> {
    arn.splitn(6, ':').nth(5)?.strip_prefix("assumed-role/")?.split('/').next()
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn aws(s: &str) -> Result<Matcher, String> {
    if s == "*" {
        return Ok(Matcher::Everyone);
    }
    if is_account_id(s) {
        return Ok(Matcher::Account(s.into()));
    }
    if s.contains(['*', '?']) {
        return Err(format!("wildcards are not allowed in principal `{s}`; use \"*\" alone"));
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, _partition, service, _region, account, resource] = parts[..] else {
        return Err(format!("invalid principal `{s}`: expected \"*\", an account id or an ARN"));
    };
    if arn != "arn" || !is_account_id(account) || resource.is_empty() {
        return Err(format!("invalid principal `{s}`: expected \"*\", an account id or an ARN"));
    }
    Ok(match (service, resource) {
        ("iam", "root") => Matcher::Account(account.into()),
        ("iam", r) if r.starts_with("role/") => {
            Matcher::Role { arn: s.into(), account: account.into(), name: r.rsplit('/').next().unwrap_or(r).into() }
        }
        _ => Matcher::Exact(s.into()),
    })
}
