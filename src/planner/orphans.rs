//! Delete steps for what state records and the declarations no longer declare.

use super::Planner;
use super::attrs::*;
use super::plan::*;
use crate::model::Place;
use crate::model::{Address, Purpose};
use crate::state::Record;

impl Planner<'_> {
    /// The reason for deleting something that is not declared.
    pub(super) fn undeclared_reason(&self) -> &'static str {
        match self.desired.purpose {
            Purpose::Reconcile => "it is no longer declared",
            Purpose::Destroy => "destroy removes everything ferry manages",
        }
    }

    /// Delete steps for everything in state that is no longer declared.
    pub(super) fn undeclared(&mut self) {
        for (address, record) in &self.state.resources {
            let declared = match address {
                Address::Repository(k) => self.desired.repositories.contains_key(k),
                Address::RepositoryPolicy(k) => self
                    .desired
                    .repositories
                    .get(k)
                    .is_some_and(|r| r.manage_policy),
                Address::Function(k) => self.desired.functions.contains_key(k),
                Address::Registry(_) | Address::Image(_) => true,
            };
            // A renamed key's one error covers the old address (and a repository's policy).
            let renamed = |a: &Address| self.renames.values().any(|old| old == a);
            if declared
                || renamed(address)
                || renamed(&Address::Repository(address.key().to_string()))
                    && matches!(address, Address::RepositoryPolicy(_))
            {
                continue;
            }
            let reason = self.undeclared_reason();
            match record {
                Record::Function { target, config, .. } => {
                    let place = Place::new(target, &config.name);
                    let live = self.observed.functions.get(&place).cloned().flatten();
                    let sensitive = sensitive_keys(self.desired, self.state, address);
                    let (operation, changes) = match live {
                        Some(l) => (
                            Operation::DeleteFunction {
                                name: config.name.clone(),
                                before: l.config.clone(),
                            },
                            diff(&function_attrs(Some(&l.config), None, &sensitive), &[]),
                        ),
                        None => (Operation::Record, vec![]),
                    };
                    self.push(step(
                        address.clone(),
                        Action::Delete,
                        reason,
                        target.clone(),
                        changes,
                        operation,
                        None,
                    ));
                }
                Record::RepositoryPolicy {
                    target, repository, ..
                } => {
                    let place = Place::new(target, repository);
                    match self.observed.policies.get(&place).cloned().flatten() {
                        Some(live) => self.delete_policy(
                            address.clone(),
                            target.clone(),
                            repository.clone(),
                            live,
                            if self.desired.repositories.contains_key(address.key()) {
                                "the repository no longer lets ferry manage its policy (manage_policy = false); \
                                 ferry removes the policy it wrote"
                            } else {
                                reason
                            },
                        ),
                        None => self.push(
                            step(address.clone(), Action::Delete, format!("{reason}, and it is already gone"), target.clone(), vec![], Operation::Record, None),
                        ),
                    }
                }
                Record::Repository {
                    target,
                    config,
                    force_delete,
                } => {
                    let place = Place::new(target, &config.name);
                    let live = self.observed.repositories.get(&place).cloned().flatten();
                    if live.is_some()
                        && self.observed.has_images.get(&place) == Some(&true)
                        && !force_delete
                    {
                        let (message, hint) = match self.desired.purpose {
                            Purpose::Reconcile => (
                                format!(
                                    "repository `{}` is no longer declared but still holds images, so it is not deleted",
                                    config.name
                                ),
                                "delete its images first, or declare it again with force_delete = true, \
                                 apply, and then remove it"
                                    .to_string(),
                            ),
                            Purpose::Destroy => (
                                format!(
                                    "repository `{}` still holds images, so destroy does not delete it",
                                    config.name
                                ),
                                format!(
                                    "delete its images first, or set force_delete = true in \
                                     [repositories.{}] and run `ferry apply` before `ferry destroy` \
                                     (ferry deletes images only with force_delete)",
                                    address.key()
                                ),
                            ),
                        };
                        self.errors.push(PlanError {
                            declared_at: None,
                            address: address.clone(),
                            message,
                            hint,
                        });
                        continue;
                    }
                    let (operation, changes) = match live {
                        Some(l) => (
                            Operation::DeleteRepository {
                                name: config.name.clone(),
                                force: *force_delete,
                            },
                            diff(&repository_attrs(Some(&l)), &[]),
                        ),
                        None => (Operation::Record, vec![]),
                    };
                    self.push(step(
                        address.clone(),
                        Action::Delete,
                        reason,
                        target.clone(),
                        changes,
                        operation,
                        None,
                    ));
                }
            }
        }
    }
}
