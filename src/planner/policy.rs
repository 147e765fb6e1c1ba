//! The decider for repository policies ferry writes, and the lint of the ones it does not.

use super::Planner;
use super::plan::*;
use crate::model::Place;
use crate::model::{Address, Desired, Repository};
use crate::policy;
use crate::refresh::Observed;
use crate::state::Record;
use std::collections::BTreeMap;

/// The live policy text of each declared repository, by key (as `ferry check` and the plan's
/// policy warnings judge them).
pub fn live_policies(desired: &Desired, observed: &Observed) -> BTreeMap<String, Option<String>> {
    desired
        .repositories
        .values()
        .map(|r| {
            let live = observed
                .policies
                .get(&Place::new(&r.target, &r.name))
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

/// Why ferry writes a policy it manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Write {
    /// State records it, but it is gone live.
    Recreate,
    /// Nothing is live or recorded yet.
    First,
    /// The live policy differs from what ferry last wrote.
    Restore,
    /// What ferry derives changed.
    Consumers,
    /// Not recorded, but an interrupted apply was writing it.
    Interrupted,
}

impl Write {
    pub(super) fn action(self) -> Action {
        match self {
            Write::Recreate | Write::First => Action::Create,
            Write::Restore | Write::Consumers | Write::Interrupted => Action::Update,
        }
    }

    pub(super) fn reason(self) -> &'static str {
        match self {
            Write::Recreate => "it was deleted outside ferry; it will be written again",
            Write::First => "the repository has consumers and no policy yet",
            Write::Restore => {
                "it was changed outside ferry; ferry owns this policy and restores it"
            }
            Write::Consumers => "its consumers or shares changed",
            Write::Interrupted => {
                "an interrupted apply was writing this policy; ferry writes it again"
            }
        }
    }
}

/// What the planner decided for the policy of a repository that lets ferry manage it.
#[derive(Debug, PartialEq)]
pub(super) enum PolicyDecision {
    /// Nothing to plan: the repository's renamed key has the one error.
    CoveredByRename,
    /// Nothing to plan: no policy is wanted, none is recorded.
    NoneWanted,
    /// Live and recorded already as derived.
    Unchanged,
    Refused(PlanError),
    /// The live policy already matches; only state is behind.
    Adopt {
        want: serde_json::Value,
    },
    Write {
        why: Write,
        want: serde_json::Value,
        live: Option<String>,
    },
    /// No statements are left: delete the live policy.
    Delete {
        live: String,
    },
    /// No statements are left and the policy is already gone: state forgets it.
    Forget,
}

impl Planner<'_> {
    /// Decides what happens to a managed repository policy; builds nothing.
    pub(super) fn decide_policy(&self, repo: &Repository) -> PolicyDecision {
        let address = Address::RepositoryPolicy(repo.key.clone());
        // A renamed repository's one error covers its policy.
        if self
            .renames
            .contains_key(&Address::Repository(repo.key.clone()))
        {
            return PolicyDecision::CoveredByRename;
        }
        let place = Place::new(&repo.target, &repo.name);
        // Only managed repositories are in the map; any other is derived as `synthesize` would.
        let derived = match self.policies.get(&repo.key) {
            Some(p) => p.clone(),
            None => policy::synthesize(self.desired, repo),
        };
        let desired = match derived {
            Ok(p) => p,
            Err(e) => {
                return PolicyDecision::Refused(PlanError {
                    declared_at: None,
                    address,
                    message: e.to_string(),
                    hint:
                        "share with an Organization or org path instead of many accounts, or trim \
                           extra_statements"
                            .to_string(),
                });
            }
        };
        let live = self.observed.policies.get(&place).cloned().flatten();
        let prior = self.state.resources.get(&address);
        match (desired, live) {
            (Some(want), live) => {
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
                    return if same_record {
                        PolicyDecision::Unchanged
                    } else {
                        PolicyDecision::Adopt { want }
                    };
                }
                let why = match (&live_value, prior) {
                    (None, Some(_)) => Write::Recreate,
                    (None, None) => Write::First,
                    (Some(_), Some(Record::RepositoryPolicy { policy: p, .. }))
                        if live_value
                            .as_ref()
                            .is_some_and(|l| !policy::equivalent(l, &policy::parse(p))) =>
                    {
                        Write::Restore
                    }
                    (Some(_), Some(_)) => Write::Consumers,
                    (Some(_), None) if self.state.interrupted.contains(&address) => {
                        Write::Interrupted
                    }
                    (Some(_), None) => {
                        // Someone else's policy: never overwritten without an import.
                        let mut error = self.unmanaged(
                            &address,
                            &format!(
                                "repository `{}` already has a policy that ferry did not write, in {}",
                                repo.name,
                                place.describe_location()
                            ),
                            &repo.name,
                        );
                        error.hint = format!(
                            "adopt it with `ferry import {address} {}` (the next plan then shows how the \
                             policy ferry derives differs from it), or set manage_policy = false to keep \
                             it as it is and let ferry only check it",
                            repo.name
                        );
                        return PolicyDecision::Refused(error);
                    }
                };
                PolicyDecision::Write { why, want, live }
            }
            (None, Some(live)) if prior.is_some() => PolicyDecision::Delete { live },
            (None, _) if prior.is_some() => PolicyDecision::Forget,
            (None, _) => PolicyDecision::NoneWanted,
        }
    }
}
