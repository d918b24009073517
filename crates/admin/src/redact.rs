//! Redaction of the running config before it leaves the process: store passwords, client
//! secrets (user pools' identity providers), and the values of headers and stage variables
//! whose names look like credentials.

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
                if k == "client_secret" || k == "password" {
                    *child = Value::String("REDACTED".into());
                } else if k == "headers" || k == "variables" {
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

/// A request's query and JSON body for its audit record, as compact JSON
/// (`{"query":{…},"body":…}`), with secrets removed: the values of credential-like names
/// (other than the public ids listed in [`PUBLIC_IDS`]), of `value` (an API key's), and any
/// PEM text. At most 4 KiB; a longer one is cut and says so. Empty when the
/// request has neither.
pub(crate) fn parameters(query: Option<&str>, body: &[u8]) -> String {
    let mut out = serde_json::Map::new();
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let pairs: serde_json::Map<String, Value> = form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        out.insert("query".into(), Value::Object(pairs));
    }
    if !body.is_empty() {
        let parsed =
            serde_json::from_slice(body).unwrap_or_else(|_| Value::String(format!("({} bytes, not JSON)", body.len())));
        out.insert("body".into(), parsed);
    }
    if out.is_empty() {
        return String::new();
    }
    let mut v = Value::Object(out);
    redact_parameters(&mut v);
    let text = v.to_string();
    if text.len() <= MAX_PARAMETERS {
        return text;
    }
    let cut = (0..=MAX_PARAMETERS - 32).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    format!("{}… (cut at {cut} of {} bytes)", &text[..cut], text.len())
}

const MAX_PARAMETERS: usize = 4096;

/// Names that look like credentials but hold public identifiers, kept in audit parameters.
const PUBLIC_IDS: &[&str] = &["access_key_id", "key_id", "policy_arn", "api_key_id", "keyid", "secret_env"];

fn redact_parameters(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let lower = k.to_ascii_lowercase();
                if (is_sensitive(k) && !PUBLIC_IDS.contains(&lower.as_str())) || lower == "value" {
                    *child = Value::String("REDACTED".into());
                } else {
                    redact_parameters(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_parameters),
        // PEM: a private key is a secret; a certificate is public but only bulk here.
        Value::String(s) if s.contains("-----BEGIN ") => *s = "REDACTED (PEM)".into(),
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
    fn audit_parameters_keep_ids_and_drop_secrets() {
        let body = br#"{"name":"k1","value":"abcdefghijklmnopqrstu","policy_arn":"arn:x","certificate":"-----BEGIN CERTIFICATE-----","private_key":"-----BEGIN PRIVATE KEY-----x","nested":[{"password":"p","note":"-----BEGIN EC PRIVATE KEY-----"}]}"#;
        let text = super::parameters(Some("after=3&token=t0k"), body);
        for secret in ["abcdefghijklmnopqrstu", "-----BEGIN PRIVATE KEY", "EC PRIVATE", "\"p\"", "t0k"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(!text.contains("BEGIN CERTIFICATE"), "{text}");
        for kept in ["\"name\":\"k1\"", "\"policy_arn\":\"arn:x\"", "\"after\":\"3\""] {
            assert!(text.contains(kept), "{kept} not in {text}");
        }
        assert_eq!(super::parameters(None, b""), "");
        let long = format!("{{\"policy\":\"{}\"}}", "a".repeat(10_000));
        let cut = super::parameters(None, long.as_bytes());
        assert!(cut.len() < 4200 && cut.ends_with("of 10022 bytes)"), "{}", &cut[cut.len() - 40..]);
    }

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
