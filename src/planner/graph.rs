//! Every ordering rule of a plan: which step waits for which, the levels, `restrict`.

use super::Planner;
use super::plan::*;
use crate::model::{Address, Desired};
use crate::state::Record;
use std::collections::{BTreeMap, BTreeSet};

/// A step before ordering: dependencies by address.
pub(super) struct Draft {
    pub(super) step: Step,
    pub(super) after: BTreeSet<Address>,
}

/// Restricts a plan to `targets` and the steps they depend on, as Terraform's `-target` does.
/// Errors about other resources are dropped, except those about the images that targeted
/// functions deploy.
pub fn restrict(plan: Plan, desired: &Desired, targets: &[Address]) -> Plan {
    let by_address: BTreeMap<&Address, &Step> =
        plan.steps.iter().map(|s| (&s.address, s)).collect();
    let mut keep: BTreeSet<Address> = BTreeSet::new();
    let mut queue: Vec<Address> = targets.to_vec();
    while let Some(a) = queue.pop() {
        if !keep.insert(a.clone()) {
            continue;
        }
        if let Some(step) = by_address.get(&a) {
            queue.extend(
                step.depends_on
                    .iter()
                    .map(|d| plan.steps[*d].address.clone()),
            );
        }
    }
    let mut relevant = keep.clone();
    for a in &keep {
        if let Address::Function(k) = a
            && let Some(f) = desired.functions.get(k)
        {
            relevant.insert(Address::Image(f.image.clone()));
        }
    }
    let drafts: Vec<Draft> = plan
        .steps
        .iter()
        .filter(|s| keep.contains(&s.address))
        .map(|s| Draft {
            after: s
                .depends_on
                .iter()
                .map(|d| plan.steps[*d].address.clone())
                .collect(),
            step: s.clone(),
        })
        .collect();
    Plan {
        steps: order(drafts),
        errors: plan
            .errors
            .into_iter()
            .filter(|e| relevant.contains(&e.address))
            .collect(),
        drift: plan
            .drift
            .into_iter()
            .filter(|d| keep.contains(&d.address))
            .collect(),
        unchanged: plan
            .unchanged
            .into_iter()
            .filter(|a| keep.contains(a))
            .collect(),
        images: plan
            .images
            .into_iter()
            .filter(|i| relevant.contains(&Address::Image(i.key.clone())))
            .collect(),
        targets: targets.to_vec(),
        ..plan
    }
}

/// The one rule that needs both ends' actions: a function step that is not a delete never
/// waits for a delete (a policy removed after its last consumer is deleted), since that would
/// invert the order of a teardown.
fn edge_holds(waiting: &Step, on: &Step) -> bool {
    !(on.action == Action::Delete
        && matches!(waiting.address, Address::Function(_))
        && waiting.action != Action::Delete)
}

/// Orders drafts: dependencies by address become edges between steps; levels are longest
/// paths from the roots; within a level, steps sort by address. Ids follow that order.
pub(super) fn order(drafts: Vec<Draft>) -> Vec<Step> {
    let index: BTreeMap<Address, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.step.address.clone(), i))
        .collect();
    // The addresses each step waits for (`waits_for`) become edges to the steps planned for
    // them, where the edge holds.
    let deps: Vec<Vec<usize>> = drafts
        .iter()
        .map(|d| {
            d.after
                .iter()
                .filter_map(|a| index.get(a).copied())
                .filter(|&j| edge_holds(&d.step, &drafts[j].step))
                .collect()
        })
        .collect();
    let mut level = vec![usize::MAX; drafts.len()];
    fn depth(
        i: usize,
        deps: &[Vec<usize>],
        level: &mut [usize],
        visiting: &mut Vec<bool>,
    ) -> usize {
        if level[i] != usize::MAX {
            return level[i];
        }
        if visiting[i] {
            // A cycle cannot arise from the rules above; break it rather than loop.
            return 0;
        }
        visiting[i] = true;
        let l = deps[i]
            .iter()
            .map(|&j| depth(j, deps, level, visiting) + 1)
            .max()
            .unwrap_or(0);
        visiting[i] = false;
        level[i] = l;
        l
    }
    let mut visiting = vec![false; drafts.len()];
    for i in 0..drafts.len() {
        depth(i, &deps, &mut level, &mut visiting);
    }
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by(|&a, &b| {
        (level[a], &drafts[a].step.address).cmp(&(level[b], &drafts[b].step.address))
    });
    let new_id: BTreeMap<usize, usize> = order.iter().enumerate().map(|(n, &i)| (i, n)).collect();
    let mut steps: Vec<Option<Draft>> = drafts.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&i| {
            let mut d = steps[i].take()?;
            d.step.id = new_id[&i];
            d.step.level = level[i];
            let mut dep_ids: Vec<usize> = deps[i].iter().map(|j| new_id[j]).collect();
            dep_ids.sort();
            d.step.depends_on = dep_ids;
            Some(d.step)
        })
        .collect()
}

impl Planner<'_> {
    /// The addresses a step waits for: every dependency edge of a plan is decided here, by the
    /// step's address and action alone (the deciders add none).
    ///
    /// - A declared function's create, update, adopt or replace waits for its repository and the
    ///   repository's policy (`order` drops the edge when that policy step is a delete).
    /// - A managed policy's step waits for its repository; any policy step waits for the deletes
    ///   of the functions that pulled from the repository and no longer do.
    /// - A repository's delete waits for its policy and for the deletes of its consumers (delete
    ///   edges run the other way round from create edges).
    /// - A source registry's replication step waits for the replica repositories and the
    ///   destination registry policies it needs; a function pulling from a replica waits for
    ///   it too; a replica repository's or a registry policy's delete waits for the
    ///   replication steps (the rule stops writing first).
    /// - A step on a record a `[[moved]]` block moves waits for the move.
    pub(super) fn waits_for(&self, step: &Step) -> BTreeSet<Address> {
        let mut after = BTreeSet::new();
        match (&step.address, step.action) {
            (_, Action::Move) => {}
            (Address::Function(_), Action::Delete) => {}
            (Address::Function(k), _) => {
                if let Some(repo) = self
                    .desired
                    .functions
                    .get(k)
                    .and_then(|f| self.desired.function_repository(f))
                {
                    after.insert(Address::Repository(repo.key.clone()));
                    after.insert(Address::RepositoryPolicy(repo.key.clone()));
                    after.extend(self.replication_of(repo));
                }
            }
            // A source's rule after every replica repository it writes into and every
            // destination registry's policy that lets it; their deletes after the rule's change.
            (Address::Replication(k), action) if action != Action::Delete => {
                after.extend(self.replication_needs(k));
            }
            (Address::RegistryPolicy(_), Action::Delete) => {
                after.extend(self.replication_steps());
            }
            (Address::RepositoryPolicy(k), _) => {
                if self
                    .desired
                    .repositories
                    .get(k)
                    .is_some_and(|r| r.manage_policy)
                {
                    after.insert(Address::Repository(k.clone()));
                }
                after.extend(self.deleted_consumers_of(k));
            }
            (Address::Repository(k), Action::Delete) => {
                after.insert(Address::RepositoryPolicy(k.clone()));
                after.extend(self.deleted_consumers_of(k));
                if k.contains(crate::model::replication::REPLICA_SEPARATOR) {
                    after.extend(self.replication_steps());
                }
            }
            _ => {}
        }
        // A step on a moved record runs after the move.
        if let Some(from) = self.moved_into.get(&step.address) {
            after.insert(from.clone());
        }
        after
    }

    /// The replication configuration that fills `repo`, when it is a replica.
    fn replication_of(&self, repo: &crate::model::Repository) -> Option<Address> {
        let source = crate::model::replication::source_of(self.desired, repo)?;
        Some(Address::Replication(source.registry.clone()))
    }

    /// What registry `k`'s replication rules write into: the replica repositories and the
    /// policies of the destination registries in other accounts.
    fn replication_needs(&self, k: &str) -> Vec<Address> {
        let mut out = Vec::new();
        for r in self.desired.repositories.values() {
            let Some(source) = crate::model::replication::source_of(self.desired, r) else {
                continue;
            };
            if source.registry == k {
                out.push(Address::Repository(r.key.clone()));
                if source.target.account_id != r.target.account_id {
                    out.push(Address::RegistryPolicy(r.registry.clone()));
                }
            }
        }
        out
    }

    /// Every replication configuration that may have a step: declared or recorded.
    fn replication_steps(&self) -> Vec<Address> {
        let recorded = self
            .state
            .resources
            .keys()
            .filter(|a| matches!(a, Address::Replication(_)))
            .cloned();
        self.desired
            .registries
            .keys()
            .map(|k| Address::Replication(k.clone()))
            .chain(recorded)
            .collect()
    }

    /// Functions recorded as pulling from `repo_key` that this plan deletes or moves away.
    pub(super) fn deleted_consumers_of(&self, repo_key: &str) -> Vec<Address> {
        // Function records name a repository moved by this plan by its old key.
        let moved_from = self
            .moved_into
            .get(&Address::Repository(repo_key.to_string()))
            .map(Address::key);
        self.state
            .resources
            .iter()
            .filter_map(|(addr, r)| match r {
                Record::Function { repository, .. }
                    if repository == repo_key || Some(repository.as_str()) == moved_from =>
                {
                    let still = self.desired.functions.get(addr.key()).is_some_and(|f| {
                        self.desired
                            .function_repository(f)
                            .is_some_and(|r| r.key == repo_key)
                    });
                    (!still).then(|| addr.clone())
                }
                _ => None,
            })
            .collect()
    }
}
