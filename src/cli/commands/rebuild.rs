//! `ferry state rebuild` and `ferry import --all-tagged PATTERN`: the state found again from
//! ownership tags ([`crate::rebuild`]), shown, and recorded on confirmation.

use crate::cli::args::Cli;
use crate::cli::output::{Printer, outln};
use crate::cli::prompt;
use crate::cloud::aws::AwsCloud;
use crate::model::TargetPattern;
use crate::rebuild;
use std::process::ExitCode;

pub async fn run(
    cli: &Cli,
    ctx: Printer,
    auto_approve: bool,
    patterns: &[TargetPattern],
) -> anyhow::Result<ExitCode> {
    let (decls, state) = super::open(cli, "rebuild").await?;
    let cloud = AwsCloud::new(decls.desired.accounts.clone());
    let found = rebuild::scan(&decls.desired, &state.snapshot()?, &cloud, patterns).await?;
    for (address, name, record) in &found.records {
        let t = record.target();
        outln!(
            ctx,
            "  + {address}: `{name}` in account {} ({}) will be recorded",
            t.account_id,
            t.region
        )?;
    }
    for address in &found.already {
        outln!(ctx, "  = {address} is already in the state: left as it is")?;
    }
    for (address, name, t) in &found.undeclared {
        outln!(
            ctx,
            "  ? `{name}` in account {} ({}) carries this project's tags for {address}, which is \
             not declared: not recorded (declare it, or delete it yourself)",
            t.account_id,
            t.region
        )?;
    }
    for address in &found.missing {
        outln!(
            ctx,
            "  - {address}: nothing live carries its tags (the next plan creates it)"
        )?;
    }
    if found.records.is_empty() {
        outln!(ctx, "\nNothing to record.")?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(ctx, "\nRebuild: {} to record.", found.records.len())?;
    if !auto_approve {
        prompt::confirm(
            "rebuild the state",
            "Do you want to record these resources in the state?",
            "--auto-approve",
        )?;
    }
    let mut files = std::collections::BTreeMap::new();
    for (address, _, record) in &found.records {
        state.put(address, record)?;
        if let Some(file) = decls.desired.declared_in.get(address) {
            files.insert(address.clone(), file.clone());
        }
    }
    state.record_files(&files)?;
    outln!(
        ctx,
        "Recorded {}. Run `ferry plan` to see how they differ from the declarations.",
        found.records.len()
    )?;
    Ok(ExitCode::SUCCESS)
}
