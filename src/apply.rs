//! Stage: apply. Executes a [`Plan`] with no choices left to make: level by level, the steps of
//! a level in parallel (bounded by `parallelism`), and the state written after every completed
//! step, so that a failure or a crash leaves state that tells the truth.
//!
//! Around each mutating call the journal records intent and outcome, so an interrupted apply is
//! recognised by the next run. When a CreateFunction fails (after the propagation retries), every
//! change this apply made is undone in reverse order and state records each undo; other failures
//! stop the apply and keep what completed, as Terraform does.
//!
//! The scheduler (levels, concurrency) is kept apart from [`run_operation`] (what one step does),
//! so that a quota-aware scheduler can replace it later.

use crate::cloud::{Cloud, CloudError};
use crate::model::Target;
use crate::planner::{Operation, Plan, Step};
use crate::state::{JournalEntry, Phase, Snapshot, StateError, StateStore};
use futures::{StreamExt, stream};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Hears about steps as they run (progress output lives in the CLI).
pub trait Observer: Send + Sync {
    fn started(&self, step: &Step);
    fn finished(&self, step: &Step, result: &Result<(), String>, elapsed: Duration);
    /// A call failed with an error AWS returns while a policy or role propagates; it is retried.
    fn retrying(&self, _step: &Step, _error: &CloudError, _attempt: u32, _wait: Duration) {}
    /// A completed step was undone (or could not be).
    fn undone(&self, _step: &Step, _result: &Result<(), String>) {}
}

/// How to execute.
#[derive(Clone, Debug)]
pub struct Options {
    pub parallelism: usize,
    /// Undo this apply's changes when a CreateFunction fails.
    pub rollback: bool,
    /// How long to retry the permission errors of a just-written policy or role.
    pub propagation_timeout: Duration,
    /// First wait between those retries (doubling, at most 10 s).
    pub retry_base: Duration,
    /// The declarations file of each declared address, recorded in state when the apply starts
    /// (`StateStore::record_files`): a later plan that does not read a file never deletes what
    /// it declares.
    pub declared_in: std::collections::BTreeMap<crate::model::Address, String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            parallelism: 10,
            rollback: true,
            propagation_timeout: Duration::from_secs(60),
            retry_base: Duration::from_secs(1),
            declared_in: Default::default(),
        }
    }
}

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

/// What an apply did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Ids of steps that completed and are recorded in state (before any rollback).
    pub completed: Vec<usize>,
    /// Steps that failed, with AWS's error.
    pub failed: Vec<(usize, CloudError)>,
    /// Steps not started because an earlier level failed.
    pub skipped: Vec<usize>,
    /// A state write that failed (the step itself succeeded in the cloud).
    pub state_error: Option<(usize, String)>,
    pub rollback: Option<Rollback>,
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

struct Run<'a> {
    plan: &'a Plan,
    cloud: &'a dyn Cloud,
    state: &'a dyn StateStore,
    options: &'a Options,
    observer: &'a dyn Observer,
    apply: String,
    /// Operations as actually run, where they differ from the plan's (a saved plan's secrets
    /// read again from AWS); the rollback undoes these.
    ran: std::sync::Mutex<std::collections::BTreeMap<usize, Operation>>,
    /// Set by the first failed step: nothing new is started after it.
    stop: AtomicBool,
}

impl Run<'_> {
    /// Journals best effort: a journal that cannot be written must not stop an apply whose
    /// state writes work; state writes themselves are checked.
    fn journal(&self, phase: Phase, step: Option<&Step>, detail: impl Into<String>) {
        let entry = JournalEntry {
            apply: self.apply.clone(),
            phase,
            step: step.map(|s| s.id),
            address: step.map(|s| s.address.clone()),
            detail: detail.into(),
        };
        if let Err(e) = self.state.journal_append(&entry) {
            tracing::warn!("cannot write the apply journal: {e}");
        }
    }

    /// Journals a failed step. For an address state has no record of, the failure may hide
    /// work AWS did (an answer lost, malformed or timed out after a create), so the call stays
    /// in flight for the next applies to settle.
    fn failed(&self, step: &Step, e: &CloudError) {
        let recorded = self
            .state
            .snapshot()
            .map(|s| s.resources.contains_key(&step.address))
            .unwrap_or(false);
        let phase = if recorded || !may_have_acted(e) {
            Phase::Failed
        } else {
            Phase::Uncertain
        };
        self.journal(phase, Some(step), e.to_string());
    }
}

/// Runs the plan. Stops scheduling after the first level with a failure; steps already running
/// in that level finish and are recorded. Then, if a CreateFunction failed and rollback is on,
/// undoes every completed step in reverse order.
pub async fn execute(
    plan: &Plan,
    cloud: &dyn Cloud,
    state: &dyn StateStore,
    options: &Options,
    observer: &dyn Observer,
) -> Outcome {
    let prior = state.snapshot().unwrap_or_default();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let run = Run {
        plan,
        cloud,
        state,
        options,
        observer,
        apply: format!("{}-{started}", plan.serial),
        ran: Default::default(),
        stop: AtomicBool::new(false),
    };
    // The previous applies' journal is forgotten, except the calls still in flight for
    // addresses state has no record of: what they made is adopted by whichever later apply
    // plans that address.
    if let Err(e) = state
        .journal()
        .and_then(|j| state.journal_replace(&crate::state::unsettled(&j, &prior)))
    {
        tracing::warn!("cannot clear the previous apply journal: {e}");
    }
    // Which file declares what: a later plan that does not read a file never deletes its work.
    if let Err(e) = state.record_files(&options.declared_in) {
        tracing::warn!("cannot record the declarations files: {e}");
    }
    run.journal(Phase::Started, None, format!("{} steps", plan.steps.len()));
    let mut outcome = Outcome::default();
    let levels = plan.levels();
    for (n, level) in levels.iter().enumerate() {
        let run = &run;
        // Once a step fails nothing new starts; steps already running finish and are recorded.
        let stop = &run.stop;
        let results: Vec<(usize, Option<Result<(), StepError>>)> = stream::iter(level.iter())
            .map(|step| async move {
                if stop.load(Ordering::SeqCst) {
                    return (step.id, None);
                }
                observer.started(step);
                let t0 = Instant::now();
                let r = run_step(run, step).await;
                if r.is_err() {
                    stop.store(true, Ordering::SeqCst);
                }
                let shown = r.as_ref().map(|_| ()).map_err(|e| e.to_string());
                observer.finished(step, &shown, t0.elapsed());
                (step.id, Some(r))
            })
            .buffer_unordered(options.parallelism.max(1))
            .collect()
            .await;
        let mut failed = false;
        let mut sorted = results;
        sorted.sort_by_key(|(id, _)| *id);
        let mut not_started = Vec::new();
        for (id, r) in sorted {
            let Some(r) = r else {
                not_started.push(id);
                continue;
            };
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
            outcome.skipped = not_started;
            outcome
                .skipped
                .extend(levels[n + 1..].iter().flatten().map(|s| s.id));
            break;
        }
    }
    let create_failed = outcome
        .failed
        .iter()
        .any(|(id, _)| creates_function(&plan.steps[*id].operation));
    if create_failed && options.rollback {
        let failed: Vec<usize> = outcome.failed.iter().map(|(id, _)| *id).collect();
        outcome.rollback = Some(rollback(&run, &outcome.completed, &failed, &prior).await);
    }
    run.journal(Phase::Finished, None, "");
    outcome
}

/// Whether a failed call may still have done its work at AWS. Refusals ferry makes itself
/// before calling, and a create that found someone else's resource, made nothing.
fn may_have_acted(e: &CloudError) -> bool {
    !matches!(
        e,
        CloudError::CreatedElsewhere { .. }
            | CloudError::WrongAccount { .. }
            | CloudError::Credentials { .. }
            | CloudError::UnknownAccount { .. }
    )
}

fn creates_function(op: &Operation) -> bool {
    match op {
        Operation::CreateFunction { .. } => true,
        Operation::Replace { create, .. } => creates_function(create),
        _ => false,
    }
}

async fn run_step(run: &Run<'_>, step: &Step) -> Result<(), StepError> {
    // The intent must be durable before the call: a create whose answer is lost is adopted
    // later only because the journal shows it in flight.
    run.state.journal_append(&JournalEntry {
        apply: run.apply.clone(),
        phase: Phase::Intent,
        step: Some(step.id),
        address: Some(step.address.clone()),
        detail: format!("{:?}", step.action),
    })?;
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
fn has_unsaved(c: &crate::cloud::FunctionConfig) -> bool {
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

/// Whether AWS may return this error only because a just-written policy or role has not
/// propagated yet.
pub fn is_propagation_error(e: &CloudError) -> bool {
    match e {
        CloudError::Api { code, message, .. } => {
            (code == "AccessDeniedException" && message.contains("access the ECR image"))
                || (code == "InvalidParameterValueException"
                    && message.contains("cannot be assumed by Lambda"))
        }
        _ => false,
    }
}

/// Runs an operation, retrying propagation errors with backoff up to the propagation timeout.
async fn run_with_retries(
    run: &Run<'_>,
    step: &Step,
    target: &Target,
    op: &Operation,
) -> Result<(), CloudError> {
    let started = Instant::now();
    let deadline = started + run.options.propagation_timeout;
    let mut wait = run.options.retry_base;
    let mut attempt = 1;
    loop {
        match run_operation(run.cloud, target, op).await {
            // Given up: say for how long, so the user knows it was not a propagation delay.
            Err(e) if is_propagation_error(&e) && Instant::now() + wait > deadline => {
                return Err(CloudError::StillRefused {
                    error: Box::new(e),
                    retried_s: started.elapsed().as_secs(),
                    attempts: attempt,
                });
            }
            Err(e) if is_propagation_error(&e) => {
                run.observer.retrying(step, &e, attempt, wait);
                tracing::info!(
                    "{}: {} (attempt {attempt}); retrying in {:.1}s while permissions propagate",
                    step.address,
                    e,
                    wait.as_secs_f64()
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
                attempt += 1;
            }
            other => return other,
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
        Operation::Record | Operation::Move { .. } => Ok(()),
    }
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
        // Nothing in AWS; the rollback moves the records back.
        Operation::Record | Operation::Move { .. } => Ok(vec![]),
    }
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
async fn rollback(
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
        let calls = match undo(&step.target, ran.as_ref().unwrap_or(&step.operation)) {
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
