//! Stage: apply. Executes a [`Plan`] with no choices left to make: each step as soon as the
//! steps it depends on are done (bounded by `parallelism` steps at once), and the state written
//! after every completed step, so that a failure or a crash leaves state that tells the truth.
//!
//! Around each mutating call the journal records intent and outcome, so an interrupted apply is
//! recognised by the next run. When a CreateFunction fails (after the propagation retries), every
//! change this apply made is undone in reverse order and state records each undo; other failures
//! stop the apply and keep what completed, as Terraform does.
//!
//! The rooms: [`schedule`] decides what may start now (a [`schedule::Schedule`]; the apply runs
//! [`schedule::Dependencies`]), [`operation`] is what one step does ([`run_operation`]), [`retry`] the
//! propagation retry policy as data, [`rollback`] the undo, [`journal`] the journal writes. This
//! file only wires them: [`execute`] and the types it takes and returns.

mod journal;
pub mod operation;
pub mod retry;
mod rollback;
pub mod schedule;

pub use operation::{restore_unsaved, run_operation};
pub use retry::{RetryPolicy, is_propagation_error};
pub use rollback::Rollback;

use crate::cloud::{Cloud, CloudError};
use crate::planner::{Operation, Plan, Step};
use crate::state::{Phase, StateError, StateStore};
use operation::run_step;
use rollback::rollback;
use schedule::{Dependencies, Schedule, drive};
use std::collections::BTreeSet;
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
    /// What that undo covers: the whole apply, or only the accounts where a create failed.
    pub rollback_scope: RollbackScope,
    /// How many accounts may fail before nothing new starts anywhere (StackSets' failure
    /// tolerance): up to this many, only the failed account stops and the others go on.
    pub failure_tolerance: usize,
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
            rollback_scope: RollbackScope::Apply,
            failure_tolerance: 0,
            propagation_timeout: Duration::from_secs(60),
            retry_base: Duration::from_secs(1),
            declared_in: Default::default(),
        }
    }
}

/// What a rollback undoes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RollbackScope {
    /// Every change of the apply: an apply is one change.
    #[default]
    Apply,
    /// Only the changes in the accounts where a CreateFunction failed; the other accounts keep
    /// theirs, and so do shared steps in other accounts (a registry's policy).
    Account,
}

/// How one account fared in an apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountResult {
    /// Every step of the account that started completed.
    Succeeded,
    /// A step failed and what completed is kept (recorded in state).
    Failed,
    /// A step failed and the account's completed changes were undone.
    RolledBack,
    /// A step failed and its undo was incomplete (listed in the rollback).
    RollbackIncomplete,
    /// Nothing failed here, but some of its steps never started: a failure elsewhere (another
    /// account, or a step they depend on) stopped them.
    Stopped,
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
    /// Every account a step of the plan acts in (by account key), and how it fared.
    pub accounts: std::collections::BTreeMap<String, AccountResult>,
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
}

/// Runs the plan. Stops scheduling after the first failure; steps already running finish and
/// are recorded. Then, if a CreateFunction failed and rollback is on,
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
    };
    run.begin(&prior);
    // A step starts as soon as its own dependencies are done: no barrier across accounts. A
    // failure stops every account, or (with a failure tolerance) only its own.
    let mut schedule = Dependencies::of(plan).tolerating(
        plan.steps
            .iter()
            .map(|s| s.target.account.clone())
            .collect(),
        options.failure_tolerance,
    );
    let run = &run;
    let mut results = drive(
        &mut schedule,
        options.parallelism,
        |id| async move {
            let step = &plan.steps[id];
            observer.started(step);
            let t0 = Instant::now();
            let r = run_step(run, step).await;
            let shown = r.as_ref().map(|_| ()).map_err(|e| e.to_string());
            observer.finished(step, &shown, t0.elapsed());
            r
        },
        |r| r.is_ok(),
    )
    .await;
    // Reported by level, and by id within a level, whatever order the steps ended in.
    results.sort_by_key(|(id, _)| (plan.steps[*id].level, *id));
    let mut outcome = Outcome::default();
    for (id, r) in results {
        match r {
            Ok(()) => outcome.completed.push(id),
            Err(StepError::Cloud(e)) => outcome.failed.push((id, e)),
            Err(StepError::State(e)) => outcome.state_error = Some((id, e.to_string())),
        }
    }
    outcome.skipped = schedule.not_started();
    let account = |id: &usize| plan.steps[*id].target.account.clone();
    // The accounts whose failed CreateFunction starts an undo.
    let create_failed: BTreeSet<String> = outcome
        .failed
        .iter()
        .filter(|(id, _)| creates_function(&plan.steps[*id].operation))
        .map(|(id, _)| account(id))
        .collect();
    let undone_accounts: BTreeSet<String> = if !create_failed.is_empty() && options.rollback {
        let in_scope = |id: &usize| match options.rollback_scope {
            RollbackScope::Apply => true,
            RollbackScope::Account => create_failed.contains(&account(id)),
        };
        let completed: Vec<usize> = outcome.completed.iter().copied().filter(in_scope).collect();
        let failed: Vec<usize> = outcome
            .failed
            .iter()
            .map(|(id, _)| *id)
            .filter(in_scope)
            .collect();
        outcome.rollback = Some(rollback(run, &completed, &failed, &prior).await);
        plan.steps
            .iter()
            .map(|s| s.target.account.clone())
            .filter(|a| options.rollback_scope == RollbackScope::Apply || create_failed.contains(a))
            .collect()
    } else {
        BTreeSet::new()
    };
    outcome.accounts = account_results(plan, &outcome, &undone_accounts);
    run.journal(Phase::Finished, None, "");
    outcome
}

/// How each account fared: failed when one of its steps failed (or its state write did),
/// rolled back when its changes were undone, whether or not its own steps failed (an apply-wide
/// rollback undoes the healthy accounts too).
fn account_results(
    plan: &Plan,
    outcome: &Outcome,
    undone_accounts: &BTreeSet<String>,
) -> std::collections::BTreeMap<String, AccountResult> {
    let failed: BTreeSet<&str> = outcome
        .failed
        .iter()
        .map(|(id, _)| *id)
        .chain(outcome.state_error.as_ref().map(|(id, _)| *id))
        .map(|id| plan.steps[id].target.account.as_str())
        .collect();
    let incomplete: BTreeSet<&str> = outcome
        .rollback
        .iter()
        .flat_map(|rb| {
            rb.failed
                .iter()
                .map(|(id, _)| *id)
                .chain(rb.kept.iter().map(|(id, _)| *id))
        })
        .map(|id| plan.steps[id].target.account.as_str())
        .collect();
    let stopped: BTreeSet<&str> = outcome
        .skipped
        .iter()
        .map(|id| plan.steps[*id].target.account.as_str())
        .collect();
    plan.steps
        .iter()
        .map(|s| {
            let a = s.target.account.as_str();
            let result = if undone_accounts.contains(a) {
                if incomplete.contains(a) {
                    AccountResult::RollbackIncomplete
                } else {
                    AccountResult::RolledBack
                }
            } else if failed.contains(a) {
                AccountResult::Failed
            } else if stopped.contains(a) {
                AccountResult::Stopped
            } else {
                AccountResult::Succeeded
            };
            (a.to_string(), result)
        })
        .collect()
}

/// Whether `op` creates a function: the step whose failure starts a rollback.
pub fn creates_function(op: &Operation) -> bool {
    match op {
        Operation::CreateFunction { .. } => true,
        Operation::Replace { create, .. } => creates_function(create),
        _ => false,
    }
}
