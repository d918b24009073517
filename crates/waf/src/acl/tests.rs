// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{Action, CustomResponse, DefaultAction, Matched, Outcome, Rule, WebAcl};
use crate::testutil::view;
use crate::{FieldToMatch as F, LabelScope, Positional, Statement as S, Transformation as T};

fn contains(field: F, search: &str, transforms: &[T]) -> S {
    S::ByteMatch { field, transforms: transforms.to_vec(), position: Positional::Contains, search: search.into() }
}

fn rule(name: &str, priority: u32, statement: S, action: Action) -> Rule {
    Rule { name: name.into(), priority, statement, action, labels: vec![], group: None }
}

fn block() -> Action {
    Action::Block(None)
}

fn count() -> Action {
    Action::Count { insert_headers: vec![] }
}

fn acl(default_action: DefaultAction, rules: Vec<Rule>) -> WebAcl {
    WebAcl::new("main".into(), default_action, rules).unwrap()
}

#[test]
fn default_actions() {
    let v = view(b"q=1", &[]);
    let allow = acl(DefaultAction::Allow, vec![]);
    let verdict = allow.evaluate(&v);
    assert_eq!(verdict.outcome, Outcome::Allow);
    assert_eq!(verdict.terminating_rule, None);
    assert_eq!(verdict.matched, None);
    let response = CustomResponse { status: 451, body: Some(("text/plain".into(), b"no".to_vec())), headers: vec![] };
    let deny = acl(DefaultAction::Block(Some(response.clone())), vec![]);
    assert_eq!(deny.evaluate(&v).outcome, Outcome::Block(Some(&response)));
    assert_eq!(acl(DefaultAction::Block(None), vec![]).evaluate(&v).outcome, Outcome::Block(None));
}

#[test]
fn priority_order_not_list_order() {
    let rules = vec![
        rule("later-block", 20, contains(F::QueryString, "x", &[]), block()),
        rule("first-allow", 10, contains(F::QueryString, "x", &[]), Action::Allow { insert_headers: vec![] }),
    ];
    let a = acl(DefaultAction::Block(None), rules);
    assert_eq!(a.rules()[0].name, "first-allow");
    let verdict = a.evaluate(&view(b"x", &[]));
    assert_eq!(verdict.outcome, Outcome::Allow);
    assert_eq!(verdict.terminating_rule, Some("first-allow"));
}

#[test]
fn custom_block_response_and_match_details() {
    let response = CustomResponse { status: 429, body: None, headers: vec![("retry-after".into(), "5".into())] };
    let rules = vec![rule(
        "sqli",
        1,
        contains(F::QueryString, "union select", &[T::UrlDecode, T::Lowercase]),
        Action::Block(Some(response.clone())),
    )];
    let a = acl(DefaultAction::Allow, rules);
    let verdict = a.evaluate(&view(b"id=1%20%55NION%20SELECT%00", &[]));
    assert_eq!(verdict.outcome, Outcome::Block(Some(&response)));
    assert_eq!(
        verdict.matched,
        Some(Matched { rule: "sqli", field: "QUERY_STRING", value_excerpt: "id=1 union select\\x00".into() })
    );
    let long: &'static [u8] = Box::leak(format!("union select {}", "a".repeat(100)).into_bytes().into_boxed_slice());
    let verdict = a.evaluate(&view(long, &[]));
    assert_eq!(verdict.matched.map(|m| m.value_excerpt.len()), Some(64));
}

#[test]
fn count_labels_then_label_match_blocks() {
    let mut tag = rule(
        "tag-scanner",
        1,
        contains(F::SingleHeader("user-agent".into()), "sqlmap", &[T::Lowercase]),
        Action::Count { insert_headers: vec![("Scanner".into(), "yes".into())] },
    );
    tag.labels = vec!["bot:scanner".into()];
    let by_label =
        rule("block-scanners", 2, S::LabelMatch { scope: LabelScope::Namespace, key: "bot".into() }, block());
    let a = acl(DefaultAction::Allow, vec![by_label.clone(), tag.clone()]);

    let verdict = a.evaluate(&view(b"", &[("user-agent", b"SQLMap/1.0")]));
    assert_eq!(verdict.outcome, Outcome::Block(None));
    assert_eq!(verdict.terminating_rule, Some("block-scanners"));
    assert_eq!(verdict.labels, ["portcullis:webacl:main:bot:scanner"]);
    assert_eq!(verdict.counted, ["tag-scanner"]);
    assert!(verdict.insert_headers.is_empty(), "blocked requests get no inserted headers");
    assert_eq!(verdict.matched.map(|m| m.field), Some("LABEL"));

    // A label match only sees labels of rules that ran earlier.
    tag.priority = 3;
    let a = acl(DefaultAction::Allow, vec![by_label, tag]);
    let verdict = a.evaluate(&view(b"", &[("user-agent", b"sqlmap")]));
    assert_eq!(verdict.outcome, Outcome::Allow);
    assert_eq!(verdict.counted, ["tag-scanner"]);
    assert_eq!(verdict.insert_headers, [("x-amzn-waf-scanner".to_owned(), "yes".to_owned())]);
}

#[test]
fn allow_inserts_headers_last_value_wins() {
    let rules = vec![
        rule("c", 1, contains(F::Method, "GET", &[]), Action::Count { insert_headers: vec![("a".into(), "1".into())] }),
        rule(
            "ok",
            2,
            contains(F::Method, "GET", &[]),
            Action::Allow { insert_headers: vec![("a".into(), "2".into()), ("b".into(), "3".into())] },
        ),
    ];
    let a = acl(DefaultAction::Block(None), rules);
    let verdict = a.evaluate(&view(b"", &[]));
    assert_eq!(verdict.outcome, Outcome::Allow);
    let want = [("x-amzn-waf-a".to_owned(), "2".to_owned()), ("x-amzn-waf-b".to_owned(), "3".to_owned())];
    assert_eq!(verdict.insert_headers, want);
}

#[test]
fn duplicate_names_and_priorities_are_refused() {
    let r = |name: &str, p| rule(name, p, contains(F::Method, "GET", &[]), block());
    assert!(WebAcl::new("a".into(), DefaultAction::Allow, vec![r("x", 1), r("x", 2)]).is_err());
    assert!(WebAcl::new("a".into(), DefaultAction::Allow, vec![r("x", 1), r("y", 1)]).is_err());
}

#[test]
fn transformed_values_are_computed_once_per_pair() {
    let t = [T::UrlDecode, T::Lowercase];
    let rules = vec![
        rule("a", 1, contains(F::AllQueryArguments, "nothing", &t), count()),
        rule("b", 2, contains(F::AllQueryArguments, "else", &t), count()),
        rule(
            "c",
            3,
            S::And(vec![
                contains(F::AllQueryArguments, "x", &t),
                S::Not(Box::new(contains(F::AllQueryArguments, "y", &t))),
            ]),
            count(),
        ),
        // Another transformation list on the same field is another pair.
        rule("d", 4, contains(F::AllQueryArguments, "x", &[T::Lowercase]), count()),
    ];
    let a = acl(DefaultAction::Allow, rules);
    let (verdict, runs) = a.evaluate_counting(&view(b"p=X&q=Z", &[]));
    assert_eq!(verdict.counted, ["c", "d"]);
    // Two values: 2 × 2 steps for the shared pair, 2 × 1 for the other.
    assert_eq!(runs, 2 * 2 + 2);
}
