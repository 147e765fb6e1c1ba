//! `ferry import ADDR ID`: adopt an existing resource into state.

use crate::cli::args::Cli;
use crate::cli::output::{Printer, outln};
use crate::cloud::aws::AwsCloud;
use crate::import;
use crate::model::Address;
use crate::state::StateStore;
use std::process::ExitCode;

pub async fn run(cli: &Cli, ctx: Printer, address: &Address, id: &str) -> anyhow::Result<ExitCode> {
    let (decls, opened) = super::open(cli, "import").await?;
    let state: &dyn StateStore = &*opened;
    let cloud = AwsCloud::new(decls.desired.accounts.clone());
    let record = import::read(&decls.desired, &state.snapshot()?, &cloud, address, id).await?;
    state.put(address, &record)?;
    if let Some(file) = decls.desired.declared_in.get(address) {
        state.record_files(&[(address.clone(), file.clone())].into())?;
    }
    outln!(
        ctx,
        "Imported {address} ({id} in account {}, {}). Run `ferry plan` to see how it differs from the declaration.",
        record.target().account_id,
        record.target().region
    )?;
    Ok(ExitCode::SUCCESS)
}
