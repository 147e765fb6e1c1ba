//! The decider for what state records and the declarations no longer declare.

use super::Planner;
use super::plan::*;
use crate::cloud::{FunctionConfig, RepositoryConfig};
use crate::model::Place;
use crate::model::{Address, Purpose};
use crate::state::Record;

/// Why a record is not deleted, with no error of its own.
#[derive(Debug, PartialEq)]
pub(super) enum Kept {
    /// It is still declared (its own decider plans it).
    Declared,
    /// A renamed key's one error covers it (and a renamed repository's policy).
    Renamed,
}

/// Why a record is deleted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum DeleteWhy {
    /// No longer declared (or destroy removes everything).
    Undeclared,
    /// No longer declared, and a policy already gone live.
    UndeclaredAndGone,
    /// The repository is still declared but no longer lets ferry manage its policy.
    PolicyUnmanaged,
}

impl DeleteWhy {
    pub(super) fn reason(self, purpose: Purpose) -> String {
        let undeclared = match purpose {
            Purpose::Reconcile => "it is no longer declared",
            Purpose::Destroy => "destroy removes everything ferry manages",
        };
        match self {
            DeleteWhy::Undeclared => undeclared.to_string(),
            DeleteWhy::UndeclaredAndGone => format!("{undeclared}, and it is already gone"),
            DeleteWhy::PolicyUnmanaged => {
                "the repository no longer lets ferry manage its policy (manage_policy = false); \
                 ferry removes the policy it wrote"
                    .to_string()
            }
        }
    }
}

/// The live resource a delete removes.
#[derive(Debug, PartialEq)]
pub(super) enum Gone {
    Function(FunctionConfig),
    Policy(String),
    Repository(RepositoryConfig),
}

/// What the planner decided for one record in state, before any step is built.
#[derive(Debug, PartialEq)]
pub(super) enum OrphanDecision {
    Kept(Kept),
    /// Not deleted, with the error that says why (a repository that still holds images).
    Refused(PlanError),
    /// Delete what is live; with `live` `None` it is gone already and state only forgets it.
    Delete {
        why: DeleteWhy,
        live: Option<Gone>,
    },
}

impl Planner<'_> {
    /// Decides what happens to a record in state that may no longer be declared; builds nothing.
    pub(super) fn decide_orphan(&self, address: &Address, record: &Record) -> OrphanDecision {
        let declared = match address {
            Address::Repository(k) => self.desired.repositories.contains_key(k),
            Address::RepositoryPolicy(k) => self
                .desired
                .repositories
                .get(k)
                .is_some_and(|r| r.manage_policy),
            Address::Function(k) => self.desired.functions.contains_key(k),
            // Registry-wide documents are planned whole by `replication.rs`.
            Address::Registry(_)
            | Address::Image(_)
            | Address::Replication(_)
            | Address::RegistryPolicy(_) => true,
        };
        if declared {
            return OrphanDecision::Kept(Kept::Declared);
        }
        // A renamed key's one error covers the old address (and a repository's policy).
        let renamed = |a: &Address| self.renames.values().any(|old| old == a);
        if renamed(address)
            || renamed(&Address::Repository(address.key().to_string()))
                && matches!(address, Address::RepositoryPolicy(_))
        {
            return OrphanDecision::Kept(Kept::Renamed);
        }
        let why = DeleteWhy::Undeclared;
        match record {
            Record::Function { target, config, .. } => {
                let place = Place::new(target, &config.name);
                let live = self.observed.functions.get(&place).cloned().flatten();
                OrphanDecision::Delete {
                    why,
                    live: live.map(|l| Gone::Function(l.config)),
                }
            }
            Record::RepositoryPolicy {
                target, repository, ..
            } => {
                let place = Place::new(target, repository);
                match self.observed.policies.get(&place).cloned().flatten() {
                    Some(live) => OrphanDecision::Delete {
                        why: if self.desired.repositories.contains_key(address.key()) {
                            DeleteWhy::PolicyUnmanaged
                        } else {
                            why
                        },
                        live: Some(Gone::Policy(live)),
                    },
                    None => OrphanDecision::Delete {
                        why: DeleteWhy::UndeclaredAndGone,
                        live: None,
                    },
                }
            }
            Record::Replication { .. } | Record::RegistryPolicy { .. } => {
                OrphanDecision::Kept(Kept::Declared)
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
                    return OrphanDecision::Refused(self.holds_images(address, &config.name));
                }
                OrphanDecision::Delete {
                    why,
                    live: live.map(Gone::Repository),
                }
            }
        }
    }

    /// The error for an undeclared repository that still holds images and may not lose them.
    fn holds_images(&self, address: &Address, name: &str) -> PlanError {
        let (message, hint) = match self.desired.purpose {
            Purpose::Reconcile => (
                format!(
                    "repository `{name}` is no longer declared but still holds images, so it is not deleted"
                ),
                "delete its images first, or declare it again with force_delete = true, \
                 apply, and then remove it"
                    .to_string(),
            ),
            Purpose::Destroy => (
                format!("repository `{name}` still holds images, so destroy does not delete it"),
                format!(
                    "delete its images first, or set force_delete = true in \
                     [repositories.{}] and run `ferry apply` before `ferry destroy` \
                     (ferry deletes images only with force_delete)",
                    address.key()
                ),
            ),
        };
        PlanError {
            declared_at: None,
            address: address.clone(),
            message,
            hint,
        }
    }
}
