//! API keys, their usage-plan attachments and metered usage as the store keeps them. The store
//! never sees a key's value: only a prefix for people and a keyed hash for lookup.

use std::fmt;

/// An API key. The value itself is not kept: `hash` finds the key from a request.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Stable unique id, used by the admin API and by usage-plan attachments.
    pub id: String,
    /// Name given by an operator.
    pub name: String,
    /// Free text; may be empty.
    pub description: String,
    /// The customer the key was issued to (for billing); may be empty.
    pub customer_id: String,
    /// The first characters of the key, for people to recognise it.
    pub prefix: String,
    /// HMAC-SHA256 of the full key under a server secret, hex. Unique.
    pub hash: String,
    /// Disabled keys are refused.
    pub enabled: bool,
    /// The value was supplied by an operator rather than generated.
    pub imported: bool,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at_ms: i64,
}

/// What became of a new API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKeyInsert {
    /// Stored.
    Stored,
    /// A key with that id exists.
    IdTaken,
    /// A key with the same value (the same hash) exists: an imported duplicate.
    ValueTaken,
}

/// One usage row: requests by plan, key, day, API, stage and route. The gateway writes the
/// requests it counted since its last write (added to the row); the store reads back totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageRecord {
    /// The usage plan.
    pub plan_id: String,
    /// The API key's id.
    pub key_id: String,
    /// `YYYY-MM-DD`, the calendar day in the plan's time zone.
    pub day: String,
    /// The API.
    pub api: String,
    /// The stage.
    pub stage: String,
    /// The route key, like `GET /pets/{id}`.
    pub route: String,
    /// The key's customer when the request was made (kept for billing after the key is gone).
    pub customer_id: String,
    /// Requests: to add, when written; counted so far, when read.
    pub count: i64,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("description", &self.description)
            .field("customer_id", &self.customer_id)
            .field("prefix", &self.prefix)
            .field("hash", &"…")
            .field("enabled", &self.enabled)
            .field("imported", &self.imported)
            .field("created_at_ms", &self.created_at_ms)
            .field("updated_at_ms", &self.updated_at_ms)
            .finish()
    }
}
