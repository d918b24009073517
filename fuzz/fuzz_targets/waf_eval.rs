//! The WAF over untrusted requests: every text transformation over any bytes, a web ACL using
//! every field and statement, and one with the managed groups at high sensitivity (every
//! input, every decoded view, the libinjection port's tokenizers), over any path, query,
//! headers, cookies and body of any content type, never panic; decoders never grow their
//! input (UTF8_TO_UNICODE excepted, at most 4×); evaluating twice gives the same verdict.
#![no_main]

use std::sync::OnceLock;

use waf::{RequestView, Transformation, WebAcl};

const ACL: &str = r#"
name: fuzz
default_action: allow
rules:
  - {name: a, priority: 1, action: count, labels: ['x:y'], statement: {byte_match: {field: {single_header: user-agent}, position: contains_word, search: bot, transforms: [URL_DECODE_UNI, HTML_ENTITY_DECODE, JS_DECODE, LOWERCASE]}}}
  - {name: b, priority: 2, action: block, statement: {regex_match: {field: all_query_arguments, regex: '(?i)union\s+select', transforms: [URL_DECODE, REPLACE_COMMENTS, COMPRESS_WHITE_SPACE]}}}
  - {name: c, priority: 3, action: block, statement: {size_constraint: {field: {json_body: {paths: ['/a/b'], scope: all, invalid_fallback: evaluate_as_string, oversize: match}}, op: gt, size: 100, transforms: [BASE64_DECODE_EXT]}}}
  - {name: d, priority: 4, action: block, statement: {and: [{label_match: {scope: namespace, key: x}}, {byte_match: {field: {cookies: {scope: all, oversize: no_match}}, position: ends_with, search: '1', transforms: [CSS_DECODE, HEX_DECODE]}}]}}
  - {name: e, priority: 5, action: block, statement: {or: [{not: {ip_set: {cidrs: [10.0.0.0/8], forwarded_ip: {header: x-forwarded-for, position: any, fallback: no_match}}}}, {regex_pattern_set: {field: uri_path, regexes: ['\.\./', '%2e'], transforms: [NORMALIZE_PATH_WIN, CMD_LINE]}}]}}
  - {name: f, priority: 6, action: block, statement: {byte_match: {field: {headers: {scope: key, oversize: continue}}, position: exactly, search: x, transforms: [SQL_HEX_DECODE, ESCAPE_SEQ_DECODE, UTF8_TO_UNICODE, REMOVE_NULLS, MD5]}}}
"#;

const MANAGED: &str = r#"
name: fuzz-managed
default_action: allow
challenge_config: {immunity_time: 60, difficulty: 8}
rules:
  - {name: bad, priority: 1, override_action: count, statement: {managed_rule_group: {name: known_bad_inputs}}}
  - {name: core, priority: 2, override_action: count, statement: {managed_rule_group: {name: core, sensitivity: high, exclusions: [{rules: [XSS], fields: ['body:/a']}]}}}
  - {name: s, priority: 3, action: count, statement: {sqli_match: {field: {headers: {scope: value}}, sensitivity: high, transforms: [URL_DECODE]}}}
  - {name: x, priority: 4, action: challenge, statement: {xss_match: {field: body, transforms: [HTML_ENTITY_DECODE]}}}
"#;

/// The content types the gateway's managed inputs parse differently.
const CONTENT_TYPES: [&str; 5] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=b",
    "application/xml",
    "text/plain",
];

fn managed() -> &'static WebAcl {
    static CELL: OnceLock<WebAcl> = OnceLock::new();
    CELL.get_or_init(|| {
        let cfg: waf::WebAclConfig = serde_yaml_ng::from_str(MANAGED).expect("fuzz ACL parses");
        let mut issues = Vec::new();
        waf::compile(&cfg, "fuzz", &mut issues).unwrap_or_else(|| panic!("{issues:?}"))
    })
}

fn acl() -> &'static WebAcl {
    static ACL_CELL: OnceLock<WebAcl> = OnceLock::new();
    ACL_CELL.get_or_init(|| {
        let cfg: waf::WebAclConfig = serde_yaml_ng::from_str(ACL).expect("fuzz ACL parses");
        let mut issues = Vec::new();
        waf::compile(&cfg, "fuzz", &mut issues).unwrap_or_else(|| panic!("{issues:?}"))
    })
}

libfuzzer_sys::fuzz_target!(|input: (&[u8], &[u8], Vec<(String, Vec<u8>)>, Option<&[u8]>, bool, u8)| {
    let (path, query, headers, body, truncated, kind) = input;
    for name in [
        "URL_DECODE",
        "URL_DECODE_UNI",
        "HTML_ENTITY_DECODE",
        "JS_DECODE",
        "CSS_DECODE",
        "BASE64_DECODE",
        "BASE64_DECODE_EXT",
        "HEX_DECODE",
        "SQL_HEX_DECODE",
        "ESCAPE_SEQ_DECODE",
        "UTF8_TO_UNICODE",
        "CMD_LINE",
        "NORMALIZE_PATH",
        "NORMALIZE_PATH_WIN",
        "REPLACE_COMMENTS",
        "REMOVE_COMMENTS_CHAR",
        "COMPRESS_WHITE_SPACE",
    ] {
        let t = Transformation::parse(name).expect("known transformation");
        let out = t.apply(path);
        let bound = if name == "UTF8_TO_UNICODE" { 4 * path.len() + 4 } else { path.len() };
        assert!(out.len() <= bound, "{name} grew {} bytes to {}", path.len(), out.len());
    }
    let headers: Vec<(&str, &[u8])> = headers.iter().take(64).map(|(n, v)| (n.as_str(), v.as_slice())).collect();
    let view = RequestView {
        method: "POST",
        path,
        query,
        headers,
        client_ip: std::net::IpAddr::from([203, 0, 113, 9]),
        body,
        body_truncated: truncated,
        content_type: Some(CONTENT_TYPES[usize::from(kind) % CONTENT_TYPES.len()]),
        route: Some("ANY /{proxy+}"),
        now_s: 1_700_000_000,
        challenge_token_issued_s: (kind & 0x80 != 0).then_some(1_699_999_990),
        bot_verified: (kind & 0x40 != 0).then_some(kind & 0x20 != 0),
    };
    for acl in [acl(), managed()] {
        let first = acl.evaluate(&view);
        let again = acl.evaluate(&view);
        assert_eq!(first.outcome, again.outcome);
        assert_eq!(first.labels, again.labels);
    }
});
