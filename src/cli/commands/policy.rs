//! `ferry policy REPOSITORY`: print the repository policy ferry would write.

use crate::cli::args::Cli;
use crate::cli::output::{Printer, errln, outln};
use crate::{policy, session};
use std::process::ExitCode;

pub fn run(cli: &Cli, ctx: Printer, repository: &str) -> anyhow::Result<ExitCode> {
    let decls = super::load(cli)?;
    let repo = session::policy_repository(&decls.desired, repository)?;
    match policy::synthesize(&decls.desired, repo)? {
        Some(p) => outln!(ctx, "{}", policy::pretty(&p))?,
        None => errln!(
            "repository `{}` has no consumers, shares or extra statements: ferry writes no policy for it",
            repo.key
        ),
    }
    Ok(ExitCode::SUCCESS)
}
