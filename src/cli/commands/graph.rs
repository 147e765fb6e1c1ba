//! `ferry graph [--format dot|mermaid]`: the whole estate, declared and in state, grouped by
//! account and region, with the plan's pending changes marked.

use crate::cli::args::{Cli, GraphFormat};
use crate::cli::output::{Printer, out};
use crate::cloud::aws::AwsCloud;
use crate::render;
use crate::state::StateStore;
use std::process::ExitCode;

pub async fn run(cli: &Cli, ctx: Printer, format: GraphFormat) -> anyhow::Result<ExitCode> {
    let (decls, opened) = super::open(cli, "graph").await?;
    let state: &dyn StateStore = &*opened;
    let cloud = AwsCloud::new(decls.desired.accounts.clone());
    let plan = super::make_plan(&decls, state, &cloud, &[], ctx).await?;
    let estate = render::Estate::new(&decls.desired, &state.snapshot()?, &plan);
    let text = match format {
        GraphFormat::Dot => render::graph_dot(&estate),
        GraphFormat::Mermaid => render::graph_mermaid(&estate),
    };
    out!(ctx, "{}", text)?;
    Ok(ExitCode::SUCCESS)
}
