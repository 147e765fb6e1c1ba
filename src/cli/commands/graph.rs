//! `ferry graph`: the plan's dependency graph as Graphviz DOT.

use crate::cli::args::Cli;
use crate::cli::output::{Printer, out};
use crate::cloud::aws::AwsCloud;
use crate::render;
use crate::state::StateStore;
use std::process::ExitCode;

pub async fn run(cli: &Cli, ctx: Printer) -> anyhow::Result<ExitCode> {
    let (decls, opened) = super::open(cli, "graph").await?;
    let state: &dyn StateStore = &*opened;
    let cloud = AwsCloud::new(decls.desired.accounts.clone());
    let plan = super::make_plan(&decls, state, &cloud, &[], ctx).await?;
    out!(ctx, "{}", render::graph_dot(&plan))?;
    Ok(ExitCode::SUCCESS)
}
