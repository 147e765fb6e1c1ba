//! The estate `ferry graph` draws: every resource declared or in state, where it lives, what
//! the plan does to it, and how resources depend on each other. Pure: built from plain data.

use crate::model::{Address, Desired, Target};
use crate::planner::{Action, Plan};
use crate::state::{Record, Snapshot};
use std::collections::{BTreeMap, BTreeSet};

/// One resource of the estate.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub address: Address,
    /// Where it lives (after the plan, for a pending change).
    pub location: Target,
    /// What the plan does to it; `None` when it is as declared.
    pub pending: Option<Action>,
}

/// Resources grouped by where they live, and the edges between them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estate {
    /// Every resource, in address order.
    pub nodes: Vec<Node>,
    /// The plan's ordering: the first step runs before the second.
    pub plan_edges: Vec<(Address, Address)>,
    /// What depends on what in the estate (repository → its policy → the functions pulling from
    /// it), where the plan does not already order the pair.
    pub estate_edges: Vec<(Address, Address)>,
}

impl Estate {
    /// The estate of `desired` and `state`, with `plan`'s changes marked.
    pub fn new(desired: &Desired, state: &Snapshot, plan: &Plan) -> Estate {
        let mut nodes: BTreeMap<Address, Node> = BTreeMap::new();
        let mut add = |address: Address, location: &Target, pending: Option<Action>| {
            let node = nodes.entry(address.clone()).or_insert(Node {
                address,
                location: location.clone(),
                pending: None,
            });
            if pending.is_some() {
                node.location = location.clone();
                node.pending = pending;
            }
        };
        let mut structure: BTreeSet<(Address, Address)> = BTreeSet::new();
        for (address, record) in &state.resources {
            add(address.clone(), record.target(), None);
            match record {
                Record::RepositoryPolicy { .. } => {
                    let repository = Address::Repository(address.key().to_string());
                    structure.insert((repository, address.clone()));
                }
                Record::Function { repository, .. } => {
                    structure.insert((Address::Repository(repository.clone()), address.clone()));
                }
                Record::Repository { .. }
                | Record::Replication { .. }
                | Record::RegistryPolicy { .. } => {}
            }
        }
        for (key, repository) in &desired.repositories {
            let address = Address::Repository(key.clone());
            add(address.clone(), &repository.target, None);
            if repository.manage_policy {
                let policy = Address::RepositoryPolicy(key.clone());
                add(policy.clone(), &repository.target, None);
                structure.insert((address, policy));
            }
        }
        for (key, function) in &desired.functions {
            let address = Address::Function(key.clone());
            add(address.clone(), &function.target, None);
            if let Some(repository) = desired.function_repository(function) {
                structure.insert((Address::Repository(repository.key.clone()), address));
            }
        }
        for step in &plan.steps {
            add(step.address.clone(), &step.target, Some(step.action));
        }
        // A function pulls through its repository's policy when there is one.
        let structure: BTreeSet<(Address, Address)> = structure
            .iter()
            .map(|(from, to)| match (from, to) {
                (Address::Repository(k), Address::Function(_)) => {
                    let policy = Address::RepositoryPolicy(k.clone());
                    if nodes.contains_key(&policy) {
                        (policy, to.clone())
                    } else {
                        (from.clone(), to.clone())
                    }
                }
                _ => (from.clone(), to.clone()),
            })
            .filter(|(from, to)| nodes.contains_key(from) && nodes.contains_key(to))
            .collect();
        let plan_edges: Vec<(Address, Address)> = plan
            .steps
            .iter()
            .flat_map(|s| {
                s.depends_on
                    .iter()
                    .map(|d| (plan.steps[*d].address.clone(), s.address.clone()))
            })
            .collect();
        let ordered = |(a, b): &(Address, Address)| {
            plan_edges
                .iter()
                .any(|(x, y)| (x == a && y == b) || (x == b && y == a))
        };
        let estate_edges = structure.into_iter().filter(|e| !ordered(e)).collect();
        Estate {
            nodes: nodes.into_values().collect(),
            plan_edges,
            estate_edges,
        }
    }

    /// The nodes grouped by account and region, in that order.
    pub fn by_location(&self) -> BTreeMap<&Target, Vec<&Node>> {
        let mut groups: BTreeMap<&Target, Vec<&Node>> = BTreeMap::new();
        for node in &self.nodes {
            groups.entry(&node.location).or_default().push(node);
        }
        groups
    }
}

/// The label of a node: the action's symbol before a pending change.
pub(super) fn label(node: &Node) -> String {
    match node.pending {
        Some(action) => format!("{} {}", action.symbol(), node.address),
        None => node.address.to_string(),
    }
}

/// The words of a group: `prod (222222222222) us-east-1`.
pub(super) fn location_label(t: &Target) -> String {
    format!("{} ({}) {}", t.account, t.account_id, t.region)
}
