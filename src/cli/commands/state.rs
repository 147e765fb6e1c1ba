//! `ferry state list | show | rm | mv`: read and edit the state.

use crate::cli::args::{Cli, StateCommand};
use crate::cli::output::{Printer, outln};
use crate::session;
use std::process::ExitCode;

pub fn run(cli: &Cli, command: &StateCommand, ctx: Printer) -> anyhow::Result<ExitCode> {
    // Editing the state is finished even when nobody reads what it says.
    let ctx = match command {
        StateCommand::List | StateCommand::Show { .. } => ctx,
        StateCommand::Rm { .. } | StateCommand::Mv { .. } => ctx.finishing(),
    };
    // The state commands read no declarations, so they use the local backend (`--state`).
    let state = super::open_state(cli, &crate::model::StateBackend::Local, "state")?;
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
    }
    Ok(ExitCode::SUCCESS)
}
