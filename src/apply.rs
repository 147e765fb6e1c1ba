//! Stage: apply. Executes a [`Plan`] with no choices left to make: level by level, the steps of
//! a level in parallel (bounded by `parallelism`), and the state written after every completed
//! step, so that a failure or a crash leaves state that tells the truth.
//!
//! The scheduler (levels, concurrency) is kept apart from [`run_operation`] (what one step does),
//! so that a quota-aware scheduler can replace it later.

use crate::cloud::{Cloud, CloudError};
use crate::model::Target;
use crate::planner::{Operation, Plan, Step};
use crate::state::{StateError, StateStore};
use futures::{StreamExt, stream};
use std::time::{Duration, Instant};

/// Hears about steps as they run (progress output lives in the CLI).
pub trait Observer: Send + Sync {
    fn started(&self, step: &Step);
    fn finished(&self, step: &Step, result: &Result<(), String>, elapsed: Duration);
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Ids of steps that completed and are recorded in state.
    pub completed: Vec<usize>,
    /// Steps that failed, with AWS's error.
    pub failed: Vec<(usize, CloudError)>,
    /// Steps not started because an earlier level failed.
    pub skipped: Vec<usize>,
    /// A state write that failed (the step itself succeeded in the cloud).
    pub state_error: Option<(usize, String)>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.state_error.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Cloud(#[from] CloudError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Runs the plan. Stops scheduling after the first level with a failure; steps already running
/// in that level finish and are recorded.
pub async fn execute(
    plan: &Plan,
    cloud: &dyn Cloud,
    state: &dyn StateStore,
    parallelism: usize,
    observer: &dyn Observer,
) -> Outcome {
    let mut outcome = Outcome::default();
    let levels = plan.levels();
    for (n, level) in levels.iter().enumerate() {
        let results: Vec<(usize, Result<(), StepError>)> = stream::iter(level.iter())
            .map(|step| async move {
                observer.started(step);
                let t0 = Instant::now();
                let r = run_step(step, cloud, state).await;
                let shown = r.as_ref().map(|_| ()).map_err(|e| e.to_string());
                observer.finished(step, &shown, t0.elapsed());
                (step.id, r)
            })
            .buffer_unordered(parallelism.max(1))
            .collect()
            .await;
        let mut failed = false;
        let mut sorted = results;
        sorted.sort_by_key(|(id, _)| *id);
        for (id, r) in sorted {
            match r {
                Ok(()) => outcome.completed.push(id),
                Err(StepError::Cloud(e)) => {
                    failed = true;
                    outcome.failed.push((id, e));
                }
                Err(StepError::State(e)) => {
                    failed = true;
                    outcome.state_error = Some((id, e.to_string()));
                }
            }
        }
        if failed {
            outcome.skipped = levels[n + 1..].iter().flatten().map(|s| s.id).collect();
            break;
        }
    }
    outcome
}

async fn run_step(step: &Step, cloud: &dyn Cloud, state: &dyn StateStore) -> Result<(), StepError> {
    run_operation(cloud, &step.target, &step.operation).await?;
    match &step.record {
        Some(record) => state.put(&step.address, record)?,
        None => state.remove(&step.address)?,
    }
    Ok(())
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
        Operation::Record => Ok(()),
    }
}
