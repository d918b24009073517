#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]
//! The WAF phase alone: `WebAcl::evaluate` with the managed `core` and `known_bad_inputs`
//! groups over a typical 1 KiB API request (a JSON body of 20 fields, a query of three
//! arguments, a browser's headers with a bearer token and cookies), at the default and at high
//! sensitivity, and over the same request carrying an SQL injection (which ends at the first
//! rule that sees it). Three free-text fields of the body change on every iteration; the
//! headers do not, as a client's do not between its requests. Target of the WAF issue: at most
//! 20 µs at the default sensitivity.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, Criterion};

const HEADERS: [(&str, &str); 11] = [
    ("host", "api.example.com"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    ),
    ("accept", "application/json, text/plain, */*"),
    ("accept-language", "en-GB,en;q=0.9"),
    ("accept-encoding", "gzip, deflate, br"),
    ("content-type", "application/json"),
    (
        "authorization",
        "Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiI0MiIsInNjb3BlIjoicGV0cy9yZWFkIn0.c2lnbmF0dXJlLWJ5dGVz",
    ),
    ("cookie", "session=9f8e7d6c5b4a39281706f5e4d3c2b1a0; theme=dark; consent=1"),
    ("origin", "https://shop.example.com"),
    ("referer", "https://shop.example.com/cart?step=2"),
    ("x-request-id", "4b7c2f9e-1d3a-4e5f-8a6b-0c9d8e7f6a5b"),
];

const BODY: &str = r#"{"order":{"id":"ord_8f2k3l","customer":{"name":"Ana Lopez","email":"ana.lopez@example.com","phone":"+34 600 123 456"},"items":[{"sku":"SHOE-42-RED","qty":1,"price":79.9},{"sku":"SOCK-3P","qty":2,"price":9.5}],"shipping":{"street":"Calle Mayor 12, 3B","city":"Madrid","zip":"28013","country":"ES","notes":"Leave at the door if nobody answers, thanks!"},"coupon":"WINTER-15","currency":"EUR","gift":false,"message":"Happy birthday! Hope you like them :)"},"client":{"app":"web","version":"4.12.0","locale":"es-ES"}}"#;

fn acl(sensitivity: &str) -> waf::WebAcl {
    let yaml = format!(
        "name: bench\ndefault_action: allow\nrules:\n  - name: core\n    priority: 1\n    statement: {{managed_rule_group: {{name: core, sensitivity: {sensitivity}}}}}\n  - name: bad\n    priority: 2\n    statement: {{managed_rule_group: {{name: known_bad_inputs}}}}\n"
    );
    let cfg: waf::WebAclConfig = serde_yaml_ng::from_str(&yaml).unwrap();
    waf::compile(&cfg, "web_acls[0]", &mut Vec::new()).unwrap()
}

fn view<'a>(query: &'a str, body: &'a str) -> waf::RequestView<'a> {
    waf::RequestView {
        method: "POST",
        path: b"/v1/orders/ord_8f2k3l/confirm",
        query: query.as_bytes(),
        headers: HEADERS.iter().map(|(n, v)| (*n, v.as_bytes())).collect(),
        client_ip: IpAddr::from([203, 0, 113, 7]),
        body: Some(body.as_bytes()),
        body_truncated: false,
        content_type: Some("application/json"),
        route: Some("POST /v1/orders/{id}/confirm"),
        now_s: 1_700_000_000,
        challenge_token_issued_s: None,
        bot_verified: None,
    }
}

/// The body with a different number in three free-text fields on every call, as requests of
/// different users would have, so that no detector's memo of earlier values helps.
struct Bodies {
    body: Vec<u8>,
    at: Vec<usize>,
    n: u64,
}

impl Bodies {
    fn new() -> Self {
        let marked = BODY
            .replacen("Ana Lopez", "Ana 00000000", 1)
            .replacen("nobody answers", "nobody 00000000", 1)
            .replacen("Hope you like", "Hope 00000000 like", 1);
        let at = marked.match_indices("00000000").map(|(i, _)| i).collect();
        Self { body: marked.into_bytes(), at, n: 0 }
    }

    fn next(&mut self) -> &str {
        self.n += 1;
        let digits = format!("{:08}", self.n % 100_000_000);
        for &i in &self.at {
            self.body[i..i + 8].copy_from_slice(digits.as_bytes());
        }
        std::str::from_utf8(&self.body).unwrap()
    }
}

fn waf_phase(c: &mut Criterion) {
    let size = BODY.len() + HEADERS.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
    assert!((900..1400).contains(&size), "a typical 1 KiB request, not {size} bytes");
    let query = "expand=items&dry_run=false&lang=es";
    let attack = "expand=items&dry_run=false&lang=es%27%20UNION%20SELECT%20password%20FROM%20users--";
    let mut g = c.benchmark_group("waf_evaluate");
    for (name, acl, query, blocked) in [
        ("managed_default_1k", acl("low"), query, false),
        ("managed_high_1k", acl("high"), query, false),
        ("managed_default_1k_sqli", acl("low"), attack, true),
    ] {
        let mut bodies = Bodies::new();
        let verdict = acl.evaluate(&view(query, bodies.next()));
        assert_eq!(matches!(verdict.outcome, waf::Outcome::Block(_)), blocked, "{name}: {:?}", verdict.matched);
        g.bench_function(name, |b| b.iter(|| acl.evaluate(black_box(&view(query, bodies.next()))).labels.len()));
    }
    g.finish();
}

criterion_group!(benches, waf_phase);
criterion_main!(benches);
