//! The web application firewall: AWS WAF's rule model (web ACLs, rule statements, the request
//! fields they inspect, text transformations and labels) evaluated over a borrowed view of the
//! request. No network I/O and no clock: the time comes in the view; the only files read are
//! those the configuration names (IP lists, the geo database), when it is compiled. State
//! that outlives one request (rate counts, IP lists, the geo database, the SQLi verdict memo)
//! is shared process-wide by fingerprint, so a reload keeps it.
//!
//! * The managed rule groups (`core`, `known_bad_inputs`, `ip_reputation`, `bot_control`)
//!   expand, when compiled, into ordinary rules over every input of the request, with the
//!   SQLi and XSS detectors of `libinjectionrs` and layers of our own.
//!
//! * [`Transformation`] names one AWS WAF `TextTransformation` type, [`Transformation::apply`]
//!   runs it over raw request bytes and [`apply_all`] runs a statement's list in order. Their
//!   behaviour follows the ModSecurity v3 `t:` functions that AWS WAF's types map onto; where
//!   the AWS documentation says something different, the AWS behaviour wins and the variant's
//!   doc says so.
//! * [`WebAcl::evaluate`] runs a web ACL's [`Rule`]s over a [`RequestView`] and returns a
//!   [`Verdict`]. Each rule holds a [`Statement`] that inspects a [`FieldToMatch`].
//! * [`WebAclConfig`] is the ACL as written in the configuration; [`compile`] checks it and
//!   builds the [`WebAcl`], reporting every problem with its path.

mod acl;
mod classes;
mod config;
mod detect;
mod eval;
mod field;
mod geo;
mod inputs;
mod iplist;
mod managed;
mod memo;
mod rate;
mod request;
mod statement;
#[cfg(test)]
mod testutil;
mod transform;

pub use acl::{
    AclError, Action, ChallengeConfig, CustomResponse, DefaultAction, Matched, Outcome, Rule, Verdict, WebAcl,
};
pub use config::{compile, WebAclConfig};
pub use detect::Sensitivity;
pub use field::{FieldToMatch, InvalidFallback, MatchScope, Oversize};
pub use geo::GeoDb;
pub use iplist::{parse_list, IpList, ListSource, Parsed};
pub use managed::{Exclusion, FieldRef, ManagedCheck};
pub use rate::{RateState, Unsynced, BUCKET_S};
pub use request::RequestView;
pub use statement::{
    AggregateKey, Comparison, CustomKey, Fallback, ForwardedIp, ForwardedPosition, LabelScope, Positional, RateBased,
    Statement,
};
pub use transform::{apply_all, Transformation};
