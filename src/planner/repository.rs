//! The decider for declared ECR repositories.

use super::Planner;
use super::attrs::*;
use super::drift::*;
use super::ownership::*;
use super::plan::*;
use crate::cloud::RepositoryConfig;
use crate::model::{Address, Repository, Target};
use crate::state::Record;
use serde_json::Value;

impl Planner<'_> {
    pub(super) fn repository(&mut self, repo: &Repository) {
        let address = Address::Repository(repo.key.clone());
        if let Some(old) = self.renames.get(&address) {
            let what = format!(
                "repository `{}` in account {} ({})",
                repo.name, repo.target.account_id, repo.target.region
            );
            self.errors.push(self.rename_error(&address, old, &what));
            return;
        }
        let config = RepositoryConfig {
            name: repo.name.clone(),
            tag_mutability: repo.tag_mutability,
            scan_on_push: repo.scan_on_push,
            tags: self.desired.ownership_tags(&address, &repo.tags),
        };
        let record = Record::Repository {
            target: repo.target.clone(),
            config: config.clone(),
            force_delete: repo.force_delete,
        };
        let place = (repo.target.clone(), repo.name.clone());
        let live = self.observed.repositories.get(&place).cloned().flatten();
        let prior = self.state.resources.get(&address);
        // An identity change (other registry or name) replaces the repository.
        if let Some(Record::Repository {
            target: old_target,
            config: old,
            force_delete,
        }) = prior
            && (old_target != &repo.target || old.name != repo.name)
        {
            let old_place = (old_target.clone(), old.name.clone());
            let old_live = self
                .observed
                .repositories
                .get(&old_place)
                .cloned()
                .flatten();
            if old_live.is_some()
                && self.observed.has_images.get(&old_place) == Some(&true)
                && !force_delete
            {
                self.errors.push(PlanError {
                    declared_at: None,
                    address: address.clone(),
                    message: format!(
                        "repository `{}` moves from {} to {}, but the old repository still holds images",
                        repo.key,
                        describe_place(&old_place),
                        describe_place(&place)
                    ),
                    hint: "set force_delete = true (and apply) to allow deleting it with its images, \
                           or move the images first"
                        .to_string(),
                });
                return;
            }
            let changes = diff(
                &repository_attrs(Some(old)),
                &repository_attrs(Some(&config)),
            );
            self.push(step(
                address,
                Action::Replace,
                "its name or registry changed".to_string(),
                repo.target.clone(),
                changes,
                Operation::Replace {
                    old_target: old_target.clone(),
                    delete: Box::new(Operation::DeleteRepository {
                        name: old.name.clone(),
                        force: *force_delete,
                    }),
                    create: Box::new(Operation::CreateRepository { config }),
                },
                Some(record),
            ));
            return;
        }
        match (&live, prior) {
            (None, _) => {
                let reason = if prior.is_some() {
                    "it was deleted outside ferry; it will be created again"
                } else {
                    "it is declared and does not exist"
                };
                let changes = diff(&[], &repository_attrs(Some(&config)));
                self.push(step(
                    address,
                    Action::Create,
                    reason.to_string(),
                    repo.target.clone(),
                    changes,
                    Operation::CreateRepository { config },
                    Some(record),
                ));
            }
            (Some(live), prior) => {
                if prior.is_none() && !self.owned(&live.tags, &address) {
                    self.errors.push(self.unrecorded(
                        &address,
                        &format!(
                            "repository `{}` already exists in {}",
                            repo.name,
                            describe_place(&place)
                        ),
                        &repo.name,
                        &live.tags,
                    ));
                    return;
                }
                let cause = match prior {
                    Some(Record::Repository { config: old, .. }) => {
                        self.provenance(&address, &old.tags)
                    }
                    _ => None,
                };
                self.update_or_keep(
                    address,
                    repo.target.clone(),
                    &repository_attrs(Some(live)),
                    &repository_attrs(Some(&config)),
                    prior.is_none(),
                    Operation::UpdateRepository {
                        before: live.clone(),
                        after: config,
                    },
                    record,
                    cause,
                );
            }
        }
    }

    /// An update when attributes differ; otherwise unchanged (or adopted, when state lacks it).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn update_or_keep(
        &mut self,
        address: Address,
        target: Target,
        live: &[(String, Value)],
        desired: &[(String, Value)],
        adopting: bool,
        operation: Operation,
        record: Record,
        cause: Option<Cause>,
    ) {
        let changes = diff(live, desired);
        let drifted = self.state.resources.get(&address).is_some_and(|r| {
            r.redacted(&self.state.secret_key) != record.redacted(&self.state.secret_key)
        });
        if changes.is_empty() {
            if adopting || drifted {
                // Live already matches; state is behind (an interrupted apply).
                self.push(step(
                    address,
                    Action::Adopt,
                    "it already matches the declaration; state is brought up to date".to_string(),
                    target,
                    changes,
                    Operation::Record,
                    Some(record),
                ));
            } else {
                self.unchanged.push(address);
            }
            return;
        }
        let reason = if adopting {
            "it carries this project's ownership tags but is missing from state (an interrupted apply); \
             it will be adopted and updated"
                .to_string()
        } else if let Some(cause) = cause {
            cause.reason(&changes)
        } else if drifted_outside(self.state, &address, live) {
            "it was changed outside ferry; the declared values will be restored".to_string()
        } else {
            "the declaration changed".to_string()
        };
        self.push(step(
            address,
            Action::Update,
            reason,
            target,
            changes,
            operation,
            Some(record),
        ));
    }
}
