//! The decider for declared ECR repositories.

use super::Planner;
use super::attrs::*;
use super::decision::*;
use super::plan::*;
use crate::cloud::RepositoryConfig;
use crate::model::Place;
use crate::model::{Address, Repository, Target};
use crate::state::Record;

/// What the planner decided for one declared repository, before any step is built.
#[derive(Debug, PartialEq)]
pub(super) enum RepositoryDecision {
    /// Not planned, with the error that says why (a renamed key, images in the way, someone
    /// else's repository).
    Refused(PlanError),
    /// Its name or registry changed: delete the old one, create the new one.
    Replace {
        old_target: Target,
        old: RepositoryConfig,
        force_delete: bool,
    },
    /// It does not exist live; `recreate` when state records it (deleted outside ferry).
    Create { recreate: bool },
    /// It exists live and is ferry's: unchanged, adopted or updated, as `verdict` says.
    Existing {
        live: RepositoryConfig,
        verdict: Verdict,
    },
}

impl Planner<'_> {
    /// What ferry writes for a declared repository, and the record state then holds.
    pub(super) fn repository_config(&self, repo: &Repository) -> (RepositoryConfig, Record) {
        let address = Address::Repository(repo.key.clone());
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
        (config, record)
    }

    /// Decides what happens to a declared repository; builds nothing.
    pub(super) fn decide_repository(&self, repo: &Repository) -> RepositoryDecision {
        let address = Address::Repository(repo.key.clone());
        if let Some(old) = self.renames.get(&address) {
            let what = format!(
                "repository `{}` in account {} ({})",
                repo.name, repo.target.account_id, repo.target.region
            );
            return RepositoryDecision::Refused(self.rename_error(&address, old, &what));
        }
        let place = Place::new(&repo.target, &repo.name);
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
            let old_place = Place::new(old_target, &old.name);
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
                return RepositoryDecision::Refused(PlanError {
                    declared_at: None,
                    address,
                    message: format!(
                        "repository `{}` moves from {} to {}, but the old repository still holds images",
                        repo.key,
                        old_place.describe_location(),
                        place.describe_location()
                    ),
                    hint:
                        "set force_delete = true (and apply) to allow deleting it with its images, \
                           or move the images first"
                            .to_string(),
                });
            }
            return RepositoryDecision::Replace {
                old_target: old_target.clone(),
                old: old.clone(),
                force_delete: *force_delete,
            };
        }
        let Some(live) = live else {
            return RepositoryDecision::Create {
                recreate: prior.is_some(),
            };
        };
        if prior.is_none() && !self.owned(&live.tags, &address) {
            return RepositoryDecision::Refused(self.unrecorded(
                &address,
                &format!(
                    "repository `{}` already exists in {}",
                    repo.name,
                    place.describe_location()
                ),
                &repo.name,
                &live.tags,
            ));
        }
        let cause = match prior {
            Some(Record::Repository { config: old, .. }) => self.provenance(&address, &old.tags),
            _ => None,
        };
        let (config, record) = self.repository_config(repo);
        let verdict = self.verdict(
            &address,
            &repository_attrs(Some(&live)),
            &repository_attrs(Some(&config)),
            prior.is_none(),
            &record,
            cause,
        );
        RepositoryDecision::Existing { live, verdict }
    }
}
