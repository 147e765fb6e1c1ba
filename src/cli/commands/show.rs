//! `ferry show [--json] [PLANFILE]`: a saved plan as `plan` prints it, or what the state holds.
//! Reads files only: no AWS call.

use crate::cli::args::Cli;
use crate::cli::output::{Printer, outln};
use crate::{saved_plan, session};
use std::path::Path;
use std::process::ExitCode;

pub fn run(
    cli: &Cli,
    ctx: Printer,
    json: bool,
    planfile: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    // Never AWS: the declarations only say where the state is (no OU discovery).
    let decls = super::load(cli)?;
    let opened = super::open_state(cli, &decls, "show")?;
    let snap = opened.snapshot()?;
    if let Some(path) = planfile {
        // The MAC is checked under this state's key: a plan from elsewhere is not shown.
        let plan = saved_plan::read(path, &snap.secret_key)?;
        let clean = super::plan::print(&plan, ctx, json, false)?;
        return Ok(if clean {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let mut resources = Vec::new();
    for (address, record) in &snap.resources {
        let t = record.target();
        resources.push(serde_json::json!({
            "address": address.to_string(),
            "type": address.kind(),
            "name": record.identity().3,
            "account": t.account,
            "account_id": t.account_id,
            "region": t.region,
            "values": session::shown_record(&snap, address)?,
        }));
    }
    if json {
        let document = serde_json::json!({
            "lineage": snap.lineage,
            "serial": snap.serial,
            "resources": resources,
        });
        outln!(ctx, "{}", serde_json::to_string_pretty(&document)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if resources.is_empty() {
        outln!(ctx, "The state is empty: nothing has been applied yet.")?;
    }
    for r in &resources {
        outln!(
            ctx,
            "# {} ({} in {} {}, {})\n{}\n",
            r["address"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default(),
            r["account"].as_str().unwrap_or_default(),
            r["account_id"].as_str().unwrap_or_default(),
            r["region"].as_str().unwrap_or_default(),
            serde_json::to_string_pretty(&r["values"])?
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
