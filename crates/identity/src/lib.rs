//! Who is calling.
//!
//! * Custom authorizers, compatible with API Gateway's Lambda authorizers: the event a function
//!   receives ([`custom::event`]), the answer it gives ([`custom::answer`]) and the cache of
//!   answers ([`custom::DecisionCache`]). The gateway makes the call itself, on its pooled
//!   upstream client, and evaluates the returned policy with `iam`.
//! * JSON Web Tokens of OpenID providers ([`jwt`]): the token, the provider's keys, and the
//!   checks of a JWT authorizer.
//! * User pools ([`pool`]): sign-up, sign-in, codes, TOTP and the tokens the pool signs.
//! * Time-based one-time passwords ([`totp`]) for multi-factor sign-in.

pub mod custom;
pub mod http_client;
pub mod jwt;
pub mod pool;
pub mod totp;
