//! Evaluating a parsed policy for one request: which statements allow or deny it, and why each
//! Allow statement that does not apply misses.

use super::{
    Decision, Effect, Miss, MissReason, Policy, PolicyError, Principal, PrincipalSpec, Request,
    Statement, Verdict, parse,
};
use serde_json::Value;

/// Evaluates `request` against `policy`.
pub fn evaluate(policy: &Value, request: &Request) -> Result<Verdict, PolicyError> {
    Ok(evaluate_parsed(&parse(policy)?, request))
}

pub fn evaluate_parsed(policy: &Policy, request: &Request) -> Verdict {
    let mut allows = Vec::new();
    let mut denies = Vec::new();
    let mut misses = Vec::new();
    for st in &policy.statements {
        match applies(st, request) {
            Ok(()) => match st.effect {
                Effect::Allow => allows.push(st.id.clone()),
                Effect::Deny => denies.push(st.id.clone()),
            },
            Err(reason) => {
                if st.effect == Effect::Allow {
                    misses.push(Miss {
                        statement: st.id.clone(),
                        reason,
                    });
                }
            }
        }
    }
    if !denies.is_empty() {
        Verdict {
            decision: Decision::ExplicitDeny,
            deciding: denies,
            misses: vec![],
        }
    } else if !allows.is_empty() {
        Verdict {
            decision: Decision::Allow,
            deciding: allows,
            misses: vec![],
        }
    } else {
        Verdict {
            decision: Decision::ImplicitDeny,
            deciding: vec![],
            misses,
        }
    }
}

/// Whether a statement applies to the request, or the first reason it does not.
fn applies(st: &Statement, r: &Request) -> Result<(), MissReason> {
    // A resource policy names who it is about; a statement that does not (an identity-policy
    // statement pasted in) is rejected by AWS, and never matches anyone here.
    if st.principal.is_none() && st.not_principal.is_none() {
        return Err(MissReason::NoPrincipal);
    }
    if let Some(p) = &st.principal
        && !principal_matches(p, &r.principal, Scope::AccountRootCoversAccount)
    {
        return Err(MissReason::Principal {
            expected: principal_list(p),
        });
    }
    if let Some(p) = &st.not_principal
        && principal_matches(p, &r.principal, Scope::Exact)
    {
        return Err(MissReason::NotPrincipal {
            excluded: principal_list(p),
        });
    }
    match (&st.action, &st.not_action) {
        (Some(list), _) if !list.iter().any(|a| wildcard(a, &r.action, true)) => {
            return Err(MissReason::Action {
                expected: list.clone(),
            });
        }
        (None, Some(list)) if list.iter().any(|a| wildcard(a, &r.action, true)) => {
            return Err(MissReason::NotAction {
                excluded: list.clone(),
            });
        }
        (None, None) => return Err(MissReason::Action { expected: vec![] }),
        _ => {}
    }
    let resource_ok = match (&st.resource, &st.not_resource) {
        (Some(list), _) => list.iter().any(|p| wildcard(p, &r.resource, false)),
        (None, Some(list)) => !list.iter().any(|p| wildcard(p, &r.resource, false)),
        // In a resource-based policy an absent Resource means the resource itself.
        (None, None) => true,
    };
    if !resource_ok {
        return Err(MissReason::Resource);
    }
    for c in &st.conditions {
        c.check(&r.context)?;
    }
    Ok(())
}

fn principal_list(p: &PrincipalSpec) -> Vec<String> {
    match p {
        PrincipalSpec::Any => vec!["*".to_string()],
        PrincipalSpec::Listed {
            aws,
            service,
            other,
        } => aws
            .iter()
            .map(|a| normalize_aws_principal(a))
            .chain(service.iter().map(|s| format!("service {s}")))
            .chain(other.iter().cloned())
            .collect(),
    }
}

/// A 12-digit account id in a policy means that account's root.
fn normalize_aws_principal(p: &str) -> String {
    if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        format!("arn:aws:iam::{p}:root")
    } else {
        p.to_string()
    }
}

/// The account of an IAM or STS principal ARN.
fn principal_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, _partition, service, _region, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn_ == "arn" && (service == "iam" || service == "sts")).then_some(account)
}

/// What an account root ARN stands for when matching a principal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// In Principal: every principal of the account.
    AccountRootCoversAccount,
    /// In NotPrincipal: only the account itself. AWS checks each of the requester's identities
    /// (account, role, session) against NotPrincipal, so listing `arn:aws:iam::C:root` alone
    /// exempts the account but still denies its roles and users; its documentation asks for the
    /// role's ARN *and* the account's to exempt a role.
    Exact,
}

fn principal_matches(spec: &PrincipalSpec, who: &Principal, scope: Scope) -> bool {
    match spec {
        PrincipalSpec::Any => true,
        PrincipalSpec::Listed { aws, service, .. } => match who {
            Principal::Service(name) => service.iter().any(|s| s.eq_ignore_ascii_case(name)),
            Principal::Aws(arn) => aws.iter().any(|entry| {
                let entry = normalize_aws_principal(entry);
                if entry == *arn {
                    return true;
                }
                if scope == Scope::Exact {
                    return false;
                }
                // An account's root stands for every principal of that account.
                match entry
                    .strip_prefix("arn:aws:iam::")
                    .and_then(|r| r.strip_suffix(":root"))
                {
                    Some(account) => principal_account(arn) == Some(account),
                    None => false,
                }
            }),
        },
    }
}

/// Glob matching with `*` and `?`; `case_insensitive` for actions.
pub(crate) fn wildcard(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    // Iterative matcher with backtracking on the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}
