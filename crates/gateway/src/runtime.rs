//! Everything a request needs that outlives it, built once per config. A reload builds a new
//! `Runtime` and swaps it in; requests in flight keep the one they started with.

use std::sync::Arc;

use model::{Compiled, CompiledRoute};
use telemetry::{AccessLog, Metrics};

use crate::upstream::{ClientError, Clients};

/// The compiled config plus the handles that serve it.
#[derive(Debug)]
pub struct Runtime {
    /// The compiled config.
    pub compiled: Compiled,
    pub(crate) clients: Clients,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) access_log: AccessLog,
}

// === impl Runtime ===

impl Runtime {
    /// Builds the runtime for `compiled`, reusing upstream pools of `previous`.
    pub(crate) fn build(
        compiled: Compiled,
        previous: Option<&Self>,
        metrics: Arc<Metrics>,
        access_log: AccessLog,
    ) -> Result<Self, ClientError> {
        let timeouts = compiled.apis.iter().flat_map(|a| a.routes.iter()).filter_map(|(_, r)| match r {
            CompiledRoute::Http(h) => Some((h.connect_timeout.as_std(), h.ca_file.clone())),
            CompiledRoute::Mock(_) => None,
        });
        let clients = Clients::build(timeouts, previous.map(|p| &p.clients))?;
        Ok(Self { compiled, clients, metrics, access_log })
    }
}
