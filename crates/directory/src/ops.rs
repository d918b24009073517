//! The IAM operations of the admin API: users, groups, roles, managed policies, attachments,
//! access keys, `AssumeRole`, and re-wrapping every sealed secret after a KMS rotation. Each
//! change empties the caller cache.

use iam::policy::{managed, Decision, Policy, PolicyKind, RequestContext};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use store::{Credential, DeleteOutcome, Entity, EntityKind, Relation, Store as _};

use crate::names::{check_name, new_access_key_id, new_entity_id, new_secret, new_session_token, subject};
use crate::{entity_arn, secret_context, Caller, Directory, DirectoryError};

/// AWS allows two access keys per user, so a key can be rotated without downtime.
const KEYS_PER_USER: i64 = 2;
/// The shortest session `AssumeRole` grants (15 minutes).
pub const ROLE_SESSION_MIN_SECS: i64 = 900;
/// The longest session a role session may obtain by assuming another role (AWS: 1 hour).
const ROLE_CHAINING_MAX_SECS: i64 = 3600;
/// The longest session a role may allow (12 hours).
pub const ROLE_SESSION_MAX_SECS: i64 = 43_200;

/// An access key as listed: never its secret.
#[derive(Debug, Clone, Serialize)]
pub struct AccessKey {
    /// The key id.
    pub access_key_id: String,
    /// The user.
    pub user_name: String,
    /// `Active` or `Inactive`, as AWS spells them.
    pub status: &'static str,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// Last use, ms since the Unix epoch (minute resolution).
    pub last_used_ms: Option<i64>,
}

/// A new access key with its secret, returned once.
#[derive(Clone, Serialize)]
pub struct NewAccessKey {
    /// The key as listed.
    #[serde(flatten)]
    pub key: AccessKey,
    /// The secret access key. Shown once; only a KMS envelope of it is kept.
    pub secret_access_key: String,
}

/// Credentials issued by `AssumeRole`.
#[derive(Clone, Serialize)]
pub struct TemporaryCredentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// Sent as `X-Amz-Security-Token`.
    pub session_token: String,
    /// Expiry, ms since the Unix epoch.
    pub expiration_ms: i64,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub assumed_role_arn: String,
}

impl std::fmt::Debug for NewAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccessKey").field("key", &self.key).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration_ms", &self.expiration_ms)
            .finish_non_exhaustive()
    }
}

fn listed(c: &Credential) -> AccessKey {
    AccessKey {
        access_key_id: c.access_key_id.clone(),
        user_name: c.owner_name.clone(),
        status: if c.active { "Active" } else { "Inactive" },
        created_at_ms: c.created_at_ms,
        last_used_ms: c.last_used_ms,
    }
}

fn not_found(kind: EntityKind, name: &str) -> DirectoryError {
    DirectoryError::NotFound(format!("no {} named `{name}`", kind.as_str()))
}

// === impl Directory ===

impl Directory {
    /// Creates a user, group, role or managed policy. `document` is the policy (policies) or
    /// the trust policy (roles; default: any principal of this account, subject to its own
    /// policies allowing `sts:AssumeRole`).
    pub async fn create(
        &self,
        kind: EntityKind,
        name: &str,
        document: Option<&serde_json::Value>,
        max_session_secs: Option<i64>,
        now_ms: i64,
    ) -> Result<Entity, DirectoryError> {
        check_name(kind, name)?;
        let document = match (kind, document) {
            (EntityKind::Policy, Some(d)) => checked(d, PolicyKind::Identity)?,
            (EntityKind::Policy, None) => return Err(DirectoryError::Invalid("a policy needs a `document`".into())),
            (EntityKind::Role, Some(d)) => checked(&trust_policy(d), PolicyKind::Resource)?,
            (EntityKind::Role, None) => checked(
                &trust_policy(&serde_json::json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"AWS": format!("arn:aws:iam::{}:root", self.account_id())},
                        "Action": "sts:AssumeRole"
                    }]
                })),
                PolicyKind::Resource,
            )?,
            (_, Some(_)) => return Err(DirectoryError::Invalid(format!("a {} has no document", kind.as_str()))),
            (_, None) => String::new(),
        };
        let max_session_secs = match kind {
            EntityKind::Role => {
                let secs = max_session_secs.unwrap_or(3600);
                if !(3600..=ROLE_SESSION_MAX_SECS).contains(&secs) {
                    return Err(DirectoryError::Invalid(format!(
                        "max_session_secs must be from 3600 to {ROLE_SESSION_MAX_SECS}, got {secs}"
                    )));
                }
                secs
            }
            _ => 0,
        };
        let entity = Entity {
            kind,
            name: name.to_owned(),
            id: new_entity_id(kind),
            document,
            max_session_secs,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
        };
        if !self.store().iam_create(&entity).await? {
            return Err(DirectoryError::AlreadyExists(format!("a {} named `{name}` exists", kind.as_str())));
        }
        Ok(entity)
    }

    /// Replaces a managed policy's document or a role's trust policy.
    pub async fn set_document(
        &self,
        kind: EntityKind,
        name: &str,
        document: &serde_json::Value,
        now_ms: i64,
    ) -> Result<(), DirectoryError> {
        let text = match kind {
            EntityKind::Policy => checked(document, PolicyKind::Identity)?,
            EntityKind::Role => checked(&trust_policy(document), PolicyKind::Resource)?,
            _ => return Err(DirectoryError::Invalid(format!("a {} has no document", kind.as_str()))),
        };
        if !self.store().iam_set_document(kind, name, &text, now_ms).await? {
            return Err(not_found(kind, name));
        }
        self.invalidate();
        Ok(())
    }

    /// One entity.
    pub async fn get(&self, kind: EntityKind, name: &str) -> Result<Entity, DirectoryError> {
        self.store().iam_get(kind, name).await?.ok_or_else(|| not_found(kind, name))
    }

    /// Every entity of a kind.
    pub async fn list(&self, kind: EntityKind) -> Result<Vec<Entity>, DirectoryError> {
        Ok(self.store().iam_list(kind).await?)
    }

    /// Deletes an entity that nothing refers to any more.
    pub async fn delete(&self, kind: EntityKind, name: &str) -> Result<(), DirectoryError> {
        let arn = entity_arn(&self.account_id(), kind, name);
        let outcome = self.store().iam_delete(kind, name, &arn).await?;
        self.invalidate();
        match outcome {
            DeleteOutcome::Deleted => Ok(()),
            DeleteOutcome::NotFound => Err(not_found(kind, name)),
            DeleteOutcome::Conflict(why) => Err(DirectoryError::Conflict(why)),
        }
    }

    /// Adds a user to a group (`add`) or removes it.
    pub async fn set_membership(&self, user: &str, group: &str, add: bool) -> Result<(), DirectoryError> {
        self.get(EntityKind::User, user).await?;
        self.get(EntityKind::Group, group).await?;
        let changed = if add {
            self.store().iam_relate(Relation::MemberOf, user, group).await?
        } else {
            self.store().iam_unrelate(Relation::MemberOf, user, group).await?
        };
        self.invalidate();
        if !add && !changed {
            return Err(DirectoryError::NotFound(format!("user `{user}` is not in group `{group}`")));
        }
        Ok(())
    }

    /// The groups of a user, or the users of a group.
    pub async fn members(&self, kind: EntityKind, name: &str) -> Result<Vec<String>, DirectoryError> {
        self.get(kind, name).await?;
        Ok(match kind {
            EntityKind::Group => self.store().iam_relating(Relation::MemberOf, name).await?,
            _ => self.store().iam_related(Relation::MemberOf, name).await?,
        })
    }

    /// Attaches (`attach`) or detaches a managed policy to a user, group or role.
    pub async fn set_attachment(
        &self,
        kind: EntityKind,
        name: &str,
        policy_arn: &str,
        attach: bool,
    ) -> Result<(), DirectoryError> {
        if kind == EntityKind::Policy {
            return Err(DirectoryError::Invalid("policies attach to users, groups and roles".into()));
        }
        self.get(kind, name).await?;
        if attach && self.policy(policy_arn).await?.is_none() {
            return Err(DirectoryError::NotFound(format!("no managed policy `{policy_arn}`")));
        }
        let s = subject(kind, name);
        let changed = if attach {
            self.store().iam_relate(Relation::Attached, &s, policy_arn).await?
        } else {
            self.store().iam_unrelate(Relation::Attached, &s, policy_arn).await?
        };
        self.invalidate();
        if !attach && !changed {
            return Err(DirectoryError::NotFound(format!("`{policy_arn}` is not attached to {s}")));
        }
        Ok(())
    }

    /// The policy ARNs attached to a user, group or role.
    pub async fn attachments(&self, kind: EntityKind, name: &str) -> Result<Vec<String>, DirectoryError> {
        self.get(kind, name).await?;
        Ok(self.store().iam_related(Relation::Attached, &subject(kind, name)).await?)
    }

    /// The built-in managed policies, by ARN.
    pub fn builtin_policies(&self) -> Vec<(&'static str, &'static Policy)> {
        managed::all().collect()
    }

    /// Creates an access key for a user; the secret is in the answer and nowhere else.
    pub async fn create_access_key(&self, user: &str, now_ms: i64) -> Result<NewAccessKey, DirectoryError> {
        self.get(EntityKind::User, user).await?;
        let secret = new_secret();
        let cred = Credential {
            access_key_id: new_access_key_id(false),
            owner_kind: EntityKind::User,
            owner_name: user.to_owned(),
            secret_enc: String::new(),
            active: true,
            token_hash: None,
            session_name: None,
            source_arn: None,
            expires_at_ms: None,
            created_at_ms: now_ms,
            last_used_ms: None,
        };
        let key = listed(&cred);
        self.put_credential(cred, &secret, Some(KEYS_PER_USER)).await?;
        Ok(NewAccessKey { key, secret_access_key: secret })
    }

    /// A user's access keys (no secrets).
    pub async fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>, DirectoryError> {
        self.get(EntityKind::User, user).await?;
        Ok(self.store().iam_credentials(Some((EntityKind::User, user))).await?.iter().map(listed).collect())
    }

    /// The user an access key belongs to (for admin resources).
    pub async fn access_key_owner(&self, access_key_id: &str) -> Result<String, DirectoryError> {
        match self.store().iam_credential(access_key_id).await? {
            Some(c) if c.owner_kind == EntityKind::User => Ok(c.owner_name),
            _ => Err(DirectoryError::NotFound(format!("no access key {access_key_id}"))),
        }
    }

    /// Activates or deactivates an access key.
    pub async fn set_access_key_active(&self, access_key_id: &str, active: bool) -> Result<(), DirectoryError> {
        self.access_key_owner(access_key_id).await?;
        self.store().iam_set_credential_active(access_key_id, active).await?;
        self.invalidate();
        Ok(())
    }

    /// Deletes an access key.
    pub async fn delete_access_key(&self, access_key_id: &str) -> Result<(), DirectoryError> {
        self.access_key_owner(access_key_id).await?;
        self.store().iam_delete_credential(access_key_id).await?;
        self.invalidate();
        Ok(())
    }

    /// `AssumeRole`: the role's trust policy must allow the caller, and the caller's own
    /// policies must allow `sts:AssumeRole` on the role (both, as across accounts: a trust
    /// policy naming the account leaves the choice to each principal's policies).
    pub async fn assume_role(
        &self,
        caller: &Caller,
        role: &str,
        session_name: &str,
        duration_secs: i64,
        now_ms: i64,
    ) -> Result<TemporaryCredentials, DirectoryError> {
        let valid_session = (2..=64).contains(&session_name.len())
            && session_name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !valid_session {
            return Err(DirectoryError::Invalid("a session name is 2-64 letters, digits or `+=,.@_-`".into()));
        }
        let entity = self.get(EntityKind::Role, role).await?;
        if !(ROLE_SESSION_MIN_SECS..=entity.max_session_secs).contains(&duration_secs) {
            return Err(DirectoryError::Invalid(format!(
                "duration_secs must be from {ROLE_SESSION_MIN_SECS} to the role's maximum of {}, got {duration_secs}",
                entity.max_session_secs
            )));
        }
        if caller.expires_at_ms.is_some() && duration_secs > ROLE_CHAINING_MAX_SECS {
            return Err(DirectoryError::Invalid(format!(
                "a role session may assume a role for at most {ROLE_CHAINING_MAX_SECS} s (role chaining), got {duration_secs}"
            )));
        }
        let role_arn = entity_arn(&self.account_id(), EntityKind::Role, role);
        let trust = Policy::parse_as(&entity.document, PolicyKind::Resource)?;
        let req = RequestContext::new("sts:AssumeRole", &role_arn).principal(Some(caller.principal.clone()));
        let allowed =
            iam::policy::combine_cross_account(caller.evaluate(&req), iam::policy::evaluate_resource(&trust, &req));
        if allowed != Decision::Allow {
            return Err(DirectoryError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.principal.arn
            )));
        }
        let secret = new_secret();
        let token = new_session_token();
        let expiration_ms = now_ms + duration_secs * 1000;
        let cred = Credential {
            access_key_id: new_access_key_id(true),
            owner_kind: EntityKind::Role,
            owner_name: role.to_owned(),
            secret_enc: String::new(),
            active: true,
            token_hash: Some(hex::encode(Sha256::digest(token.as_bytes()))),
            session_name: Some(session_name.to_owned()),
            source_arn: Some(caller.principal.arn.clone()),
            expires_at_ms: Some(expiration_ms),
            created_at_ms: now_ms,
            last_used_ms: None,
        };
        let access_key_id = cred.access_key_id.clone();
        self.put_credential(cred, &secret, None).await?;
        // Expired sessions are useless; drop them while we are writing anyway.
        let _ = self.store().iam_delete_expired_sessions(now_ms).await;
        Ok(TemporaryCredentials {
            access_key_id,
            secret_access_key: secret,
            session_token: token,
            expiration_ms,
            assumed_role_arn: crate::session_arn(&self.account_id(), role, session_name),
        })
    }

    /// Creates the first administrator when the directory has no user: user `admin` with
    /// `AdministratorAccess` and one access key, returned to be printed once. `None` when
    /// users exist (or another node created them first).
    pub async fn bootstrap(&self, now_ms: i64) -> Result<Option<NewAccessKey>, DirectoryError> {
        // Resumable: a start that failed half-way (user created, no key yet) is finished by the
        // next one, instead of leaving an administrator nobody can sign as.
        let users = self.store().iam_list(EntityKind::User).await?;
        let only_admin = match users.as_slice() {
            [] => true,
            [u] if u.name == "admin" => {
                self.store().iam_credentials(Some((EntityKind::User, "admin"))).await?.is_empty()
            }
            _ => false,
        };
        if !only_admin {
            return Ok(None);
        }
        match self.create(EntityKind::User, "admin", None, None, now_ms).await {
            Ok(_) | Err(DirectoryError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
        self.set_attachment(EntityKind::User, "admin", managed::ADMIN_ARN, true).await?;
        self.create_access_key("admin", now_ms).await.map(Some)
    }

    /// Re-wraps every sealed secret (access keys, server secrets, certificates' private keys,
    /// the ACME account) under the current master
    /// key. Returns how many moved. Safe to run while serving: each row is replaced only if
    /// unchanged since it was read.
    pub async fn rewrap_all(&self) -> Result<usize, DirectoryError> {
        let mut moved = 0;
        for c in self.store().iam_credentials(None).await? {
            if let Some(new) = self.kms().rewrap_text(&secret_context(&c.access_key_id), &c.secret_enc)? {
                moved += usize::from(
                    self.store().iam_replace_credential_secret(&c.access_key_id, &new, &c.secret_enc).await?,
                );
            }
        }
        for (name, sealed) in self.store().secrets().await? {
            if let Some(new) = self.kms().rewrap_text(&server_secret_context(&name), &sealed)? {
                moved += usize::from(self.store().replace_secret(&name, &new, &sealed).await?);
            }
        }
        for mut c in self.store().certificates().await? {
            if let Some(new) = self.kms().rewrap_text(&certificate_key_context(&c.name), &c.key_enc)? {
                // Read again just before writing: a renewal in between wins.
                if self.store().certificate(&c.name).await?.is_some_and(|now| now.key_enc == c.key_enc) {
                    c.key_enc = new;
                    self.store().put_certificate(&c).await?;
                    moved += 1;
                }
            }
        }
        Ok(moved)
    }

    /// A server secret (such as the API-key HMAC key): created with 32 random bytes on first
    /// use, kept sealed by the KMS, the same on every node sharing the store.
    pub async fn server_secret(&self, name: &str, now_ms: i64) -> Result<zeroize::Zeroizing<Vec<u8>>, DirectoryError> {
        let ctx = server_secret_context(name);
        if self.store().secret(name).await?.is_none() {
            let mut fresh = zeroize::Zeroizing::new([0u8; 32]);
            rand::Rng::fill(&mut rand::rng(), &mut fresh[..]);
            let sealed = self.kms().seal_text(&ctx, &fresh[..])?;
            // Another node may win the race; everyone then reads the winner's.
            self.store().create_secret(name, &sealed, now_ms).await?;
        }
        let sealed = self.store().secret(name).await?.ok_or_else(|| DirectoryError::NotFound(name.into()))?;
        Ok(self.kms().open_text(&ctx, &sealed)?)
    }
}

/// The encryption context of a stored TLS certificate's private key (bound to its name).
pub fn certificate_key_context(name: &str) -> kms::EncryptionContext {
    kms::EncryptionContext::new().with("purpose", "tls-private-key").with("name", name)
}

fn server_secret_context(name: &str) -> kms::EncryptionContext {
    kms::EncryptionContext::new().with("purpose", "server-secret").with("name", name)
}

/// A trust policy names no `Resource` (the role is the resource); the evaluator wants one, so
/// statements without either element get `"Resource": "*"`.
fn trust_policy(doc: &serde_json::Value) -> serde_json::Value {
    // A document given as text becomes a value here; text that is not JSON stays text, so the
    // parser reports where it breaks.
    let mut doc = match doc {
        serde_json::Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| doc.clone()),
        other => other.clone(),
    };
    let statements: Vec<&mut serde_json::Value> = match doc.get_mut("Statement") {
        Some(serde_json::Value::Array(list)) => list.iter_mut().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    for st in statements {
        if let Some(obj) = st.as_object_mut() {
            if !obj.contains_key("Resource") && !obj.contains_key("NotResource") {
                obj.insert("Resource".into(), serde_json::Value::from("*"));
            }
        }
    }
    doc
}

/// Parses a document as a policy of `kind` and returns the JSON text to keep. A document
/// given as a string (as AWS's `PolicyDocument`) is parsed as text, so errors carry the line
/// and column inside it.
fn checked(doc: &serde_json::Value, kind: PolicyKind) -> Result<String, DirectoryError> {
    match doc {
        serde_json::Value::String(text) => {
            Policy::parse_as(text, kind)?;
            Ok(text.clone())
        }
        _ => {
            Policy::from_value_as(doc, kind)?;
            Ok(doc.to_string())
        }
    }
}
