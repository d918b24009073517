//! IAM for Portcullis: AWS Signature Version 4 verification ([`sigv4`]) and the IAM policy
//! language with its evaluator ([`policy`]). Pure functions over bytes and strings: no I/O,
//! no clock reads, no store. Callers pass the time and the secrets in.

pub mod policy;
pub mod sigv4;
