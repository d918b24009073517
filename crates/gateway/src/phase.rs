//! The phases, one module each. Each has one entry function taking
//! `(&Runtime, &mut RequestCtx, &mut Request<ReqBody>)` and returning `Result<Flow, Reject>`.
//! Phases never call each other; they share what they learn through `RequestCtx`.

pub(crate) mod authorize;
pub(crate) mod cors;
pub(crate) mod integrate;
pub(crate) mod log;
pub(crate) mod meter;
pub(crate) mod normalise;
pub(crate) mod respond;
pub(crate) mod route;
pub(crate) mod throttle;
pub(crate) mod validate;
pub(crate) mod waf;
