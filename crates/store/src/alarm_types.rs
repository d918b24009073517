//! Alarms as the store keeps them. The store knows shapes, not meaning: the definition is JSON
//! text the admin API produces and reads back, which the store does not parse.

/// An alarm defined through the admin API, one per name. Kept in the store so it survives
/// restarts and every node on the same store evaluates the same alarms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAlarm {
    /// The alarm's name. Unique.
    pub name: String,
    /// The definition, JSON text made by the caller; stored and returned as given.
    pub definition: String,
    /// When this definition was written, ms since the Unix epoch.
    pub updated_ms: i64,
}
