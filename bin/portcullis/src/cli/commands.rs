//! The client subcommands and the table that turns each into one admin API call: a method, a
//! path, an optional JSON body, and how to show the answer.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

/// IAM subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum IamCommand {
    /// Create a user (no access key, no policy).
    CreateUser { name: String },
    /// Delete a user; its access keys, group memberships and policies must go first.
    DeleteUser { name: String },
    /// List the users.
    ListUsers,
    /// Show a user with its groups, attached policies and access keys.
    GetUser { name: String },
    /// Create a group.
    CreateGroup { name: String },
    /// Delete a group; its users and policies must go first.
    DeleteGroup { name: String },
    /// List the groups.
    ListGroups,
    /// Show a group with its users and attached policies.
    GetGroup { name: String },
    /// Add a user to a group.
    AddUserToGroup(Membership),
    /// Remove a user from a group.
    RemoveUserFromGroup(Membership),
    /// Create a role (default trust policy: any principal of this account whose own policies
    /// allow `sts:AssumeRole` on it).
    CreateRole {
        name: String,
        /// The trust policy, a JSON file (`-`: standard input).
        #[arg(long, value_name = "FILE")]
        trust_policy: Option<PathBuf>,
        /// The longest session `sts assume-role` may ask for, 3600 to 43200 (default 3600).
        #[arg(long, value_name = "N")]
        max_session_secs: Option<i64>,
    },
    /// Replace a role's trust policy.
    UpdateAssumeRolePolicy {
        name: String,
        /// The trust policy, a JSON file (`-`: standard input).
        #[arg(long, value_name = "FILE")]
        document: PathBuf,
    },
    /// Delete a role (its policies must be detached first); its sessions end.
    DeleteRole { name: String },
    /// List the roles.
    ListRoles,
    /// Show a role with its trust policy and attached policies.
    GetRole { name: String },
    /// Create a customer-managed policy.
    CreatePolicy {
        name: String,
        /// The policy document, a JSON file (`-`: standard input).
        #[arg(long, value_name = "FILE")]
        document: PathBuf,
    },
    /// Replace a customer-managed policy's document.
    UpdatePolicy {
        name: String,
        /// The policy document, a JSON file (`-`: standard input).
        #[arg(long, value_name = "FILE")]
        document: PathBuf,
    },
    /// Delete a customer-managed policy (detach it everywhere first).
    DeletePolicy { name: String },
    /// List the customer-managed and built-in policies.
    ListPolicies,
    /// Show a customer-managed policy.
    GetPolicy { name: String },
    /// Attach a managed policy to a user, group or role.
    AttachPolicy(Attachment),
    /// Detach a managed policy from a user, group or role.
    DetachPolicy(Attachment),
    /// Create an access key for a user. The secret is printed this once and never again.
    CreateAccessKey {
        /// The user.
        #[arg(long, value_name = "NAME")]
        user: String,
    },
    /// List a user's access keys (never their secrets).
    ListAccessKeys {
        /// The user.
        #[arg(long, value_name = "NAME")]
        user: String,
    },
    /// Activate or deactivate an access key; it takes effect on the key's next request.
    UpdateAccessKey {
        #[arg(value_name = "ACCESS_KEY_ID")]
        id: String,
        /// `Inactive` refuses the key's requests; `Active` accepts them again.
        #[arg(long, value_parser = ["Active", "Inactive"])]
        status: String,
    },
    /// Delete an access key.
    DeleteAccessKey {
        #[arg(value_name = "ACCESS_KEY_ID")]
        id: String,
    },
}

/// A user and a group.
#[derive(Debug, Args)]
pub(crate) struct Membership {
    /// The group.
    #[arg(long, value_name = "NAME")]
    group: String,
    /// The user.
    #[arg(long, value_name = "NAME")]
    user: String,
}

/// A policy and the one user, group or role it is attached to.
#[derive(Debug, Args)]
pub(crate) struct Attachment {
    #[command(flatten)]
    to: Holder,
    /// The policy's ARN, e.g. `arn:aws:iam::aws:policy/ReadOnlyAccess`.
    #[arg(long, value_name = "ARN")]
    policy_arn: String,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Holder {
    /// The user.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// The group.
    #[arg(long, value_name = "NAME")]
    group: Option<String>,
    /// The role.
    #[arg(long, value_name = "NAME")]
    role: Option<String>,
}

/// STS subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum StsCommand {
    /// Get temporary credentials for a role; prints them and `export AWS_…` lines.
    AssumeRole {
        /// The role.
        #[arg(long, value_name = "NAME")]
        role: String,
        /// A name for the session, 2-64 letters, digits or `+=,.@_-`; it ends the session ARN.
        #[arg(long, value_name = "NAME")]
        session: String,
        /// 900 up to the role's maximum (default 3600).
        #[arg(long, value_name = "N")]
        duration_secs: Option<i64>,
    },
    /// Show who the credentials belong to (always allowed).
    Whoami,
}

/// KMS subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KmsCommand {
    /// List the master key versions.
    Keys,
    /// Add a master key version and make it current.
    Rotate,
    /// Re-wrap every sealed secret under the current master key version.
    Rewrap,
}

/// Generic admin API access.
#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// GET any admin path, e.g. `/config`, `/metrics` or `/audit?after=0&limit=10`.
    Get {
        #[arg(value_name = "PATH")]
        path: String,
    },
}

/// One admin API call.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) body: Option<Value>,
    pub(crate) shows: Shows,
}

/// Where a call goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Path segments, each percent-encoded when the URL is built, and query pairs.
    Segments(Vec<String>, Vec<(&'static str, String)>),
    /// A path (and query) as the user typed it (`admin get`).
    Raw(String),
}

/// How a successful answer is shown beyond its JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shows {
    /// The JSON only.
    Json,
    /// A new access key: also `export` lines for its id and secret.
    AccessKey,
    /// Temporary credentials: also `export` lines with the session token.
    Session,
}

fn to(method: Method, segments: &[&str], body: Option<Value>) -> Call {
    let segments = segments.iter().map(|s| (*s).to_owned()).collect();
    Call { method, target: Target::Segments(segments, Vec::new()), body, shows: Shows::Json }
}

/// Reads a JSON document from a file, or standard input for `-`.
fn document(path: &Path) -> Result<Value, String> {
    let stdin = path == Path::new("-");
    let name = if stdin { "standard input".to_owned() } else { path.display().to_string() };
    let mut text = String::new();
    let read = if stdin {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| format!("cannot read {name}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{name} is not JSON: {e}"))
}

impl Attachment {
    /// The holder's collection and name.
    fn holder(&self) -> Result<(&'static str, &str), String> {
        match (&self.to.user, &self.to.group, &self.to.role) {
            (Some(u), _, _) => Ok(("users", u)),
            (_, Some(g), _) => Ok(("groups", g)),
            (_, _, Some(r)) => Ok(("roles", r)),
            // clap's argument group already requires one.
            (None, None, None) => Err("one of --user, --group or --role is needed".into()),
        }
    }
}

impl IamCommand {
    /// The table: each IAM subcommand as its admin API call.
    pub(crate) fn call(self) -> Result<Call, String> {
        use Method as M;
        Ok(match self {
            Self::CreateUser { name } => to(M::POST, &["iam", "users"], Some(json!({ "name": name }))),
            Self::DeleteUser { name } => to(M::DELETE, &["iam", "users", &name], None),
            Self::ListUsers => to(M::GET, &["iam", "users"], None),
            Self::GetUser { name } => to(M::GET, &["iam", "users", &name], None),
            Self::CreateGroup { name } => to(M::POST, &["iam", "groups"], Some(json!({ "name": name }))),
            Self::DeleteGroup { name } => to(M::DELETE, &["iam", "groups", &name], None),
            Self::ListGroups => to(M::GET, &["iam", "groups"], None),
            Self::GetGroup { name } => to(M::GET, &["iam", "groups", &name], None),
            Self::AddUserToGroup(m) => to(M::PUT, &["iam", "groups", &m.group, "users", &m.user], None),
            Self::RemoveUserFromGroup(m) => to(M::DELETE, &["iam", "groups", &m.group, "users", &m.user], None),
            Self::CreateRole { name, trust_policy, max_session_secs } => {
                let mut body = json!({ "name": name });
                if let Some(path) = trust_policy {
                    body["trust_policy"] = document(&path)?;
                }
                if let Some(secs) = max_session_secs {
                    body["max_session_secs"] = json!(secs);
                }
                to(M::POST, &["iam", "roles"], Some(body))
            }
            Self::UpdateAssumeRolePolicy { name, document: d } => {
                to(M::PUT, &["iam", "roles", &name, "document"], Some(document(&d)?))
            }
            Self::DeleteRole { name } => to(M::DELETE, &["iam", "roles", &name], None),
            Self::ListRoles => to(M::GET, &["iam", "roles"], None),
            Self::GetRole { name } => to(M::GET, &["iam", "roles", &name], None),
            Self::CreatePolicy { name, document: d } => {
                to(M::POST, &["iam", "policies"], Some(json!({ "name": name, "document": document(&d)? })))
            }
            Self::UpdatePolicy { name, document: d } => {
                to(M::PUT, &["iam", "policies", &name, "document"], Some(document(&d)?))
            }
            Self::DeletePolicy { name } => to(M::DELETE, &["iam", "policies", &name], None),
            Self::ListPolicies => to(M::GET, &["iam", "policies"], None),
            Self::GetPolicy { name } => to(M::GET, &["iam", "policies", &name], None),
            Self::AttachPolicy(a) => {
                let (kind, name) = a.holder()?;
                let body = json!({ "policy_arn": a.policy_arn });
                to(M::POST, &["iam", kind, name, "attached-policies"], Some(body))
            }
            Self::DetachPolicy(a) => {
                let (kind, name) = a.holder()?;
                let mut call = to(M::DELETE, &["iam", kind, name, "attached-policies"], None);
                if let Target::Segments(_, query) = &mut call.target {
                    query.push(("policy_arn", a.policy_arn.clone()));
                }
                call
            }
            Self::CreateAccessKey { user } => {
                Call { shows: Shows::AccessKey, ..to(M::POST, &["iam", "users", &user, "access-keys"], None) }
            }
            Self::ListAccessKeys { user } => to(M::GET, &["iam", "users", &user, "access-keys"], None),
            Self::UpdateAccessKey { id, status } => {
                to(M::PATCH, &["iam", "access-keys", &id], Some(json!({ "status": status })))
            }
            Self::DeleteAccessKey { id } => to(M::DELETE, &["iam", "access-keys", &id], None),
        })
    }
}

impl StsCommand {
    /// The table for STS.
    pub(crate) fn call(self) -> Result<Call, String> {
        Ok(match self {
            Self::AssumeRole { role, session, duration_secs } => {
                let mut body = json!({ "role_name": role, "session_name": session });
                if let Some(secs) = duration_secs {
                    body["duration_secs"] = json!(secs);
                }
                Call { shows: Shows::Session, ..to(Method::POST, &["sts", "assume-role"], Some(body)) }
            }
            Self::Whoami => to(Method::GET, &["sts", "caller-identity"], None),
        })
    }
}

impl KmsCommand {
    /// The table for KMS.
    pub(crate) fn call(self) -> Result<Call, String> {
        Ok(match self {
            Self::Keys => to(Method::GET, &["kms", "keys"], None),
            Self::Rotate => to(Method::POST, &["kms", "rotate"], None),
            Self::Rewrap => to(Method::POST, &["kms", "rewrap"], None),
        })
    }
}

impl AdminCommand {
    /// The table for generic access.
    pub(crate) fn call(self) -> Result<Call, String> {
        match self {
            Self::Get { path } if path.starts_with('/') => {
                Ok(Call { method: Method::GET, target: Target::Raw(path), body: None, shows: Shows::Json })
            }
            Self::Get { path } => Err(format!("the path must start with `/`, got `{path}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    #[test]
    fn subcommands_map_to_admin_calls() {
        let detach = IamCommand::DetachPolicy(Attachment {
            to: Holder { user: None, group: Some("ops".into()), role: None },
            policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        });
        let call = detach.call().unwrap();
        assert_eq!(call.method, Method::DELETE);
        assert_eq!(
            call.target,
            Target::Segments(
                vec!["iam".into(), "groups".into(), "ops".into(), "attached-policies".into()],
                vec![("policy_arn", "arn:aws:iam::aws:policy/ReadOnlyAccess".into())]
            )
        );
        let key = IamCommand::CreateAccessKey { user: "bob".into() }.call().unwrap();
        assert_eq!((key.method, key.shows, key.body), (Method::POST, Shows::AccessKey, None));
        let role =
            StsCommand::AssumeRole { role: "r".into(), session: "s".into(), duration_secs: None }.call().unwrap();
        assert_eq!(role.body, Some(json!({ "role_name": "r", "session_name": "s" })));
        assert!(AdminCommand::Get { path: "config".into() }.call().is_err());
    }
}
