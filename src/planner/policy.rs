//! The decider for repository policies ferry writes, and the lint of the ones it does not.

use super::Planner;
use super::ownership::*;
use super::plan::*;
use crate::model::{Address, Desired, Repository, Target};
use crate::policy;
use crate::refresh::Observed;
use crate::state::Record;
use std::collections::BTreeMap;

/// The live policy text of each declared repository, by key.
pub(super) fn live_policies(
    desired: &Desired,
    observed: &Observed,
) -> BTreeMap<String, Option<String>> {
    desired
        .repositories
        .values()
        .map(|r| {
            let live = observed
                .policies
                .get(&(r.target.clone(), r.name.clone()))
                .cloned()
                .flatten();
            (r.key.clone(), live)
        })
        .collect()
}

pub(super) fn warnings(desired: &Desired, observed: &Observed) -> Vec<PlanError> {
    crate::check::policy_warnings(desired, &live_policies(desired, observed))
        .into_iter()
        .map(|w| PlanError {
            declared_at: None,
            address: w.repository,
            message: w.message,
            hint: w.hint,
        })
        .collect()
}

impl Planner<'_> {
    pub(super) fn policy(&mut self, repo: &Repository) {
        let address = Address::RepositoryPolicy(repo.key.clone());
        // A renamed repository's one error covers its policy.
        if self
            .renames
            .contains_key(&Address::Repository(repo.key.clone()))
        {
            return;
        }
        let place = (repo.target.clone(), repo.name.clone());
        let desired = match policy::synthesize(self.desired, repo) {
            Ok(p) => p,
            Err(e) => {
                self.errors.push(PlanError {
                    declared_at: None,
                    address,
                    message: e.to_string(),
                    hint:
                        "share with an Organization or org path instead of many accounts, or trim \
                           extra_statements"
                            .to_string(),
                });
                return;
            }
        };
        let live = self.observed.policies.get(&place).cloned().flatten();
        let prior = self.state.resources.get(&address);
        match (desired, live) {
            (Some(want), live) => {
                let text = policy::to_text(&want);
                let record = Record::RepositoryPolicy {
                    target: repo.target.clone(),
                    repository: repo.name.clone(),
                    policy: text.clone(),
                };
                let live_value = live.as_deref().map(policy::parse);
                if live_value
                    .as_ref()
                    .is_some_and(|l| policy::equivalent(l, &want))
                {
                    let same_record = prior.is_some_and(|r| match r {
                        Record::RepositoryPolicy { policy: p, .. } => {
                            policy::equivalent(&policy::parse(p), &want)
                        }
                        _ => false,
                    });
                    if same_record {
                        self.unchanged.push(address);
                    } else {
                        self.push(step(
                            address,
                            Action::Adopt,
                            "the live policy already matches; state is brought up to date"
                                .to_string(),
                            repo.target.clone(),
                            vec![],
                            Operation::Record,
                            Some(record),
                        ));
                    }
                    return;
                }
                let (action, reason) = match (&live_value, prior) {
                    (None, Some(_)) => (
                        Action::Create,
                        "it was deleted outside ferry; it will be written again",
                    ),
                    (None, None) => (
                        Action::Create,
                        "the repository has consumers and no policy yet",
                    ),
                    (Some(_), Some(Record::RepositoryPolicy { policy: p, .. }))
                        if live_value
                            .as_ref()
                            .is_some_and(|l| !policy::equivalent(l, &policy::parse(p))) =>
                    {
                        (
                            Action::Update,
                            "it was changed outside ferry; ferry owns this policy and restores it",
                        )
                    }
                    (Some(_), Some(_)) => (Action::Update, "its consumers or shares changed"),
                    (Some(_), None) if self.state.interrupted.contains(&address) => (
                        Action::Update,
                        "an interrupted apply was writing this policy; ferry writes it again",
                    ),
                    (Some(_), None) => {
                        // Someone else's policy: never overwritten without an import.
                        let mut error = self.unmanaged(
                            &address,
                            &format!(
                                "repository `{}` already has a policy that ferry did not write, in {}",
                                repo.name,
                                describe_place(&place)
                            ),
                            &repo.name,
                        );
                        error.hint = format!(
                            "adopt it with `ferry import {address} {}` (the next plan then shows how the \
                             policy ferry derives differs from it), or set manage_policy = false to keep \
                             it as it is and let ferry only check it",
                            repo.name
                        );
                        self.errors.push(error);
                        return;
                    }
                };
                let changes = vec![Change {
                    attribute: "policy".to_string(),
                    before: live_value,
                    after: Some(want),
                }];
                self.push(step(
                    address,
                    action,
                    reason.to_string(),
                    repo.target.clone(),
                    changes,
                    Operation::PutPolicy {
                        repository: repo.name.clone(),
                        before: live,
                        policy: text,
                    },
                    Some(record),
                ));
            }
            (None, Some(live)) if prior.is_some() => {
                self.delete_policy(address, repo.target.clone(), repo.name.clone(), live,
                    "no consumers or statements are left, so the policy is deleted rather than written empty");
            }
            (None, _) => {
                if prior.is_some() {
                    // Gone already: only state needs to forget it.
                    self.push(step(
                        address,
                        Action::Delete,
                        "no consumers are left and the policy is already gone".to_string(),
                        repo.target.clone(),
                        vec![],
                        Operation::Record,
                        None,
                    ));
                }
            }
        }
    }

    pub(super) fn delete_policy(
        &mut self,
        address: Address,
        target: Target,
        repository: String,
        live: String,
        reason: &str,
    ) {
        let changes = vec![Change {
            attribute: "policy".to_string(),
            before: Some(policy::parse(&live)),
            after: None,
        }];
        self.push(step(
            address,
            Action::Delete,
            reason.to_string(),
            target,
            changes,
            Operation::DeletePolicy {
                repository,
                before: live,
            },
            None,
        ));
    }
}
