//! The client subcommands and the table that turns each into one admin API call: a method, a
//! path (and query), an optional JSON body, how to show the answer, and where to write it.
//! `iam`, `sts`, `kms` and `admin` manage the gateway's own identities and keys; `keys`,
//! `plans` and `usage` manage the API keys callers of the APIs send, their usage plans, and
//! the usage recorded for billing.

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{json, Value};
use zeroize::Zeroizing;

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

/// Audit-trail subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// List audit records, oldest first, optionally by actor, action, target and time; with
    /// --jsonl, one JSON record per line, for export.
    List {
        /// Only records numbered above this.
        #[arg(long, value_name = "SEQ", default_value_t = 0)]
        after: i64,
        /// At most this many (up to 10000).
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: u32,
        /// Exactly this actor (an ARN, `anonymous`, `system`).
        #[arg(long)]
        actor: Option<String>,
        /// Exactly this action (`iam.CreateUser`).
        #[arg(long)]
        action: Option<String>,
        /// Exactly this target.
        #[arg(long)]
        target: Option<String>,
        /// Written at or after this time, milliseconds since the epoch.
        #[arg(long, value_name = "MS")]
        since: Option<i64>,
        /// Written at or before this time.
        #[arg(long, value_name = "MS")]
        until: Option<i64>,
        /// One JSON record per line.
        #[arg(long)]
        jsonl: bool,
        /// Write the answer to this file.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check the hash chain of the audit trail and name every record changed, deleted,
    /// inserted or reordered; exits with an error when the trail is broken.
    Verify {
        /// First record to check (default: the first).
        #[arg(long, value_name = "SEQ")]
        from: Option<i64>,
        /// Last record to check (default: the last).
        #[arg(long, value_name = "SEQ")]
        to: Option<i64>,
    },
}

impl AuditCommand {
    /// The table for the audit trail.
    pub(crate) fn call(self) -> Result<Call, String> {
        Ok(match self {
            Self::List { after, limit, actor, action, target, since, until, jsonl, output } => {
                let mut call = to(Method::GET, &["audit"], None);
                if let Target::Segments(_, query) = &mut call.target {
                    query.push(("after", after.to_string()));
                    query.push(("limit", limit.to_string()));
                    query.extend(actor.map(|v| ("actor", v)));
                    query.extend(action.map(|v| ("action", v)));
                    query.extend(target.map(|v| ("target", v)));
                    query.extend(since.map(|v| ("from_ms", v.to_string())));
                    query.extend(until.map(|v| ("to_ms", v.to_string())));
                    if jsonl {
                        query.push(("format", "jsonl".to_owned()));
                    }
                }
                Call { shows: if jsonl { Shows::Text } else { Shows::Json }, output, ..call }
            }
            Self::Verify { from, to: last } => {
                let mut call = to(Method::GET, &["audit", "verify"], None);
                if let Target::Segments(_, query) = &mut call.target {
                    query.extend(from.map(|f| ("from", f.to_string())));
                    query.extend(last.map(|t| ("to", t.to_string())));
                }
                Call { shows: Shows::Verification, ..call }
            }
        })
    }
}

/// API-key subcommands: the keys callers send in `x-api-key` on routes with
/// `api_key_required`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create an API key (generated, or imported with --value-stdin). Its value is printed this
    /// once and never again; only a short prefix and a keyed hash are stored.
    Create(NewKey),
    /// List the API keys (never their values).
    List,
    /// Show an API key with the usage plans it is attached to.
    Get {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Enable an API key: its requests are accepted again.
    Enable {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Disable an API key: its requests get 403 until it is enabled again.
    Disable {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Delete an API key and its plan attachments (its recorded usage stays, for billing).
    Delete {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Attach an API key to a usage plan: it may then call the plan's API stages, within the
    /// plan's throttle and quota.
    Attach(PlanKey),
    /// Detach an API key from a usage plan.
    Detach(PlanKey),
}

/// What a new API key is made of.
#[derive(Debug, Args)]
pub(crate) struct NewKey {
    /// A name for people.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// A description.
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    /// The customer the key belongs to, as billing knows it (a column of `usage --format csv`).
    #[arg(long, value_name = "ID")]
    customer_id: Option<String>,
    /// Import the value read from standard input (20-128 letters, digits, `-` or `_`; a
    /// trailing newline is dropped) instead of generating one. Keeps the value out of shell
    /// history and `ps`.
    #[arg(long, conflicts_with = "value")]
    value_stdin: bool,
    /// Import this value instead of generating one. It shows in shell history and `ps`: prefer
    /// --value-stdin.
    #[arg(long, value_name = "VALUE")]
    value: Option<String>,
    /// Create the key disabled (enable it later with `keys enable`).
    #[arg(long)]
    disabled: bool,
}

/// An API key and a usage plan.
#[derive(Debug, Args)]
pub(crate) struct PlanKey {
    /// The API key's id.
    #[arg(value_name = "ID")]
    id: String,
    /// The usage plan's id (see `plans list`).
    #[arg(long, value_name = "PLAN")]
    plan: String,
}

/// Usage-plan subcommands. Plans are defined in the config file (`usage_plans`); these read
/// them.
#[derive(Debug, Subcommand)]
pub(crate) enum PlansCommand {
    /// List the usage plans of the running config, with their throttles, quotas and stages.
    List,
    /// List the API keys attached to a usage plan.
    Keys {
        #[arg(value_name = "PLAN")]
        plan: String,
    },
}

/// A usage report.
#[derive(Debug, Args)]
pub(crate) struct UsageArgs {
    /// The usage plan.
    #[arg(long, value_name = "PLAN")]
    plan: String,
    /// The first day of the report (in the plan's quota time zone, else UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    start: String,
    /// The last day of the report, included (a report covers at most 366 days).
    #[arg(long, value_name = "YYYY-MM-DD")]
    end: String,
    /// Only this API key.
    #[arg(long, value_name = "ID")]
    key: Option<String>,
    /// `json`: per key, `[used, remaining]` for each day, and the per-route rows; `csv`: one
    /// line per key, day and route, for billing.
    #[arg(long, value_enum, default_value_t = UsageFormat::Json)]
    format: UsageFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// The shape of a usage report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum UsageFormat {
    /// JSON, in the shape of API Gateway's GetUsage.
    Json,
    /// CSV, with a header line.
    Csv,
}

/// One admin API call.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) body: Option<Value>,
    pub(crate) shows: Shows,
    /// A file to write the answer to instead of standard output.
    pub(crate) output: Option<PathBuf>,
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
    /// A new API key: also a reminder on stderr that its value is shown only once.
    ApiKey,
    /// The answer's body as it is (CSV), not as JSON.
    Text,
    /// An audit verification: a broken trail fails the command.
    Verification,
}

fn to(method: Method, segments: &[&str], body: Option<Value>) -> Call {
    let segments = segments.iter().map(|s| (*s).to_owned()).collect();
    Call { method, target: Target::Segments(segments, Vec::new()), body, shows: Shows::Json, output: None }
}

/// `portcullis apply`: checks a config file here (errors name its lines), then publishes it as
/// the next version, which every node of the cluster serves.
pub(crate) fn apply(file: &Path, comment: Option<String>) -> Result<Call, String> {
    let document = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    model::load_file(file).map_err(|errors| format!("{} is not valid:\n{errors}", file.display()))?;
    let body = serde_json::json!({
        "document": document,
        "name": file.display().to_string(),
        "comment": comment.unwrap_or_default(),
    });
    Ok(to(Method::POST, &["config", "versions"], Some(body)))
}

/// `portcullis status`: the nodes sharing the store, their config versions and heartbeats.
pub(crate) fn status() -> Call {
    to(Method::GET, &["cluster", "nodes"], None)
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
            Self::Get { path } if path.starts_with('/') => Ok(Call {
                method: Method::GET,
                target: Target::Raw(path),
                body: None,
                shows: Shows::Json,
                output: None,
            }),
            Self::Get { path } => Err(format!("the path must start with `/`, got `{path}`")),
        }
    }
}

/// Reads an API key value to import from standard input: the first line at a terminal (after
/// a prompt), else everything up to the end. Errors never hold the value.
fn value_from_stdin() -> Result<Zeroizing<String>, String> {
    let stdin = std::io::stdin();
    let mut text = Zeroizing::new(String::new());
    let read = if stdin.is_terminal() {
        eprint!("API key value: ");
        stdin.read_line(&mut text)
    } else {
        stdin.lock().read_to_string(&mut text)
    };
    read.map_err(|e| format!("--value-stdin: cannot read standard input: {e}"))?;
    let value = text.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        return Err("--value-stdin: standard input holds no value".into());
    }
    Ok(Zeroizing::new(value.to_owned()))
}

impl NewKey {
    /// The body of `POST /api-keys`: only what was given, so the API's defaults apply.
    fn body(self, stdin: impl FnOnce() -> Result<Zeroizing<String>, String>) -> Result<Value, String> {
        let mut body = json!({ "name": self.name, "enabled": !self.disabled });
        if let Some(d) = self.description {
            body["description"] = json!(d);
        }
        if let Some(c) = self.customer_id {
            body["customer_id"] = json!(c);
        }
        if self.value_stdin {
            body["value"] = json!(stdin()?.as_str());
        } else if let Some(v) = self.value {
            body["value"] = json!(v);
        }
        Ok(body)
    }
}

impl KeysCommand {
    /// The table for API keys.
    pub(crate) fn call(self) -> Result<Call, String> {
        use Method as M;
        Ok(match self {
            Self::Create(new) => {
                Call { shows: Shows::ApiKey, ..to(M::POST, &["api-keys"], Some(new.body(value_from_stdin)?)) }
            }
            Self::List => to(M::GET, &["api-keys"], None),
            Self::Get { id } => to(M::GET, &["api-keys", &id], None),
            Self::Enable { id } => to(M::PATCH, &["api-keys", &id], Some(json!({ "enabled": true }))),
            Self::Disable { id } => to(M::PATCH, &["api-keys", &id], Some(json!({ "enabled": false }))),
            Self::Delete { id } => to(M::DELETE, &["api-keys", &id], None),
            Self::Attach(k) => to(M::PUT, &["usage-plans", &k.plan, "keys", &k.id], None),
            Self::Detach(k) => to(M::DELETE, &["usage-plans", &k.plan, "keys", &k.id], None),
        })
    }
}

/// Certificate subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CertsCommand {
    /// List every certificate in service: files, ACME and imports, with issuer and expiry,
    /// soonest expiry first.
    List,
    /// Show the certificate for a name.
    Get { name: String },
    /// Import a certificate for a name (`api.example.com` or `*.example.com`): served at once
    /// by this node and within a minute by the others; the key is sealed by the KMS.
    Import {
        name: String,
        /// PEM file with the chain, leaf first.
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// PEM file with the private key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Delete a stored certificate (an import, or an ACME one, which is then ordered again).
    Delete { name: String },
}

/// Alarms on the metrics store: list, show with history, create or replace, delete.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AlarmsCommand {
    /// List every alarm (config and admin API) with its state.
    List,
    /// Show an alarm with its definition and its last state changes.
    Get { name: String },
    /// Create or replace an admin-API alarm from a JSON definition file (`-` for standard
    /// input), e.g. `{"template": "server_errors", "dimensions": {"api": "pets"}}`.
    Put {
        name: String,
        /// The definition, as in the config's `alarms[]` entries (without `name`).
        #[arg(long, value_name = "FILE")]
        definition: PathBuf,
    },
    /// Delete an admin-API alarm.
    Delete { name: String },
}

impl AlarmsCommand {
    /// The table for alarms.
    pub(crate) fn call(self) -> Result<Call, String> {
        Ok(match self {
            Self::List => to(Method::GET, &["alarms"], None),
            Self::Get { name } => to(Method::GET, &["alarms", &name], None),
            Self::Put { name, definition } => to(Method::PUT, &["alarms", &name], Some(document(&definition)?)),
            Self::Delete { name } => to(Method::DELETE, &["alarms", &name], None),
        })
    }
}

/// One metric from this node's metrics store, by period (`GET /metrics/query`).
#[derive(Debug, clap::Args)]
pub(crate) struct MetricsQueryArgs {
    /// `Count`, `4XXError`, `5XXError`, `Latency`, `IntegrationLatency`, `Throttled`,
    /// `QuotaExceeded`, `AuthFailures`, `WafBlocked` or `CertificatesExpiringSoon`.
    metric: String,
    /// `Sum` (default), `Average`, `Minimum`, `Maximum`, `SampleCount` or `pNN`.
    #[arg(long)]
    statistic: Option<String>,
    /// Seconds per datapoint, a multiple of 10 [default: 60].
    #[arg(long, value_name = "SECS")]
    period: Option<u32>,
    /// Only this API.
    #[arg(long)]
    api: Option<String>,
    /// Only this stage.
    #[arg(long)]
    stage: Option<String>,
    /// Only this route key, e.g. `GET /pets/{id}`.
    #[arg(long)]
    route: Option<String>,
    /// Only this API key id (alone: no api, stage or route).
    #[arg(long)]
    key: Option<String>,
    /// From, ms since the epoch [default: an hour before --until].
    #[arg(long, value_name = "MS")]
    since: Option<i64>,
    /// Until (exclusive), ms since the epoch [default: now].
    #[arg(long, value_name = "MS")]
    until: Option<i64>,
}

impl MetricsQueryArgs {
    /// `GET /metrics/query` with the arguments as its query.
    pub(crate) fn call(self) -> Result<Call, String> {
        let mut call = to(Method::GET, &["metrics", "query"], None);
        if let Target::Segments(_, query) = &mut call.target {
            query.push(("metric", self.metric));
            query.extend(self.statistic.map(|v| ("statistic", v)));
            query.extend(self.period.map(|v| ("period", v.to_string())));
            query.extend(self.api.map(|v| ("api", v)));
            query.extend(self.stage.map(|v| ("stage", v)));
            query.extend(self.route.map(|v| ("route", v)));
            query.extend(self.key.map(|v| ("key", v)));
            query.extend(self.since.map(|v| ("from_ms", v.to_string())));
            query.extend(self.until.map(|v| ("to_ms", v.to_string())));
        }
        Ok(call)
    }
}

impl CertsCommand {
    /// The table for certificates.
    pub(crate) fn call(self) -> Result<Call, String> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
        Ok(match self {
            Self::List => to(Method::GET, &["certificates"], None),
            Self::Get { name } => to(Method::GET, &["certificates", &name], None),
            Self::Import { name, cert, key } => {
                let body = json!({ "certificate": read(&cert)?, "private_key": read(&key)? });
                to(Method::PUT, &["certificates", &name], Some(body))
            }
            Self::Delete { name } => to(Method::DELETE, &["certificates", &name], None),
        })
    }
}

impl PlansCommand {
    /// The table for usage plans.
    pub(crate) fn call(self) -> Result<Call, String> {
        Ok(match self {
            Self::List => to(Method::GET, &["usage-plans"], None),
            Self::Keys { plan } => to(Method::GET, &["usage-plans", &plan, "keys"], None),
        })
    }
}

impl UsageArgs {
    /// `GET /usage-plans/{plan}/usage` with the report's query.
    pub(crate) fn call(self) -> Result<Call, String> {
        let mut call = to(Method::GET, &["usage-plans", &self.plan, "usage"], None);
        if let Target::Segments(_, query) = &mut call.target {
            query.push(("startDate", self.start));
            query.push(("endDate", self.end));
            if let Some(k) = self.key {
                query.push(("keyId", k));
            }
            query.push(("format", if self.format == UsageFormat::Csv { "csv" } else { "json" }.to_owned()));
        }
        if self.format == UsageFormat::Csv {
            call.shows = Shows::Text;
        }
        call.output = self.output;
        Ok(call)
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

    #[test]
    fn key_and_usage_commands_map_to_admin_calls() {
        let new = |value_stdin, value: Option<&str>| NewKey {
            name: "shop".into(),
            description: None,
            customer_id: Some("c-1".into()),
            value_stdin,
            value: value.map(Into::into),
            disabled: true,
        };
        let body = new(false, None).body(|| panic!("no stdin")).unwrap();
        assert_eq!(body, json!({ "name": "shop", "customer_id": "c-1", "enabled": false }));
        let body = new(true, None).body(|| Ok(Zeroizing::new("v".repeat(20)))).unwrap();
        assert_eq!(body["value"], "v".repeat(20));
        assert_eq!(new(false, Some("x")).body(|| panic!("no stdin")).unwrap()["value"], "x");

        let disable = KeysCommand::Disable { id: "k1".into() }.call().unwrap();
        assert_eq!(disable.method, Method::PATCH);
        assert_eq!(disable.body, Some(json!({ "enabled": false })));
        let attach = KeysCommand::Attach(PlanKey { id: "k1".into(), plan: "basic".into() }).call().unwrap();
        assert_eq!(
            (attach.method, attach.target),
            (
                Method::PUT,
                Target::Segments(vec!["usage-plans".into(), "basic".into(), "keys".into(), "k1".into()], vec![])
            )
        );

        let usage = UsageArgs {
            plan: "basic".into(),
            start: "2026-01-01".into(),
            end: "2026-01-31".into(),
            key: Some("k 1".into()),
            format: UsageFormat::Csv,
            output: Some("out.csv".into()),
        };
        let call = usage.call().unwrap();
        assert_eq!((call.shows, call.output), (Shows::Text, Some(PathBuf::from("out.csv"))));
        assert_eq!(
            call.target,
            Target::Segments(
                vec!["usage-plans".into(), "basic".into(), "usage".into()],
                vec![
                    ("startDate", "2026-01-01".into()),
                    ("endDate", "2026-01-31".into()),
                    ("keyId", "k 1".into()),
                    ("format", "csv".into())
                ]
            )
        );
    }
}
