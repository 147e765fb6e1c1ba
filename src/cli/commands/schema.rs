//! `ferry schema`: the JSON Schema of the declarations, for editors (taplo / Even Better TOML)
//! and linters. Generated from the types the parser uses; no file or AWS call.

use crate::cli::output::{Printer, outln};
use std::process::ExitCode;

pub fn run(ctx: Printer) -> anyhow::Result<ExitCode> {
    let schema = crate::declarations::json_schema();
    outln!(ctx, "{}", serde_json::to_string_pretty(&schema)?)?;
    Ok(ExitCode::SUCCESS)
}
