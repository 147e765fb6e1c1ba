//! `ferry check`: preflight; for every function, would Lambda be allowed to pull its image?

use crate::cli::args::Cli;
use crate::cli::output::{Printer, err, errln, out, outln};
use crate::cloud::aws::AwsCloud;
use crate::state::StateStore;
use crate::{render, session};
use std::process::ExitCode;

pub async fn run(cli: &Cli, ctx: Printer, json: bool) -> anyhow::Result<ExitCode> {
    let (decls, opened) = super::open(cli, "check").await?;
    let state: &dyn StateStore = &*opened;
    let cloud = AwsCloud::new(decls.desired.accounts.clone());
    let snapshot = state.snapshot()?;
    let observed = session::observe(&cloud, &decls.desired, &snapshot).await?;
    let live = session::live_policies(&decls.desired, &observed);
    let verdicts = crate::check::check_all(&decls.desired, &live);
    let warnings = crate::check::policy_warnings(&decls.desired, &live);
    let denied = verdicts.iter().filter(|v| !v.allowed).count();
    if json {
        outln!(
            ctx,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "functions": verdicts,
                "warnings": warnings,
                "denied": denied,
                "not_checked": crate::check::NOT_CHECKED,
            }))?
        )?;
    } else {
        out!(ctx, "{}", render::check::verdicts_text(&verdicts, ctx.out))?;
        err!("{}", render::check::policy_warnings_text(&warnings));
    }
    if denied > 0 {
        errln!("error: {denied} function(s) would be denied; nothing was changed");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
