#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use serde_json::{json, Value};

use super::*;

const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/pets/1";
const INVOKE: &str = "execute-api:Invoke";

fn identity(json: &str) -> Policy {
    Policy::parse(json).unwrap_or_else(|e| panic!("{e}"))
}

fn resource_policy(json: &str) -> Policy {
    Policy::parse_resource_policy(json).unwrap_or_else(|e| panic!("{e}"))
}

fn error(json: &str) -> PolicyError {
    Policy::parse(json).expect_err("policy should be refused")
}

fn decide(policy: &Policy, req: &RequestContext) -> Decision {
    evaluate(&[policy], req)
}

fn one(key: &str, value: Value) -> Value {
    Value::Object([(key.to_owned(), value)].into_iter().collect())
}

/// An Allow-all statement guarded by one condition.
fn guarded(op: &str, key: &str, value: Value) -> Policy {
    let doc = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": one(op, one(key, value))}});
    Policy::from_value(&doc).unwrap_or_else(|e| panic!("{op}: {e}"))
}

/// Whether `op: {key: value}` holds when the request sets `key` to `ctx` (None: key absent).
fn holds(op: &str, key: &str, value: Value, ctx: Option<&[&str]>) -> bool {
    let policy = guarded(op, key, value);
    let mut req = RequestContext::new(INVOKE, ARN);
    if let Some(values) = ctx {
        req.set(key, values.iter().copied());
    }
    decide(&policy, &req) == Decision::Allow
}

fn user(name: &str, account: &str) -> Arc<Principal> {
    Arc::new(Principal {
        arn: format!("arn:aws:iam::{account}:user/{name}"),
        account: account.to_owned(),
        kind: PrincipalKind::User,
        user_name: Some(name.to_owned()),
        user_id: format!("AIDA{}", name.to_uppercase()),
    })
}

fn allow_invoke(resource: &str) -> Policy {
    Policy::from_value(
        &json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": INVOKE, "Resource": resource}}),
    )
    .unwrap_or_else(|e| panic!("{resource}: {e}"))
}

#[test]
fn policy_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Policy>();
    check::<RequestContext>();
}

#[test]
fn explicit_deny_beats_allow_across_policies() {
    let allow = identity(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
    let deny = identity(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoPets","Effect":"Deny","Action":"execute-api:*",
            "Resource":"arn:aws:execute-api:*:*:api1/*/*/pets/*"}]}"#,
    );
    let req = RequestContext::new(INVOKE, ARN);
    assert_eq!(evaluate(&[&allow], &req), Decision::Allow);
    assert_eq!(evaluate(&[&allow, &deny], &req), Decision::ExplicitDeny);
    assert_eq!(evaluate(&[&deny, &allow], &req), Decision::ExplicitDeny);
    let other = RequestContext::new(INVOKE, "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/users");
    assert_eq!(evaluate(&[&allow, &deny], &other), Decision::Allow);
}

#[test]
fn implicit_deny_when_nothing_matches() {
    let req = RequestContext::new(INVOKE, ARN);
    assert_eq!(evaluate(&[], &req), Decision::ImplicitDeny);
    let p = allow_invoke("arn:aws:execute-api:us-east-1:123456789012:api2/*");
    assert_eq!(decide(&p, &req), Decision::ImplicitDeny);
    let p = identity(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#);
    assert_eq!(decide(&p, &req), Decision::ImplicitDeny);
}

#[test]
fn not_action_allows_everything_else() {
    let p = identity(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#);
    assert_eq!(decide(&p, &RequestContext::new(INVOKE, ARN)), Decision::Allow);
    assert_eq!(decide(&p, &RequestContext::new("iam:CreateUser", "*")), Decision::ImplicitDeny);
    assert_eq!(decide(&p, &RequestContext::new("IAM:createuser", "*")), Decision::ImplicitDeny);
}

#[test]
fn not_resource_denies_outside_the_list() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"*","Resource":"*"},
            {"Effect":"Deny","Action":"*","NotResource":["arn:aws:execute-api:*:*:api1/*"]}]}"#,
    );
    assert_eq!(decide(&p, &RequestContext::new(INVOKE, ARN)), Decision::Allow);
    let other = RequestContext::new(INVOKE, "arn:aws:execute-api:us-east-1:123456789012:api2/prod/GET/");
    assert_eq!(decide(&p, &other), Decision::ExplicitDeny);
}

#[test]
fn action_wildcards_ignore_case() {
    for (pattern, action, expected) in [
        ("execute-api:Invoke", "execute-api:invoke", true),
        ("EXECUTE-API:INVOKE", "execute-api:Invoke", true),
        ("execute-api:Inv*", "execute-api:INVOKE", true),
        ("execute-api:Invok?", "execute-api:invoke", true),
        ("execute-api:Invoke?", "execute-api:Invoke", false),
        ("execute-api:*", "execute-api:InvalidateCache", true),
        ("execute-api:*Cache", "execute-api:InvalidateCache", true),
        ("execute-api:I*e", "execute-api:Invoke", true),
        ("execute-api:I*e", "execute-api:Invokes", false),
        ("*", "anything:AtAll", true),
        ("s3:*", "execute-api:Invoke", false),
        ("portcullis:Get*", "portcullis:ListApis", false),
    ] {
        let doc =
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": pattern, "Resource": "*"}});
        let p = Policy::from_value(&doc).unwrap();
        assert_eq!(decide(&p, &RequestContext::new(action, ARN)) == Decision::Allow, expected, "{pattern} vs {action}");
    }
}

#[test]
fn resource_wildcards_are_case_sensitive() {
    let base = "arn:aws:execute-api:us-east-1:123456789012:api1";
    for (pattern, resource, expected) in [
        ("arn:aws:execute-api:*:*:*", ARN, true),
        ("arn:aws:execute-api:us-east-1:*:api1/*", ARN, true),
        ("arn:aws:execute-api:us-east-1:*:api1/*/GET/*", ARN, true),
        ("arn:aws:execute-api:us-east-1:*:api1/*/get/*", ARN, false),
        ("arn:aws:execute-api:US-EAST-1:*:api1/*", ARN, false),
        ("arn:aws:execute-api:*:*:api1/*/*/pets/?", ARN, true),
        ("arn:aws:execute-api:*:*:api1/*/*/pets/?", &format!("{base}/prod/GET/pets/12"), false),
        ("arn:aws:execute-api:*:*:api1/*/*/pets/?", &format!("{base}/prod/GET/pets/"), false),
        ("arn:aws:execute-api:*:*:api1/*/*/pets/??", &format!("{base}/prod/GET/pets/12"), true),
        // `*` runs across `/` and `:` boundaries.
        ("arn:aws:execute-api:*", ARN, true),
        ("arn:aws:execute-api:*/pets/1", ARN, true),
        ("arn:aws:execute-api:*:*:api1/*/GET/", &format!("{base}/prod/GET/"), true),
        ("arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/pets/1", ARN, true),
        ("*", ARN, true),
    ] {
        let p = allow_invoke(pattern);
        assert_eq!(
            decide(&p, &RequestContext::new(INVOKE, resource)) == Decision::Allow,
            expected,
            "{pattern} vs {resource}"
        );
    }
}

#[test]
fn string_operators() {
    let k = "example:team";
    assert!(holds("StringEquals", k, json!("red"), Some(&["red"])));
    assert!(!holds("StringEquals", k, json!("red"), Some(&["Red"])));
    assert!(!holds("StringEquals", k, json!("red"), None));
    assert!(holds("StringEquals", k, json!(["red", "blue"]), Some(&["blue"])));
    assert!(!holds("StringNotEquals", k, json!("red"), Some(&["red"])));
    assert!(holds("StringNotEquals", k, json!("red"), Some(&["blue"])));
    assert!(holds("StringNotEquals", k, json!("red"), None));
    assert!(!holds("StringNotEquals", k, json!(["red", "blue"]), Some(&["blue"])));
    assert!(holds("StringNotEquals", k, json!(["red", "blue"]), Some(&["green"])));
    assert!(holds("StringEqualsIgnoreCase", k, json!("RED"), Some(&["red"])));
    assert!(!holds("StringEqualsIgnoreCase", k, json!("RED"), Some(&["reds"])));
    assert!(!holds("StringEqualsIgnoreCase", k, json!("RED"), None));
    assert!(!holds("StringNotEqualsIgnoreCase", k, json!("RED"), Some(&["Red"])));
    assert!(holds("StringNotEqualsIgnoreCase", k, json!("RED"), Some(&["blue"])));
    assert!(holds("StringNotEqualsIgnoreCase", k, json!("RED"), None));
    assert!(holds("StringLike", k, json!("r*d"), Some(&["rapid"])));
    assert!(holds("StringLike", k, json!("r?d"), Some(&["red"])));
    assert!(!holds("StringLike", k, json!("r?d"), Some(&["reed"])));
    assert!(!holds("StringLike", k, json!("r*"), Some(&["Red"])));
    assert!(!holds("StringLike", k, json!("r*"), None));
    assert!(!holds("StringNotLike", k, json!(["r*", "b*"]), Some(&["blue"])));
    assert!(holds("StringNotLike", k, json!(["r*", "b*"]), Some(&["green"])));
    assert!(holds("StringNotLike", k, json!("r*"), None));
}

#[test]
fn numeric_operators() {
    let k = "example:count";
    assert!(holds("NumericEquals", k, json!("10"), Some(&["10"])));
    assert!(holds("NumericEquals", k, json!(10), Some(&["10.0"])));
    assert!(!holds("NumericEquals", k, json!("10"), Some(&["11"])));
    assert!(!holds("NumericEquals", k, json!("10"), Some(&["ten"])));
    assert!(!holds("NumericEquals", k, json!("10"), None));
    assert!(holds("NumericNotEquals", k, json!("10"), Some(&["11"])));
    assert!(!holds("NumericNotEquals", k, json!("10"), Some(&["10"])));
    assert!(holds("NumericNotEquals", k, json!("10"), None));
    assert!(holds("NumericLessThan", k, json!(10), Some(&["9.5"])));
    assert!(!holds("NumericLessThan", k, json!(10), Some(&["10"])));
    assert!(holds("NumericLessThanEquals", k, json!(10), Some(&["10"])));
    assert!(!holds("NumericLessThanEquals", k, json!(10), Some(&["11"])));
    assert!(holds("NumericGreaterThan", k, json!(10), Some(&["11"])));
    assert!(!holds("NumericGreaterThan", k, json!(10), Some(&["10"])));
    assert!(holds("NumericGreaterThanEquals", k, json!("-1.5"), Some(&["-1.5"])));
    assert!(!holds("NumericGreaterThanEquals", k, json!(10), Some(&["9"])));
    assert!(!holds("NumericGreaterThan", k, json!(10), None));
}

#[test]
fn date_operators_accept_iso_and_epoch() {
    let k = "aws:CurrentTime";
    let new_year = "2024-01-01T00:00:00Z";
    assert!(holds("DateEquals", k, json!(new_year), Some(&["1704067200"])));
    assert!(holds("DateEquals", k, json!("1704067200"), Some(&["2024-01-01T01:00:00+01:00"])));
    assert!(holds("DateEquals", k, json!(1704067200), Some(&["2024-01-01"])));
    assert!(!holds("DateEquals", k, json!(new_year), Some(&["2024-01-01T00:00:01Z"])));
    assert!(!holds("DateEquals", k, json!(new_year), None));
    assert!(!holds("DateNotEquals", k, json!(new_year), Some(&["1704067200"])));
    assert!(holds("DateNotEquals", k, json!(new_year), Some(&["1704067201"])));
    assert!(holds("DateNotEquals", k, json!(new_year), None));
    assert!(holds("DateLessThan", k, json!(new_year), Some(&["2023-12-31T23:59:59Z"])));
    assert!(!holds("DateLessThan", k, json!(new_year), Some(&["1704067200"])));
    assert!(holds("DateLessThanEquals", k, json!(new_year), Some(&["1704067200"])));
    assert!(!holds("DateLessThanEquals", k, json!(new_year), Some(&["2024-01-01T00:00:00.5Z"])));
    assert!(holds("DateGreaterThan", k, json!("1704067200"), Some(&["2024-06-01T00:00:00+02:00"])));
    assert!(!holds("DateGreaterThan", k, json!("1704067200"), Some(&["2023-06-01"])));
    assert!(holds("DateGreaterThanEquals", k, json!("2024-01-01"), Some(&[new_year])));
    assert!(!holds("DateGreaterThanEquals", k, json!("2024-01-01"), Some(&["2023-12-31T23:59:59Z"])));
    assert!(!holds("DateGreaterThan", k, json!(new_year), Some(&["not a date"])));
}

#[test]
fn bool_binary_and_null_operators() {
    let k = "aws:SecureTransport";
    assert!(holds("Bool", k, json!(true), Some(&["true"])));
    assert!(holds("Bool", k, json!("true"), Some(&["TRUE"])));
    assert!(!holds("Bool", k, json!("true"), Some(&["false"])));
    assert!(holds("Bool", k, json!(false), Some(&["false"])));
    assert!(!holds("Bool", k, json!(true), None));
    assert!(!holds("Bool", k, json!(true), Some(&["yes"])));

    let k = "example:blob";
    assert!(holds("BinaryEquals", k, json!("QmluYXJ5VmFsdWU="), Some(&["QmluYXJ5VmFsdWU="])));
    assert!(holds("BinaryEquals", k, json!("QmluYXJ5VmFsdWU="), Some(&["QmluYXJ5VmFsdWU"])));
    assert!(!holds("BinaryEquals", k, json!("QmluYXJ5VmFsdWU="), Some(&["QmluYXJ5VmFsdWF="])));
    assert!(!holds("BinaryEquals", k, json!("QmluYXJ5VmFsdWU="), None));
    assert_eq!(scalar::base64("aGVsbG8gd29ybGQ="), Some(b"hello world".to_vec()));
    assert_eq!(scalar::base64("aGk"), Some(b"hi".to_vec()));
    assert_eq!(scalar::base64("a"), None);
    assert_eq!(scalar::base64("a$=="), None);

    let k = "aws:TokenIssueTime";
    assert!(holds("Null", k, json!("true"), None));
    assert!(!holds("Null", k, json!("true"), Some(&["2024-01-01T00:00:00Z"])));
    assert!(holds("Null", k, json!(false), Some(&["2024-01-01T00:00:00Z"])));
    assert!(!holds("Null", k, json!(false), None));
    // A key set to no values is absent.
    assert!(holds("Null", k, json!(true), Some(&[])));
}

#[test]
fn ip_operators_v4_and_v6() {
    let k = "aws:SourceIp";
    assert!(holds("IpAddress", k, json!("203.0.113.0/24"), Some(&["203.0.113.7"])));
    assert!(!holds("IpAddress", k, json!("203.0.113.0/24"), Some(&["203.0.114.7"])));
    assert!(holds("IpAddress", k, json!("203.0.113.0/24"), Some(&["::ffff:203.0.113.7"])));
    assert!(holds("IpAddress", k, json!("198.51.100.9"), Some(&["198.51.100.9"])));
    assert!(!holds("IpAddress", k, json!("198.51.100.9"), Some(&["198.51.100.10"])));
    assert!(holds("IpAddress", k, json!(["10.0.0.0/8", "2001:db8::/32"]), Some(&["2001:db8::1"])));
    assert!(!holds("IpAddress", k, json!("2001:db8::/32"), Some(&["2001:db9::1"])));
    assert!(!holds("IpAddress", k, json!("2001:db8::/32"), Some(&["not-an-ip"])));
    assert!(!holds("IpAddress", k, json!("0.0.0.0/0"), None));
    assert!(holds("NotIpAddress", k, json!(["203.0.113.0/24", "2001:db8::/32"]), Some(&["10.1.2.3"])));
    assert!(!holds("NotIpAddress", k, json!(["203.0.113.0/24", "2001:db8::/32"]), Some(&["2001:db8::5"])));
    assert!(holds("NotIpAddress", k, json!("203.0.113.0/24"), None));
}

#[test]
fn arn_operators_match_per_segment() {
    let k = "aws:SourceArn";
    let alice = "arn:aws:iam::123456789012:user/alice";
    for op in ["ArnEquals", "ArnLike"] {
        assert!(holds(op, k, json!("arn:aws:iam::123456789012:user/*"), Some(&[alice])), "{op}");
        assert!(holds(op, k, json!("arn:aws:iam::*:user/al?ce"), Some(&[alice])), "{op}");
        assert!(!holds(op, k, json!("arn:aws:iam::123456789012:user/*"), Some(&["arn:aws:iam::999999999999:user/a"])));
        assert!(!holds(op, k, json!("arn:aws:iam::123456789012:user/*"), None));
        assert!(holds(op, k, json!("*"), Some(&[alice])), "{op}");
    }
    // The `*` in the account part cannot swallow the colon that follows (a whole-string match would).
    assert!(!holds("ArnLike", k, json!("arn:aws:iam::*:user/alice"), Some(&["arn:aws:iam::1:2:user/alice"])));
    // The last part keeps its colons.
    assert!(holds(
        "ArnLike",
        k,
        json!("arn:aws:logs:*:*:log-group:*"),
        Some(&["arn:aws:logs:eu-west-1:1:log-group:g"])
    ));
    assert!(!holds("ArnLike", k, json!("arn:aws:iam::*:user/*"), Some(&["arn:aws:iam"])));
    for op in ["ArnNotEquals", "ArnNotLike"] {
        assert!(!holds(op, k, json!("arn:aws:iam::123456789012:user/*"), Some(&[alice])), "{op}");
        assert!(holds(op, k, json!("arn:aws:iam::123456789012:user/*"), Some(&["arn:aws:iam::1:role/x"])), "{op}");
        assert!(holds(op, k, json!("arn:aws:iam::123456789012:user/*"), None), "{op}");
    }
}

#[test]
fn if_exists_treats_missing_keys_as_true() {
    let k = "example:team";
    assert!(holds("StringEqualsIfExists", k, json!("red"), None));
    assert!(holds("StringEqualsIfExists", k, json!("red"), Some(&["red"])));
    assert!(!holds("StringEqualsIfExists", k, json!("red"), Some(&["blue"])));
    assert!(holds("NumericLessThanIfExists", k, json!(3), None));
    assert!(holds("NotIpAddressIfExists", "aws:SourceIp", json!("10.0.0.0/8"), None));
    assert!(!holds("NotIpAddressIfExists", "aws:SourceIp", json!("10.0.0.0/8"), Some(&["10.0.0.1"])));
    assert!(holds("ForAnyValue:StringEqualsIfExists", k, json!("red"), None));
}

#[test]
fn set_qualifiers() {
    let k = "example:tags";
    let any = "ForAnyValue:StringEquals";
    assert!(holds(any, k, json!(["a", "b"]), Some(&["c", "a"])));
    assert!(!holds(any, k, json!(["a", "b"]), Some(&["c"])));
    assert!(!holds(any, k, json!(["a", "b"]), None));
    assert!(!holds(any, k, json!(["a", "b"]), Some(&[])));
    let all = "ForAllValues:StringEquals";
    assert!(holds(all, k, json!(["a", "b"]), Some(&["b", "a"])));
    assert!(!holds(all, k, json!(["a", "b"]), Some(&["a", "c"])));
    assert!(holds(all, k, json!(["a", "b"]), None));
    assert!(holds(all, k, json!(["a", "b"]), Some(&[])));
    assert!(holds("ForAnyValue:StringNotEquals", k, json!("a"), Some(&["a", "b"])));
    assert!(!holds("ForAnyValue:StringNotEquals", k, json!("a"), Some(&["a"])));
    assert!(holds("ForAllValues:StringNotEquals", k, json!("a"), Some(&["b", "c"])));
    assert!(!holds("ForAllValues:StringNotEquals", k, json!("a"), Some(&["b", "a"])));
    assert!(holds("ForAllValues:StringLike", k, json!(["team-*"]), Some(&["team-a", "team-b"])));
    // Without a qualifier a multivalued key matches if any value does; negated: if none does.
    assert!(holds("StringEquals", k, json!("a"), Some(&["b", "a"])));
    assert!(!holds("StringNotEquals", k, json!("a"), Some(&["b", "a"])));
}

#[test]
fn keys_and_operators_combine_with_and_values_with_or() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
            "StringEquals":{"example:team":["red","blue"],"AWS:PRINCIPALTYPE":"User"},
            "IpAddress":{"aws:sourceip":"10.0.0.0/8"}}}}"#,
    );
    let base = RequestContext::new(INVOKE, ARN).principal(Some(user("alice", "123456789012")));
    let ok = base.clone().with("Example:Team", ["blue"]).with("aws:SourceIp", ["10.1.1.1"]);
    assert_eq!(decide(&p, &ok), Decision::Allow);
    assert_eq!(decide(&p, &ok.clone().with("aws:SourceIp", ["11.1.1.1"])), Decision::ImplicitDeny);
    assert_eq!(decide(&p, &ok.clone().with("example:team", ["green"])), Decision::ImplicitDeny);
    assert_eq!(decide(&p, &ok.clone().principal(None)), Decision::ImplicitDeny);
}

#[test]
fn principal_keys_are_derived_from_the_caller() {
    let alice = user("alice", "123456789012");
    let p = guarded("StringEquals", "aws:PrincipalAccount", json!("123456789012"));
    let req = RequestContext::new(INVOKE, ARN).principal(Some(alice.clone()));
    assert_eq!(decide(&p, &req), Decision::Allow);
    assert_eq!(decide(&p, &req.clone().with("aws:PrincipalAccount", ["999999999999"])), Decision::ImplicitDeny);
    let p = guarded("StringEquals", "aws:PrincipalType", json!("Anonymous"));
    assert_eq!(decide(&p, &RequestContext::new(INVOKE, ARN)), Decision::Allow);
    assert_eq!(decide(&p, &req), Decision::ImplicitDeny);
    let p = guarded("StringEquals", "aws:userid", json!("AIDAALICE"));
    assert_eq!(decide(&p, &req), Decision::Allow);
    let p = guarded("ArnEquals", "aws:PrincipalArn", json!("arn:aws:iam::123456789012:user/alice"));
    assert_eq!(decide(&p, &req), Decision::Allow);
}

#[test]
fn policy_variables_in_resources() {
    let home = |version: Option<&str>, resource: &str| {
        let mut doc = json!({"Statement": {"Effect": "Allow", "Action": INVOKE, "Resource": resource}});
        if let Some(v) = version {
            doc["Version"] = json!(v);
        }
        Policy::from_value(&doc).unwrap()
    };
    let at = |path: &str| format!("arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/{path}");
    let alice = RequestContext::new(INVOKE, &at("home/alice/x")).principal(Some(user("alice", "123456789012")));
    let bob_path = RequestContext::new(INVOKE, &at("home/bob/x")).principal(Some(user("alice", "123456789012")));
    let anonymous = RequestContext::new(INVOKE, &at("home/guest/x"));

    let p = home(Some("2012-10-17"), "arn:aws:execute-api:*:*:api1/*/GET/home/${aws:username}/*");
    assert_eq!(decide(&p, &alice), Decision::Allow);
    assert_eq!(decide(&p, &bob_path), Decision::ImplicitDeny);
    // No value and no default: the pattern matches nothing.
    assert_eq!(decide(&p, &anonymous), Decision::ImplicitDeny);

    let p = home(Some("2012-10-17"), "arn:aws:execute-api:*:*:api1/*/GET/home/${aws:username, 'guest'}/*");
    assert_eq!(decide(&p, &anonymous), Decision::Allow);
    assert_eq!(decide(&p, &alice), Decision::Allow);

    // Version 2008 (explicit or absent): `${…}` is plain text.
    for version in [None, Some("2008-10-17")] {
        let p = home(version, "arn:aws:execute-api:*:*:api1/*/GET/home/${aws:username}/*");
        assert_eq!(p.version(), PolicyVersion::V2008_10_17);
        assert_eq!(decide(&p, &alice), Decision::ImplicitDeny);
        let literal = RequestContext::new(INVOKE, &at("home/${aws:username}/x"));
        assert_eq!(decide(&p, &literal), Decision::Allow);
    }

    // Escapes are literal characters, not wildcards.
    let p = home(Some("2012-10-17"), "arn:aws:execute-api:*:*:api1/*/GET/files/${*}${?}${$}");
    assert_eq!(decide(&p, &RequestContext::new(INVOKE, &at("files/*?$"))), Decision::Allow);
    assert_eq!(decide(&p, &RequestContext::new(INVOKE, &at("files/ab$"))), Decision::ImplicitDeny);

    // A substituted value is literal too: a `*` in it does not widen the pattern.
    let p = home(Some("2012-10-17"), "arn:aws:execute-api:*:*:api1/*/GET/t/${example:tenant}");
    let req =
        |path: &str, tenant: &[&str]| RequestContext::new(INVOKE, &at(path)).with("example:tenant", tenant.to_vec());
    assert_eq!(decide(&p, &req("t/acme", &["acme"])), Decision::Allow);
    assert_eq!(decide(&p, &req("t/acme", &["*"])), Decision::ImplicitDeny);
    assert_eq!(decide(&p, &req("t/*", &["*"])), Decision::Allow);
    // Multivalued keys cannot be variables.
    assert_eq!(decide(&p, &req("t/acme", &["acme", "other"])), Decision::ImplicitDeny);
}

#[test]
fn policy_variables_in_conditions() {
    let alice = RequestContext::new(INVOKE, ARN).principal(Some(user("alice", "123456789012")));
    let p = guarded("StringEquals", "example:owner", json!("${aws:username}"));
    assert_eq!(decide(&p, &alice.clone().with("example:owner", ["alice"])), Decision::Allow);
    assert_eq!(decide(&p, &alice.clone().with("example:owner", ["bob"])), Decision::ImplicitDeny);
    let p = guarded("StringLike", "example:bucket", json!("${aws:username}-*"));
    assert_eq!(decide(&p, &alice.clone().with("example:bucket", ["alice-photos"])), Decision::Allow);
    assert_eq!(decide(&p, &alice.clone().with("example:bucket", ["bob-photos"])), Decision::ImplicitDeny);
    let p = guarded("ArnLike", "aws:SourceArn", json!("${aws:PrincipalArn}"));
    let with_source = alice.clone().with("aws:SourceArn", ["arn:aws:iam::123456789012:user/alice"]);
    assert_eq!(decide(&p, &with_source), Decision::Allow);
    let p = guarded("StringEqualsIgnoreCase", "example:owner", json!("${example:missing, 'Nobody'}"));
    assert_eq!(decide(&p, &alice.clone().with("example:owner", ["NOBODY"])), Decision::Allow);
    // Variables are not substituted in numeric values; they must parse as numbers.
    let doc = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {"NumericEquals": {"example:n": "${example:m}"}}}});
    assert!(Policy::from_value(&doc).is_err());
}

#[test]
fn resource_policy_principals() {
    let doc = |principal: Value| {
        let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal,
            "Action": INVOKE, "Resource": "arn:aws:execute-api:us-east-1:123456789012:api1/*"}]});
        Policy::from_value_as(&doc, PolicyKind::Resource).unwrap()
    };
    let alice = Some(user("alice", "123456789012"));
    let mallory = Some(user("mallory", "999999999999"));
    let role_session = Some(Arc::new(Principal {
        arn: "arn:aws:sts::123456789012:assumed-role/Deployer/ci-run".to_owned(),
        account: "123456789012".to_owned(),
        kind: PrincipalKind::AssumedRole,
        user_name: None,
        user_id: "AROAEXAMPLE:ci-run".to_owned(),
    }));
    let anonymous_kind = Some(Arc::new(Principal {
        arn: "anonymous".to_owned(),
        account: "123456789012".to_owned(),
        kind: PrincipalKind::Anonymous,
        user_name: None,
        user_id: "anonymous".to_owned(),
    }));
    let check = |p: &Policy, who: &Option<Arc<Principal>>| {
        evaluate_resource(p, &RequestContext::new(INVOKE, ARN).principal(who.clone()))
    };
    use Decision::{Allow, ImplicitDeny};
    for everyone in [json!("*"), json!({"AWS": "*"}), json!({"AWS": ["*"]})] {
        let p = doc(everyone);
        assert_eq!([check(&p, &None), check(&p, &alice), check(&p, &mallory)], [Allow; 3]);
    }
    for account in [json!({"AWS": "123456789012"}), json!({"AWS": "arn:aws:iam::123456789012:root"})] {
        let p = doc(account);
        assert_eq!(check(&p, &alice), Allow);
        assert_eq!(check(&p, &role_session), Allow);
        assert_eq!(check(&p, &mallory), ImplicitDeny);
        assert_eq!(check(&p, &None), ImplicitDeny);
        assert_eq!(check(&p, &anonymous_kind), ImplicitDeny);
    }
    let p = doc(json!({"AWS": ["arn:aws:iam::123456789012:user/alice"]}));
    assert_eq!(check(&p, &alice), Allow);
    assert_eq!(check(&p, &Some(user("bob", "123456789012"))), ImplicitDeny);
    assert_eq!(check(&p, &None), ImplicitDeny);
    let p = doc(json!({"AWS": "arn:aws:iam::123456789012:role/team/Deployer"}));
    assert_eq!(check(&p, &role_session), Allow);
    assert_eq!(check(&p, &alice), ImplicitDeny);
    let p = doc(json!({"Service": "arn:aws:iam::123456789012:user/alice"}));
    assert_eq!(check(&p, &alice), Allow);
}

#[test]
fn not_principal_in_resource_policy() {
    let p = resource_policy(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"*"},
            {"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::123456789012:user/alice"]},
             "Action":"execute-api:Invoke","Resource":"*"}]}"#,
    );
    let req = |who: Option<Arc<Principal>>| RequestContext::new(INVOKE, ARN).principal(who);
    assert_eq!(evaluate_resource(&p, &req(Some(user("alice", "123456789012")))), Decision::Allow);
    assert_eq!(evaluate_resource(&p, &req(Some(user("bob", "123456789012")))), Decision::ExplicitDeny);
    assert_eq!(evaluate_resource(&p, &req(None)), Decision::ExplicitDeny);
}

#[test]
fn ip_allow_list_resource_policy() {
    // The documented pattern: allow everyone, deny outside the list.
    let p = resource_policy(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke",
             "Resource":"arn:aws:execute-api:*:*:api1/*"},
            {"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"*",
             "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}}]}"#,
    );
    let req = |ip: &str| RequestContext::new(INVOKE, ARN).with("aws:SourceIp", [ip]);
    assert_eq!(evaluate_resource(&p, &req("192.0.2.44")), Decision::Allow);
    assert_eq!(evaluate_resource(&p, &req("2001:db8::7")), Decision::Allow);
    assert_eq!(evaluate_resource(&p, &req("198.51.100.1")), Decision::ExplicitDeny);
    assert_eq!(evaluate_resource(&p, &RequestContext::new(INVOKE, ARN)), Decision::ExplicitDeny);
    let short = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"execute-api:/*"}}"#;
    let e = Policy::parse_resource_policy(short).unwrap_err();
    assert_error(
        &e,
        "Statement.Resource",
        "the short form `execute-api:/*` must be expanded to a full execute-api ARN before parsing",
    );
}

#[test]
fn combination_tables() {
    use Decision::{Allow as A, ExplicitDeny as D, ImplicitDeny as N};
    let all = [A, N, D];
    let table_a = [[A, A, D], [A, N, D], [D, D, D]];
    let table_b = [[A, N, D], [N, N, D], [D, D, D]];
    for (i, identity) in all.iter().enumerate() {
        for (j, resource) in all.iter().enumerate() {
            assert_eq!(combine_same_account(*identity, *resource), table_a[i][j], "A {identity:?}/{resource:?}");
            assert_eq!(combine_cross_account(*identity, *resource), table_b[i][j], "B {identity:?}/{resource:?}");
        }
    }
}

#[test]
fn managed_policies() {
    let read = managed::builtin(managed::READ_ONLY_ARN).unwrap();
    let write = managed::builtin(managed::WRITE_ARN).unwrap();
    let admin = managed::builtin(managed::ADMIN_ARN).unwrap();
    assert_eq!(managed::all().count(), 3);
    assert!(managed::builtin("arn:aws:iam::aws:policy/PowerUserAccess").is_none());
    let api = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod";
    let call = |verb: &str, path: &str| RequestContext::new(INVOKE, &format!("{api}/{verb}/{path}"));
    assert_eq!(decide(read, &call("GET", "pets/1")), Decision::Allow);
    assert_eq!(decide(read, &call("GET", "")), Decision::Allow);
    assert_eq!(decide(read, &call("HEAD", "pets")), Decision::Allow);
    assert_eq!(decide(read, &call("OPTIONS", "pets")), Decision::Allow);
    assert_eq!(decide(read, &call("DELETE", "pets/1")), Decision::ImplicitDeny);
    assert_eq!(decide(read, &call("POST", "pets")), Decision::ImplicitDeny);
    assert_eq!(decide(read, &RequestContext::new("portcullis:GetApi", "*")), Decision::Allow);
    assert_eq!(decide(read, &RequestContext::new("portcullis:ListKeys", "arn:x")), Decision::Allow);
    assert_eq!(decide(read, &RequestContext::new("portcullis:DeleteApi", "*")), Decision::ImplicitDeny);
    assert_eq!(decide(write, &call("DELETE", "pets/1")), Decision::Allow);
    assert_eq!(decide(write, &RequestContext::new("portcullis:DescribeApi", "*")), Decision::Allow);
    assert_eq!(decide(write, &RequestContext::new("portcullis:DeleteApi", "*")), Decision::ImplicitDeny);
    assert_eq!(decide(admin, &RequestContext::new("portcullis:DeleteApi", "*")), Decision::Allow);
    assert_eq!(decide(admin, &call("PATCH", "x")), Decision::Allow);
}

#[test]
fn document_shape() {
    let text =
        r#"{"Version":"2012-10-17","Id":"p1","Statement":{"Sid":"One","Effect":"Allow","Action":"*","Resource":"*"}}"#;
    let p = identity(text);
    assert_eq!(p.statement_count(), 1);
    assert_eq!(p.id(), Some("p1"));
    assert_eq!(p.kind(), PolicyKind::Identity);
    assert_eq!(p.version(), PolicyVersion::V2012_10_17);
    assert_eq!(p.document(), &serde_json::from_str::<Value>(text).unwrap());
    let q = p.clone();
    assert_eq!(q.document()["Id"], "p1");
    assert!(format!("{p:?}").contains("statements: 1"));
}

/// 1-based (line, column) where `needle` starts in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).unwrap();
    let before = &text[..at];
    (before.matches('\n').count() + 1, at - before.rfind('\n').map_or(0, |i| i + 1) + 1)
}

fn assert_error(e: &PolicyError, path: &str, message: &str) {
    assert_eq!(e.path, path, "{e}");
    assert_eq!(e.message, message, "{e}");
}

#[test]
fn error_unknown_operator_with_hint() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {
      "Effect": "Allow",
      "Action": "*",
      "Resource": "*",
      "Condition": {"StringEqual": {"aws:username": "alice"}}
    }
  ]
}"#;
    let e = error(text);
    assert_error(
        &e,
        "Statement[1].Condition.StringEqual",
        "unknown condition operator `StringEqual`; did you mean `StringEquals`?",
    );
    assert_eq!((e.line.unwrap(), e.column.unwrap()), position_of(text, "\"StringEqual\""));
    assert_eq!(e.line, Some(9));
    let e = Policy::from_value(&guarded_doc("ForAnyValue:StringLikeIfExist", json!("x"))).unwrap_err();
    assert_eq!(
        e.message,
        "unknown condition operator `ForAnyValue:StringLikeIfExist`; did you mean `ForAnyValue:StringLikeIfExists`?"
    );
    let e = Policy::from_value(&guarded_doc("Frobnicate", json!("x"))).unwrap_err();
    assert_error(&e, "Statement.Condition.Frobnicate", "unknown condition operator `Frobnicate`");
    assert_eq!((e.line, e.column), (None, None));
    let e = Policy::from_value(&guarded_doc("NullIfExists", json!("true"))).unwrap_err();
    assert_eq!(e.path, "Statement.Condition.NullIfExists");
}

fn guarded_doc(op: &str, value: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": one(op, one("example:key", value))}})
}

#[test]
fn error_statement_structure() {
    let e = error(r#"{"Version":"2012-10-17","Statement":[{"Action":"*","Resource":"*"}]}"#);
    assert_error(&e, "Statement[0]", "missing required element `Effect`");
    assert_eq!((e.line, e.column), (Some(1), Some(38)));

    let e = error(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}}"#,
    );
    assert_error(&e, "Statement.NotAction", "`Action` and `NotAction` cannot both be present");

    let e = error(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}"#);
    assert_error(&e, "Statement", "missing required element `Action` or `NotAction`");

    let e = error(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*"}}"#);
    assert_error(&e, "Statement", "missing required element `Resource` or `NotResource`");

    let e = error(r#"{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"*","Resource":"*"}}"#);
    assert_error(&e, "Statement.Effect", "must be \"Allow\" or \"Deny\"");

    let text =
        "{\"Version\":\"2012-10-17\",\n \"Statement\":{\"Efect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}";
    let e = error(text);
    assert_error(&e, "Statement.Efect", "unknown element `Efect`; did you mean `Effect`?");
    assert_eq!(e.to_string(), "line 2 column 15: Statement.Efect: unknown element `Efect`; did you mean `Effect`?");

    let e = error(r#"{"Version":"2012-10-17","Statment":[]}"#);
    assert_error(&e, "Statment", "unknown element `Statment`; did you mean `Statement`?");

    let e = error(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#);
    assert_error(&e, "Statement.Action", "must not be an empty array");

    let e = error(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["*", 3],"Resource":"*"}}"#);
    assert_error(&e, "Statement.Action[1]", "must be a string");

    let e = error(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"Invoke","Resource":"*"}}"#);
    assert_eq!(e.path, "Statement.Action");
    assert!(e.message.starts_with("invalid action `Invoke`"), "{e}");

    let e = error(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"pets/*"}}"#);
    assert_eq!(e.path, "Statement.Resource");
    assert!(e.message.starts_with("invalid resource `pets/*`"), "{e}");

    let e = error(r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
    assert_error(&e, "Version", "unsupported version \"2012-10-18\": use \"2012-10-17\"");

    let e = error(r#"{"Version":"2012-10-17"}"#);
    assert_error(&e, "", "missing required element `Statement`");
    assert_eq!(e.to_string(), "line 1 column 1: missing required element `Statement`");

    let e = error(r#"["not an object"]"#);
    assert_error(&e, "", "policy document must be a JSON object");

    let e = error(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},
        {"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}"#,
    );
    assert_error(&e, "Statement[1].Sid", "duplicate Sid `A`");
    assert_eq!(e.line, Some(2));

    let e =
        error(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}}"#);
    assert_error(&e, "Statement.Effect", "duplicate key `Effect`");
    assert_eq!(e.column, Some(55));
}

#[test]
fn error_principal_placement() {
    let text =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
    let e = error(text);
    assert_error(&e, "Statement[0].Principal", "Policy document should not specify a principal");
    assert_eq!((e.line.unwrap(), e.column.unwrap()), position_of(text, "\"Principal\""));
    let e = error(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":"*","Action":"*","Resource":"*"}]}"#,
    );
    assert_error(&e, "Statement[0].NotPrincipal", "Policy document should not specify a principal");

    let e = Policy::parse_resource_policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
    .unwrap_err();
    assert_error(&e, "Statement[0]", "missing required element `Principal` or `NotPrincipal` (resource policy)");

    let bad = |principal: &str| {
        let text =
            format!(r#"{{"Statement":{{"Effect":"Allow","Principal":{principal},"Action":"*","Resource":"*"}}}}"#);
        Policy::parse_resource_policy(&text).unwrap_err()
    };
    let e = bad(r#"{"AWS":"arn:aws:iam::123456789012:user/*"}"#);
    assert_error(
        &e,
        "Statement.Principal.AWS",
        "wildcards are not allowed in principal `arn:aws:iam::123456789012:user/*`; use \"*\" alone",
    );
    let e = bad(r#"{"AWS":["123456789012","alice"]}"#);
    assert_error(
        &e,
        "Statement.Principal.AWS[1]",
        "invalid principal `alice`: expected \"*\", an account id or an ARN",
    );
    let e = bad(r#"{"AWZ":"*"}"#);
    assert_error(&e, "Statement.Principal.AWZ", "unsupported principal type `AWZ`; did you mean `AWS`?");
    let e = bad(r#""alice""#);
    assert_eq!(e.path, "Statement.Principal");
}

#[test]
fn error_condition_values() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": {
    "Effect": "Deny", "Action": "*", "Resource": "*",
    "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "10.0.0.300/8"]}}
  }
}"#;
    let e = error(text);
    assert_error(
        &e,
        "Statement.Condition.NotIpAddress.aws:SourceIp[1]",
        "invalid IP address or CIDR block `10.0.0.300/8`",
    );
    assert_eq!((e.line.unwrap(), e.column.unwrap()), position_of(text, "\"10.0.0.300/8\""));

    let text = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
  "Condition": {"DateLessThan": {"aws:CurrentTime": "2024-13-01T00:00:00Z"}}}]}"#;
    let e = error(text);
    assert_error(
        &e,
        "Statement[0].Condition.DateLessThan.aws:CurrentTime",
        "invalid date `2024-13-01T00:00:00Z`: expected ISO 8601 / RFC 3339 or epoch seconds",
    );
    assert_eq!((e.line.unwrap(), e.column.unwrap()), position_of(text, "\"aws:CurrentTime\""));

    let cases = [
        ("NumericLessThan", json!("ten"), "invalid number `ten`"),
        ("Bool", json!("yes"), "invalid boolean `yes`: expected \"true\" or \"false\""),
        ("BinaryEquals", json!("***"), "invalid base64 `***`"),
        ("StringEquals", json!([]), "must not be an empty array"),
        ("StringEquals", json!({"a": 1}), "condition value must be a string, number or boolean"),
        ("StringEquals", json!("${aws:username"), "unterminated policy variable in `${aws:username`"),
        (
            "StringEquals",
            json!("${aws:username, guest}"),
            "default value `guest` must be in single quotes in `${aws:username, guest}`",
        ),
    ];
    for (op, value, message) in cases {
        let e = Policy::from_value(&guarded_doc(op, value)).unwrap_err();
        assert_eq!(e.message, message, "{op}");
        assert!(e.path.starts_with(&format!("Statement.Condition.{op}.example:key")), "{e}");
    }
    let doc =
        json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {}}}});
    let e = Policy::from_value(&doc).unwrap_err();
    assert_error(&e, "Statement.Condition.StringEquals", "must be a non-empty object of condition keys to values");
}

#[test]
fn error_syntax_has_line_and_column() {
    let text = "{\n  \"Version\": \"2012-10-17\"\n  \"Statement\": []\n}";
    let e = error(text);
    assert_eq!(e.path, "");
    assert_eq!((e.line, e.column), (Some(3), Some(3)));
    assert_eq!(e.message, "expected `,` or `}`");
    assert_eq!(e.to_string(), "line 3 column 3: expected `,` or `}`");
    let e = PolicyError { path: "Statement".into(), line: None, column: None, message: "bad".into() };
    assert_eq!(e.to_string(), "Statement: bad");
}

#[test]
fn wildcard_matcher_edge_cases() {
    use super::wildcard::{Case, Pattern};
    for (pattern, text, expected) in [
        ("*", "", true),
        ("", "", true),
        ("", "a", false),
        ("a*", "a", true),
        ("*a", "ba", true),
        ("*a", "ab", false),
        ("a*b*c", "aXbYbZc", true),
        ("a*b*c", "aXbYbZ", false),
        ("**a**", "xxa", true),
        ("?", "é", true),
        ("??", "é", false),
        ("*/GET/*", "api/prod/GET/", true),
        ("a?c*", "abcdef", true),
    ] {
        assert_eq!(Pattern::new(pattern, Case::Sensitive).matches(text), expected, "{pattern:?} vs {text:?}");
    }
    assert!(Pattern::new("Ab*", Case::Insensitive).matches("aBc"));
    assert!(Pattern::new("A?c*Z", Case::Insensitive).matches("abcxxz"));
    assert!(!Pattern::new("Ab*", Case::Sensitive).matches("aBc"));
}

#[test]
fn may_read_names_the_condition_keys_and_variables() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"StringLike":{"aws:UserAgent":"x*"}}}]}"#,
    )
    .unwrap();
    assert!(p.may_read("aws:sourceip") && p.may_read("AWS:UserAgent"));
    assert!(!p.may_read("aws:CurrentTime"));
    let vars = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:username}"}]}"#,
    )
    .unwrap();
    assert!(vars.may_read("aws:CurrentTime"), "a variable may name any key");
    let old = Policy::parse(
        r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${a}"}]}"#,
    )
    .unwrap();
    assert!(!old.may_read("aws:CurrentTime"), "2008 policies have no variables");
}
