//! Rate-based WAF rules: counted per key in one gateway, and across two gateways that share
//! the counts on Redis.

use std::time::Duration;

use crate::harness::{Gw, Upstream};

/// A web ACL that blocks an 11th request per client address and minute to `/login`, and a
/// custom key that counts per `x-user` header; `shared` adds `shared_state` on Redis.
fn config(upstream: &str, shared: &str) -> String {
    format!(
        r#"
{shared}
web_acls:
  - name: rates
    default_action: allow
    rules:
      - name: login-per-ip
        priority: 1
        action: block
        statement:
          rate_based:
            limit: 10
            window: 60
            scope_down_statement: {{byte_match: {{field: uri_path, position: starts_with, search: /login}}}}
      - name: api-per-user
        priority: 2
        action: block
        statement:
          rate_based:
            limit: 10
            window: 60
            aggregate_key: {{custom_keys: [{{header: x-user}}]}}
            scope_down_statement: {{byte_match: {{field: uri_path, position: starts_with, search: /api}}}}
apis:
  - name: app
    web_acl: rates
    routes:
      - route: ANY /{{proxy+}}
        integration: {{type: http, url: '{upstream}/{{proxy}}'}}
"#
    )
}

async fn status(gw: &Gw, path: &str, user: &str) -> u16 {
    gw.client().get(gw.url(path)).header("x-user", user).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gateway_counts_per_key_within_the_scope() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url(), ""));
    for i in 0..10 {
        assert_eq!(status(&gw, "/login", "-").await, 200, "request {i}");
        assert_eq!(status(&gw, "/api/items", "ann").await, 200, "request {i}");
    }
    assert_eq!(status(&gw, "/login", "-").await, 403);
    assert_eq!(status(&gw, "/api/items", "ann").await, 403);
    assert_eq!(status(&gw, "/api/items", "bob").await, 200, "another user counts apart");
    assert_eq!(status(&gw, "/home", "ann").await, 200, "outside both scopes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_redis_share_one_count() {
    let up = Upstream::start().await;
    let prefix = format!("pce2e-waf-{}", uuid::Uuid::new_v4().simple());
    let shared = format!("shared_state:\n  redis:\n    url: redis://127.0.0.1:6379/0\n    key_prefix: {prefix}\n");
    let a = Gw::start(&config(&up.url(), &shared));
    let b = Gw::start(&config(&up.url(), &shared));
    for i in 0..6 {
        assert_eq!(status(&a, "/login", "-").await, 200, "a, request {i}");
    }
    // Node a shares its count within a second; two rounds are waited for.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Node b has not seen the address yet: it counts its first requests itself, and learns
    // the cluster's total at its next round.
    for i in 0..4 {
        assert_eq!(status(&b, "/login", "-").await, 200, "b, request {}", 7 + i);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(status(&b, "/login", "-").await, 403, "the 11th request of the address, on node b");
    assert_eq!(status(&a, "/login", "-").await, 403, "and on node a");
}
