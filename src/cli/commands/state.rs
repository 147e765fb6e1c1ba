//! `ferry state list | show | rm | mv | pull | push | migrate`: read and edit the state, in the
//! backend the declarations' `[project.state]` names.

use crate::cli::args::{Cli, StateCommand};
use crate::cli::output::{Printer, errln, out, outln};
use crate::model::{Account, StateBackend};
use crate::session;
use crate::state::document::{self, StateDocument};
use std::collections::BTreeMap;
use std::process::ExitCode;

pub fn run(cli: &Cli, command: &StateCommand, ctx: Printer) -> anyhow::Result<ExitCode> {
    // Editing the state is finished even when nobody reads what it says.
    let ctx = match command {
        StateCommand::List | StateCommand::Show { .. } | StateCommand::Pull => ctx,
        StateCommand::Rm { .. }
        | StateCommand::Mv { .. }
        | StateCommand::Push { .. }
        | StateCommand::Migrate { .. } => ctx.finishing(),
        // It reaches AWS: cli::run sends it to commands::rebuild, never here.
        StateCommand::Rebuild { .. } => {
            anyhow::bail!("`ferry state rebuild` runs in commands::rebuild")
        }
    };
    let (backend, accounts) = super::state_place(cli)?;
    if let StateCommand::Migrate { .. } = command {
        return migrate(cli, &backend, &accounts, ctx);
    }
    let state = super::open_state_for(cli, &backend, &accounts, "state", session::S3Mode::Open)?;
    let snap = state.snapshot()?;
    match command {
        StateCommand::List => {
            if cli.verbose > 0 {
                outln!(ctx, "# lineage {} serial {}", snap.lineage, snap.serial)?;
            }
            for (address, record) in &snap.resources {
                if cli.verbose > 0 {
                    let t = record.target();
                    outln!(
                        ctx,
                        "{address}\t{} ({}, {})",
                        t.account,
                        t.account_id,
                        t.region
                    )?;
                } else {
                    outln!(ctx, "{address}")?;
                }
            }
        }
        StateCommand::Show { address } => {
            let shown = session::shown_record(&snap, address)?;
            outln!(ctx, "{}", serde_json::to_string_pretty(&shown)?)?;
        }
        StateCommand::Rm { address } => {
            if !snap.resources.contains_key(address) {
                return Err(session::SessionError::NotInState(address.clone()).into());
            }
            state.remove(address)?;
            outln!(
                ctx,
                "Removed {address} from the state; the resource itself was not touched."
            )?;
        }
        StateCommand::Mv {
            source,
            destination,
        } => {
            let moves = session::state_moves(&snap, source, destination)?;
            state.rename(&moves)?;
            for (from, to) in &moves {
                outln!(ctx, "Moved {from} to {to}.")?;
            }
            outln!(
                ctx,
                "The resources were not touched; the next plan updates their ferry:address tag."
            )?;
        }
        StateCommand::Pull => {
            out!(
                ctx,
                "{}",
                String::from_utf8_lossy(&StateDocument::of(&snap).to_json())
            )?;
        }
        StateCommand::Push { file, force } => {
            let origin = file.display().to_string();
            let bytes =
                std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {origin}: {e}"))?;
            let pushed = StateDocument::parse(&bytes, &origin)?;
            if let Some(why) = document::push_refusal(&snap, &pushed) {
                if !force {
                    anyhow::bail!(
                        "refusing to push {origin}: {why}\n  hint: `ferry state pull` shows the state as it is; pass --force to replace it all the same"
                    );
                }
                errln!("warning: pushing {origin} although {why} (--force)");
            }
            let new = document::pushed_snapshot(&snap, &pushed);
            state.replace(&new)?;
            outln!(
                ctx,
                "Pushed {origin}: {} records, serial {} (was {}).",
                new.resources.len(),
                new.serial,
                snap.serial
            )?;
        }
        StateCommand::Rebuild { .. } | StateCommand::Migrate { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `ferry state migrate --to s3`: the local state in `--state DIR` becomes the working copy of
/// the declared S3 key, which it fills (only a key that holds no state).
fn migrate(
    cli: &Cli,
    backend: &StateBackend,
    accounts: &BTreeMap<String, Account>,
    ctx: Printer,
) -> anyhow::Result<ExitCode> {
    let StateBackend::S3(s3) = backend else {
        anyhow::bail!(
            "the declarations' [project.state] does not declare an S3 backend\n  hint: add backend = \"s3\" with bucket, key and account to [project.state] first"
        );
    };
    let state = super::open_state_for(
        cli,
        backend,
        accounts,
        "state migrate",
        session::S3Mode::Migrate,
    )?;
    let snap = state.snapshot()?;
    outln!(
        ctx,
        "Moved {} record{} (lineage {}, serial {}) from {} to s3://{}/{}; {} is now its working copy.",
        snap.resources.len(),
        if snap.resources.len() == 1 { "" } else { "s" },
        snap.lineage,
        snap.serial,
        cli.state.display(),
        s3.bucket,
        s3.key,
        cli.state.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
