// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;

use super::{compile, WebAclConfig};
use crate::testutil::view;
use crate::{CustomResponse, Outcome};

fn parse(yaml: &str) -> WebAclConfig {
    serde_yaml_ng::from_str(yaml).unwrap()
}

fn issues(yaml: &str) -> Vec<(String, String)> {
    let mut issues = Vec::new();
    assert!(compile(&parse(yaml), "web_acls[0]", &mut issues).is_none(), "compiled: {yaml}");
    issues
}

#[track_caller]
fn has(issues: &[(String, String)], path: &str, text: &str) {
    assert!(issues.iter().any(|(p, m)| p == path && m.contains(text)), "no ({path}, …{text}…) in {issues:#?}");
}

const EXAMPLE: &str = r#"
name: main
default_action: allow
custom_response_bodies: {denied: {content_type: application/json, content: '{"message":"denied"}'}}
rules:
  - name: admin-by-ip
    priority: 2
    action: {block: {custom_response: {status: 403, body: denied, headers: {x-why: admin}}}}
    statement:
      and:
        - byte_match: {field: uri_path, position: starts_with, search: /admin}
        - not: {ip_set: {cidrs: [10.0.0.0/8, "2001:db8::/32"]}}
  - name: block-bad-agent
    priority: 1
    action: {count: {insert_headers: {suspect: "1"}}}
    labels: [bad-agent]
    statement:
      byte_match: {field: {single_header: User-Agent}, position: contains, search: sqlmap, transforms: [LOWERCASE]}
  - name: by-label
    priority: 3
    action: block
    statement: {label_match: {scope: label, key: bad-agent}}
  - name: json
    priority: 4
    action: block
    statement:
      or:
        - regex_match: {field: {json_body: {paths: [/cmd], scope: value, invalid_fallback: no_match}}, regex: '(?i)rm\s+-rf'}
        - size_constraint: {field: {body: {oversize: match}}, op: gt, size: 8192}
"#;

#[test]
fn example_compiles_and_evaluates() {
    let mut problems = Vec::new();
    let acl = compile(&parse(EXAMPLE), "web_acls[0]", &mut problems).unwrap();
    assert!(problems.is_empty());
    assert_eq!(acl.rules().iter().map(|r| r.priority).collect::<Vec<_>>(), [1, 2, 3, 4]);

    let mut v = view(b"", &[]);
    v.path = b"/admin/users";
    v.client_ip = IpAddr::from([192, 0, 2, 1]);
    let verdict = acl.evaluate(&v);
    let denied = CustomResponse {
        status: 403,
        body: Some(("application/json".into(), br#"{"message":"denied"}"#.to_vec())),
        headers: vec![("x-why".into(), "admin".into())],
    };
    assert_eq!(verdict.outcome, Outcome::Block(Some(&denied)));
    v.client_ip = IpAddr::from([10, 0, 0, 1]);
    assert_eq!(acl.evaluate(&v).outcome, Outcome::Allow);

    let ua = view(b"", &[("user-agent", b"SQLMAP")]);
    let verdict = acl.evaluate(&ua);
    assert_eq!(verdict.terminating_rule, Some("by-label"));
    assert_eq!(verdict.labels, ["portcullis:webacl:main:bad-agent"]);

    let mut body = view(b"", &[]);
    body.body = Some(br#"{"cmd":"RM  -RF /"}"#);
    assert_eq!(acl.evaluate(&body).terminating_rule, Some("json"));
    body.body = Some(b"short");
    body.body_truncated = true;
    assert_eq!(acl.evaluate(&body).terminating_rule, Some("json"));
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let found = issues(
        r#"
name: "bad name"
default_action: count
custom_response_bodies: {b: {content_type: text/xml, content: x}}
rules:
  - name: r0
    priority: 1
    action: {block: {custom_response: {status: 700, body: nope, headers: {content-type: x}}}}
    labels: [webacl:x, "a:b:c:d:e:f:g", "bad label"]
    statement:
      and:
        - byte_match: {field: uri_path, position: contains_word, search: "a-b", transforms: [URL_DECODE, NOPE, CMD_LINE_WIN]}
        - regex_match: {field: query_string, regex: "(unclosed"}
  - name: r0
    priority: 1
    action: block
    statement:
      or:
        - ip_set: {cidrs: [10.0.0.0/33, 1.2.3.4, nonsense]}
  - name: r2
    priority: 2
    action: block
    statement:
      not: {label_match: {scope: namespace, key: "awswaf:x:"}}
  - name: r3
    priority: 3
    action: block
    statement: {regex_pattern_set: {field: {json_body: {paths: [cmd]}}, regexes: ["a{99999999}"]}}
"#,
    );
    let r = "web_acls[0].rules";
    has(&found, "web_acls[0].name", "must be");
    has(&found, "web_acls[0].default_action", "allow or block");
    has(&found, "web_acls[0].custom_response_bodies.b.content_type", "text/xml");
    has(&found, &format!("{r}[0].action.block.custom_response.status"), "200-599");
    has(&found, &format!("{r}[0].action.block.custom_response.body"), "nope");
    has(&found, &format!("{r}[0].action.block.custom_response.headers.content-type"), "not allowed");
    has(&found, &format!("{r}[0].labels[0]"), "reserved word \"webacl\"");
    has(&found, &format!("{r}[0].labels[1]"), "namespaces");
    has(&found, &format!("{r}[0].labels[2]"), "A-Z");
    has(&found, &format!("{r}[0].statement.and[0].byte_match.search"), "contains_word");
    has(&found, &format!("{r}[0].statement.and[0].byte_match.transforms[1]"), "known: URL_DECODE");
    has(&found, &format!("{r}[0].statement.and[0].byte_match.transforms[2]"), "does not support");
    has(&found, &format!("{r}[0].statement.and[1].regex_match.regex"), "invalid regex");
    has(&found, &format!("{r}[1].name"), "already used by rules[0]");
    has(&found, &format!("{r}[1].priority"), "already used by rules[0]");
    has(&found, &format!("{r}[1].statement.or"), "at least 2");
    has(&found, &format!("{r}[1].statement.or[0].ip_set.cidrs[0]"), "not a CIDR");
    has(&found, &format!("{r}[1].statement.or[0].ip_set.cidrs[2]"), "not a CIDR");
    has(&found, &format!("{r}[3].statement.regex_pattern_set.field.json_body.paths[0]"), "JSON Pointer");
    has(&found, &format!("{r}[3].statement.regex_pattern_set.regexes[0]"), "invalid regex");
    assert!(!found.iter().any(|(p, _)| p.contains("cidrs[1]") || p.starts_with(&format!("{r}[2]"))), "{found:#?}");
    assert_eq!(found.len(), 20, "{found:#?}");
}

#[test]
fn nesting_is_limited() {
    let mut stmt = "byte_match: {field: method, position: exactly, search: GET}".to_owned();
    for _ in 0..10 {
        stmt = format!("not: {{{stmt}}}");
    }
    let found = issues(&format!(
        "name: a\ndefault_action: block\nrules:\n  - {{name: r, priority: 1, action: block, statement: {{{stmt}}}}}\n"
    ));
    let deep = format!("web_acls[0].rules[0].statement{}", ".not".repeat(10));
    has(&found, &deep, "nested more than 10");
}

#[test]
fn unknown_fields_are_refused() {
    let bad = "name: a\ndefault_action: allow\nrules: []\nextra: 1\n";
    assert!(serde_yaml_ng::from_str::<WebAclConfig>(bad).is_err());
    let bad = "name: a\ndefault_action: allow\nrules:\n  - {name: r, priority: 1, action: block, statement: {byte_match: {field: method, position: exactly, search: x, typo: 1}}}\n";
    assert!(serde_yaml_ng::from_str::<WebAclConfig>(bad).is_err());
}

#[test]
fn sqli_and_xss_match_statements_use_the_detectors() {
    let yaml = r#"
name: m
default_action: allow
rules:
  - name: sqli
    priority: 1
    action: block
    statement: {sqli_match: {field: all_query_arguments, sensitivity: high, transforms: [URL_DECODE]}}
  - name: xss
    priority: 2
    action: block
    statement: {xss_match: {field: {single_header: x-bio}, transforms: [HTML_ENTITY_DECODE]}}
"#;
    let mut problems = Vec::new();
    let acl = compile(&parse(yaml), "web_acls[0]", &mut problems).unwrap();
    let sqli = view(b"id=1%20or%201%3D1", &[]);
    assert_eq!(acl.evaluate(&sqli).terminating_rule, Some("sqli"));
    let xss = view(b"", &[("x-bio", b"&lt;img src=x onerror=alert(1)&gt;")]);
    assert_eq!(acl.evaluate(&xss).terminating_rule, Some("xss"));
    let fine = view(b"id=42&name=O%27Brien", &[("x-bio", b"I like <3 cats")]);
    assert_eq!(acl.evaluate(&fine).outcome, Outcome::Allow);
}

#[test]
fn managed_group_references_are_checked() {
    let got = issues(
        r#"
name: m
default_action: allow
rules:
  - name: core
    priority: 1
    action: block
    statement:
      managed_rule_group:
        name: core
        version: "9"
        rule_action_overrides: [{name: SQLI, action: count}]
        exclusions:
          - {rules: [Nope], fields: ['query:q', 'nowhere:x']}
          - {}
  - name: other
    priority: 2
    statement: {managed_rule_group: {name: corez}}
  - name: nested
    priority: 3
    action: block
    statement: {not: {managed_rule_group: {name: core}}}
  - name: no-action
    priority: 4
    override_action: count
    statement: {byte_match: {field: uri_path, position: contains, search: x}}
"#,
    );
    let g = "web_acls[0].rules[0].statement.managed_rule_group";
    has(&got, "web_acls[0].rules[0].action", "override_action");
    has(&got, &format!("{g}.version"), "known: 1");
    has(&got, &format!("{g}.rule_action_overrides[0].name"), "no rule \"SQLI\"");
    has(&got, &format!("{g}.exclusions[0].rules[0]"), "no rule \"Nope\"");
    has(&got, &format!("{g}.exclusions[0].fields[1]"), "is not path, query");
    has(&got, &format!("{g}.exclusions[1]"), "needs rules, routes or fields");
    has(&got, "web_acls[0].rules[1].statement.managed_rule_group.name", "known: core, known_bad_inputs");
    has(&got, "web_acls[0].rules[2].statement.not.managed_rule_group", "whole statement");
    has(&got, "web_acls[0].rules[3].override_action", "only a rule with a managed_rule_group");
    has(&got, "web_acls[0].rules[3].action", "missing field `action`");
}

#[test]
fn a_managed_group_expands_into_its_rules_at_one_priority() {
    let yaml = r#"
name: m
default_action: allow
rules:
  - name: first
    priority: 1
    action: count
    statement: {byte_match: {field: uri_path, position: contains, search: x}}
  - name: core
    priority: 5
    override_action: count
    statement: {managed_rule_group: {name: core}}
  - name: last
    priority: 9
    action: block
    statement: {label_match: {scope: namespace, key: 'portcullis:managed:core:'}}
"#;
    let mut problems = Vec::new();
    let acl = compile(&parse(yaml), "web_acls[0]", &mut problems).unwrap();
    let names: Vec<&str> = acl.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"first"));
    assert_eq!(names.get(1), Some(&"core:SQLi"));
    assert_eq!(names.last(), Some(&"last"));
    assert!(acl.rules().iter().filter(|r| r.group.as_deref() == Some("core")).all(|r| r.priority == 5));
    // Counted by the group, then blocked by a later rule on the group's label.
    let v = view(b"q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &[]);
    let verdict = acl.evaluate(&v);
    assert_eq!(verdict.terminating_rule, Some("last"));
    assert!(verdict.counted.contains(&"core:XSS"), "{:?}", verdict.counted);
}

#[test]
fn a_rate_based_rule_matches_past_its_limit_per_key() {
    let yaml = r#"
name: rate-per-user
default_action: allow
rules:
  - name: login-flood
    priority: 1
    action: block
    statement:
      rate_based:
        limit: 10
        window: 60
        aggregate_key: {custom_keys: [{header: x-user}, http_method]}
        scope_down_statement: {byte_match: {field: uri_path, position: starts_with, search: /login}}
"#;
    let mut problems = Vec::new();
    let acl = compile(&parse(yaml), "web_acls[0]", &mut problems).unwrap();
    let login = |user: &'static [u8]| crate::RequestView { path: b"/login", ..view(b"", &[("x-user", user)]) };
    for i in 0..10 {
        assert_eq!(acl.evaluate(&login(b"ann")).outcome, Outcome::Allow, "request {i}");
    }
    let verdict = acl.evaluate(&login(b"ann"));
    assert_eq!((verdict.outcome, verdict.terminating_rule), (Outcome::Block(None), Some("login-flood")));
    assert_eq!(verdict.matched.map(|m| m.value_excerpt), Some("11 requests in 60 s".to_owned()));
    assert_eq!(acl.evaluate(&login(b"bob")).outcome, Outcome::Allow, "another key counts apart");
    // Outside the scope-down statement, and without the key's header: not counted at all.
    for _ in 0..20 {
        assert_eq!(acl.evaluate(&view(b"", &[("x-user", b"ann")])).outcome, Outcome::Allow);
        let anonymous = crate::RequestView { path: b"/login", ..view(b"", &[]) };
        assert_eq!(acl.evaluate(&anonymous).outcome, Outcome::Allow);
    }
    // The window slides: a minute later the key starts afresh.
    let later = crate::RequestView { now_s: 1_700_000_000 + 70, ..login(b"ann") };
    assert_eq!(acl.evaluate(&later).outcome, Outcome::Allow);
    assert_eq!(acl.rate_states().len(), 1);
}

#[test]
fn rate_based_settings_are_checked() {
    let got = issues(
        r#"
name: m
default_action: allow
rules:
  - name: a
    priority: 1
    action: block
    statement: {rate_based: {limit: 5, window: 30}}
  - name: b
    priority: 2
    action: block
    statement: {rate_based: {limit: 100, aggregate_key: forwarded_ip}}
  - name: c
    priority: 3
    action: block
    statement: {not: {rate_based: {limit: 100}}}
  - name: d
    priority: 4
    action: block
    statement: {rate_based: {limit: 100, aggregate_key: {custom_keys: []}}}
"#,
    );
    has(&got, "web_acls[0].rules[0].statement.rate_based.limit", "10-2000000000");
    has(&got, "web_acls[0].rules[0].statement.rate_based.window", "60, 120, 300, 600");
    has(&got, "web_acls[0].rules[1].statement.rate_based.forwarded_ip", "needs forwarded_ip");
    has(&got, "web_acls[0].rules[2].statement.not.rate_based", "whole statement");
    has(&got, "web_acls[0].rules[3].statement.rate_based.aggregate_key.custom_keys", "1 to 5");
    // Every statement's forwarded_ip header is checked the same way.
    let got = issues("name: m\ndefault_action: allow\nrules:\n  - {name: a, priority: 1, action: block, statement: {rate_based: {limit: 100, aggregate_key: forwarded_ip, forwarded_ip: {header: 'x forwarded', position: first, fallback: no_match}}}}\n");
    has(&got, "web_acls[0].rules[0].statement.rate_based.forwarded_ip.header", "A-Z, a-z, 0-9 and -");
}

#[test]
fn a_challenge_holds_clients_without_a_fresh_token() {
    let yaml = r#"
name: ch
default_action: allow
challenge_config: {immunity_time: 120, difficulty: 10}
rules:
  - name: login
    priority: 1
    action: challenge
    statement: {byte_match: {field: uri_path, position: starts_with, search: /login}}
  - name: after
    priority: 2
    action: block
    statement: {byte_match: {field: uri_path, position: contains, search: admin}}
"#;
    let mut problems = Vec::new();
    let acl = compile(&parse(yaml), "web_acls[0]", &mut problems).unwrap();
    assert!(acl.challenges());
    assert_eq!(acl.body_limit(), 16 * 1024, "the default inspection limit");
    let bigger =
        compile(&parse("name: b\ndefault_action: allow\nbody_inspection_limit: 65536\n"), "x", &mut Vec::new());
    assert_eq!(bigger.map(|a| a.body_limit()), Some(65536));
    let login = |token: Option<u64>| crate::RequestView {
        path: b"/login/admin",
        challenge_token_issued_s: token,
        ..view(b"", &[])
    };
    let now = login(None).now_s;
    let settings = crate::ChallengeConfig { immunity_s: 120, difficulty: 10 };
    assert_eq!(acl.evaluate(&login(None)).outcome, Outcome::Challenge(settings));
    assert_eq!(acl.evaluate(&login(Some(now - 500))).outcome, Outcome::Challenge(settings), "older than the immunity");
    // A fresh token counts and goes on: the next rule still applies.
    let verdict = acl.evaluate(&login(Some(now - 30)));
    assert_eq!((verdict.outcome, verdict.terminating_rule), (Outcome::Block(None), Some("after")));
    assert_eq!(verdict.counted, vec!["login"]);

    let got = issues("name: x\ndefault_action: challenge\nchallenge_config: {immunity_time: 5, difficulty: 40}\nbody_inspection_limit: 100\n");
    has(&got, "web_acls[0].body_inspection_limit", "8192-65536");
    has(&got, "web_acls[0].default_action", "allow or block");
    has(&got, "web_acls[0].challenge_config.immunity_time", "60-259200");
    has(&got, "web_acls[0].challenge_config.difficulty", "8-24");
}

#[test]
fn ip_reputation_lists_become_rules() {
    let path = std::env::temp_dir().join(format!("portcullis-waf-test-{}.txt", std::process::id()));
    std::fs::write(&path, "# ours\n127.0.0.0/8\n").unwrap();
    let yaml = format!(
        "name: rep-test\ndefault_action: allow\nrules:\n  - name: rep\n    priority: 1\n    statement:\n      managed_rule_group:\n        name: ip_reputation\n        lists: [{{name: local, file: '{}'}}, {{name: remote, url: 'https://lists.example/x.txt', refresh: 15m}}]\n        rule_action_overrides: [{{name: remote, action: count}}]\n",
        path.display()
    );
    let mut problems = Vec::new();
    let acl = compile(&parse(&yaml), "web_acls[0]", &mut problems).unwrap_or_else(|| panic!("{problems:?}"));
    let _ = std::fs::remove_file(&path);
    let names: Vec<&str> = acl.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["rep:local", "rep:remote"]);
    assert_eq!(acl.ip_lists().len(), 2);
    let verdict = acl.evaluate(&view(b"", &[]));
    assert_eq!((verdict.outcome, verdict.terminating_rule), (Outcome::Block(None), Some("rep:local")));
    assert_eq!(verdict.labels, vec!["portcullis:managed:ip_reputation:local".to_owned()]);

    let got = issues(
        r#"
name: m
default_action: allow
rules:
  - name: a
    priority: 1
    statement: {managed_rule_group: {name: ip_reputation}}
  - name: b
    priority: 2
    statement: {managed_rule_group: {name: ip_reputation, lists: [{name: x, url: 'http://lists.example/x'}, {name: y, file: f, url: 'https://a/b'}, {name: z, file: f, refresh: 2s}]}}
  - name: c
    priority: 3
    statement: {managed_rule_group: {name: core, lists: [{name: x, file: f}]}}
"#,
    );
    let g = |i: usize| format!("web_acls[0].rules[{i}].statement.managed_rule_group");
    has(&got, &format!("{}.lists", g(0)), "at least one list");
    has(&got, &format!("{}.lists[0].url", g(1)), "must be https://");
    has(&got, &format!("{}.lists[1]", g(1)), "exactly one of file and url");
    has(&got, &format!("{}.lists[2].refresh", g(1)), "at least 5s");
    has(&got, &format!("{}.lists", g(2)), "only the ip_reputation group");
}

#[test]
fn geo_match_uses_the_acl_database() {
    let path = std::env::temp_dir().join(format!("portcullis-geo-acl-{}.mmdb", std::process::id()));
    let nets = [("127.0.0.0/8".parse().unwrap(), "FR"), ("203.0.113.0/24".parse().unwrap(), "US")];
    std::fs::write(&path, crate::geo::testdb::build(&nets)).unwrap();
    let yaml = format!(
        "name: geo\ndefault_action: allow\ngeo_database: '{}'\nrules:\n  - name: not-here\n    priority: 1\n    action: block\n    statement: {{geo_match: {{country_codes: [fr, de]}}}}\n  - name: by-header\n    priority: 2\n    action: block\n    statement: {{geo_match: {{country_codes: [US], forwarded_ip: {{header: x-forwarded-for, position: first, fallback: no_match}}}}}}\n",
        path.display()
    );
    let mut problems = Vec::new();
    let acl = compile(&parse(&yaml), "web_acls[0]", &mut problems).unwrap_or_else(|| panic!("{problems:?}"));
    let _ = std::fs::remove_file(&path);
    // 127.0.0.1 is in FR in this database.
    assert_eq!(acl.evaluate(&view(b"", &[])).terminating_rule, Some("not-here"));
    let elsewhere = crate::RequestView { client_ip: "192.0.2.1".parse().unwrap(), ..view(b"", &[]) };
    assert_eq!(acl.evaluate(&elsewhere).outcome, Outcome::Allow);
    let forwarded = crate::RequestView {
        client_ip: "192.0.2.1".parse().unwrap(),
        ..view(b"", &[("x-forwarded-for", b"203.0.113.5, 10.0.0.1")])
    };
    assert_eq!(acl.evaluate(&forwarded).terminating_rule, Some("by-header"));

    let got = issues("name: g\ndefault_action: allow\nrules:\n  - name: a\n    priority: 1\n    action: block\n    statement: {geo_match: {country_codes: [FRA]}}\n");
    has(&got, "web_acls[0].rules[0].statement.geo_match.country_codes[0]", "alpha-2");
    has(&got, "web_acls[0].rules[0].statement.geo_match", "needs the web ACL's geo_database");
    let got = issues("name: g\ndefault_action: allow\ngeo_database: /nonexistent/db.mmdb\nrules:\n  - name: a\n    priority: 1\n    action: block\n    statement: {geo_match: {country_codes: [FR]}}\n");
    has(&got, "web_acls[0].geo_database", "cannot open /nonexistent/db.mmdb");
}
