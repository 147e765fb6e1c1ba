//! Stage: access analysis. Pure: evaluates AWS resource-based policies (here, ECR repository
//! policies) on plain data, with an explanation for every verdict. No AWS calls, no I/O.
//!
//! Why ferry has its own: AWS only says "Lambda does not have permission to access the ECR image"
//! when CreateFunction fails, and AWS's policy simulator cannot simulate service principals such
//! as `lambda.amazonaws.com`. Evaluating locally lets `ferry check` and `ferry plan` say, before
//! anything changes, whether Lambda will be allowed to pull, and exactly why not.
//!
//! Evaluation follows AWS's logic for a single resource-based policy: an explicit Deny beats an
//! Allow, which beats the implicit deny.

mod condition;
pub mod lint;
#[cfg(test)]
mod tests;

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

pub use condition::ConditionError;

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// An IAM principal ARN: `arn:aws:iam::222222222222:root`, a role, an assumed-role session.
    Aws(String),
    /// A service principal such as `lambda.amazonaws.com`.
    Service(String),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Aws(a) => write!(f, "{a}"),
            Principal::Service(s) => write!(f, "service {s}"),
        }
    }
}

/// The request context: condition keys (compared case-insensitively) to one or more values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    keys: BTreeMap<String, (String, Vec<String>)>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(self, key: &str, value: &str) -> Self {
        self.with_multi(key, vec![value.to_string()])
    }

    pub fn with_multi(mut self, key: &str, values: Vec<String>) -> Self {
        self.keys
            .insert(key.to_ascii_lowercase(), (key.to_string(), values));
        self
    }

    /// The values of a key, if the request has it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.keys
            .get(&key.to_ascii_lowercase())
            .map(|(_, v)| v.as_slice())
    }
}

/// One request to evaluate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub principal: Principal,
    pub action: String,
    pub resource: String,
    pub context: Context,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// A statement, by position and Sid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementId {
    pub index: usize,
    pub sid: Option<String>,
}

impl fmt::Display for StatementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sid {
            Some(sid) => write!(f, "statement \"{sid}\""),
            None => write!(f, "statement #{}", self.index + 1),
        }
    }
}

/// Why an Allow statement did not apply to the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MissReason {
    Principal {
        expected: Vec<String>,
    },
    NotPrincipal {
        excluded: Vec<String>,
    },
    /// Neither Principal nor NotPrincipal: not a valid resource-policy statement.
    NoPrincipal,
    Action {
        expected: Vec<String>,
    },
    NotAction {
        excluded: Vec<String>,
    },
    Resource,
    ConditionKeyMissing {
        operator: String,
        key: String,
    },
    ConditionValue {
        operator: String,
        key: String,
        expected: Vec<String>,
        actual: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Miss {
    pub statement: StatementId,
    pub reason: MissReason,
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} does not apply: ", self.statement)?;
        match &self.reason {
            MissReason::Principal { expected } => {
                write!(f, "the principal is not one of {}", expected.join(", "))
            }
            MissReason::NotPrincipal { excluded } => write!(
                f,
                "the principal is excluded by NotPrincipal {}",
                excluded.join(", ")
            ),
            MissReason::NoPrincipal => write!(
                f,
                "it has neither Principal nor NotPrincipal, which AWS rejects in a repository \
                 policy, so it applies to no one"
            ),
            MissReason::Action { expected } if expected.is_empty() => {
                write!(f, "it has neither Action nor NotAction")
            }
            MissReason::Action { expected } => {
                write!(f, "the action is not one of {}", expected.join(", "))
            }
            MissReason::NotAction { excluded } => {
                write!(
                    f,
                    "the action is excluded by NotAction {}",
                    excluded.join(", ")
                )
            }
            MissReason::Resource => write!(f, "the resource does not match"),
            MissReason::ConditionKeyMissing { operator, key } => {
                write!(
                    f,
                    "condition {operator} needs {key}, which the request does not have"
                )
            }
            MissReason::ConditionValue {
                operator,
                key,
                expected,
                actual,
            } => write!(
                f,
                "condition {operator} {key} expects {} but the request has {}",
                expected.join(" or "),
                actual.join(", ")
            ),
        }
    }
}

/// The decision and its explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    /// The statements that allowed or explicitly denied.
    pub deciding: Vec<StatementId>,
    /// For an implicit deny: why each Allow statement did not apply.
    pub misses: Vec<Miss>,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        self.decision == Decision::Allow
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = |v: &[StatementId]| {
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.decision {
            Decision::Allow => write!(f, "allowed by {}", ids(&self.deciding)),
            Decision::ExplicitDeny => write!(f, "explicitly denied by {}", ids(&self.deciding)),
            Decision::ImplicitDeny if self.misses.is_empty() => {
                write!(f, "denied: no statement allows it")
            }
            Decision::ImplicitDeny => {
                write!(f, "denied: ")?;
                for (i, m) in self.misses.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "{m}")?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy is not a JSON object with a Statement")]
    NoStatements,
    #[error("{statement}: {message}")]
    Statement { statement: String, message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A principal element: `*`, or lists per kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalSpec {
    Any,
    Listed {
        aws: Vec<String>,
        service: Vec<String>,
        other: Vec<String>,
    },
}

/// A parsed statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub id: StatementId,
    pub effect: Effect,
    pub principal: Option<PrincipalSpec>,
    pub not_principal: Option<PrincipalSpec>,
    pub action: Option<Vec<String>>,
    pub not_action: Option<Vec<String>>,
    pub resource: Option<Vec<String>>,
    pub not_resource: Option<Vec<String>>,
    pub conditions: Vec<condition::Condition>,
}

/// A parsed policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

/// Parses a policy document.
pub fn parse(policy: &Value) -> Result<Policy, PolicyError> {
    let list = match policy.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(obj @ Value::Object(_)) => vec![obj.clone()],
        _ => return Err(PolicyError::NoStatements),
    };
    let statements = list
        .iter()
        .enumerate()
        .map(|(index, s)| parse_statement(index, s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy { statements })
}

fn parse_statement(index: usize, s: &Value) -> Result<Statement, PolicyError> {
    let sid = s.get("Sid").and_then(|v| v.as_str()).map(str::to_string);
    let id = StatementId { index, sid };
    let err = |message: String| PolicyError::Statement {
        statement: id.to_string(),
        message,
    };
    let effect = match s.get("Effect").and_then(|v| v.as_str()) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        other => return Err(err(format!("Effect must be Allow or Deny, not {other:?}"))),
    };
    let strings = |key: &str| -> Result<Option<Vec<String>>, PolicyError> {
        match s.get(key) {
            None => Ok(None),
            Some(v) => string_list(v)
                .map(Some)
                .ok_or_else(|| err(format!("{key} must be a string or a list of strings"))),
        }
    };
    let principal_spec = |key: &str| -> Result<Option<PrincipalSpec>, PolicyError> {
        match s.get(key) {
            None => Ok(None),
            Some(Value::String(star)) if star == "*" => Ok(Some(PrincipalSpec::Any)),
            Some(Value::Object(kinds)) => {
                let (mut aws, mut service, mut other) = (vec![], vec![], vec![]);
                for (kind, v) in kinds {
                    let values = string_list(v)
                        .ok_or_else(|| err(format!("{key}.{kind} must be a string or a list")))?;
                    match kind.as_str() {
                        "AWS" => aws.extend(values),
                        "Service" => service.extend(values),
                        _ => other.extend(values),
                    }
                }
                if aws.iter().any(|a| a == "*") {
                    return Ok(Some(PrincipalSpec::Any));
                }
                Ok(Some(PrincipalSpec::Listed {
                    aws,
                    service,
                    other,
                }))
            }
            Some(_) => Err(err(format!("{key} must be \"*\" or an object"))),
        }
    };
    let conditions = match s.get("Condition") {
        None => vec![],
        Some(c) => condition::parse(c).map_err(|e| err(e.to_string()))?,
    };
    Ok(Statement {
        effect,
        principal: principal_spec("Principal")?,
        not_principal: principal_spec("NotPrincipal")?,
        action: strings("Action")?,
        not_action: strings("NotAction")?,
        resource: strings("Resource")?,
        not_resource: strings("NotResource")?,
        conditions,
        id,
    })
}

/// A string or a list of strings (numbers and booleans are taken as their text).
fn string_list(v: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|s| vec![s]),
    }
}

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
