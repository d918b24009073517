//! Fetching a small document over HTTP(S) with a size cap, for the gateway's own background
//! reads (WAF IP lists, OpenID providers' keys).

/// GETs `url` and returns its body, refusing a non-2xx status or more than `max` bytes.
pub(crate) async fn get_capped(client: &reqwest::Client, url: &str, max: usize) -> Result<Vec<u8>, String> {
    let mut resp = client.get(url).send().await.map_err(|e| format!("{url}: {}", error_chain(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("{url}: status {}", resp.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("{url}: {e}"))? {
        body.extend_from_slice(&chunk);
        if body.len() > max {
            return Err(format!("{url}: more than {max} bytes"));
        }
    }
    Ok(body)
}

/// An error and its causes, `a: b: c` (reqwest's own text rarely says why a connection failed).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
