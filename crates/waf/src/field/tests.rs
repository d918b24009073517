// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;

use super::{Extracted, FieldToMatch as F, InvalidFallback, MatchScope, Oversize};
use crate::testutil::{view, with_body};
use crate::RequestView;

fn values(field: &F, v: &RequestView<'_>) -> Vec<String> {
    match field.extract(v) {
        Extracted::Values(vals) => vals.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect(),
        other => panic!("expected values, got {other:?}"),
    }
}

fn headers(scope: MatchScope, include: Option<&[&str]>, exclude: &[&str], oversize: Oversize) -> F {
    F::Headers {
        scope,
        include: include.map(|l| l.iter().map(|s| s.to_string()).collect()),
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
        oversize,
    }
}

fn json(paths: Option<&[&str]>, scope: MatchScope, invalid: InvalidFallback, oversize: Oversize) -> F {
    F::JsonBody { paths: paths.map(|l| l.iter().map(|s| s.to_string()).collect()), scope, invalid, oversize }
}

#[test]
fn simple_fields() {
    let mut v = view(b"a=1&B=%32&b=3", &[("user-agent", b"curl"), ("x", b"1"), ("user-agent", b"two")]);
    v.path = b"/p%41th";
    v.method = "POST";
    assert_eq!(values(&F::UriPath, &v), ["/p%41th"]);
    assert_eq!(values(&F::QueryString, &v), ["a=1&B=%32&b=3"]);
    assert_eq!(values(&F::Method, &v), ["POST"]);
    assert_eq!(values(&F::SingleQueryArgument("b".into()), &v), ["%32", "3"]);
    assert_eq!(values(&F::SingleQueryArgument("zz".into()), &v), Vec::<String>::new());
    assert_eq!(values(&F::AllQueryArguments, &v), ["1", "%32", "3"]);
    assert_eq!(values(&F::SingleHeader("User-Agent".into()), &v), ["curl", "two"]);
    assert_eq!(values(&F::SingleHeader("missing".into()), &v), Vec::<String>::new());
    assert_eq!(F::QueryString.as_str(), "QUERY_STRING");
}

#[test]
fn headers_scope_include_exclude() {
    let v = view(b"", &[("a", b"1"), ("b", b"2"), ("c", b"3")]);
    assert_eq!(values(&headers(MatchScope::All, None, &[], Oversize::Continue), &v), ["a", "1", "b", "2", "c", "3"]);
    assert_eq!(values(&headers(MatchScope::Key, None, &["B"], Oversize::Continue), &v), ["a", "c"]);
    assert_eq!(values(&headers(MatchScope::Value, Some(&["C", "b"]), &[], Oversize::Continue), &v), ["2", "3"]);
}

#[test]
fn headers_oversize_by_count_and_bytes() {
    let many: Vec<(&'static str, &'static [u8])> = vec![("h", b"v"); 201];
    let v = view(b"", &many);
    let f = |o| headers(MatchScope::Value, None, &[], o);
    assert_eq!(values(&f(Oversize::Continue), &v).len(), 200);
    assert_eq!(f(Oversize::Match).extract(&v), Extracted::Match("oversize"));
    assert_eq!(f(Oversize::NoMatch).extract(&v), Extracted::NoMatch);

    let big: &'static [u8] = Box::leak(vec![b'x'; 8190].into_boxed_slice());
    let v = view(b"", &[("a", b"1"), ("big", big), ("late", b"evil")]);
    assert_eq!(values(&f(Oversize::Continue), &v), ["1"]);
    assert_eq!(f(Oversize::Match).extract(&v), Extracted::Match("oversize"));
    assert_eq!(f(Oversize::NoMatch).extract(&v), Extracted::NoMatch);

    let v = view(b"", &[("a", b"1")]);
    assert_eq!(values(&f(Oversize::NoMatch), &v), ["1"]);
}

#[test]
fn cookies_scope_and_oversize() {
    let v = view(b"", &[("cookie", b"session=abc; Theme=dark"), ("cookie", b"x=1")]);
    let f = |scope, include: Option<Vec<String>>, exclude: Vec<String>, oversize| F::Cookies {
        scope,
        include,
        exclude,
        oversize,
    };
    assert_eq!(
        values(&f(MatchScope::All, None, vec![], Oversize::Continue), &v),
        ["session", "abc", "Theme", "dark", "x", "1"]
    );
    assert_eq!(values(&f(MatchScope::Key, None, vec!["x".into()], Oversize::Continue), &v), ["session", "Theme"]);
    // Cookie names are case-sensitive.
    assert_eq!(
        values(&f(MatchScope::Value, Some(vec!["theme".into(), "Theme".into()]), vec![], Oversize::Continue), &v),
        ["dark"]
    );
    let long: &'static [u8] = Box::leak(format!("a={}; b=late", "z".repeat(8200)).into_bytes().into_boxed_slice());
    let v = view(b"", &[("cookie", long)]);
    assert_eq!(values(&f(MatchScope::Value, None, vec![], Oversize::Continue), &v), Vec::<String>::new());
    assert_eq!(f(MatchScope::Value, None, vec![], Oversize::Match).extract(&v), Extracted::Match("oversize"));
    assert_eq!(f(MatchScope::Value, None, vec![], Oversize::NoMatch).extract(&v), Extracted::NoMatch);
}

#[test]
fn body_oversize() {
    let f = |oversize| F::Body { oversize };
    let cut = with_body(b"abc", true);
    assert_eq!(values(&f(Oversize::Continue), &cut), ["abc"]);
    assert_eq!(f(Oversize::Match).extract(&cut), Extracted::Match("oversize"));
    assert_eq!(f(Oversize::NoMatch).extract(&cut), Extracted::NoMatch);
    let whole = with_body(b"abc", false);
    assert_eq!(values(&f(Oversize::Match), &whole), ["abc"]);
    assert_eq!(values(&f(Oversize::Continue), &view(b"", &[])), [""]);
}

#[test]
fn json_body_scopes_and_paths() {
    let v = with_body(br#"{"user":{"name":"Ann","tags":["a",1,true,null]},"q":"x\u0041"}"#, false);
    let all = json(None, MatchScope::All, InvalidFallback::NoMatch, Oversize::Continue);
    assert_eq!(values(&all, &v), ["q", "user", "xA", "name", "tags", "Ann", "a", "1", "true", "null"]);
    let keys = json(None, MatchScope::Key, InvalidFallback::NoMatch, Oversize::Continue);
    // Object keys come in sorted order (serde_json's map).
    assert_eq!(values(&keys, &v), ["q", "user", "name", "tags"]);
    let at =
        json(Some(&["/q", "/user/tags", "/missing"]), MatchScope::Value, InvalidFallback::NoMatch, Oversize::Continue);
    assert_eq!(values(&at, &v), ["xA", "a", "1", "true", "null"]);
    let whole = json(Some(&[""]), MatchScope::Value, InvalidFallback::NoMatch, Oversize::Continue);
    assert_eq!(values(&whole, &v).len(), 6);
    assert_eq!(values(&all, &view(b"", &[])), Vec::<String>::new());
}

#[test]
fn json_body_invalid_and_oversize() {
    let bad = with_body(b"{not json", false);
    let f = |invalid, oversize| json(None, MatchScope::All, invalid, oversize);
    assert_eq!(f(InvalidFallback::Match, Oversize::Continue).extract(&bad), Extracted::Match("invalid JSON"));
    assert_eq!(f(InvalidFallback::NoMatch, Oversize::Continue).extract(&bad), Extracted::NoMatch);
    assert_eq!(
        f(InvalidFallback::EvaluateAsString, Oversize::Continue).extract(&bad),
        Extracted::Values(vec![Cow::Borrowed(&b"{not json"[..])])
    );
    let cut = with_body(br#"{"a":"b"#, true);
    assert_eq!(f(InvalidFallback::NoMatch, Oversize::Match).extract(&cut), Extracted::Match("oversize"));
    assert_eq!(f(InvalidFallback::Match, Oversize::NoMatch).extract(&cut), Extracted::NoMatch);
    // Continue parses the cut body, which is invalid here.
    assert_eq!(f(InvalidFallback::Match, Oversize::Continue).extract(&cut), Extracted::Match("invalid JSON"));
}
