//! Stage: planner. Pure: desired + state (last applied) + observed (live) in, a [`Plan`] out.
//!
//! No AWS client, no clock, no randomness: the same inputs give the same plan, byte for byte.
//! The plan leaves the executor nothing to decide: every step carries its exact operation, the
//! state record to write when it succeeds, its dependencies and its level (steps of one level are
//! independent and may run in parallel).

mod attrs;
mod build;
mod decision;
mod drift;
mod function;
mod graph;
mod images;
mod moves;
mod orphans;
mod ownership;
mod plan;
mod policy;
mod replication;
mod repository;

pub use attrs::step_values;
pub use graph::restrict;
pub use ownership::account_changed;
pub use plan::{Action, Change, Drift, Operation, Plan, PlanError, ResolvedImage, Step};
pub use policy::live_policies;

use crate::model::{Address, Desired};
use crate::refresh::Observed;
use crate::state::Snapshot;
use drift::*;
use graph::*;
use moves::*;
use ownership::*;
use policy::*;
use std::collections::BTreeMap;

/// Computes the plan.
pub fn plan(desired: &Desired, state: &Snapshot, observed: &Observed) -> Plan {
    // `[[moved]]` blocks first: the rest of the plan sees each record at its new address.
    let (moved_state, moves, move_errors) = apply_moves(desired, state);
    let state = &moved_state;
    let moved_into = moves
        .iter()
        .flat_map(|(m, pairs)| pairs.iter().map(|(_, to)| (to.clone(), m.from.clone())))
        .collect();
    let mut p = Planner {
        desired,
        state,
        observed,
        drafts: Vec::new(),
        errors: move_errors,
        unchanged: Vec::new(),
        renames: renames(desired, state),
        moved_into,
        policies: crate::policy::synthesize_all(desired),
    };
    for (m, pairs) in &moves {
        p.build_move(m, pairs);
    }
    let images = p.build_images();
    let digests: BTreeMap<String, String> = images
        .iter()
        .filter_map(|i| i.digest.clone().map(|d| (i.key.clone(), d)))
        .collect();
    for repo in desired.repositories.values() {
        p.build_repository(repo, p.decide_repository(repo));
        if repo.manage_policy {
            p.build_policy(repo, p.decide_policy(repo));
        }
    }
    for f in desired.functions.values() {
        p.build_function(f, &digests, p.decide_function(f, &digests));
    }
    p.build_registry_documents();
    for (address, record) in &state.resources {
        p.build_orphan(address, record, p.decide_orphan(address, record));
    }
    let Planner {
        mut drafts,
        mut errors,
        mut unchanged,
        ..
    } = p;
    // A record whose account key now names another account is not planned at all: no step may
    // read or write the other account's resources in its name.
    let repointed = account_changes(desired, state);
    drafts.retain(|d| !repointed.iter().any(|e| e.address == d.step.address));
    unchanged.retain(|a| !repointed.iter().any(|e| &e.address == a));
    errors.extend(repointed);
    replication::say_routes(desired, &mut drafts);
    let steps = order(drafts);
    errors.extend(one_step_per_resource(&steps, state));
    for e in &mut errors {
        e.declared_at = desired.declared_at.get(&e.address).cloned();
    }
    Plan {
        project: desired.project.name.clone(),
        lineage: state.lineage.clone(),
        serial: state.serial,
        images,
        drift: drift(desired, state, observed),
        steps,
        errors,
        warnings: warnings(desired, observed),
        unchanged,
        targets: Vec::new(),
        gone_images: Vec::new(),
    }
}

struct Planner<'a> {
    desired: &'a Desired,
    state: &'a Snapshot,
    observed: &'a Observed,
    drafts: Vec<Draft>,
    errors: Vec<PlanError>,
    unchanged: Vec<Address>,
    /// Renamed keys without a move: new address to the old one state records it under.
    renames: BTreeMap<Address, Address>,
    /// Addresses a `[[moved]]` block moves a record into, to the address of its move step.
    moved_into: BTreeMap<Address, Address>,
    /// Every managed repository's derived policy, made once (not once per function).
    policies: crate::policy::Synthesized,
}

#[cfg(test)]
mod tests;
