//! `ferry plan`: refresh live state and print the ordered plan with diffs; optionally save it.

use crate::cli::output::{Printer, err, errln, out, outln};
use crate::cloud::aws::AwsCloud;
use crate::cloud::paced::{Limits, Paced};
use crate::planner::Plan;
use crate::state::StateStore;
use crate::{render, saved_plan};
use std::path::PathBuf;
use std::process::ExitCode;

/// The options of `ferry plan`.
pub struct Options<'a> {
    pub detailed_exitcode: bool,
    pub out: &'a Option<PathBuf>,
    pub json: bool,
    pub markdown: bool,
    pub target: &'a [crate::model::TargetPattern],
}

pub async fn run(
    cli: &crate::cli::args::Cli,
    ctx: Printer,
    o: Options<'_>,
) -> anyhow::Result<ExitCode> {
    let (decls, opened) = super::open(cli, "plan").await?;
    let state: &dyn StateStore = &*opened;
    // The refresh's reads paced per account and region, under the same buckets as apply's.
    let limits = Limits::of(&decls.desired.project.rates, Limits::default().per_place);
    let cloud = Paced::new(AwsCloud::new(decls.desired.accounts.clone()), limits);
    let plan = super::make_plan(&decls, state, &cloud, o.target, ctx).await?;
    if !print(&plan, ctx, o.json, o.markdown)? {
        return Ok(ExitCode::FAILURE);
    }
    if let Some(path) = o.out {
        saved_plan::save(
            path,
            &plan,
            &decls.desired,
            &decls.sources,
            &state.snapshot()?.secret_key,
        )?;
        errln!(
            "Saved the plan to {}. To perform exactly these actions, run: ferry apply {}",
            path.display(),
            path.display()
        );
    }
    Ok(if o.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints `plan` on stdout as JSON, markdown or text, and its warnings and errors on stderr;
/// false when it has errors. `ferry show FILE` prints a saved plan through it too.
pub(super) fn print(plan: &Plan, ctx: Printer, json: bool, markdown: bool) -> anyhow::Result<bool> {
    let printed = if json {
        outln!(
            ctx,
            "{}",
            serde_json::to_string_pretty(&render::plan_json(plan))?
        )
    } else if markdown {
        out!(ctx, "{}", render::plan_markdown(plan))
    } else {
        out!(ctx, "{}", render::plan_text(plan, ctx.out))
    };
    // A reader that stopped early still hears of the plan's errors (on stderr).
    err!("{}", render::warnings_text(&plan.warnings, ctx.err));
    if !plan.errors.is_empty() {
        err!("{}", render::errors_text(&plan.errors, ctx.err));
        return Ok(false);
    }
    printed?;
    Ok(true)
}
