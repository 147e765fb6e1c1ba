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
mod evaluate;
pub mod lint;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

pub use condition::ConditionError;
pub(crate) use evaluate::wildcard;
pub use evaluate::{evaluate, evaluate_parsed};
use parse::string_list;
pub use parse::{Effect, Policy, PolicyError, PrincipalSpec, Statement, parse};

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
