#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]
//! The IAM work of an `auth: iam` request, apart from the rest of the pipeline:
//!
//! - `sigv4_verify_get`: a GET without a body signed by AWS's own signer (`aws-sigv4`), through
//!   `sigv4::parse`, `check_scope`, `Directory::authenticate` (a cache hit after the first
//!   call), `Caller::signing_key` (cached per scope) and `verify` (the canonical request, the
//!   string to sign and one HMAC). Target: ≤ 5 µs.
//! - `policy_eval_20_statements`: a 20-statement identity policy (Allow and Deny, wildcard
//!   resources, `IpAddress`, `StringEquals`, `StringLike`, `DateLessThan`, `Bool` conditions)
//!   evaluated against an `execute-api:Invoke` request. Target: ≤ 2 µs.
//! - `policy_parse_20_statements`: compiling that policy from JSON (done once per policy and
//!   cache period, not per request), for information.

mod common;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderMap;
use iam::policy::{self, Decision, Policy, Principal, PrincipalKind, RequestContext};
use iam::sigv4::{self, Expect};

const HOST: &str = "api.example.com";
const PATH: &str = "/prod/pets/42";
const QUERY: &str = "view=full&lang=en";

/// A realistic identity policy of 20 statements. Most Allows are for other APIs, stages or
/// methods; four of the six Denies cover every resource and fail only on conditions that do
/// not hold for this request, so they are evaluated down to those; the allowing statement
/// comes late.
const POLICY_20: &str = r#"{
  "Version": "2012-10-17",
  "Id": "bench-20",
  "Statement": [
    {"Sid": "DenyOutsideOffice", "Effect": "Deny", "Action": "execute-api:*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"]}}},
    {"Sid": "DenyPlainHttp", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "DenyAfterContractEnd", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*",
     "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2030-12-31T23:59:59Z"}}},
    {"Sid": "DenyAdminPaths", "Effect": "Deny", "Action": "execute-api:Invoke",
     "Resource": ["arn:aws:execute-api:*:*:*/*/*/admin/*", "arn:aws:execute-api:*:*:*/*/*/internal/*"]},
    {"Sid": "DenyDeleteInProd", "Effect": "Deny", "Action": "execute-api:Invoke",
     "Resource": "arn:aws:execute-api:us-east-1:000000000000:*/prod/DELETE/*"},
    {"Sid": "DenyScanners", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*",
     "Condition": {"StringLike": {"aws:UserAgent": ["*sqlmap*", "*nikto*", "*masscan*"]}}},
    {"Sid": "OrdersRead", "Effect": "Allow", "Action": "execute-api:Invoke",
     "Resource": ["arn:aws:execute-api:us-east-1:000000000000:orders/*/GET/*", "arn:aws:execute-api:us-east-1:000000000000:orders/*/HEAD/*"]},
    {"Sid": "OrdersWrite", "Effect": "Allow", "Action": "execute-api:Invoke",
     "Resource": "arn:aws:execute-api:us-east-1:000000000000:orders/*/POST/orders",
     "Condition": {"StringEquals": {"aws:PrincipalType": "AssumedRole"}}},
    {"Sid": "Billing", "Effect": "Allow", "Action": "execute-api:Invoke",
     "Resource": "arn:aws:execute-api:us-east-1:000000000000:billing/*",
     "Condition": {"StringEquals": {"aws:username": ["carol", "dave"]}}},
    {"Sid": "StagingAll", "Effect": "Allow", "Action": "execute-api:Invoke",
     "Resource": "arn:aws:execute-api:us-east-1:000000000000:*/staging/*"},
    {"Sid": "OtherRegion", "Effect": "Allow", "Action": "execute-api:Invoke",
     "Resource": "arn:aws:execute-api:eu-west-1:000000000000:*"},
    {"Sid": "AdminApi", "Effect": "Allow", "Action": ["portcullis:Get*", "portcullis:List*", "portcullis:Describe*"],
     "Resource": "*"},
    {"Sid": "OwnUser", "Effect": "Allow", "Action": ["portcullis:*AccessKey*", "portcullis:GetUser"],
     "Resource": "arn:aws:iam::000000000000:user/${aws:username}"},
    {"Sid": "PetsWrite", "Effect": "Allow", "Action": "execute-api:Invoke",
     "Resource": ["arn:aws:execute-api:us-east-1:000000000000:pets/prod/POST/pets", "arn:aws:execute-api:us-east-1:000000000000:pets/prod/PUT/pets/*"],
     "Condition": {"StringEquals": {"aws:PrincipalTag/team": "pets"}}},
    {"Sid": "Reports", "Effect": "Allow", "Action": "execute-api:Invoke",
     "Resource": "arn:aws:execute-api:us-east-1:000000000000:reports/prod/GET/reports/????/*"},
    {"Sid": "Search", "Effect": "Allow", "Action": "execute-api:Invoke",
     "Resource": "arn:aws:execute-api:us-east-1:000000000000:search/prod/GET/*",
     "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}},
    {"Sid": "Health", "Effect": "Allow", "Action": "execute-api:Invoke",
     "Resource": "arn:aws:execute-api:*:*:*/*/GET/health"},
    {"Sid": "NotInvoke", "Effect": "Allow", "NotAction": "execute-api:Invoke", "Resource": "arn:aws:s3:::bench-*"},
    {"Sid": "PetsRead", "Effect": "Allow", "Action": "execute-api:Invoke",
     "Resource": ["arn:aws:execute-api:us-east-1:000000000000:pets/prod/GET/pets", "arn:aws:execute-api:us-east-1:000000000000:pets/prod/GET/pets/*"],
     "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
                   "StringEquals": {"aws:PrincipalAccount": "000000000000"},
                   "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}},
    {"Sid": "PetsReadAnywhere", "Effect": "Allow", "Action": "execute-api:Invoke",
     "Resource": "arn:aws:execute-api:*:000000000000:pets/*/GET/*",
     "Condition": {"StringLike": {"aws:UserAgent": "aws-sdk-*"}}}
  ]
}"#;

/// The request `policy_eval_20_statements` authorises, with the keys the gateway fills in.
fn request_context() -> RequestContext {
    let principal = Principal {
        arn: format!("arn:aws:iam::{}:user/alice", common::ACCOUNT),
        account: common::ACCOUNT.to_owned(),
        kind: PrincipalKind::User,
        user_name: Some("alice".to_owned()),
        user_id: "AIDAEXAMPLEALICE00001".to_owned(),
    };
    RequestContext::new("execute-api:Invoke", "arn:aws:execute-api:us-east-1:000000000000:pets/prod/GET/pets/42")
        .principal(Some(Arc::new(principal)))
        .with("aws:SourceIp", ["203.0.113.7"])
        .with("aws:SecureTransport", ["true"])
        .with("aws:EpochTime", ["1764000000"])
        .with("aws:CurrentTime", ["2025-11-24T16:00:00Z"])
        .with("aws:UserAgent", ["aws-sdk-rust/1.3.0 os/linux lang/rust/1.95.0"])
}

fn policy(c: &mut Criterion) {
    let compiled = Policy::parse(POLICY_20).expect("policy");
    assert_eq!(compiled.statement_count(), 20);
    let req = request_context();
    assert_eq!(policy::evaluate(&[&compiled], &req), Decision::Allow);
    c.bench_function("policy_eval_20_statements", |b| {
        b.iter(|| policy::evaluate(black_box(&[&compiled]), black_box(&req)));
    });
    c.bench_function("policy_parse_20_statements", |b| b.iter(|| Policy::parse(black_box(POLICY_20))));
}

fn sigv4(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let _entered = rt.enter();
    let dir = tempfile::tempdir().expect("temp dir");
    let directory = rt.block_on(common::directory(dir.path()));
    let user = rt.block_on(common::user(&directory, "bench", "arn:aws:iam::aws:policy/ReadOnlyAccess"));

    let signed = common::sign_get(&user, &format!("https://{HOST}{PATH}?{QUERY}"));
    let mut headers = HeaderMap::new();
    headers.insert("host", HOST.parse().expect("host"));
    headers.insert("user-agent", "aws-sdk-rust/1.3.0 os/linux lang/rust/1.95.0".parse().expect("user agent"));
    headers.insert("accept", "application/json".parse().expect("accept"));
    for (name, value) in &signed {
        headers.insert(http::HeaderName::from_bytes(name.as_bytes()).expect("name"), value.parse().expect("value"));
    }
    let req = sigv4::Request { method: "GET", path: PATH, query: Some(QUERY), headers: &headers, authority: None };
    let expect = Expect { region: common::REGION, service: "execute-api", skew_secs: 300 };
    let now_ms = common::now_ms();

    // Everything the gateway's authorise phase does with the signature, body hash aside.
    let check = || async {
        let sig = sigv4::parse(black_box(&req)).expect("parse");
        sig.check_scope(&expect, now_ms / 1000).expect("scope");
        let caller = directory.authenticate(&sig, now_ms).await.expect("authenticate");
        sig.verify(&req, sigv4::EMPTY_SHA256, &caller.signing_key(&sig.scope)).expect("verify");
        caller
    };
    // The first call reads the store and opens the secret; the rest hit the cache.
    let caller = rt.block_on(check());
    assert_eq!(caller.access_key_id, user.access_key_id);

    c.bench_function("sigv4_verify_get", |b| b.iter(|| rt.block_on(check())));
}

criterion_group!(benches, sigv4, policy);
criterion_main!(benches);
