// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The managed `core` and `known_bad_inputs` groups at their default sensitivity against the
//! WAF corpora, evaluated in process over the requests `waf-corpus` sends to a gateway.
//! Targets of the WAF issue: at least 94 % of attacks blocked, at most 3 % of benign requests
//! and 1 % of crawler user agents. The corpora stand for classes of input; the rules were not
//! written against their lines.

use std::path::PathBuf;

use portcullis_bench::waf_corpus::{self, Probe, Tally};

#[test]
fn managed_groups_meet_the_corpus_targets() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("../../shared/corpus/waf");
    let records =
        waf_corpus::load(&corpus).unwrap_or_else(|e| panic!("the WAF corpus is needed beside the checkout: {e}"));
    assert!(records.len() > 50_000, "{} records", records.len());
    let config = std::fs::read_to_string(root.join("waf-corpus.yaml")).unwrap();
    let doc: serde_json::Value = serde_yaml_ng::from_str(&config).unwrap();
    let cfg: waf::WebAclConfig = serde_json::from_value(doc["web_acls"][0].clone()).unwrap();
    let mut issues = Vec::new();
    let acl = waf::compile(&cfg, "web_acls[0]", &mut issues).unwrap();

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
