//! Refreshing the IP lists of `ip_reputation` rules: each list is read again (a file) or fetched
//! again (a URL) every `refresh`, and replaced whole when that succeeds. A list that cannot be
//! read keeps its last good contents and is tried again within 30 seconds; a URL list is
//! empty, and matches nothing, until its first fetch, which happens at start.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use waf::{IpList, ListSource};

use crate::Gateway;

/// How often the lists' due times are checked.
const TICK: Duration = Duration::from_secs(1);
/// After a failure, the next try comes this soon (or at the refresh, if sooner).
const RETRY: Duration = Duration::from_secs(30);
/// A fetched list larger than this is refused.
const MAX_BYTES: usize = 16 << 20;

/// Refreshes the lists of the gateway's current config until `stopped` turns true.
pub async fn run(gw: Arc<Gateway>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(30)).https_only(false).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "WAF IP lists will not be fetched: no HTTP client");
            return;
        }
    };
    // File lists were read when the config was compiled; URL lists are due at once.
    let mut due: HashMap<ListSource, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        let rt = gw.runtime();
        let lists: Vec<Arc<IpList>> =
            rt.compiled.web_acls.iter().flat_map(|acl| acl.ip_lists().into_iter().cloned()).collect();
        let now = Instant::now();
        for list in lists {
            let next = *due.entry(list.source().clone()).or_insert_with(|| match list.source() {
                ListSource::File(_) => now + list.refresh(),
                ListSource::Url(_) => now,
            });
            if now < next {
                continue;
            }
            let wait = match refresh(&client, &list).await {
                Ok(entries) => {
                    tracing::debug!(source = ?list.source(), entries, "WAF IP list refreshed");
                    list.refresh()
                }
                Err(e) => {
                    tracing::warn!(source = ?list.source(), error = %e, "WAF IP list not refreshed; keeping the last good one");
                    list.refresh().min(RETRY)
                }
            };
            due.insert(list.source().clone(), Instant::now() + wait);
        }
    }
}

/// Reads or fetches `list` and replaces its contents; the number of entries.
async fn refresh(client: &reqwest::Client, list: &IpList) -> Result<usize, String> {
    let text = match list.source() {
        ListSource::File(path) => tokio::fs::read_to_string(path).await.map_err(|e| format!("{path}: {e}"))?,
        ListSource::Url(url) => fetch(client, url).await?,
    };
    let parsed = waf::parse_list(&text);
    if let Some((line, entry)) = parsed.bad.first() {
        tracing::warn!(source = ?list.source(), line, entry, skipped = parsed.bad.len(), "WAF IP list: lines skipped");
    }
    list.replace(&parsed.nets);
    Ok(parsed.nets.len())
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let body = crate::http_fetch::get_capped(client, url, MAX_BYTES).await?;
    String::from_utf8(body).map_err(|_| format!("{url}: not UTF-8 text"))
}
