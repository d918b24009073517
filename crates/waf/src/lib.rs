//! The web application firewall: AWS WAF's rule model (web ACLs, rule statements, the request
//! fields they inspect, text transformations and labels) evaluated over a borrowed view of the
//! request. Pure: no I/O, no clock, no store.
//!
//! This first part holds the text transformations: [`Transformation`] names one AWS WAF
//! `TextTransformation` type, [`Transformation::apply`] runs it over raw request bytes and
//! [`apply_all`] runs a statement's list in order. Their behaviour follows the ModSecurity v3
//! `t:` functions that AWS WAF's types map onto; where the AWS documentation says something
//! different, the AWS behaviour wins and the variant's doc says so.

mod transform;

pub use transform::{apply_all, Transformation};
