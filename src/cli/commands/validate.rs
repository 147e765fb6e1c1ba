//! `ferry validate`: parse and check the declarations; no AWS calls.

use crate::cli::args::Cli;
use crate::cli::output::{Printer, err, outln};
use crate::declarations::{self, LoadError};
use crate::{render, session};
use std::process::ExitCode;

pub async fn run(cli: &Cli, ctx: Printer) -> anyhow::Result<ExitCode> {
    let decls = super::load(cli)?;
    let d = &decls.desired;
    if d.accounts.values().any(|a| a.profile.is_some()) {
        let profiles = crate::cloud::profiles::Profiles::load()
            .await
            .map_err(anyhow::Error::msg)?;
        declarations::check_profiles(&decls.sources, &profiles).map_err(LoadError::Invalid)?;
    }
    session::check_policies(d)?;
    // Without AWS, only extra_statements can be linted (live policies need `plan` or `check`).
    let warnings = crate::check::policy_warnings(d, &Default::default());
    err!("{}", render::check::policy_warnings_text(&warnings));
    outln!(
        ctx,
        "The declarations are valid: {} account(s), {} registr{}, {} repositor{}, {} image(s), {} function(s).",
        d.accounts.len(),
        d.registries.len(),
        if d.registries.len() == 1 { "y" } else { "ies" },
        d.repositories.len(),
        if d.repositories.len() == 1 {
            "y"
        } else {
            "ies"
        },
        d.images.len(),
        d.functions.len()
    )?;
    Ok(ExitCode::SUCCESS)
}
