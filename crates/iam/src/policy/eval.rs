//! Evaluation (reference §2.3) and the identity/resource combination tables (§2.4).

use super::context::RequestContext;
use super::parse::Statement;
use super::{Decision, Effect, Policy};

impl Statement {
    /// Whether the statement applies to the request; cheapest tests first.
    fn applies(&self, req: &RequestContext) -> bool {
        let action = req.action();
        if self.actions.items.iter().any(|p| p.matches(action)) == self.actions.negated {
            return false;
        }
        let resource = req.resource();
        if self.resources.items.iter().any(|p| p.matches(resource, req)) == self.resources.negated {
            return false;
        }
        if self.principals.as_ref().is_some_and(|p| !p.applies(req.caller())) {
            return false;
        }
        self.conditions.iter().all(|c| c.holds(req))
    }
}

/// Identity-based evaluation over a set of policies: any matching `Deny` gives
/// [`Decision::ExplicitDeny`], otherwise any matching `Allow` gives [`Decision::Allow`],
/// otherwise [`Decision::ImplicitDeny`].
///
/// A statement that carries `Principal`/`NotPrincipal` (only resource policies can) is honoured
/// here too, so passing a resource policy never widens access.
pub fn evaluate(policies: &[&Policy], req: &RequestContext) -> Decision {
    evaluate_all(policies.iter().copied(), req)
}

/// [`evaluate`] over any sequence of policies (a caller's own list, without collecting
/// references first).
pub fn evaluate_all<'p>(policies: impl IntoIterator<Item = &'p Policy>, req: &RequestContext) -> Decision {
    let mut allowed = false;
    for policy in policies {
        for statement in policy.statements() {
            // Once allowed, only a Deny can change the outcome: skip the remaining Allows.
            if allowed && statement.effect == Effect::Allow {
                continue;
            }
            if statement.applies(req) {
                match statement.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Resource-based evaluation: a statement applies only when its `Principal`/`NotPrincipal`
/// matches the request's caller (an anonymous caller matches only `"*"` / `{"AWS": "*"}`).
///
/// Parse the policy with [`Policy::parse_resource_policy`]: that guarantees every statement
/// names a principal. (A statement without one, from an identity policy, applies to any caller.)
pub fn evaluate_resource(policy: &Policy, req: &RequestContext) -> Decision {
    evaluate(&[policy], req)
}

/// Table A (same account, and Lambda authorizer output): either side's Allow suffices unless
/// either side denies explicitly.
pub fn combine_same_account(identity: Decision, resource: Decision) -> Decision {
    match (identity, resource) {
        (Decision::ExplicitDeny, _) | (_, Decision::ExplicitDeny) => Decision::ExplicitDeny,
        (Decision::Allow, _) | (_, Decision::Allow) => Decision::Allow,
        _ => Decision::ImplicitDeny,
    }
}

/// Table B (cross account): both sides must allow; any explicit deny wins.
pub fn combine_cross_account(identity: Decision, resource: Decision) -> Decision {
    match (identity, resource) {
        (Decision::ExplicitDeny, _) | (_, Decision::ExplicitDeny) => Decision::ExplicitDeny,
        (Decision::Allow, Decision::Allow) => Decision::Allow,
        _ => Decision::ImplicitDeny,
    }
}
