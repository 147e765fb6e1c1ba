//! One step's calls: what a plan's [`Operation`] does in the cloud ([`run_operation`]), the
//! secrets a saved plan did not carry read again ([`restore_unsaved`]), and one step run with its
//! journal, retries and state record.
//!
//! May not touch: the order of steps (the schedule decides it) or the undo of a step (rollback).

use super::retry::{RetryPolicy, Verdict};
use super::{Run, StepError};
use crate::cloud::{Cloud, CloudError};
use crate::model::Target;
use crate::planner::{Operation, Step};
use crate::state::Phase;
use std::time::Instant;

/// Runs one step: the journal's intent, the calls (with the propagation retries), then the
/// state record and the journal's outcome.
pub(super) async fn run_step(run: &Run<'_>, step: &Step) -> Result<(), StepError> {
    // The intent must be durable before the call.
    run.intent(step)?;
    // A move only renames state records, all in one transaction.
    if let Operation::Move { moves } = &step.operation {
        run.state.rename(moves)?;
        run.journal(Phase::Done, Some(step), "");
        return Ok(());
    }
    let restored = match restore_unsaved(run.cloud, &step.target, &step.operation).await {
        Ok(r) => r,
        Err(e) => {
            run.failed(step, &e);
            return Err(e.into());
        }
    };
    let operation = restored.as_ref().unwrap_or(&step.operation);
    let result = run_with_retries(run, step, &step.target, operation).await;
    if let Some(op) = restored {
        run.ran.lock().expect("lock").insert(step.id, op);
    }
    if let Err(e) = &result {
        run.failed(step, e);
        return Err(e.clone().into());
    }
    match &step.record {
        Some(record) => run.state.put(&step.address, record)?,
        None => run.state.remove(&step.address)?,
    }
    run.journal(Phase::Done, Some(step), "");
    Ok(())
}

/// Whether a configuration still holds a saved plan's placeholder for a secret.
pub fn has_unsaved(c: &crate::cloud::FunctionConfig) -> bool {
    c.environment
        .values()
        .any(|v| v == crate::saved_plan::UNSAVED)
}

/// A saved plan does not carry the secrets it only read from AWS (the `before` of a function
/// update or delete). Reads them again, so that an undo puts back the real values; `None` when
/// the operation needs nothing.
pub async fn restore_unsaved(
    cloud: &dyn Cloud,
    target: &Target,
    op: &Operation,
) -> Result<Option<Operation>, CloudError> {
    let fill = async |before: &crate::cloud::FunctionConfig| {
        let live = cloud.read_function(target, &before.name).await?;
        let mut filled = before.clone();
        filled.environment.retain(|k, v| {
            if v != crate::saved_plan::UNSAVED {
                return true;
            }
            match live.as_ref().and_then(|l| l.config.environment.get(k)) {
                Some(real) => {
                    *v = real.clone();
                    true
                }
                None => false,
            }
        });
        Ok::<_, CloudError>(filled)
    };
    Ok(match op {
        Operation::UpdateFunction { before, after } if has_unsaved(before) => {
            Some(Operation::UpdateFunction {
                before: fill(before).await?,
                after: after.clone(),
            })
        }
        Operation::DeleteFunction { name, before } if has_unsaved(before) => {
            Some(Operation::DeleteFunction {
                name: name.clone(),
                before: fill(before).await?,
            })
        }
        Operation::Replace {
            old_target,
            delete,
            create,
        } => Box::pin(restore_unsaved(cloud, old_target, delete))
            .await?
            .map(|d| Operation::Replace {
                old_target: old_target.clone(),
                delete: Box::new(d),
                create: create.clone(),
            }),
        _ => None,
    })
}

/// Runs an operation, retrying propagation errors as the apply's [`RetryPolicy`] says.
pub(super) async fn run_with_retries(
    run: &Run<'_>,
    step: &Step,
    target: &Target,
    op: &Operation,
) -> Result<(), CloudError> {
    let policy = RetryPolicy::of(run.options);
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let e = match run_operation(run.cloud, target, op).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        match policy.verdict(&e, attempt, started.elapsed()) {
            Verdict::Fail => return Err(e),
            // Given up: say for how long, so the user knows it was not a propagation delay.
            Verdict::GiveUp => {
                return Err(CloudError::StillRefused {
                    error: Box::new(e),
                    retried_s: started.elapsed().as_secs(),
                    attempts: attempt,
                });
            }
            Verdict::Retry(wait) => {
                run.observer.retrying(step, &e, attempt, wait);
                tracing::info!(
                    "{}: {} (attempt {attempt}); retrying in {:.1}s while permissions propagate",
                    step.address,
                    e,
                    wait.as_secs_f64()
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}

/// Performs one operation. Each is idempotent, so running it again after a crash is safe.
pub async fn run_operation(
    cloud: &dyn Cloud,
    target: &Target,
    operation: &Operation,
) -> Result<(), CloudError> {
    match operation {
        Operation::CreateRepository { config } => cloud.create_repository(target, config).await,
        Operation::UpdateRepository { before, after } => {
            cloud.update_repository(target, before, after).await
        }
        Operation::DeleteRepository { name, force } => {
            cloud.delete_repository(target, name, *force).await
        }
        Operation::PutPolicy {
            repository, policy, ..
        } => {
            cloud
                .put_repository_policy(target, repository, policy)
                .await
        }
        Operation::DeletePolicy { repository, .. } => {
            cloud.delete_repository_policy(target, repository).await
        }
        Operation::CreateFunction { config } => cloud.create_function(target, config).await,
        Operation::UpdateFunction { before, after } => {
            cloud.update_function(target, before, after).await
        }
        Operation::DeleteFunction { name, .. } => cloud.delete_function(target, name).await,
        Operation::Replace {
            old_target,
            delete,
            create,
        } => {
            Box::pin(run_operation(cloud, old_target, delete)).await?;
            Box::pin(run_operation(cloud, target, create)).await
        }
        Operation::PutReplication { configuration, .. } => {
            cloud.put_replication(target, Some(configuration)).await
        }
        Operation::DeleteReplication { .. } => cloud.put_replication(target, None).await,
        Operation::PutRegistryPolicy { policy, .. } => {
            cloud.put_registry_policy(target, policy).await
        }
        Operation::DeleteRegistryPolicy { .. } => cloud.delete_registry_policy(target).await,
        Operation::Record | Operation::Move { .. } => Ok(()),
    }
}
