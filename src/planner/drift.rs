//! Changes made outside ferry: state against live.

use super::attrs::*;
use super::plan::*;
use crate::model::Place;
use crate::model::{Address, Desired};
use crate::policy;
use crate::refresh::Observed;
use crate::state::{Record, Snapshot};
use serde_json::Value;

/// What changed outside ferry: every recorded resource compared with its live twin.
pub(super) fn drift(desired: &Desired, state: &Snapshot, observed: &Observed) -> Vec<Drift> {
    let mut out = Vec::new();
    for (address, record) in &state.resources {
        let (live_exists, changes) = match record {
            Record::Repository { target, config, .. } => {
                match observed.repositories.get(&Place::new(target, &config.name)) {
                    Some(Some(live)) => (
                        true,
                        diff(
                            &repository_attrs(Some(config)),
                            &repository_attrs(Some(live)),
                        ),
                    ),
                    Some(None) => (false, vec![]),
                    None => continue,
                }
            }
            Record::RepositoryPolicy {
                target,
                repository,
                policy: text,
            } => match observed.policies.get(&Place::new(target, repository)) {
                Some(Some(live)) => {
                    let (before, after) = (policy::parse(text), policy::parse(live));
                    let changes = if policy::equivalent(&before, &after) {
                        vec![]
                    } else {
                        vec![Change {
                            attribute: "policy".to_string(),
                            before: Some(before),
                            after: Some(after),
                        }]
                    };
                    (true, changes)
                }
                Some(None) => (false, vec![]),
                None => continue,
            },
            Record::Replication { .. } | Record::RegistryPolicy { .. } => {
                match super::replication::drift_of(record, observed) {
                    Some(found) => found,
                    None => continue,
                }
            }
            Record::Function {
                target,
                config,
                sensitive,
                ..
            } => match observed.functions.get(&Place::new(target, &config.name)) {
                Some(Some(live)) => {
                    // State holds keyed hashes of sensitive values: hash the live ones alike.
                    let mut live_cmp = live.config.clone();
                    let shown = sensitive_keys(desired, state, address);
                    for k in sensitive {
                        if let Some(v) = live_cmp.environment.get_mut(k) {
                            *v = crate::state::sensitive_hash(&state.secret_key, k, v);
                        }
                    }
                    (
                        true,
                        diff(
                            &function_attrs(Some(config), None, &shown),
                            &function_attrs(Some(&live_cmp), Some(config), &shown),
                        ),
                    )
                }
                Some(None) => (false, vec![]),
                None => continue,
            },
        };
        if !live_exists || !changes.is_empty() {
            out.push(Drift {
                address: address.clone(),
                deleted: !live_exists,
                changes,
                target: Some(record.target().clone()),
                name: record.identity().3.to_string(),
            });
        }
    }
    out
}

/// Whether the live attributes differ from what state says ferry last applied.
pub(super) fn drifted_outside(
    state: &Snapshot,
    address: &Address,
    live: &[(String, Value)],
) -> bool {
    let Some(record) = state.resources.get(address) else {
        return false;
    };
    let recorded = match record {
        Record::Repository { config, .. } => repository_attrs(Some(config)),
        Record::Function {
            config, sensitive, ..
        } => function_attrs(Some(config), None, sensitive),
        Record::RepositoryPolicy { .. }
        | Record::Replication { .. }
        | Record::RegistryPolicy { .. } => return false,
    };
    // Sensitive values are hashed in state, so compare only what can be compared.
    recorded
        .iter()
        .filter(|(k, _)| k != "environment")
        .ne(live.iter().filter(|(k, _)| k != "environment"))
}
