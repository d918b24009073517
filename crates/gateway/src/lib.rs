//! The Portcullis data plane: HTTPS listeners, the phase pipeline, routing and integrations.
//!
//! A request's life (see `pipeline.rs`, the one place the order is written):
//!
//! ```text
//! client ──TLS──▶ listener ──▶ normalise ─▶ waf ─▶ route ─▶ cors ─▶ authorize ─▶ meter
//!                              ─▶ throttle ─▶ validate ─▶ integrate ──▶ upstream / mock
//!                 every way out: rescue (Reject → gateway response) ─▶ respond ─▶ log
//! ```
//!
//! The binary builds a [`Gateway`] from a compiled config, serves it with [`serve_tls`], and
//! calls [`Gateway::reload`] on SIGHUP, on file changes, or from the admin API.

mod body;
mod bots;
mod certificates;
mod challenge;
mod client_cert;
mod client_ip;
mod ctx;
mod domains;
mod flow;
mod framing;
#[cfg(fuzzing)]
pub mod fuzzing;
mod gateway;
mod http_fetch;
pub mod jwks;
mod listener;
mod metering;
mod ocsp;
mod phase;
mod pipeline;
mod reject;
mod rescue;
mod runtime;
mod time_fmt;
mod tls;
mod upstream;
pub mod user_pools;
pub mod waf_lists;
mod waf_samples;
pub mod waf_share;

/// The name of the server secret (sealed by the KMS) that signs WAF challenge puzzles and tokens.
pub const CHALLENGE_SECRET: &str = "waf-challenge";

pub use body::ResBody;
pub use certificates::{covers, leaf_facts, CertificateManager, Challenges};
pub use client_cert::ClientCert;
pub use ctx::ConnInfo;
pub use domains::{Endpoint, TlsSelector};
pub use framing::FramingFlags;
pub use gateway::{
    compile_published, directory_settings, redis_settings, Gateway, Published, ReloadError, ReloadReport,
};
pub use listener::{serve_redirect, serve_tls, ServeOptions};
pub use metering::Metering;
pub use runtime::{Runtime, Services};
pub use tls::{CertInfo, CertStore, DevCert, TlsError};
pub use upstream::ClientError;
pub use user_pools::UserPools;
pub use waf_samples::{Sample, WafSamples};
