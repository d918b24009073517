//! The `Condition` element: operators, set qualifiers, `IfExists`, and their evaluation.
//!
//! Every (operator, key) pair becomes one [`Condition`]; a statement ANDs them all. Values are
//! parsed into their typed form at compile time, so evaluation only parses the request's value.

use std::cmp::Ordering;

use ipnet::IpNet;
use serde_json::Value;

use super::context::RequestContext;
use super::error::{suggest, Failure, Loc};
use super::scalar;
use super::variables::{Template, Tmpl};
use super::wildcard::{ArnPattern, Pattern};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Str,
    StrIgnoreCase,
    Like,
    Num,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Self::Eq => ord.is_eq(),
            Self::Lt => ord.is_lt(),
            Self::Le => ord.is_le(),
            Self::Gt => ord.is_gt(),
            Self::Ge => ord.is_ge(),
        }
    }
}

/// (name, family, comparison, negated). Negated operators are the positive test inverted,
/// which gives IAM's rules: true when the key is missing, and with several values true only
/// when the request value matches none of them.
const OPERATORS: &[(&str, Family, Cmp, bool)] = &[
    ("StringEquals", Family::Str, Cmp::Eq, false),
    ("StringNotEquals", Family::Str, Cmp::Eq, true),
    ("StringEqualsIgnoreCase", Family::StrIgnoreCase, Cmp::Eq, false),
    ("StringNotEqualsIgnoreCase", Family::StrIgnoreCase, Cmp::Eq, true),
    ("StringLike", Family::Like, Cmp::Eq, false),
    ("StringNotLike", Family::Like, Cmp::Eq, true),
    ("NumericEquals", Family::Num, Cmp::Eq, false),
    ("NumericNotEquals", Family::Num, Cmp::Eq, true),
    ("NumericLessThan", Family::Num, Cmp::Lt, false),
    ("NumericLessThanEquals", Family::Num, Cmp::Le, false),
    ("NumericGreaterThan", Family::Num, Cmp::Gt, false),
    ("NumericGreaterThanEquals", Family::Num, Cmp::Ge, false),
    ("DateEquals", Family::Date, Cmp::Eq, false),
    ("DateNotEquals", Family::Date, Cmp::Eq, true),
    ("DateLessThan", Family::Date, Cmp::Lt, false),
    ("DateLessThanEquals", Family::Date, Cmp::Le, false),
    ("DateGreaterThan", Family::Date, Cmp::Gt, false),
    ("DateGreaterThanEquals", Family::Date, Cmp::Ge, false),
    ("Bool", Family::Bool, Cmp::Eq, false),
    ("BinaryEquals", Family::Binary, Cmp::Eq, false),
    ("IpAddress", Family::Ip, Cmp::Eq, false),
    ("NotIpAddress", Family::Ip, Cmp::Eq, true),
    ("ArnEquals", Family::Arn, Cmp::Eq, false),
    ("ArnLike", Family::Arn, Cmp::Eq, false),
    ("ArnNotEquals", Family::Arn, Cmp::Eq, true),
    ("ArnNotLike", Family::Arn, Cmp::Eq, true),
    ("Null", Family::Null, Cmp::Eq, false),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone)]
enum Values {
    Str {
        ignore_case: bool,
        values: Box<[Tmpl<Box<str>>]>,
    },
    Like(Box<[Tmpl<Pattern>]>),
    Num(Cmp, Box<[f64]>),
    Date(Cmp, Box<[i128]>),
    Bool(Box<[bool]>),
    Binary(Box<[Vec<u8>]>),
    Ip(Box<[IpNet]>),
    Arn(Box<[Tmpl<ArnPattern>]>),
    /// `true`: the key must be absent; `false`: present.
    Null(Box<[bool]>),
}

/// One operator applied to one key.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    key: Box<str>,
    negated: bool,
    set: SetOp,
    if_exists: bool,
    values: Values,
}

impl Condition {
    /// The condition key, as written.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }
}

/// Compiles a whole `Condition` element.
pub(crate) fn compile(v: &Value, loc: &Loc<'_>, variables: bool) -> Result<Vec<Condition>, Failure> {
    let Value::Object(ops) = v else { return Err(loc.fail("must be an object of condition operators")) };
    let mut out = Vec::new();
    for (name, block) in ops {
        let loc = loc.key(name);
        let (set, (_, family, cmp, negated), if_exists) = operator(name).map_err(|m| loc.fail(m))?;
        let keys = match block {
            Value::Object(keys) if !keys.is_empty() => keys,
            _ => return Err(loc.fail("must be a non-empty object of condition keys to values")),
        };
        for (key, raw) in keys {
            let loc = loc.key(key);
            if key.is_empty() {
                return Err(loc.fail("condition key must not be empty"));
            }
            let values = compile_values(*family, *cmp, raw, &loc, variables)?;
            out.push(Condition { key: key.to_ascii_lowercase().into(), negated: *negated, set, if_exists, values });
        }
    }
    // Conditions are ANDed and side-effect free, so the cheap ones go first to fail fast.
    out.sort_by_key(|c| c.values.cost());
    Ok(out)
}

type OpDef = (&'static str, Family, Cmp, bool);

fn operator(name: &str) -> Result<(SetOp, &'static OpDef, bool), String> {
    let (set, prefix, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (SetOp::ForAnyValue, "ForAnyValue:", r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (SetOp::ForAllValues, "ForAllValues:", r)
    } else {
        (SetOp::Single, "", name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let Some(def) = OPERATORS.iter().find(|d| d.0 == base) else {
        let mut msg = format!("unknown condition operator `{name}`");
        let candidates: Vec<String> =
            OPERATORS.iter().flat_map(|d| [d.0.to_owned(), format!("{}IfExists", d.0)]).collect();
        if let Some(hint) = suggest(rest, candidates.iter().map(String::as_str)) {
            msg.push_str(&format!("; did you mean `{prefix}{hint}`?"));
        }
        return Err(msg);
    };
    if def.1 == Family::Null && (if_exists || set != SetOp::Single) {
        return Err(format!("`Null` cannot take `IfExists` or a set qualifier (in `{name}`)"));
    }
    Ok((set, def, if_exists))
}

/// Reads a condition value: a string, number or boolean, or a non-empty array of them.
fn scalars<T>(v: &Value, loc: &Loc<'_>, mut each: impl FnMut(&str) -> Result<T, String>) -> Result<Box<[T]>, Failure> {
    let one = |v: &Value, loc: &Loc<'_>, each: &mut dyn FnMut(&str) -> Result<T, String>| match v {
        Value::String(s) => each(s).map_err(|m| loc.fail(m)),
        Value::Number(n) => each(&n.to_string()).map_err(|m| loc.fail(m)),
        Value::Bool(b) => each(if *b { "true" } else { "false" }).map_err(|m| loc.fail(m)),
        _ => Err(loc.fail("condition value must be a string, number or boolean")),
    };
    match v {
        Value::Array(items) if items.is_empty() => Err(loc.fail("must not be an empty array")),
        Value::Array(items) => items.iter().enumerate().map(|(i, item)| one(item, &loc.index(i), &mut each)).collect(),
        _ => Ok(Box::new([one(v, loc, &mut each)?])),
    }
}

fn compile_values(family: Family, cmp: Cmp, raw: &Value, loc: &Loc<'_>, vars: bool) -> Result<Values, Failure> {
    let template = |s: &str| if vars { Template::parse(s) } else { Ok(None) };
    Ok(match family {
        Family::Str | Family::StrIgnoreCase => Values::Str {
            ignore_case: family == Family::StrIgnoreCase,
            values: scalars(raw, loc, |s| Ok(template(s)?.map_or_else(|| Tmpl::Static(s.into()), Tmpl::Dynamic)))?,
        },
        Family::Like => Values::Like(scalars(raw, loc, |s| Tmpl::pattern(s, vars))?),
        Family::Arn => Values::Arn(scalars(raw, loc, |s| {
            Ok(template(s)?.map_or_else(|| Tmpl::Static(ArnPattern::new(s)), Tmpl::Dynamic))
        })?),
        Family::Num => {
            Values::Num(cmp, scalars(raw, loc, |s| scalar::number(s).ok_or_else(|| format!("invalid number `{s}`")))?)
        }
        Family::Date => Values::Date(
            cmp,
            scalars(raw, loc, |s| {
                scalar::date(s)
                    .ok_or_else(|| format!("invalid date `{s}`: expected ISO 8601 / RFC 3339 or epoch seconds"))
            })?,
        ),
        Family::Bool => Values::Bool(scalars(raw, loc, |s| scalar::boolean(s).ok_or_else(|| bool_error(s)))?),
        Family::Null => Values::Null(scalars(raw, loc, |s| scalar::boolean(s).ok_or_else(|| bool_error(s)))?),
        Family::Binary => {
            Values::Binary(scalars(raw, loc, |s| scalar::base64(s).ok_or_else(|| format!("invalid base64 `{s}`")))?)
        }
        Family::Ip => Values::Ip(scalars(raw, loc, |s| {
            scalar::network(s).ok_or_else(|| format!("invalid IP address or CIDR block `{s}`"))
        })?),
    })
}

fn bool_error(s: &str) -> String {
    format!("invalid boolean `{s}`: expected \"true\" or \"false\"")
}

impl Values {
    /// Rough evaluation cost: presence tests, then string compares, then value parsing.
    fn cost(&self) -> u8 {
        match self {
            Self::Null(_) => 0,
            Self::Bool(_) | Self::Str { .. } => 1,
            Self::Like(_) | Self::Arn(_) => 2,
            Self::Num(..) | Self::Binary(_) => 3,
            Self::Ip(_) => 4,
            Self::Date(..) => 5,
        }
    }
}

impl Condition {
    /// Whether this condition holds for the request.
    pub(crate) fn holds(&self, ctx: &RequestContext) -> bool {
        let found = ctx.lookup(&self.key);
        if let Values::Null(expect_absent) = &self.values {
            return expect_absent.contains(&found.is_none());
        }
        let Some(found) = found else {
            return self.if_exists
                || match self.set {
                    SetOp::Single => self.negated,
                    SetOp::ForAnyValue => false,
                    SetOp::ForAllValues => true,
                };
        };
        let test = |v: &str| self.matches_any(v, ctx) != self.negated;
        match self.set {
            // A plain negated operator over several request values must hold for all of them:
            // "matches none of the policy values".
            SetOp::Single if self.negated => found.iter().all(test),
            SetOp::Single | SetOp::ForAnyValue => found.iter().any(test),
            SetOp::ForAllValues => found.iter().all(test),
        }
    }

    /// The positive test: does the request value `v` match any of the policy values?
    fn matches_any(&self, v: &str, ctx: &RequestContext) -> bool {
        match &self.values {
            Values::Str { ignore_case, values } => values.iter().any(|t| match t {
                Tmpl::Static(s) => str_eq(s, v, *ignore_case),
                Tmpl::Dynamic(t) => t.render_text(ctx).is_some_and(|s| str_eq(&s, v, *ignore_case)),
            }),
            Values::Like(patterns) => patterns.iter().any(|p| p.matches(v, ctx)),
            Values::Num(cmp, values) => {
                scalar::number(v).is_some_and(|x| values.iter().any(|y| x.partial_cmp(y).is_some_and(|o| cmp.holds(o))))
            }
            Values::Date(cmp, values) => scalar::date(v).is_some_and(|x| values.iter().any(|y| cmp.holds(x.cmp(y)))),
            Values::Bool(values) => scalar::boolean(v).is_some_and(|b| values.contains(&b)),
            Values::Binary(values) => scalar::base64(v).is_some_and(|b| values.contains(&b)),
            Values::Ip(nets) => scalar::address(v).is_some_and(|ip| nets.iter().any(|n| n.contains(&ip))),
            Values::Arn(patterns) => patterns.iter().any(|p| match p {
                Tmpl::Static(a) => a.matches(v),
                Tmpl::Dynamic(t) => t.render_tokens(ctx).is_some_and(|toks| ArnPattern::from_tokens(toks).matches(v)),
            }),
            Values::Null(_) => false,
        }
    }
}

fn str_eq(a: &str, b: &str, ignore_case: bool) -> bool {
    if ignore_case {
        a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
    } else {
        a == b
    }
}
