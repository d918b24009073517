//! Pooled HTTP(S) clients for upstream calls. One client per connect timeout in use; clients
//! are carried over from the previous runtime on reload so pools stay warm.

use std::collections::HashMap;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::ReqBody;

/// An upstream client.
pub(crate) type UpstreamClient = Client<HttpsConnector<HttpConnector>, ReqBody>;

/// Clients by connect timeout.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clients {
    by_timeout: HashMap<Duration, UpstreamClient>,
}

// === impl Clients ===

impl Clients {
    /// Clients for every timeout in `timeouts`, reusing those of `previous`.
    pub(crate) fn build(timeouts: impl Iterator<Item = Duration>, previous: Option<&Self>) -> Result<Self, rustls::Error> {
        let mut by_timeout = HashMap::new();
        for t in timeouts {
            let client = match previous.and_then(|p| p.by_timeout.get(&t)) {
                Some(c) => c.clone(),
                None => new_client(t)?,
            };
            by_timeout.insert(t, client);
        }
        Ok(Self { by_timeout })
    }

    /// The client for `connect_timeout`.
    pub(crate) fn get(&self, connect_timeout: Duration) -> Option<&UpstreamClient> {
        self.by_timeout.get(&connect_timeout)
    }
}

fn new_client(connect_timeout: Duration) -> Result<UpstreamClient, rustls::Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_keepalive(Some(Duration::from_secs(60)));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector))
}
