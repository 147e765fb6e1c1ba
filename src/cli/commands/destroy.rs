//! `ferry destroy`: remove everything ferry manages, functions before policies before
//! repositories.

use super::execute::{Verb, execute};
use crate::apply;
use crate::cli::args::Cli;
use crate::cli::output::{Printer, out};
use crate::cloud::aws::AwsCloud;
use crate::cloud::paced::{Limits, Paced};
use crate::{render, session};
use std::process::ExitCode;

pub async fn run(
    cli: &Cli,
    ctx: Printer,
    auto_approve: bool,
    parallelism: u16,
) -> anyhow::Result<ExitCode> {
    let decls = session::load_for_destroy(cli.config.as_deref())?;
    let state = super::open_state(cli, &decls, "destroy")?;
    let decls = super::discover(decls, &*state, false).await?;
    // Every call paced within Lambda's and ECR's quotas; `--parallelism` caps the calls in
    // flight per account and region, and a step waiting for Active holds none.
    let limits = Limits::of(&decls.desired.project.rates, usize::from(parallelism));
    let steps_at_once = limits.steps_at_once();
    let cloud = Paced::new(AwsCloud::new(decls.desired.accounts.clone()), limits);
    let nothing = session::nothing_declared(&decls);
    let plan = super::make_plan(&nothing, &*state, &cloud, &[], ctx).await?;
    out!(ctx, "{}", render::plan_text(&plan, ctx.out))?;
    let options = apply::Options {
        parallelism: steps_at_once,
        // A destroy creates nothing, so no CreateFunction can fail and ask for a rollback.
        rollback: false,
        ..apply::Options::default()
    };
    execute(
        &plan,
        &cloud,
        &*state,
        ctx,
        auto_approve,
        &options,
        Verb::Destroy,
    )
    .await
}
