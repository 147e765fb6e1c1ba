//! One file per subcommand, each a short function over the shared [`session`](crate::session):
//! it asks the session for data and tells the [`Printer`] what to show. The helpers here say
//! what the session found and the user should know (a stale lock, an interrupted apply,
//! targeting).

pub mod apply;
pub mod check;
pub mod completions;
pub mod destroy;
mod execute;
pub mod fmt;
pub mod force_unlock;
pub mod graph;
pub mod import;
pub mod man;
pub mod plan;
pub mod policy;
pub mod rebuild;
pub mod schema;
pub mod show;
pub mod state;
pub mod validate;

use super::args::Cli;
use super::output::{Printer, errln, style};
use crate::cloud::Cloud;
use crate::declarations::Declarations;
use crate::model::{Account, StateBackend};
use crate::planner::Plan;
use crate::session;
use crate::state::{Interruption, StateStore};
use std::collections::BTreeMap;
use std::time::Duration;

/// The declarations of `-c` (or of the current directory).
fn load(cli: &Cli) -> anyhow::Result<Declarations> {
    Ok(session::load(cli.config.as_deref())?)
}

/// The declarations and the state, opened for `operation`, with the accounts of groups
/// discovered from an OU found.
async fn open(cli: &Cli, operation: &str) -> anyhow::Result<(Declarations, Box<dyn StateStore>)> {
    let decls = load(cli)?;
    let state = open_state(cli, &decls, operation)?;
    let decls = discover(decls, &*state, true).await?;
    Ok((decls, state))
}

/// Asks AWS Organizations for the accounts of every group declared with `organizational_unit`
/// (nothing when there is none) and says on stderr what it found.
async fn discover(
    decls: Declarations,
    state: &dyn StateStore,
    secrets_required: bool,
) -> anyhow::Result<Declarations> {
    use crate::discovery::{self, DiscoveryError};
    if !discovery::needed(&decls.desired) {
        return Ok(decls);
    }
    let cloud = crate::cloud::aws::AwsCloud::new(decls.desired.accounts.clone());
    let snapshot = state.snapshot()?;
    match discovery::expand(decls, &snapshot, &cloud, secrets_required).await {
        Ok((decls, found)) => {
            for f in found {
                errln!("{}", f.line());
            }
            Ok(decls)
        }
        // The diagnostics render themselves (see `report`).
        Err(DiscoveryError::Declarations(e)) => Err((*e).into()),
        Err(e) => Err(e.into()),
    }
}

/// Where the state lives for commands that need no valid resources (`state`, `force-unlock`):
/// the declarations' `[project.state]`, read without requiring sensitive values; without any
/// declarations in the current directory (and no `-c`), the local `--state` directory.
fn state_place(cli: &Cli) -> anyhow::Result<(StateBackend, BTreeMap<String, Account>)> {
    match session::load_for_destroy(cli.config.as_deref()) {
        Err(crate::declarations::LoadError::NoDeclarationsHere) if cli.config.is_none() => {
            Ok((StateBackend::Local, BTreeMap::new()))
        }
        other => {
            let desired = other?.desired;
            Ok((desired.project.state, desired.accounts))
        }
    }
}

/// Opens the state the declarations' `[project.state]` names, waiting up to `--lock-timeout`
/// for another process to release it.
fn open_state(
    cli: &Cli,
    decls: &Declarations,
    operation: &str,
) -> anyhow::Result<Box<dyn StateStore>> {
    let d = &decls.desired;
    open_state_for(
        cli,
        &d.project.state,
        &d.accounts,
        operation,
        session::S3Mode::Open,
    )
}

fn open_state_for(
    cli: &Cli,
    backend: &StateBackend,
    accounts: &BTreeMap<String, Account>,
    operation: &str,
    mode: session::S3Mode,
) -> anyhow::Result<Box<dyn StateStore>> {
    let state = session::open_state_for(
        &cli.state,
        backend,
        accounts,
        operation,
        Duration::from_secs(cli.lock_timeout),
        mode,
    )?;
    if let Some(stale) = state.stale_holder() {
        errln!(
            "warning: the previous holder of this state ended without releasing it ({stale}); \
             it was probably killed. Its lock ended with it."
        );
    }
    Ok(state)
}

/// Refreshes and plans through the session, saying on stderr what the user should know about
/// the plan's footing: an interrupted apply, and targeting.
async fn make_plan(
    decls: &Declarations,
    state: &dyn StateStore,
    cloud: &dyn Cloud,
    patterns: &[crate::model::TargetPattern],
    ctx: Printer,
) -> anyhow::Result<Plan> {
    let (snapshot, interruption) = session::snapshot(state)?;
    let targets = &session::resolve_targets(&decls.desired, &snapshot, patterns)?;
    if let Some(i) = &interruption {
        warn_interrupted(i, ctx);
    }
    let plan = session::plan(&decls.desired, &decls.sources, &snapshot, cloud, targets).await?;
    if !targets.is_empty() {
        errln!(
            "{} the plan covers only {} and what they depend on; the declarations may not be fully applied.",
            ctx.err
                .paint(style::WARNING, "Warning: resource targeting is in effect:"),
            targets
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(plan)
}

/// Warns that the journal shows the previous apply did not reach its end.
fn warn_interrupted(i: &Interruption, ctx: Printer) {
    let in_flight = if i.in_flight.is_empty() {
        "no call was in flight".to_string()
    } else {
        format!(
            "calls in flight: {}",
            i.in_flight
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let what = if i.finished {
        // The last apply ended, but calls of it (or of an earlier one) never got an answer
        // that settled them: a create whose answer was lost.
        "an earlier apply did not learn the outcome of some calls".to_string()
    } else if i.rolling_back {
        "the previous apply was interrupted while rolling back".to_string()
    } else {
        "the previous apply was interrupted".to_string()
    };
    errln!(
        "{} {what} ({in_flight}). This plan is made from what is live: \
         resources it created carry ferry's ownership tags and are adopted, the rest is reconciled below.",
        ctx.err.paint(style::WARNING, "Warning:"),
    );
}
