//! Built-in managed policies, addressed by AWS-style ARNs under `arn:aws:iam::aws:policy/`.
//! Compiled once on first use.

use std::sync::LazyLock;

use super::Policy;

/// Read-only access: `GET`, `HEAD` and `OPTIONS` on every API, plus `portcullis:Get*`,
/// `portcullis:List*` and `portcullis:Describe*`.
pub const READ_ONLY_ARN: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
/// Invoke any method of any API, plus the read-only `portcullis:` actions.
pub const WRITE_ARN: &str = "arn:aws:iam::aws:policy/WriteAccess";
/// Every action on every resource.
pub const ADMIN_ARN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

const READ_ONLY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "execute-api:Invoke",
      "Resource": [
        "arn:aws:execute-api:*:*:*/*/GET/*",
        "arn:aws:execute-api:*:*:*/*/HEAD/*",
        "arn:aws:execute-api:*:*:*/*/OPTIONS/*"
      ]
    },
    {
      "Effect": "Allow",
      "Action": ["portcullis:Get*", "portcullis:List*", "portcullis:Describe*"],
      "Resource": "*"
    }
  ]
}"#;

const WRITE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    { "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*" },
    {
      "Effect": "Allow",
      "Action": ["portcullis:Get*", "portcullis:List*", "portcullis:Describe*"],
      "Resource": "*"
    }
  ]
}"#;

const ADMIN: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }]
}"#;

/// The documents are constants covered by tests; should one ever fail to compile it is left
/// out, which fails closed (the ARN then grants nothing) instead of panicking.
static POLICIES: LazyLock<Vec<(&'static str, Policy)>> = LazyLock::new(|| {
    [(READ_ONLY_ARN, READ_ONLY), (WRITE_ARN, WRITE), (ADMIN_ARN, ADMIN)]
        .into_iter()
        .filter_map(|(arn, doc)| Policy::parse(doc).ok().map(|p| (arn, p)))
        .collect()
});

/// The built-in policy with this ARN.
pub fn builtin(arn: &str) -> Option<&'static Policy> {
    POLICIES.iter().find(|(a, _)| *a == arn).map(|(_, p)| p)
}

/// Every built-in policy with its ARN.
pub fn all() -> impl Iterator<Item = (&'static str, &'static Policy)> {
    POLICIES.iter().map(|(a, p)| (*a, p))
}
