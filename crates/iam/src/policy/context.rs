//! The caller and the request being authorised.

use std::sync::Arc;

/// Who is calling, for `Principal`/`NotPrincipal` matching and the `aws:Principal*` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Caller ARN, e.g. `arn:aws:iam::123456789012:user/alice` or
    /// `arn:aws:sts::123456789012:assumed-role/Role/session`.
    pub arn: String,
    /// 12-digit account id of the caller.
    pub account: String,
    /// What kind of identity this is.
    pub kind: PrincipalKind,
    /// IAM user name (`aws:username`); IAM sets it for users only.
    pub user_name: Option<String>,
    /// Unique id (`aws:userid`), e.g. `AIDA…` or `AROA…:session`.
    pub user_id: String,
}

/// The kind of caller, as reported by `aws:PrincipalType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// An IAM user.
    User,
    /// A role session.
    AssumedRole,
    /// An unauthenticated caller; matched like an absent principal.
    Anonymous,
}

impl PrincipalKind {
    /// The `aws:PrincipalType` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::AssumedRole => "AssumedRole",
            Self::Anonymous => "Anonymous",
        }
    }
}

/// The request being authorised: action, resource ARN, caller and condition keys.
#[derive(Debug, Clone)]
pub struct RequestContext {
    action: String,
    resource: String,
    principal: Option<Arc<Principal>>,
    /// Lower-cased key names; a handful per request, so a linear scan beats hashing.
    keys: Vec<(String, Vec<String>)>,
}

/// The values of one condition key, borrowed from the context.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyValues<'a> {
    Many(&'a [String]),
    One(&'a str),
}

impl<'a> KeyValues<'a> {
    pub(crate) fn iter(self) -> impl Iterator<Item = &'a str> {
        let (many, one): (&'a [String], _) = match self {
            Self::Many(v) => (v, None),
            Self::One(s) => (&[], Some(s)),
        };
        many.iter().map(String::as_str).chain(one)
    }

    /// The value of a single-valued key; multivalued keys cannot be policy variables (IAM rule).
    pub(crate) fn single(self) -> Option<&'a str> {
        match self {
            Self::Many([v]) => Some(v),
            Self::Many(_) => None,
            Self::One(s) => Some(s),
        }
    }
}

impl RequestContext {
    /// A request for `action` (e.g. `execute-api:Invoke`) on `resource` (an ARN), with no
    /// principal and no condition keys.
    pub fn new(action: &str, resource: &str) -> Self {
        Self { action: action.to_owned(), resource: resource.to_owned(), principal: None, keys: Vec::new() }
    }

    /// Sets the caller; `None` means anonymous.
    #[must_use]
    pub fn principal(mut self, principal: Option<Arc<Principal>>) -> Self {
        self.principal = principal;
        self
    }

    /// Sets a condition key (name compared case-insensitively, e.g. `aws:SourceIp`) to one or
    /// more values, replacing earlier values. A key set to no values counts as absent.
    pub fn set(&mut self, key: &str, values: impl IntoIterator<Item = impl Into<String>>) {
        let key = key.to_ascii_lowercase();
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        match self.keys.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = values,
            None => self.keys.push((key, values)),
        }
    }

    /// Builder form of [`RequestContext::set`].
    #[must_use]
    pub fn with(mut self, key: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.set(key, values);
        self
    }

    /// The action being requested.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource ARN being requested.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The caller, if authenticated.
    pub fn caller(&self) -> Option<&Principal> {
        self.principal.as_deref()
    }

    /// Values of a condition key (lower-cased name): explicit keys first, then the keys derived
    /// from the principal. Empty sets count as absent.
    pub(crate) fn lookup(&self, key: &str) -> Option<KeyValues<'_>> {
        if let Some((_, values)) = self.keys.iter().find(|(k, _)| k == key) {
            return (!values.is_empty()).then_some(KeyValues::Many(values));
        }
        self.principal_value(key).map(KeyValues::One)
    }

    fn principal_value(&self, key: &str) -> Option<&str> {
        let principal = self.principal.as_deref();
        if key == "aws:principaltype" {
            return Some(principal.map_or(PrincipalKind::Anonymous, |p| p.kind).as_str());
        }
        let p = principal?;
        match key {
            "aws:username" => p.user_name.as_deref(),
            "aws:userid" => Some(&p.user_id),
            "aws:principalarn" => Some(&p.arn),
            "aws:principalaccount" => Some(&p.account),
            _ => None,
        }
    }
}
