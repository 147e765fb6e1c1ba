//! `ferry apply [PLANFILE]`: plan (or load a saved plan), ask for confirmation, and make it so.

use super::execute::{Verb, execute};
use crate::apply;
use crate::cli::args::{Cli, RollbackScope};
use crate::cli::output::{Printer, out};
use crate::cloud::aws::AwsCloud;
use crate::cloud::paced::{Limits, Paced};
use crate::state::StateStore;
use crate::{render, saved_plan, session};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The options of `ferry apply`.
pub struct Options<'a> {
    pub planfile: &'a Option<PathBuf>,
    pub auto_approve: bool,
    pub parallelism: u16,
    pub target: &'a [crate::model::TargetPattern],
    pub no_rollback: bool,
    pub rollback_scope: Option<crate::cli::args::RollbackScope>,
    pub failure_tolerance: usize,
    pub propagation_timeout: u64,
    /// `--wait-for-replication SECONDS`: wait for replicas to hold the digests they lack.
    pub wait_for_replication: Option<u64>,
}

pub async fn run(cli: &Cli, ctx: Printer, o: Options<'_>) -> anyhow::Result<ExitCode> {
    let rollback_scope = match o.rollback_scope {
        Some(RollbackScope::Account) => apply::RollbackScope::Account,
        Some(RollbackScope::Apply) | None => apply::RollbackScope::Apply,
    };
    if o.failure_tolerance > 0 && !o.no_rollback && rollback_scope == apply::RollbackScope::Apply {
        return Err(crate::cli::Hinted {
            message: format!(
                "--failure-tolerance {} keeps the other accounts going after a failure, which an \
                 apply-wide rollback would then undo",
                o.failure_tolerance
            ),
            hint: Some(
                "add `--rollback-scope account` (undo only the failed accounts) or `--no-rollback`"
                    .to_string(),
            ),
        }
        .into());
    }
    let options = apply::Options {
        parallelism: usize::from(o.parallelism),
        rollback: !o.no_rollback,
        rollback_scope,
        failure_tolerance: o.failure_tolerance,
        propagation_timeout: Duration::from_secs(o.propagation_timeout),
        ..apply::Options::default()
    };
    let (decls, opened) = super::open(cli, "apply").await?;
    let state: &dyn StateStore = &*opened;
    let options = apply::Options {
        declared_in: decls.desired.declared_in.clone(),
        ..options
    };
    // Every call paced within Lambda's and ECR's quotas; `--parallelism` caps the calls in
    // flight per account and region, and a step waiting for Active holds none.
    let limits = Limits::of(&decls.desired.project.rates, usize::from(o.parallelism));
    let steps_at_once = limits.steps_at_once();
    let cloud = Paced::new(AwsCloud::new(decls.desired.accounts.clone()), limits);
    let (plan, approved) = match o.planfile {
        Some(path) => {
            if let Some(i) = session::interruption(state)? {
                super::warn_interrupted(&i, ctx);
            }
            let snap = state.snapshot()?;
            let plan = saved_plan::load(path, &decls.desired, &decls.sources, &snap)?;
            out!(ctx, "{}", render::plan_text(&plan, ctx.out))?;
            // Saving the plan was the review; like Terraform, a saved plan is not asked again.
            (plan, true)
        }
        None => {
            let mut plan = super::make_plan(&decls, state, &cloud, o.target, ctx).await?;
            if let Some(secs) = o.wait_for_replication {
                let limit = Duration::from_secs(secs);
                crate::replication::digests::wait(&mut plan, &decls.desired, &cloud, limit).await;
            }
            out!(ctx, "{}", render::plan_text(&plan, ctx.out))?;
            (plan, o.auto_approve)
        }
    };
    let options = apply::Options {
        parallelism: steps_at_once,
        ..options
    };
    execute(&plan, &cloud, state, ctx, approved, &options, Verb::Apply).await
}
