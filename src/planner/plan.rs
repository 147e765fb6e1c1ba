//! The plan's data: steps, their operations and changes, drift, errors.

use crate::cloud::{FunctionConfig, RepositoryConfig};
use crate::model::{Address, ImageRef, Target};
use crate::state::Record;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// What a step does to its resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Delete, then create (an identity attribute changed).
    Replace,
    Delete,
    /// Record in state a resource that already matches (left by an interrupted apply).
    Adopt,
    /// Give a recorded resource a new address (a `[[moved]]` block); nothing changes in AWS.
    Move,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Adopt => "=",
            Action::Move => "->",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated in-place",
            Action::Replace => "replaced",
            Action::Delete => "destroyed",
            Action::Adopt => "adopted into state",
            Action::Move => "moved",
        }
    }
}

/// One attribute's change. Values are display-safe: sensitive environment values never appear.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub attribute: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Exactly what the executor does for a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    CreateRepository {
        config: RepositoryConfig,
    },
    UpdateRepository {
        before: RepositoryConfig,
        after: RepositoryConfig,
    },
    DeleteRepository {
        name: String,
        force: bool,
    },
    PutPolicy {
        repository: String,
        before: Option<String>,
        policy: String,
    },
    DeletePolicy {
        repository: String,
        before: String,
    },
    CreateFunction {
        config: FunctionConfig,
    },
    UpdateFunction {
        before: FunctionConfig,
        after: FunctionConfig,
    },
    DeleteFunction {
        name: String,
        before: FunctionConfig,
    },
    /// Delete at `old_target`, then create.
    Replace {
        old_target: Target,
        delete: Box<Operation>,
        create: Box<Operation>,
    },
    /// PutReplicationConfiguration of a source registry (`crate::replication`'s JSON).
    PutReplication {
        before: Option<String>,
        configuration: String,
    },
    /// PutReplicationConfiguration with no rules (ECR has no delete).
    DeleteReplication {
        before: String,
    },
    PutRegistryPolicy {
        before: Option<String>,
        policy: String,
    },
    DeleteRegistryPolicy {
        before: String,
    },
    /// Nothing to call: only record in state.
    Record,
    /// Nothing to call: state records move from each first address to the second, all or none
    /// (`StateStore::rename`), as `ferry state mv` moves them.
    Move {
        moves: Vec<(Address, Address)>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: usize,
    pub address: Address,
    /// The AWS name of the resource (function or repository name; a policy's repository).
    #[serde(default)]
    pub name: String,
    pub action: Action,
    pub reason: String,
    pub target: Target,
    pub changes: Vec<Change>,
    pub depends_on: Vec<usize>,
    pub level: usize,
    pub operation: Operation,
    /// What state holds for the address once the step succeeded; `None` forgets it.
    pub record: Option<Record>,
    /// Environment keys of a function whose values are secret, as declared now or when last
    /// applied: their values never leave the process (display, saved plans, logs).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive: BTreeSet<String>,
}

/// A declared image and what it resolved to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedImage {
    pub key: String,
    pub repository_uri: String,
    pub reference: ImageRef,
    pub digest: Option<String>,
}

/// A difference between what ferry last applied (state) and what is live: a change made
/// outside ferry. Kept apart from the steps, as Terraform keeps prev-run and prior state apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub address: Address,
    /// The resource is gone.
    pub deleted: bool,
    /// Last applied (before) against live (after); sensitive values redacted.
    pub changes: Vec<Change>,
    /// Where the resource lives and its AWS name, as state records them (plan JSON's identity).
    #[serde(default)]
    pub target: Option<Target>,
    #[serde(default)]
    pub name: String,
}

/// A reason the plan cannot be applied, with how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanError {
    pub address: Address,
    pub message: String,
    pub hint: String,
    /// Where the address is declared (`ferry.toml:12:1`), when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub project: String,
    /// The state the plan was made against.
    pub lineage: String,
    pub serial: u64,
    pub images: Vec<ResolvedImage>,
    /// Changes made outside ferry since the last apply.
    pub drift: Vec<Drift>,
    pub steps: Vec<Step>,
    pub errors: Vec<PlanError>,
    /// Problems that do not stop the plan: lint of policies ferry does not write itself.
    #[serde(default)]
    pub warnings: Vec<PlanError>,
    /// Managed resources that are already as declared.
    pub unchanged: Vec<Address>,
    /// When not empty, the plan was restricted to these addresses and what they depend on.
    #[serde(default)]
    pub targets: Vec<Address>,
    /// Previous images of functions this plan changes that are gone from their repository
    /// ([`crate::rollback_targets`]): the rollback reports those functions' undo as impossible.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gone_images: Vec<String>,
}

impl Step {
    /// Where a move step takes its resource.
    pub fn moved_to(&self) -> Option<&Address> {
        match &self.operation {
            Operation::Move { moves } => moves.first().map(|(_, to)| to),
            _ => None,
        }
    }

    /// What the resource is in AWS, in words: "Lambda function `x`", "ECR repository `x`".
    pub fn resource(&self) -> String {
        let kind = match self.address {
            Address::Function(_) => "Lambda function",
            Address::RepositoryPolicy(_) => "policy of ECR repository",
            Address::Replication(_) => "replication configuration of ECR registry",
            Address::RegistryPolicy(_) => "policy of ECR registry",
            _ => "ECR repository",
        };
        format!("{kind} `{}`", self.name)
    }
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.steps.is_empty()
    }

    /// Steps grouped by level, in order.
    pub fn levels(&self) -> Vec<Vec<&Step>> {
        let mut levels: Vec<Vec<&Step>> = Vec::new();
        for s in &self.steps {
            if levels.len() <= s.level {
                levels.resize(s.level + 1, Vec::new());
            }
            levels[s.level].push(s);
        }
        levels
    }

    /// (to add, to change, to destroy), counted as Terraform does: a replace is one add and one
    /// destroy.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for s in &self.steps {
            match s.action {
                Action::Create => c.0 += 1,
                Action::Update => c.1 += 1,
                Action::Replace => {
                    c.0 += 1;
                    c.2 += 1
                }
                Action::Delete => c.2 += 1,
                Action::Adopt | Action::Move => {}
            }
        }
        c
    }
}

/// A step as the planner first makes it: no id, level or dependencies yet (`order` sets them).
pub(super) fn step(
    address: Address,
    action: Action,
    reason: impl Into<String>,
    target: Target,
    changes: Vec<Change>,
    operation: Operation,
    record: Option<Record>,
) -> Step {
    Step {
        id: 0,
        address,
        name: String::new(),
        action,
        reason: reason.into(),
        target,
        changes,
        depends_on: vec![],
        level: 0,
        operation,
        record,
        sensitive: BTreeSet::new(),
    }
}
