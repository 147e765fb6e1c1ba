//! `ferry force-unlock`: break a state lock whose holder is gone, in the backend the
//! declarations' `[project.state]` names.

use crate::cli::args::Cli;
use crate::cli::output::{Printer, outln};
use crate::model::StateBackend;
use std::process::ExitCode;

pub fn run(cli: &Cli, ctx: Printer, lock_id: &str) -> anyhow::Result<ExitCode> {
    let message = match super::state_place(cli)? {
        (StateBackend::Local, _) => crate::state::sled_store::force_unlock(&cli.state, lock_id)?,
        (StateBackend::S3(s3), accounts) => {
            crate::state::s3::force_unlock(&s3, &accounts, lock_id)?
        }
    };
    outln!(ctx, "{message}")?;
    Ok(ExitCode::SUCCESS)
}
