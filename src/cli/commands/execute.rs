//! The confirm → run → report loop `apply` and `destroy` share, over a plan already printed.

use crate::apply;
use crate::cli::Hinted;
use crate::cli::output::{Printer, err, errln, outln, style};
use crate::cli::progress::Progress;
use crate::cli::prompt;
use crate::cloud::Cloud;
use crate::planner::Plan;
use crate::render;
use crate::state::StateStore;
use anyhow::bail;
use std::process::ExitCode;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Apply,
    Destroy,
}

/// Confirms (unless approved) and runs a plan that was already printed.
pub async fn execute(
    plan: &Plan,
    cloud: &dyn Cloud,
    state: &dyn StateStore,
    ctx: Printer,
    approved: bool,
    options: &apply::Options,
    verb: Verb,
) -> anyhow::Result<ExitCode> {
    err!("{}", render::warnings_text(&plan.warnings, ctx.err));
    if !plan.errors.is_empty() {
        err!("{}", render::errors_text(&plan.errors, ctx.err));
        bail!("the plan has errors; nothing was changed");
    }
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !approved {
        confirm(verb)?;
    }
    let observer = Progress::new(ctx.err);
    let outcome = apply::execute(plan, cloud, state, options, &observer).await;
    let (add, change, destroy) = count_completed(plan, &outcome.completed);
    if outcome.succeeded() {
        let (title, counts) = match verb {
            Verb::Apply => (
                "Apply complete!",
                format!("{add} added, {change} changed, {destroy} destroyed"),
            ),
            Verb::Destroy => ("Destroy complete!", format!("{destroy} destroyed")),
        };
        outln!(
            ctx,
            "\n{} Resources: {counts}.",
            ctx.out.paint(style::SUCCESS, title)
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    accounts_summary(&outcome, ctx);
    Err(failure(
        plan,
        &outcome,
        options,
        ctx,
        (add, change, destroy),
    ))
}

/// Lists, on stderr, how each account fared when the plan acts in more than one.
fn accounts_summary(outcome: &apply::Outcome, ctx: Printer) {
    use apply::AccountResult::*;
    if outcome.accounts.len() < 2 {
        return;
    }
    for (result, label) in [
        (Succeeded, "succeeded"),
        (Failed, "failed (completed changes kept)"),
        (RolledBack, "rolled back"),
        (RollbackIncomplete, "rolled back in part (see above)"),
        (Stopped, "stopped (steps not started)"),
    ] {
        let keys: Vec<&str> = outcome
            .accounts
            .iter()
            .filter(|(_, r)| **r == result)
            .map(|(k, _)| k.as_str())
            .collect();
        if !keys.is_empty() {
            errln!(
                "{} {label}: {}",
                ctx.err.paint(style::BOLD, "accounts"),
                keys.join(", ")
            );
        }
    }
}

/// Says on stderr which steps failed and what the rollback did, and returns the error `main`
/// reports (with the first failure's hint).
fn failure(
    plan: &Plan,
    outcome: &apply::Outcome,
    options: &apply::Options,
    ctx: Printer,
    (add, change, destroy): (usize, usize, usize),
) -> anyhow::Error {
    for (id, e) in &outcome.failed {
        errln!(
            "{} [{}] {}: {e}",
            ctx.err.paint(style::BOLD, "failed:"),
            id + 1,
            plan.steps[*id].address
        );
    }
    if let Some((id, e)) = &outcome.state_error {
        errln!(
            "failed: [{}] {} succeeded in AWS but could not be recorded: {e}",
            id + 1,
            plan.steps[*id].address
        );
    }
    let cause = outcome
        .failed
        .first()
        .map(|(id, e)| format!("{}: {e}", plan.steps[*id].address))
        .unwrap_or_else(|| "a state write failed".to_string());
    let hint = outcome.failed.first().and_then(|(_, e)| e.hint());
    let failed = |message: String| -> anyhow::Error {
        Hinted {
            message,
            hint: hint.clone(),
        }
        .into()
    };
    if let Some(rb) = &outcome.rollback {
        for (id, e) in &rb.failed {
            errln!(
                "not rolled back: [{}] {}: {e}",
                id + 1,
                plan.steps[*id].address
            );
        }
        for (id, why) in &rb.kept {
            errln!(
                "not rolled back: [{}] {}: {why}",
                id + 1,
                plan.steps[*id].address
            );
        }
        if options.rollback_scope == apply::RollbackScope::Account {
            let undone: Vec<&str> = outcome
                .accounts
                .iter()
                .filter(|(_, r)| {
                    matches!(
                        r,
                        apply::AccountResult::RolledBack | apply::AccountResult::RollbackIncomplete
                    )
                })
                .map(|(k, _)| k.as_str())
                .collect();
            let kept_elsewhere = outcome
                .completed
                .iter()
                .filter(|id| !undone.contains(&plan.steps[**id].target.account.as_str()))
                .count();
            let incomplete = rb.failed.len() + rb.kept.len();
            return failed(format!(
                "apply failed in account(s) {}: {cause}\nThe rollback undid {} change(s) there{}; the \
                 other accounts keep their {kept_elsewhere} completed change(s), recorded in state. Fix \
                 the cause and run `ferry apply` again: it continues from what is recorded.",
                undone.join(", "),
                rb.undone.len(),
                if incomplete == 0 {
                    String::new()
                } else {
                    format!(" but {incomplete} could not be undone (listed above)")
                }
            ));
        }
        if rb.failed.is_empty() && rb.kept.is_empty() {
            return failed(format!(
                "apply failed and was rolled back: {cause}\nAll {} change(s) this apply made were undone \
                 and the state records it; nothing else was changed.",
                rb.undone.len()
            ));
        }
        return failed(format!(
            "apply failed: {cause}\nThe rollback undid {} change(s) but {} could not be undone (listed above); \
             run `ferry plan` to see what is left, fix the cause and apply again",
            rb.undone.len(),
            rb.failed.len() + rb.kept.len()
        ));
    }
    failed(format!(
        "apply failed: {cause}\n{} step(s) completed and are recorded in state ({add} added, {change} changed, \
         {destroy} destroyed); {} step(s) were not started. Fix the error and run `ferry apply` again: it continues \
         from what is recorded.",
        outcome.completed.len(),
        outcome.skipped.len()
    ))
}

fn count_completed(plan: &Plan, completed: &[usize]) -> (usize, usize, usize) {
    let done = Plan {
        steps: plan
            .steps
            .iter()
            .filter(|s| completed.contains(&s.id))
            .cloned()
            .collect(),
        ..plan.clone()
    };
    done.counts()
}

fn confirm(verb: Verb) -> anyhow::Result<()> {
    match verb {
        Verb::Apply => prompt::confirm(
            "apply",
            "Do you want to perform these actions?",
            "--auto-approve",
        ),
        Verb::Destroy => prompt::confirm(
            "destroy",
            "Do you really want to destroy everything ferry manages here?",
            "--auto-approve",
        ),
    }
}
