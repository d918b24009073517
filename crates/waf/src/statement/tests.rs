// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;

use super::{Comparison, Fallback, ForwardedIp, ForwardedPosition, LabelScope, Positional, Statement as S};
use crate::eval::{Evaluation, NotApplied};
use crate::testutil::view;
use crate::{FieldToMatch as F, RequestView, Transformation as T};

const PREFIX: &str = "portcullis:webacl:t:";

fn eval(s: &S, v: &RequestView<'_>) -> Result<bool, NotApplied> {
    s.eval(&mut Evaluation::new(v, PREFIX))
}

fn bm(position: Positional, search: &str, transforms: &[T]) -> S {
    S::ByteMatch { field: F::QueryString, transforms: transforms.to_vec(), position, search: search.into() }
}

fn q(query: &'static [u8]) -> RequestView<'static> {
    view(query, &[])
}

#[test]
fn positional_constraints() {
    use Positional::*;
    let cases: &[(Positional, &str, &[u8], bool)] = &[
        (Exactly, "abc", b"abc", true),
        (Exactly, "abc", b"abcd", false),
        (StartsWith, "ab", b"abc", true),
        (StartsWith, "bc", b"abc", false),
        (EndsWith, "bc", b"abc", true),
        (EndsWith, "ab", b"abc", false),
        (Contains, "b", b"abc", true),
        (Contains, "x", b"abc", false),
        (Contains, "abc", b"ab", false),
        (ContainsWord, "BadBot", b"BadBot", true),
        (ContainsWord, "BadBot", b";BadBot", true),
        (ContainsWord, "BadBot", b"BadBot;", true),
        (ContainsWord, "BadBot", b"-BadBot;", true),
        (ContainsWord, "BadBot", b"xBadBot ", false),
        (ContainsWord, "BadBot", b" BadBot_", false),
        (ContainsWord, "BadBot", b"BadBot9", false),
        // A later occurrence can be a word when the first is not.
        (ContainsWord, "bot", b"robot bot", true),
        (ContainsWord, "bot", b"robots", false),
    ];
    for &(pos, search, query, want) in cases {
        let got = eval(&bm(pos, search, &[]), &q(query));
        assert_eq!(got, Ok(want), "{pos:?} {search:?} in {:?}", query.escape_ascii().to_string());
    }
}

#[test]
fn transformations_run_before_matching() {
    let s = bm(Positional::Contains, "union select", &[T::UrlDecode, T::Lowercase]);
    assert_eq!(eval(&s, &q(b"id=1%20%55NION+SeLeCt")), Ok(true));
    assert_eq!(eval(&bm(Positional::Contains, "union", &[]), &q(b"id=1%20%55NION")), Ok(false));
}

#[test]
fn multi_valued_field_matches_when_any_value_does() {
    let s = S::ByteMatch {
        field: F::AllQueryArguments,
        transforms: vec![],
        position: Positional::Exactly,
        search: b"evil".to_vec(),
    };
    assert_eq!(eval(&s, &q(b"a=ok&b=evil&c=ok")), Ok(true));
    assert_eq!(eval(&s, &q(b"a=ok&b=evilish")), Ok(false));
    assert_eq!(eval(&s, &q(b"")), Ok(false));
}

#[test]
fn regex_and_pattern_set() {
    let re = S::RegexMatch {
        field: F::UriPath,
        transforms: vec![T::Lowercase],
        regex: regex::bytes::Regex::new(r"^/admin(/|$)").unwrap(),
    };
    let mut v = q(b"");
    v.path = b"/ADMIN/x";
    assert_eq!(eval(&re, &v), Ok(true));
    v.path = b"/administrator";
    assert_eq!(eval(&re, &v), Ok(false));
    let set = S::RegexPatternSet {
        field: F::QueryString,
        transforms: vec![],
        set: regex::bytes::RegexSet::new([r"\.\./", r"etc/passwd"]).unwrap(),
    };
    assert_eq!(eval(&set, &q(b"f=../x")), Ok(true));
    assert_eq!(eval(&set, &q(b"f=/etc/passwd")), Ok(true));
    assert_eq!(eval(&set, &q(b"f=ok")), Ok(false));
}

#[test]
fn size_constraint_after_transforms() {
    use Comparison::*;
    let s = |op, size, transforms: &[T]| S::SizeConstraint {
        field: F::QueryString,
        transforms: transforms.to_vec(),
        op,
        size,
    };
    let v = q(b"%41%42"); // 6 raw bytes, 2 decoded
    for (op, size, want) in
        [(Eq, 6, true), (Ne, 6, false), (Le, 6, true), (Lt, 6, false), (Ge, 7, false), (Gt, 5, true)]
    {
        assert_eq!(eval(&s(op, size, &[]), &v), Ok(want), "{op:?} {size}");
    }
    assert_eq!(eval(&s(Eq, 2, &[T::UrlDecode]), &v), Ok(true));
}

fn ip_set(cidrs: &[&str], forwarded: Option<ForwardedIp>) -> S {
    S::IpSet { nets: cidrs.iter().map(|c| c.parse().unwrap()).collect(), forwarded }
}

fn xff(position: ForwardedPosition, fallback: Fallback) -> Option<ForwardedIp> {
    Some(ForwardedIp { header: "x-forwarded-for".into(), position, fallback })
}

#[test]
fn ip_set_on_client_address() {
    let s = ip_set(&["10.0.0.0/8", "2001:db8::/32"], None);
    let mut v = q(b"");
    v.client_ip = IpAddr::from([10, 1, 2, 3]);
    assert_eq!(eval(&s, &v), Ok(true));
    v.client_ip = "2001:db8::1".parse().unwrap();
    assert_eq!(eval(&s, &v), Ok(true));
    v.client_ip = IpAddr::from([11, 0, 0, 1]);
    assert_eq!(eval(&s, &v), Ok(false));
}

#[test]
fn ip_set_on_forwarded_header() {
    use ForwardedPosition::*;
    let nets = ["10.0.0.0/8"];
    let with = |h: &'static [u8]| view(b"", &[("x-forwarded-for", h)]);
    assert_eq!(eval(&ip_set(&nets, xff(First, Fallback::NoMatch)), &with(b"10.0.0.1, 1.1.1.1")), Ok(true));
    assert_eq!(eval(&ip_set(&nets, xff(Last, Fallback::NoMatch)), &with(b"10.0.0.1, 1.1.1.1")), Ok(false));
    assert_eq!(eval(&ip_set(&nets, xff(Last, Fallback::NoMatch)), &with(b"1.1.1.1, 10.0.0.1:443")), Ok(true));
    // ANY looks at the last ten only.
    let eleven: &'static [u8] =
        b"10.0.0.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1";
    assert_eq!(eval(&ip_set(&nets, xff(Any, Fallback::NoMatch)), &with(eleven)), Ok(false));
    assert_eq!(eval(&ip_set(&nets, xff(Any, Fallback::NoMatch)), &with(b"1.1.1.1, 10.9.9.9, 2.2.2.2")), Ok(true));
    // No valid address at the position: the fallback.
    assert_eq!(eval(&ip_set(&nets, xff(First, Fallback::Match)), &with(b"junk, 10.0.0.1")), Ok(true));
    assert_eq!(eval(&ip_set(&nets, xff(First, Fallback::NoMatch)), &with(b"junk")), Ok(false));
    // No header: the rule does not apply at all, even under Not.
    let missing = view(b"", &[]);
    assert_eq!(eval(&ip_set(&nets, xff(First, Fallback::Match)), &missing), Err(NotApplied));
    let not = S::Not(Box::new(ip_set(&nets, xff(First, Fallback::Match))));
    assert_eq!(eval(&not, &missing), Err(NotApplied));
}

#[test]
fn label_match_scopes_and_prefixes() {
    let v = q(b"");
    let mut ev = Evaluation::new(&v, PREFIX);
    ev.labels.push(format!("{PREFIX}bot:category:scraper"));
    ev.labels.push("portcullis:webacl:other:x".into());
    let lm = |scope, key: &str| S::LabelMatch { scope, key: key.into() };
    let cases = [
        (lm(LabelScope::Label, "bot:category:scraper"), true),
        (lm(LabelScope::Label, "bot:category"), false),
        (lm(LabelScope::Namespace, "bot:category"), true),
        (lm(LabelScope::Namespace, "bot:category:"), true),
        (lm(LabelScope::Namespace, "bot:cat"), false),
        (lm(LabelScope::Label, "x"), false),
        (lm(LabelScope::Label, "portcullis:webacl:other:x"), true),
    ];
    for (s, want) in &cases {
        assert_eq!(s.eval(&mut ev), Ok(*want), "{s:?}");
    }
}

#[test]
fn logical_statements() {
    let yes = || bm(Positional::Contains, "a", &[]);
    let no = || bm(Positional::Contains, "z", &[]);
    let v = q(b"a");
    assert_eq!(eval(&S::And(vec![yes(), yes()]), &v), Ok(true));
    assert_eq!(eval(&S::And(vec![yes(), no()]), &v), Ok(false));
    assert_eq!(eval(&S::Or(vec![no(), yes()]), &v), Ok(true));
    assert_eq!(eval(&S::Or(vec![no(), no()]), &v), Ok(false));
    assert_eq!(eval(&S::Not(Box::new(no())), &v), Ok(true));
    assert_eq!(eval(&S::Not(Box::new(S::And(vec![yes(), S::Not(Box::new(no()))]))), &v), Ok(false));
}
