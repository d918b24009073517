//! Entry points for `cargo fuzz` (built with `--cfg fuzzing` only): the pool's parsers of
//! untrusted input that need no store.

/// Parses `bytes` as an imported signing key; a key that loads signs and verifies.
pub fn private_key(bytes: &[u8]) {
    let _ = super::tokens::parse_import(bytes);
}

/// Builds a redirect from `uri` and `(name, value)` pairs and reads its query back: every
/// non-empty value comes back as it went in, whatever it holds.
pub fn redirect(uri: &str, pairs: &[(String, String)]) {
    if uri.contains(['#', '?']) {
        return;
    }
    let params: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let url = super::oauth::redirect_to(uri, &params);
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let back = super::oauth::params(query.as_bytes());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        if pairs.iter().filter(|(k2, _)| k2 == k).count() == 1 {
            assert_eq!(back.get(k), Some(v), "{url}");
        }
    }
}

/// Escapes `text` for the hosted page: no markup survives.
pub fn escaped(text: &str) {
    let out = super::page::escape_for_fuzzing(text);
    assert!(!out.contains(['<', '>', '"', '\'']), "{out}");
}
