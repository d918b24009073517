//! The HTTP client the gateway's own outbound calls use (OpenID providers' keys, federation,
//! code webhooks): a timeout, no redirects, and either the public roots or one CA file's.

use std::path::Path;
use std::time::Duration;

/// A client with `timeout` per request that follows no redirect and trusts the certificates of
/// `ca_file` (PEM) instead of the public roots, when given.
pub fn client(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("{}: not a PEM certificate bundle: {e}", path.display()))?;
        builder = builder.tls_built_in_root_certs(false);
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| format!("no HTTP client: {e}"))
}
