//! The one builder: turns the deciders' decisions into steps (operation, state record,
//! attribute changes, reason text), errors and the unchanged list. Decides nothing itself;
//! every dependency of a step comes from `graph.rs` when it is pushed.

use super::Planner;
use super::attrs::*;
use super::decision::*;
use super::function::{FunctionDecision, existing_function_attrs};
use super::graph::Draft;
use super::images::ImageDecision;
use super::orphans::{Gone, OrphanDecision};
use super::plan::*;
use super::policy::PolicyDecision;
use super::repository::RepositoryDecision;
use crate::model::{Address, Function, Repository, Target};
use crate::policy;
use crate::state::Record;
use serde_json::Value;
use std::collections::BTreeMap;

impl Planner<'_> {
    /// Adds a built step, with its sensitive keys, its AWS name and what it waits for.
    pub(super) fn push(&mut self, mut step: Step) {
        if matches!(step.address, Address::Function(_)) {
            step.sensitive = sensitive_keys(self.desired, self.state, &step.address);
        }
        if step.name.is_empty()
            && let Some(r) = step
                .record
                .as_ref()
                .or(self.state.resources.get(&step.address))
        {
            step.name = r.identity().3.to_string();
        }
        let after = self.waits_for(&step);
        self.drafts.push(Draft { step, after });
    }

    /// The step of a `[[moved]]` block that still has records to move.
    pub(super) fn build_move(&mut self, m: &crate::model::Move, pairs: &[(Address, Address)]) {
        let Some(record) = self.state.resources.get(&m.to) else {
            return;
        };
        let policy = if pairs.len() > 1 {
            " (its policy moves along)"
        } else {
            ""
        };
        let mut s = step(
            m.from.clone(),
            Action::Move,
            format!(
                "the [[moved]] block at {} gives it the address {}{policy}; state records move, nothing \
                 changes in AWS",
                m.declared_at, m.to
            ),
            record.target().clone(),
            vec![],
            Operation::Move {
                moves: pairs.to_vec(),
            },
            None,
        );
        s.name = record.identity().3.to_string();
        self.push(s);
    }

    /// Every declared image and what it resolved to; the errors of those that did not.
    pub(super) fn build_images(&mut self) -> Vec<ResolvedImage> {
        let mut out = Vec::new();
        for image in self.desired.images.values() {
            let digest = match self.decide_image(image) {
                ImageDecision::Skipped => continue,
                ImageDecision::Resolved(digest) => Some(digest),
                ImageDecision::Refused(error) => {
                    self.errors.push(error);
                    None
                }
            };
            let repo = &self.desired.repositories[&image.repository];
            out.push(ResolvedImage {
                key: image.key.clone(),
                repository_uri: repo.uri(),
                reference: image.reference.clone(),
                digest,
            });
        }
        out
    }

    /// Turns a repository's decision into its step: operation, record, changes and text.
    pub(super) fn build_repository(&mut self, repo: &Repository, decision: RepositoryDecision) {
        let address = Address::Repository(repo.key.clone());
        let (config, record) = self.repository_config(repo);
        match decision {
            RepositoryDecision::Refused(error) => self.errors.push(error),
            RepositoryDecision::Replace {
                old_target,
                old,
                force_delete,
            } => {
                let changes = diff(
                    &repository_attrs(Some(&old)),
                    &repository_attrs(Some(&config)),
                );
                self.push(step(
                    address,
                    Action::Replace,
                    "its name or registry changed",
                    repo.target.clone(),
                    changes,
                    Operation::Replace {
                        old_target,
                        delete: Box::new(Operation::DeleteRepository {
                            name: old.name.clone(),
                            force: force_delete,
                        }),
                        create: Box::new(Operation::CreateRepository { config }),
                    },
                    Some(record),
                ));
            }
            RepositoryDecision::Create { recreate } => self.build_create(
                address,
                repo.target.clone(),
                recreate,
                &repository_attrs(Some(&config)),
                Operation::CreateRepository { config },
                record,
            ),
            RepositoryDecision::Existing { live, verdict } => self.build_existing(
                address,
                repo.target.clone(),
                verdict,
                (
                    &repository_attrs(Some(&live)),
                    &repository_attrs(Some(&config)),
                ),
                Operation::UpdateRepository {
                    before: live,
                    after: config,
                },
                record,
            ),
        }
    }

    /// Turns a policy's decision into its step: operation, record, changes and text.
    pub(super) fn build_policy(&mut self, repo: &Repository, decision: PolicyDecision) {
        let address = Address::RepositoryPolicy(repo.key.clone());
        let record = |want: &Value| Record::RepositoryPolicy {
            target: repo.target.clone(),
            repository: repo.name.clone(),
            policy: policy::to_text(want),
        };
        match decision {
            PolicyDecision::CoveredByRename | PolicyDecision::NoneWanted => {}
            PolicyDecision::Unchanged => self.unchanged.push(address),
            PolicyDecision::Refused(error) => self.errors.push(error),
            PolicyDecision::Adopt { want } => self.push(step(
                address,
                Action::Adopt,
                "the live policy already matches; state is brought up to date",
                repo.target.clone(),
                vec![],
                Operation::Record,
                Some(record(&want)),
            )),
            PolicyDecision::Write { why, want, live } => {
                let record = record(&want);
                let text = policy::to_text(&want);
                let changes = vec![Change {
                    attribute: "policy".to_string(),
                    before: live.as_deref().map(policy::parse),
                    after: Some(want),
                }];
                self.push(step(
                    address,
                    why.action(),
                    why.reason(),
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
            PolicyDecision::Delete { live } => self.delete_policy(
                address,
                repo.target.clone(),
                repo.name.clone(),
                live,
                "no consumers or statements are left, so the policy is deleted rather than written empty",
            ),
            // Gone already: only state needs to forget it.
            PolicyDecision::Forget => self.push(step(
                address,
                Action::Delete,
                "no consumers are left and the policy is already gone",
                repo.target.clone(),
                vec![],
                Operation::Record,
                None,
            )),
        }
    }

    fn delete_policy(
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
            reason,
            target,
            changes,
            Operation::DeletePolicy {
                repository,
                before: live,
            },
            None,
        ));
    }

    /// Turns a function's decision into its step: operation, record, changes and text.
    pub(super) fn build_function(
        &mut self,
        f: &Function,
        digests: &BTreeMap<String, String>,
        decision: FunctionDecision,
    ) {
        let address = Address::Function(f.key.clone());
        let (config, record) = match (&decision, self.function_config(f, digests)) {
            (FunctionDecision::Skipped(_), _) | (_, Err(_)) => return,
            (FunctionDecision::Refused(error), _) => return self.errors.push(error.clone()),
            (_, Ok(built)) => built,
        };
        let sensitive = &sensitive_keys(self.desired, self.state, &address);
        match decision {
            FunctionDecision::Skipped(_) | FunctionDecision::Refused(_) => {}
            FunctionDecision::Replace {
                old_target,
                old,
                old_live,
            } => {
                let changes = diff(
                    &function_attrs(Some(old.as_ref()), None, sensitive),
                    &function_attrs(Some(&config), Some(old.as_ref()), sensitive),
                );
                let create = Box::new(Operation::CreateFunction { config });
                let operation = match old_live {
                    Some(before) => Operation::Replace {
                        old_target,
                        delete: Box::new(Operation::DeleteFunction {
                            name: old.name.clone(),
                            before: *before,
                        }),
                        create,
                    },
                    None => *create,
                };
                self.push(step(
                    address,
                    Action::Replace,
                    "its name, account or region changed",
                    f.target.clone(),
                    changes,
                    operation,
                    Some(record),
                ));
            }
            FunctionDecision::Create { recreate } => self.build_create(
                address,
                f.target.clone(),
                recreate,
                &function_attrs(Some(&config), None, sensitive),
                Operation::CreateFunction { config },
                record,
            ),
            FunctionDecision::Existing { live, verdict } => {
                let adopting = !self.state.resources.contains_key(&address);
                let (before, want) = existing_function_attrs(&live, &config, adopting, sensitive);
                let live = *live;
                self.build_existing(
                    address,
                    f.target.clone(),
                    verdict,
                    (&before, &want),
                    Operation::UpdateFunction {
                        before: live,
                        after: config,
                    },
                    record,
                );
            }
        }
    }

    /// Turns the decision on a record no longer declared into its delete step (or its error).
    pub(super) fn build_orphan(
        &mut self,
        address: &Address,
        record: &Record,
        decision: OrphanDecision,
    ) {
        let (why, live) = match decision {
            OrphanDecision::Kept(_) => return,
            OrphanDecision::Refused(error) => return self.errors.push(error),
            OrphanDecision::Delete { why, live } => (why, live),
        };
        let reason = why.reason(self.desired.purpose);
        let (operation, changes) = match (record, live) {
            (
                Record::RepositoryPolicy {
                    target, repository, ..
                },
                Some(Gone::Policy(text)),
            ) => {
                return self.delete_policy(
                    address.clone(),
                    target.clone(),
                    repository.clone(),
                    text,
                    &reason,
                );
            }
            (Record::Function { config, .. }, Some(Gone::Function(live))) => {
                let sensitive = sensitive_keys(self.desired, self.state, address);
                let changes = diff(&function_attrs(Some(&live), None, &sensitive), &[]);
                let name = config.name.clone();
                (Operation::DeleteFunction { name, before: live }, changes)
            }
            (
                Record::Repository {
                    config,
                    force_delete,
                    ..
                },
                Some(Gone::Repository(live)),
            ) => (
                Operation::DeleteRepository {
                    name: config.name.clone(),
                    force: *force_delete,
                },
                diff(&repository_attrs(Some(&live)), &[]),
            ),
            // Gone already: only state needs to forget it.
            _ => (Operation::Record, vec![]),
        };
        self.push(step(
            address.clone(),
            Action::Delete,
            reason,
            record.target().clone(),
            changes,
            operation,
            None,
        ));
    }

    /// The create of a declared resource that is not live (`recreate`: state records it, so it
    /// was deleted outside ferry); `attrs` are its declared attributes.
    fn build_create(
        &mut self,
        address: Address,
        target: Target,
        recreate: bool,
        attrs: &[Attr],
        operation: Operation,
        record: Record,
    ) {
        let reason = if recreate {
            "it was deleted outside ferry; it will be created again"
        } else {
            "it is declared and does not exist"
        };
        let changes = diff(&[], attrs);
        self.push(step(
            address,
            Action::Create,
            reason,
            target,
            changes,
            operation,
            Some(record),
        ));
    }

    /// The step of a declared resource that exists live: none when unchanged, a record-only
    /// adopt, or the update `operation`; `attrs` are its live and declared attributes.
    fn build_existing(
        &mut self,
        address: Address,
        target: Target,
        verdict: Verdict,
        (live, want): (&[Attr], &[Attr]),
        operation: Operation,
        record: Record,
    ) {
        let changes = diff(live, want);
        match verdict {
            Verdict::Unchanged => self.unchanged.push(address),
            Verdict::Adopt => self.push(step(
                address,
                Action::Adopt,
                "it already matches the declaration; state is brought up to date",
                target,
                changes,
                Operation::Record,
                Some(record),
            )),
            Verdict::Update(why) => {
                let reason = why.reason(&changes);
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
    }
}
