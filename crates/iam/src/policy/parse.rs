//! Compiles a decoded policy document into statements ready for evaluation.

use serde_json::{Map, Value};

use super::condition::{self, Condition};
use super::error::{with_hint, Failure, Loc};
use super::principal::PrincipalSet;
use super::variables::Tmpl;
use super::wildcard::{Case, Pattern};
use super::{Effect, PolicyKind, PolicyVersion};

/// An `Action`/`Resource` list, or with `negated` its `NotAction`/`NotResource` form.
#[derive(Debug, Clone)]
pub(crate) struct Matcher<T> {
    pub(crate) negated: bool,
    pub(crate) items: Box<[T]>,
}

/// A compiled statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) sid: Option<Box<str>>,
    pub(crate) effect: Effect,
    pub(crate) principals: Option<PrincipalSet>,
    pub(crate) actions: Matcher<Pattern>,
    pub(crate) resources: Matcher<Tmpl<Pattern>>,
    pub(crate) conditions: Box<[Condition]>,
}

/// The compiled parts of a document.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) version: PolicyVersion,
    pub(crate) id: Option<String>,
    pub(crate) statements: Box<[Statement]>,
}

const POLICY_KEYS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_KEYS: [&str; 9] =
    ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

pub(crate) fn compile(doc: &Value, kind: PolicyKind) -> Result<Compiled, Failure> {
    let root = Loc::ROOT;
    let Value::Object(obj) = doc else { return Err(root.fail("policy document must be a JSON object")) };
    check_keys(obj, &POLICY_KEYS, &root)?;
    // IAM reads a document without Version as 2008-10-17, where `${…}` is plain text.
    let version = match obj.get("Version") {
        None => PolicyVersion::V2008_10_17,
        Some(Value::String(v)) if v == "2012-10-17" => PolicyVersion::V2012_10_17,
        Some(Value::String(v)) if v == "2008-10-17" => PolicyVersion::V2008_10_17,
        Some(v) => return Err(root.key("Version").fail(format!("unsupported version {v}: use \"2012-10-17\""))),
    };
    let id = match obj.get("Id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(root.key("Id").fail("must be a string")),
    };
    let loc = root.key("Statement");
    let variables = version == PolicyVersion::V2012_10_17;
    let statements: Vec<Statement> = match obj.get("Statement") {
        None => return Err(root.fail("missing required element `Statement`")),
        Some(Value::Array(items)) if items.is_empty() => return Err(loc.fail("must not be an empty array")),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| statement(s, &loc.index(i), kind, variables))
            .collect::<Result<_, _>>()?,
        Some(s @ Value::Object(_)) => vec![statement(s, &loc, kind, variables)?],
        Some(_) => return Err(loc.fail("must be an object or an array of objects")),
    };
    // IAM refuses repeated Sids; they would make denial explanations ambiguous.
    for (i, s) in statements.iter().enumerate() {
        if let Some(sid) = &s.sid {
            if statements[..i].iter().any(|o| o.sid.as_ref() == Some(sid)) {
                let at = if obj.get("Statement").is_some_and(Value::is_array) { loc.index(i) } else { loc };
                return Err(at.key("Sid").fail(format!("duplicate Sid `{sid}`")));
            }
        }
    }
    Ok(Compiled { version, id, statements: statements.into() })
}

fn check_keys(obj: &Map<String, Value>, allowed: &[&str], loc: &Loc<'_>) -> Result<(), Failure> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(loc.key(k).fail(with_hint(format!("unknown element `{k}`"), k, allowed.iter().copied()))),
        None => Ok(()),
    }
}

/// Which of two mutually exclusive elements is present, if any.
fn either<'v>(
    obj: &'v Map<String, Value>,
    plain: &'static str,
    not: &'static str,
    loc: &Loc<'_>,
) -> Result<Option<(bool, &'static str, &'v Value)>, Failure> {
    match (obj.get(plain), obj.get(not)) {
        (Some(_), Some(_)) => Err(loc.key(not).fail(format!("`{plain}` and `{not}` cannot both be present"))),
        (Some(v), None) => Ok(Some((false, plain, v))),
        (None, Some(v)) => Ok(Some((true, not, v))),
        (None, None) => Ok(None),
    }
}

fn statement(v: &Value, loc: &Loc<'_>, kind: PolicyKind, variables: bool) -> Result<Statement, Failure> {
    let Value::Object(obj) = v else { return Err(loc.fail("statement must be a JSON object")) };
    check_keys(obj, &STATEMENT_KEYS, loc)?;
    let sid = match obj.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str().into()),
        Some(_) => return Err(loc.key("Sid").fail("must be a string")),
    };
    let effect = match obj.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(_) => return Err(loc.key("Effect").fail("must be \"Allow\" or \"Deny\"")),
        None => return Err(loc.fail("missing required element `Effect`")),
    };

    let principals = match (either(obj, "Principal", "NotPrincipal", loc)?, kind) {
        (Some((_, name, _)), PolicyKind::Identity) => {
            return Err(loc.key(name).fail("Policy document should not specify a principal"))
        }
        (Some((negated, name, v)), PolicyKind::Resource) => Some(PrincipalSet::compile(v, &loc.key(name), negated)?),
        (None, PolicyKind::Resource) => {
            return Err(loc.fail("missing required element `Principal` or `NotPrincipal` (resource policy)"))
        }
        (None, PolicyKind::Identity) => None,
    };

    let Some((negated, name, raw)) = either(obj, "Action", "NotAction", loc)? else {
        return Err(loc.fail("missing required element `Action` or `NotAction`"));
    };
    let mut items = Vec::new();
    strings(raw, &loc.key(name), |s, loc| {
        check_action(s).map_err(|m| loc.fail(m))?;
        items.push(Pattern::new(s, Case::Insensitive));
        Ok(())
    })?;
    let actions = Matcher { negated, items: items.into() };

    let Some((negated, name, raw)) = either(obj, "Resource", "NotResource", loc)? else {
        return Err(loc.fail("missing required element `Resource` or `NotResource`"));
    };
    let mut items = Vec::new();
    strings(raw, &loc.key(name), |s, loc| {
        check_resource(s).map_err(|m| loc.fail(m))?;
        items.push(Tmpl::pattern(s, variables).map_err(|m| loc.fail(m))?);
        Ok(())
    })?;
    let resources = Matcher { negated, items: items.into() };

    let conditions = match obj.get("Condition") {
        Some(c) => condition::compile(c, &loc.key("Condition"), variables)?.into(),
        None => Box::default(),
    };
    Ok(Statement { sid, effect, principals, actions, resources, conditions })
}

/// Calls `each` for a string or for every element of a non-empty array of strings.
pub(crate) fn strings<'v>(
    v: &'v Value,
    loc: &Loc<'_>,
    mut each: impl FnMut(&'v str, &Loc<'_>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    match v {
        Value::String(s) => each(s, loc),
        Value::Array(items) if items.is_empty() => Err(loc.fail("must not be an empty array")),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| match item {
            Value::String(s) => each(s, &loc.index(i)),
            _ => Err(loc.index(i).fail("must be a string")),
        }),
        _ => Err(loc.fail("must be a string or an array of strings")),
    }
}

fn check_action(s: &str) -> Result<(), String> {
    if s == "*" {
        return Ok(());
    }
    let valid = s.split_once(':').is_some_and(|(service, action)| {
        !service.is_empty()
            && service.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !action.is_empty()
            && !action.contains(':')
            && !action.contains(char::is_whitespace)
    });
    if valid {
        Ok(())
    } else {
        Err(format!("invalid action `{s}`: expected \"*\" or \"service:action\" (e.g. \"execute-api:Invoke\")"))
    }
}

fn check_resource(s: &str) -> Result<(), String> {
    if s == "*" || (s.starts_with("arn:") && s.matches(':').count() >= 3) {
        Ok(())
    } else if s.starts_with("execute-api:/") {
        // API Gateway expands this short form when a resource policy is saved; so must the caller.
        Err(format!("the short form `{s}` must be expanded to a full execute-api ARN before parsing"))
    } else {
        Err(format!("invalid resource `{s}`: expected \"*\" or an ARN (arn:partition:service:region:account:resource)"))
    }
}
