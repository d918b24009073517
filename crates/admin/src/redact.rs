//! Redaction of the running config before it leaves the process: store passwords, and the
//! values of headers and stage variables whose names look like credentials.

use serde_json::Value;

/// Redacts secrets in the JSON form of the config, in place.
pub fn redact_config(config: &mut Value) {
    for at in ["/store/url", "/shared_state/redis/url"] {
        if let Some(url) = config.pointer_mut(at) {
            if let Some(text) = url.as_str() {
                *url = Value::String(redact_url(text));
            }
        }
    }
    redact_headers(config);
}

fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:REDACTED@{host}")
        }
        _ => url.to_owned(),
    }
}

fn redact_headers(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "headers" || k == "variables" {
                    if let Value::Object(h) = child {
                        for (name, value) in h.iter_mut() {
                            if is_sensitive(name) {
                                *value = Value::String("REDACTED".into());
                            }
                        }
                    }
                } else {
                    redact_headers(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_headers),
        _ => {}
    }
}

fn is_sensitive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["auth", "cookie", "key", "token", "secret", "passw", "pwd", "credential", "signature", "private"]
        .iter()
        .any(|s| n.contains(s))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::redact_config;

    #[test]
    fn redacts_passwords_and_credential_headers() {
        let mut v = json!({
            "store": {"url": "postgres://app:hunter2@db/portcullis"},
            "apis": [{
                "stages": [{"variables": {"backendToken": "s3cret", "version": "v2"}}],
                "routes": [{"integration": {"headers": {"Authorization": "Bearer x", "X-Trace": "1", "x-api-key": "k"}}}]
            }]
        });
        redact_config(&mut v);
        let text = v.to_string();
        assert!(!text.contains("hunter2") && !text.contains("Bearer x") && !text.contains("\"k\""), "{text}");
        assert!(!text.contains("s3cret") && text.contains("\"v2\""), "{text}");
        assert!(text.contains("postgres://app:REDACTED@db/portcullis") && text.contains("\"X-Trace\":\"1\""), "{text}");
    }
}
