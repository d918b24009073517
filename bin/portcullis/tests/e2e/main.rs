//! End-to-end tests: the real binary, real TLS, real clients (reqwest, rustls, openssl), a real
//! upstream server, and the real stores.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]
#![allow(unreachable_pub, reason = "a test binary has no public interface; `pub` marks the harness API")]

mod acme;
mod admin;
mod alarms;
mod api_keys;
mod audit;
mod authorizers;
mod cli;
mod cluster;
mod domains;
mod fixtures;
mod harness;
mod iam;
mod jwt;
mod lifecycle;
mod limits;
mod logs;
mod routing;
mod sign;
mod tls;
mod user_pools;
mod user_pools_oauth;
mod waf;
mod waf_bots;
mod waf_challenge;
mod waf_lists;
mod waf_managed;
mod waf_rate;
