//! `[[moved]]` blocks: the records they move and their move steps.

use super::plan::*;
use crate::model::{Address, Desired, Purpose};
use crate::state::Snapshot;

/// The record moves `[[moved]]` blocks ask for: the state as the rest of the planner sees it
/// (each moved record at its new address), each block that still has something to move with its
/// pairs (a repository takes its policy along), and the blocks that cannot apply.
/// A block whose `from` is not in state has already been applied (or never had anything to
/// move): it stays in the files and is a no-op.
#[allow(clippy::type_complexity)]
pub(super) fn apply_moves(
    desired: &Desired,
    state: &Snapshot,
) -> (
    Snapshot,
    Vec<(crate::model::Move, Vec<(Address, Address)>)>,
    Vec<PlanError>,
) {
    let mut moved = state.clone();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    if desired.purpose == Purpose::Destroy {
        return (moved, out, errors);
    }
    for m in &desired.moves {
        let mut pairs = vec![(m.from.clone(), m.to.clone())];
        if let (Address::Repository(from), Address::Repository(to)) = (&m.from, &m.to) {
            pairs.push((
                Address::RepositoryPolicy(from.clone()),
                Address::RepositoryPolicy(to.clone()),
            ));
            // Its replicas' keys follow the source's, with their policies.
            let registries = desired.repositories.get(to).map(|r| r.replicate_to.clone());
            for registry in registries.into_iter().flatten() {
                use crate::model::replication::replica_key;
                let (old, new) = (replica_key(from, &registry), replica_key(to, &registry));
                pairs.push((
                    Address::Repository(old.clone()),
                    Address::Repository(new.clone()),
                ));
                pairs.push((
                    Address::RepositoryPolicy(old),
                    Address::RepositoryPolicy(new),
                ));
            }
        }
        pairs.retain(|(from, _)| moved.resources.contains_key(from));
        if !pairs.iter().any(|(from, _)| from == &m.from) {
            continue;
        }
        if let Some((_, taken)) = pairs
            .iter()
            .find(|(_, to)| moved.resources.contains_key(to))
        {
            errors.push(PlanError {
                declared_at: None,
                address: m.to.clone(),
                message: format!(
                    "the [[moved]] block at {} moves {} to {}, but the state already records {taken}, \
                     so the move cannot apply",
                    m.declared_at, m.from, m.to
                ),
                hint: format!(
                    "one of the two records is stale: forget it with `ferry state rm {taken}` (or `ferry state rm {}`) \
                     and plan again",
                    m.from
                ),
            });
            continue;
        }
        for (from, to) in &pairs {
            if let Some(r) = moved.resources.remove(from) {
                moved.resources.insert(to.clone(), r);
            }
            if moved.interrupted.remove(from) {
                moved.interrupted.insert(to.clone());
            }
        }
        out.push((m.clone(), pairs));
    }
    (moved, out, errors)
}
