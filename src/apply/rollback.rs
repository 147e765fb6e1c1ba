//! Undo: the calls that take back a completed step ([`undo`]), what a failed step left
//! (`clean_failed`), and the rollback that runs them in reverse order and restores each
//! step's state record.
//!
//! May not touch: the schedule of the forward run; it runs after it, one undo at a time.

use super::operation::{has_unsaved, run_with_retries};
use super::{Run, creates_function};
use crate::cloud::{Cloud, CloudError};
use crate::model::Target;
use crate::planner::{Operation, Plan};
use crate::state::{Phase, Snapshot};
use std::collections::BTreeSet;

/// What the rollback did.
#[derive(Debug, Default)]
pub struct Rollback {
    /// Steps undone, in the order they were undone.
    pub undone: Vec<usize>,
    /// Undo calls that failed.
    pub failed: Vec<(usize, CloudError)>,
    /// Steps kept, with why.
    pub kept: Vec<(usize, String)>,
}

/// The calls that undo an operation, in order, or why it cannot be undone.
fn undo(target: &Target, op: &Operation) -> Result<Vec<(Target, Operation)>, String> {
    let one = |op: Operation| Ok(vec![(target.clone(), op)]);
    match op {
        Operation::CreateRepository { config } => one(Operation::DeleteRepository {
            name: config.name.clone(),
            force: false,
        }),
        Operation::UpdateRepository { before, after } => one(Operation::UpdateRepository {
            before: after.clone(),
            after: before.clone(),
        }),
        Operation::DeleteRepository { name, .. } => Err(format!(
            "repository `{name}` was deleted and its images cannot be brought back"
        )),
        Operation::PutPolicy {
            repository,
            before,
            policy,
        } => match before {
            Some(previous) => one(Operation::PutPolicy {
                repository: repository.clone(),
                before: Some(policy.clone()),
                policy: previous.clone(),
            }),
            None => one(Operation::DeletePolicy {
                repository: repository.clone(),
                before: policy.clone(),
            }),
        },
        Operation::DeletePolicy { repository, before } => one(Operation::PutPolicy {
            repository: repository.clone(),
            before: None,
            policy: before.clone(),
        }),
        Operation::CreateFunction { config } => one(Operation::DeleteFunction {
            name: config.name.clone(),
            before: config.clone(),
        }),
        Operation::UpdateFunction { before, .. } | Operation::DeleteFunction { before, .. }
            if has_unsaved(before) =>
        {
            Err(format!(
                "the previous sensitive values of `{}` are not in the saved plan and could not be read \
                 again; set them by hand",
                before.name
            ))
        }
        Operation::UpdateFunction { before, after } => one(Operation::UpdateFunction {
            before: after.clone(),
            after: before.clone(),
        }),
        Operation::DeleteFunction { before, .. } => one(Operation::CreateFunction {
            config: before.clone(),
        }),
        Operation::Replace {
            old_target,
            delete,
            create,
        } => {
            let mut calls = undo(target, create)?;
            calls.extend(undo(old_target, delete)?);
            Ok(calls)
        }
        Operation::PutReplication {
            before,
            configuration,
        } => one(match before {
            Some(previous) => Operation::PutReplication {
                before: Some(configuration.clone()),
                configuration: previous.clone(),
            },
            None => Operation::DeleteReplication {
                before: configuration.clone(),
            },
        }),
        Operation::DeleteReplication { before } => one(Operation::PutReplication {
            before: None,
            configuration: before.clone(),
        }),
        Operation::PutRegistryPolicy { before, policy } => one(match before {
            Some(previous) => Operation::PutRegistryPolicy {
                before: Some(policy.clone()),
                policy: previous.clone(),
            },
            None => Operation::DeleteRegistryPolicy {
                before: policy.clone(),
            },
        }),
        Operation::DeleteRegistryPolicy { before } => one(Operation::PutRegistryPolicy {
            before: None,
            policy: before.clone(),
        }),
        // Nothing in AWS; the rollback moves the records back.
        Operation::Record | Operation::Move { .. } => Ok(vec![]),
    }
}

/// Why `op` cannot be undone when the image its undo would restore was found gone when the plan
/// was made ([`crate::rollback_targets`]): said up front instead of failing half way.
fn gone_image(plan: &Plan, op: &Operation) -> Option<String> {
    let uri = crate::rollback_targets::previous_image(op)?;
    plan.gone_images.iter().any(|g| g == uri).then(|| {
        format!(
            "its previous image {uri} is gone from its repository (found when the plan was made): \
             the function cannot be given back what it ran; push that image again and restore it by hand"
        )
    })
}

/// Takes back what a failed operation did before it failed; whether there was anything.
/// Only a function carrying this address's ownership tags is deleted: one that exists for
/// another reason is not this apply's to remove.
async fn clean_failed(
    cloud: &dyn Cloud,
    target: &Target,
    op: &Operation,
) -> Result<bool, CloudError> {
    match op {
        Operation::CreateFunction { config } => {
            match cloud.read_function(target, &config.name).await? {
                Some(live) if crate::cloud::same_owner(&live.config.tags, &config.tags) => {
                    cloud.delete_function(target, &config.name).await?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
        // A saved plan's update whose secrets could not be read again never ran.
        Operation::UpdateFunction { before, .. } if has_unsaved(before) => Ok(false),
        Operation::UpdateFunction { before, .. } => {
            match cloud.read_function(target, &before.name).await? {
                Some(live) if live.config != *before => {
                    cloud.update_function(target, &live.config, before).await?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
        Operation::Replace {
            old_target,
            delete,
            create,
        } => {
            let mut did = Box::pin(clean_failed(cloud, target, create)).await?;
            if let Operation::DeleteFunction { name, before } = delete.as_ref()
                && cloud.read_function(old_target, name).await?.is_none()
            {
                cloud.create_function(old_target, before).await?;
                did = true;
            }
            Ok(did)
        }
        _ => Ok(false),
    }
}

/// Undoes completed steps in reverse order and restores their state records. A step whose undo
/// fails keeps the steps it depends on (undoing those would break it).
pub(super) async fn rollback(
    run: &Run<'_>,
    completed: &[usize],
    failed: &[usize],
    prior: &Snapshot,
) -> Rollback {
    let mut report = Rollback::default();
    let mut keep: BTreeSet<usize> = BTreeSet::new();
    // Steps after a move restore the record the move brought to their address.
    let prior = &moved_prior(run.plan, prior);
    // A failed step may have done part of its work: a function created that never became
    // Active, the old function of a replace deleted before the create failed.
    for &id in failed {
        let step = &run.plan.steps[id];
        let ran = run.ran.lock().expect("lock").get(&id).cloned();
        let op = ran.as_ref().unwrap_or(&step.operation);
        match clean_failed(run.cloud, &step.target, op).await {
            // A function create looked for what it left and found nothing of its own.
            Ok(false) if creates_function(op) => {
                run.journal(Phase::Settled, Some(step), "the failed create left nothing");
            }
            Ok(false) => {}
            Ok(true) => {
                run.journal(
                    Phase::UndoDone,
                    Some(step),
                    "partial effects of the failed step",
                );
                run.observer.undone(step, &Ok(()));
                report.undone.push(id);
            }
            Err(e) => {
                run.journal(Phase::UndoFailed, Some(step), e.to_string());
                run.observer.undone(step, &Err(e.to_string()));
                keep.extend(step.depends_on.iter().copied());
                report.failed.push((id, e));
            }
        }
    }
    let mut order: Vec<usize> = completed.to_vec();
    order.sort_by_key(|id| std::cmp::Reverse((run.plan.steps[*id].level, *id)));
    for id in order {
        let step = &run.plan.steps[id];
        if keep.contains(&id) {
            report.kept.push((
                id,
                "a later step that depends on it could not be undone".to_string(),
            ));
            continue;
        }
        let ran = run.ran.lock().expect("lock").get(&id).cloned();
        let op = ran.as_ref().unwrap_or(&step.operation);
        let calls = match gone_image(run.plan, op).map_or_else(|| undo(&step.target, op), Err) {
            Ok(calls) => calls,
            Err(why) => {
                run.observer.undone(step, &Err(why.clone()));
                report.kept.push((id, why));
                keep.extend(step.depends_on.iter().copied());
                continue;
            }
        };
        run.journal(Phase::UndoIntent, Some(step), "");
        let mut result = Ok(());
        for (target, op) in &calls {
            // Recreating a deleted function right after its policy was put back can meet the
            // same propagation errors as a forward create.
            result = run_with_retries(run, step, target, op).await;
            if result.is_err() {
                break;
            }
        }
        match result {
            Ok(()) => {
                let restored = match (&step.operation, prior.resources.get(&step.address)) {
                    (Operation::Move { moves }, _) => {
                        let back: Vec<_> =
                            moves.iter().map(|(f, t)| (t.clone(), f.clone())).collect();
                        run.state.rename(&back)
                    }
                    (_, Some(record)) => run.state.put(&step.address, record),
                    (_, None) => run.state.remove(&step.address),
                };
                match restored {
                    Ok(()) => {
                        run.journal(Phase::UndoDone, Some(step), "");
                        run.observer.undone(step, &Ok(()));
                        report.undone.push(id);
                    }
                    Err(e) => {
                        let why = format!("undone in AWS, but state could not record it: {e}");
                        run.journal(Phase::UndoFailed, Some(step), why.clone());
                        run.observer.undone(step, &Err(why.clone()));
                        report.kept.push((id, why));
                    }
                }
            }
            Err(e) => {
                run.journal(Phase::UndoFailed, Some(step), e.to_string());
                run.observer.undone(step, &Err(e.to_string()));
                keep.extend(step.depends_on.iter().copied());
                report.failed.push((id, e));
            }
        }
    }
    report
}

/// The state before the apply, as the plan's later steps see it: with the records of its move
/// steps at their new addresses.
fn moved_prior(plan: &Plan, prior: &Snapshot) -> Snapshot {
    let mut moved = prior.clone();
    for step in &plan.steps {
        if let Operation::Move { moves } = &step.operation {
            for (from, to) in moves {
                if let Some(r) = moved.resources.remove(from) {
                    moved.resources.insert(to.clone(), r);
                }
            }
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::test_config as config;

    #[test]
    fn a_placeholder_is_never_written_back_by_an_undo() {
        let target = Target {
            account: "prod".into(),
            account_id: "222222222222".into(),
            region: "us-east-1".into(),
        };
        let update = Operation::UpdateFunction {
            before: config(crate::saved_plan::UNSAVED),
            after: config("new"),
        };
        let why = undo(&target, &update).expect_err("refused");
        assert!(why.contains("not in the saved plan"), "{why}");
        let delete = Operation::DeleteFunction {
            name: "f".into(),
            before: config(crate::saved_plan::UNSAVED),
        };
        assert!(undo(&target, &delete).is_err());
        // With the real value read back, the undo is the reverse update.
        let restored = Operation::UpdateFunction {
            before: config("old"),
            after: config("new"),
        };
        assert!(matches!(
            undo(&target, &restored).unwrap().as_slice(),
            [(_, Operation::UpdateFunction { after, .. })] if after.environment["DB_PASSWORD"] == "old"
        ));
    }
}
