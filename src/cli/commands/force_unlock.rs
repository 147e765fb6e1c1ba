//! `ferry force-unlock`: remove the record of a state lock whose holder is gone.

use crate::cli::args::Cli;
use crate::cli::output::{Printer, outln};
use std::process::ExitCode;

pub fn run(cli: &Cli, ctx: Printer, lock_id: &str) -> anyhow::Result<ExitCode> {
    outln!(
        ctx,
        "{}",
        crate::state::sled_store::force_unlock(&cli.state, lock_id)?
    )?;
    Ok(ExitCode::SUCCESS)
}
