//! The IAM policy language: parsing arbitrary text as an identity and as a resource policy
//! never panics, and a policy that parses evaluates (alone and in combination) without
//! panicking against a request with a principal and the usual condition keys.
#![no_main]

use std::sync::Arc;

use iam::policy::{self, Policy, Principal, PrincipalKind, RequestContext};

fn context() -> RequestContext {
    let principal = Principal {
        arn: "arn:aws:iam::123456789012:user/alice".into(),
        account: "123456789012".into(),
        kind: PrincipalKind::User,
        user_name: Some("alice".into()),
        user_id: "AIDAEXAMPLE".into(),
    };
    RequestContext::new("execute-api:Invoke", "arn:aws:execute-api:us-east-1:123456789012:pets/prod/GET/pets/42")
        .principal(Some(Arc::new(principal)))
        .with("aws:SourceIp", ["203.0.113.7"])
        .with("aws:SecureTransport", ["true"])
        .with("aws:EpochTime", ["1700000000"])
        .with("aws:CurrentTime", ["2023-11-14T22:13:20Z"])
        .with("aws:UserAgent", ["aws-sdk-rust/1.0 \u{e9}"])
        .with("aws:Referer", ["https://example.com/a?b=c"])
        .with("aws:TagKeys", ["team", "env", ""])
}

libfuzzer_sys::fuzz_target!(|text: &str| {
    let identity = Policy::parse(text);
    let resource = Policy::parse_resource_policy(text);
    let ctx = context();
    let anonymous = context().principal(None);
    if let Ok(p) = &identity {
        let i = policy::evaluate(&[p], &ctx);
        let _ = policy::evaluate(&[p, p], &anonymous);
        let _ = policy::combine_same_account(i, i);
        let _ = policy::combine_cross_account(i, i);
        // The compiled policy keeps the document it came from, and it compiles again.
        assert!(Policy::from_value(p.document()).is_ok(), "{text}");
    }
    if let Ok(p) = &resource {
        let _ = policy::evaluate_resource(p, &ctx);
        let _ = policy::evaluate_resource(p, &anonymous);
        assert!(Policy::from_value_as(p.document(), policy::PolicyKind::Resource).is_ok(), "{text}");
    }
});
