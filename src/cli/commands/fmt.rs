//! `ferry fmt [--check] [PATH]`: rewrite declaration files in the canonical layout
//! ([`declarations::format`](crate::declarations::format)); with `--check`, only name the files
//! that would change and exit 1. No AWS call, no state.

use crate::cli::output::{Printer, errln, outln};
use crate::declarations::{format, toml_files};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(ctx: Printer, check: bool, path: &Path) -> anyhow::Result<ExitCode> {
    let files: Vec<PathBuf> = if path.is_dir() {
        toml_files(path)?
    } else {
        vec![path.to_path_buf()]
    };
    let mut changed = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let formatted =
            format::format(&text).with_context(|| format!("cannot format {}", file.display()))?;
        if formatted != text {
            if !check {
                std::fs::write(file, &formatted)
                    .with_context(|| format!("cannot write {}", file.display()))?;
            }
            changed.push(file);
        }
    }
    // Like `terraform fmt`: the files that changed (or would), one a line.
    for file in &changed {
        outln!(ctx, "{}", file.display())?;
    }
    if check && !changed.is_empty() {
        errln!(
            "{} of {} file(s) not in the canonical layout; run `ferry fmt` to rewrite them",
            changed.len(),
            files.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
