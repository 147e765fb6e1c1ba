//! Stage: cli. Parses arguments (clap), wires the stages together, and decides what goes to
//! stdout (data: plans, policies, state listings) and what to stderr (progress, diagnostics).
//! The only module that uses `anyhow`; it makes no decisions the planner should make.

use crate::apply::{self, Observer};
use crate::cloud::Cloud;
use crate::cloud::aws::AwsCloud;
use crate::declarations::{self, Declarations, LoadError};
use crate::import;
use crate::model::Address;
use crate::planner::{self, Plan, Step};
use crate::policy;
use crate::refresh;
use crate::render::{self, Painter};
use crate::saved_plan;
use crate::state::StateStore;
use crate::state::sled_store::SledState;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use output::{Printer, err, errln, out, outln};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

mod output;

#[derive(Parser, Debug)]
#[command(
    name = "ferry",
    version,
    about = "Declarative reconciler for container-image Lambda functions and their ECR repositories",
    long_about = None
)]
struct Cli {
    /// Declarations: one .toml file or a directory of them [default: every *.toml of the
    /// current directory]
    #[arg(short = 'c', long = "config", global = true)]
    config: Option<PathBuf>,
    /// State directory
    #[arg(long, env = "FERRY_STATE", default_value = "state", global = true)]
    state: PathBuf,
    /// Never colour the output (NO_COLOR is honoured too)
    #[arg(long, global = true)]
    no_color: bool,
    /// More logging on stderr (-v, -vv, -vvv)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Wait this long for another ferry process to release the state
    #[arg(long, value_name = "SECONDS", default_value_t = 0, global = true)]
    lock_timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and check the declarations; no AWS calls
    Validate,
    /// Refresh live state and print the ordered plan with diffs
    Plan {
        /// Exit 0 when there are no changes, 2 when there are, 1 on error
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also save the plan, for `ferry apply FILE`
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the plan as JSON (format in docs/plan.schema.json) instead of text
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the plan as markdown, for a pull-request comment
        #[arg(long)]
        markdown: bool,
        /// Plan only this address and what it depends on (repeatable)
        #[arg(long, value_name = "ADDR")]
        target: Vec<Address>,
    },
    /// Plan, ask for confirmation, and make it so; or apply a saved plan
    Apply {
        /// A plan saved with `ferry plan --out FILE`: applied exactly, without planning again
        planfile: Option<PathBuf>,
        /// Do not ask for confirmation
        #[arg(long)]
        auto_approve: bool,
        /// How many independent steps run at once
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
        parallelism: u16,
        /// Apply only this address and what it depends on (repeatable)
        #[arg(long, value_name = "ADDR", conflicts_with = "planfile")]
        target: Vec<Address>,
        /// Keep completed steps when a CreateFunction fails (default: undo this apply's changes)
        #[arg(long)]
        no_rollback: bool,
        /// Retry the permission errors of a just-written policy or role for at most this long
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        propagation_timeout: u64,
    },
    /// Remove everything ferry manages: functions, then policies, then repositories
    Destroy {
        /// Do not ask for confirmation
        #[arg(long)]
        auto_approve: bool,
        /// How many independent steps run at once
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
        parallelism: u16,
    },
    /// Adopt an existing resource into state: function.KEY NAME, repository.KEY NAME,
    /// repository_policy.KEY REPOSITORY-NAME
    Import { address: Address, id: String },
    /// Preflight: for every function, would Lambda be allowed to pull its image? Explains each no
    Check {
        /// Print the verdicts as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the repository policy ferry would write
    Policy {
        /// Repository key (or ECR name)
        repository: String,
    },
    /// The plan's dependency graph as Graphviz DOT
    Graph,
    /// Read and edit the state
    #[command(subcommand)]
    State(StateCommand),
    /// Remove the record of a state lock whose holder is gone (a running holder is refused)
    ForceUnlock {
        /// The lock id, as the "in use" error names it
        lock_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum StateCommand {
    /// Every address in state (with -v: lineage, serial and where each resource lives)
    List,
    /// One resource's recorded attributes (sensitive values redacted)
    Show { address: Address },
    /// Forget a resource without deleting it
    Rm { address: Address },
    /// Give a resource a new address after renaming its key in the declarations (a repository
    /// takes its policy along); the next apply updates its ferry:address tag
    Mv {
        source: Address,
        destination: Address,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    let printer = Printer::new(cli.no_color);
    init_logging(cli.verbose, printer.err.color);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, printer)) {
        Ok(code) => code,
        // The reader of stdout stopped (`| head`): nothing more to say, and no failure.
        Err(e) if e.chain().any(|c| c.is::<output::StdoutClosed>()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e, printer.err);
            ExitCode::FAILURE
        }
    }
}

/// `--help` and `--version` print and exit 0; any other usage error exits 1, as Terraform's
/// do: 2 is kept for "changes present" under `--detailed-exitcode`, so a typo in a pipeline is
/// never read as a diff.
fn usage(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    // clap writes help to stdout and errors to stderr; a closed stream is not worth a panic.
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

fn init_logging(verbose: u8, color: bool) {
    let level = match verbose {
        0 => "ferry=warn",
        1 => "ferry=info",
        2 => "ferry=debug,aws_config=info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(color)
        .try_init();
}

fn report(e: &anyhow::Error, p: Painter) {
    let err = p.paint(
        anstyle::Style::new()
            .bold()
            .fg_color(Some(anstyle::AnsiColor::Red.into())),
        "error:",
    );
    // Declarations diagnostics render themselves with snippets.
    if let Some(LoadError::Invalid(d)) = e.downcast_ref::<LoadError>() {
        err!("{}", d.render(p.color));
        return;
    }
    errln!("{err} {e}");
    for cause in e.chain().skip(1) {
        errln!("  Caused by: {cause}");
    }
    if let Some(hint) = hint_of(e) {
        let label = p.paint(
            anstyle::Style::new()
                .bold()
                .fg_color(Some(anstyle::AnsiColor::Cyan.into())),
            "hint:",
        );
        errln!("{label} {hint}");
    }
}

/// The first hint anywhere in an error's chain.
fn hint_of(e: &anyhow::Error) -> Option<String> {
    e.chain().find_map(|c| {
        c.downcast_ref::<crate::cloud::CloudError>()
            .and_then(crate::cloud::CloudError::hint)
            .or_else(|| c.downcast_ref::<Hinted>().and_then(|h| h.hint.clone()))
    })
}

/// An error of the CLI's own, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Hinted {
    message: String,
    hint: Option<String>,
}

async fn run(cli: Cli, ctx: Printer) -> anyhow::Result<ExitCode> {
    // A command that changes something finishes it even when the reader of stdout stopped.
    let ctx = match &cli.command {
        Command::Plan { out: Some(_), .. }
        | Command::Apply { .. }
        | Command::Destroy { .. }
        | Command::Import { .. }
        | Command::ForceUnlock { .. } => ctx.finishing(),
        // Its verdicts are its exit code: a denial is still reported when nobody reads stdout.
        Command::Check { .. } => ctx.finishing(),
        _ => ctx,
    };
    match &cli.command {
        Command::Validate => validate(&cli, ctx).await,
        Command::Plan {
            detailed_exitcode,
            out,
            json,
            markdown,
            target,
        } => {
            let (decls, state) = open(&cli, "plan")?;
            let cloud = AwsCloud::new(decls.desired.accounts.clone());
            let mut plan = make_plan(&decls, &state, &cloud, target, ctx).await?;
            crate::coverage::refuse_unread(&mut plan, &state.snapshot()?, &decls.sources);
            let printed = if *json {
                outln!(
                    ctx,
                    "{}",
                    serde_json::to_string_pretty(&render::plan_json(&plan))?
                )
            } else if *markdown {
                out!(ctx, "{}", render::plan_markdown(&plan))
            } else {
                out!(ctx, "{}", render::plan_text(&plan, ctx.out))
            };
            // A reader that stopped early still hears of the plan's errors (on stderr).
            err!("{}", render::warnings_text(&plan.warnings, ctx.err));
            if !plan.errors.is_empty() {
                err!("{}", render::errors_text(&plan.errors, ctx.err));
                return Ok(ExitCode::FAILURE);
            }
            printed?;
            if let Some(path) = out {
                saved_plan::save(
                    path,
                    &plan,
                    &decls.desired,
                    &decls.sources,
                    &state.snapshot()?.secret_key,
                )?;
                errln!(
                    "Saved the plan to {}. To perform exactly these actions, run: ferry apply {}",
                    path.display(),
                    path.display()
                );
            }
            Ok(if *detailed_exitcode && plan.has_changes() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Apply {
            planfile,
            auto_approve,
            parallelism,
            target,
            no_rollback,
            propagation_timeout,
        } => {
            let options = apply::Options {
                parallelism: usize::from(*parallelism),
                rollback: !no_rollback,
                propagation_timeout: Duration::from_secs(*propagation_timeout),
                ..apply::Options::default()
            };
            let (decls, state) = open(&cli, "apply")?;
            let options = apply::Options {
                declared_in: decls.desired.declared_in.clone(),
                ..options
            };
            let cloud = AwsCloud::new(decls.desired.accounts.clone());
            let (plan, approved) = match planfile {
                Some(path) => {
                    warn_if_interrupted(&state, ctx)?;
                    let snap = state.snapshot()?;
                    let plan = saved_plan::load(path, &decls.desired, &decls.sources, &snap)?;
                    out!(ctx, "{}", render::plan_text(&plan, ctx.out))?;
                    // Saving the plan was the review; like Terraform, a saved plan is not asked again.
                    (plan, true)
                }
                None => {
                    let mut plan = make_plan(&decls, &state, &cloud, target, ctx).await?;
                    crate::coverage::refuse_unread(&mut plan, &state.snapshot()?, &decls.sources);
                    out!(ctx, "{}", render::plan_text(&plan, ctx.out))?;
                    (plan, *auto_approve)
                }
            };
            execute(&plan, &cloud, &state, ctx, approved, &options, Verb::Apply).await
        }
        Command::Destroy {
            auto_approve,
            parallelism,
        } => {
            let decls = match &cli.config {
                Some(path) => declarations::load_for_destroy(path)?,
                None => declarations::load_current_dir(false)?,
            };
            let state = open_state(&cli, "destroy")?;
            let cloud = AwsCloud::new(decls.desired.accounts.clone());
            let nothing = Declarations {
                desired: crate::model::Desired {
                    repositories: Default::default(),
                    images: Default::default(),
                    functions: Default::default(),
                    purpose: crate::model::Purpose::Destroy,
                    ..decls.desired.clone()
                },
                sources: decls.sources.clone(),
            };
            let plan = make_plan(&nothing, &state, &cloud, &[], ctx).await?;
            out!(ctx, "{}", render::plan_text(&plan, ctx.out))?;
            let options = apply::Options {
                parallelism: usize::from(*parallelism),
                // A destroy creates nothing, so no CreateFunction can fail and ask for a rollback.
                rollback: false,
                ..apply::Options::default()
            };
            execute(
                &plan,
                &cloud,
                &state,
                ctx,
                *auto_approve,
                &options,
                Verb::Destroy,
            )
            .await
        }
        Command::Import { address, id } => {
            let (decls, state) = open(&cli, "import")?;
            let cloud = AwsCloud::new(decls.desired.accounts.clone());
            let record =
                import::read(&decls.desired, &state.snapshot()?, &cloud, address, id).await?;
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
        Command::Check { json } => check_command(&cli, ctx, *json).await,
        Command::Policy { repository } => {
            let decls = load(&cli)?;
            let desired = &decls.desired;
            let repo = desired
                .repositories
                .get(repository)
                .or_else(|| {
                    desired
                        .repositories
                        .values()
                        .find(|r| &r.name == repository)
                })
                .with_context(|| {
                    format!(
                        "repository `{repository}` is not declared (declared: {})",
                        desired
                            .repositories
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            if !repo.manage_policy {
                bail!(
                    "repository `{}` has manage_policy = false: ferry does not write its policy",
                    repo.key
                );
            }
            match policy::synthesize(desired, repo)? {
                Some(p) => outln!(ctx, "{}", policy::pretty(&p))?,
                None => errln!(
                    "repository `{}` has no consumers, shares or extra statements: ferry writes no policy for it",
                    repo.key
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph => {
            let (decls, state) = open(&cli, "graph")?;
            let cloud = AwsCloud::new(decls.desired.accounts.clone());
            let plan = make_plan(&decls, &state, &cloud, &[], ctx).await?;
            out!(ctx, "{}", graph_dot(&plan))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::State(command) => state_command(&cli, command, ctx),
        Command::ForceUnlock { lock_id } => {
            outln!(
                ctx,
                "{}",
                crate::state::sled_store::force_unlock(&cli.state, lock_id)?
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn check_command(cli: &Cli, ctx: Printer, json: bool) -> anyhow::Result<ExitCode> {
    let (decls, state) = open(cli, "check")?;
    let cloud = AwsCloud::new(decls.desired.accounts.clone());
    let snapshot = state.snapshot()?;
    let observed = refresh::refresh(&cloud, &decls.desired, &snapshot)
        .await
        .context("refreshing live state failed")?;
    let live: std::collections::BTreeMap<String, Option<String>> = decls
        .desired
        .repositories
        .values()
        .map(|r| {
            let p = observed
                .policies
                .get(&(r.target.clone(), r.name.clone()))
                .cloned()
                .flatten();
            (r.key.clone(), p)
        })
        .collect();
    let verdicts = crate::check::check_all(&decls.desired, &live);
    let warnings = crate::check::policy_warnings(&decls.desired, &live);
    let denied = verdicts.iter().filter(|v| !v.allowed).count();
    if json {
        outln!(
            ctx,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "functions": verdicts,
                "warnings": warnings,
                "denied": denied,
                "not_checked": crate::check::NOT_CHECKED,
            }))?
        )?;
    } else {
        let bold = anstyle::Style::new().bold();
        let green = bold.fg_color(Some(anstyle::AnsiColor::Green.into()));
        let red = bold.fg_color(Some(anstyle::AnsiColor::Red.into()));
        for v in &verdicts {
            let source = match v.policy {
                crate::check::PolicySource::AfterPlan => "the policy ferry will write",
                crate::check::PolicySource::Live => "the live policy (manage_policy = false)",
                crate::check::PolicySource::None => "no policy",
            };
            outln!(
                ctx,
                "{} {} ({}, {}) pulling from {}, judged against {source}",
                if v.allowed {
                    ctx.out.paint(green, "allowed")
                } else {
                    ctx.out.paint(red, "DENIED ")
                },
                ctx.out.paint(bold, &v.function.to_string()),
                v.account_id,
                v.region,
                v.repository
            )?;
            if v.allowed {
                outln!(
                    ctx,
                    "    allowed by the repository policy; not checked: {}",
                    crate::check::NOT_CHECKED.join(", ")
                )?;
            }
            for c in &v.checks {
                outln!(
                    ctx,
                    "    {} {}: {}",
                    if c.allowed { "ok  " } else { "NO  " },
                    c.requester,
                    c.explanation
                )?;
            }
            if let Some(hint) = &v.hint {
                outln!(ctx, "    hint: {}", hint.replace('\n', "\n          "))?;
            }
        }
        if verdicts.is_empty() {
            outln!(ctx, "No functions are declared.")?;
        }
        for w in &warnings {
            errln!(
                "warning: {}: {}\n  hint: {}",
                w.repository,
                w.message,
                w.hint
            );
        }
    }
    if denied > 0 {
        errln!("error: {denied} function(s) would be denied; nothing was changed");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn state_command(cli: &Cli, command: &StateCommand, ctx: Printer) -> anyhow::Result<ExitCode> {
    // Editing the state is finished even when nobody reads what it says.
    let ctx = match command {
        StateCommand::List | StateCommand::Show { .. } => ctx,
        StateCommand::Rm { .. } | StateCommand::Mv { .. } => ctx.finishing(),
    };
    let state = open_state(cli, "state")?;
    let snap = state.snapshot()?;
    match command {
        StateCommand::List => {
            if cli.verbose > 0 {
                outln!(ctx, "# lineage {} serial {}", snap.lineage, snap.serial)?;
            }
            for (address, record) in &snap.resources {
                if cli.verbose > 0 {
                    let t = record.target();
                    outln!(
                        ctx,
                        "{address}\t{} ({}, {})",
                        t.account,
                        t.account_id,
                        t.region
                    )?;
                } else {
                    outln!(ctx, "{address}")?;
                }
            }
        }
        StateCommand::Show { address } => {
            let record = snap
                .resources
                .get(address)
                .with_context(|| format!("{address} is not in the state"))?;
            let mut shown = serde_json::to_value(record)?;
            if let crate::state::Record::Function { sensitive, .. } = record {
                for key in sensitive {
                    if let Some(v) = shown.pointer_mut(&format!("/config/environment/{key}")) {
                        *v = serde_json::json!("(sensitive value)");
                    }
                }
            }
            outln!(ctx, "{}", serde_json::to_string_pretty(&shown)?)?;
        }
        StateCommand::Rm { address } => {
            if !snap.resources.contains_key(address) {
                bail!("{address} is not in the state");
            }
            state.remove(address)?;
            outln!(
                ctx,
                "Removed {address} from the state; the resource itself was not touched."
            )?;
        }
        StateCommand::Mv {
            source,
            destination,
        } => {
            let moves = state_moves(&snap, source, destination)?;
            state.rename(&moves)?;
            for (from, to) in &moves {
                outln!(ctx, "Moved {from} to {to}.")?;
            }
            outln!(
                ctx,
                "The resources were not touched; the next plan updates their ferry:address tag."
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The record moves `ferry state mv SOURCE DESTINATION` makes, or why it refuses.
fn state_moves(
    snap: &crate::state::Snapshot,
    source: &Address,
    destination: &Address,
) -> anyhow::Result<Vec<(Address, Address)>> {
    if std::mem::discriminant(source) != std::mem::discriminant(destination) {
        bail!("{source} and {destination} are different kinds of resource; a move keeps the kind");
    }
    let mut moves = vec![(source.clone(), destination.clone())];
    if let (Address::Repository(from), Address::Repository(to)) = (source, destination) {
        // The policy's address follows its repository's key.
        moves.push((
            Address::RepositoryPolicy(from.clone()),
            Address::RepositoryPolicy(to.clone()),
        ));
    }
    if !snap.resources.contains_key(source) {
        bail!("{source} is not in the state");
    }
    moves.retain(|(from, _)| snap.resources.contains_key(from));
    for (_, to) in &moves {
        if snap.resources.contains_key(to) {
            bail!(
                "{to} is already in the state; remove it first (`ferry state rm {to}`) if it is stale"
            );
        }
    }
    Ok(moves)
}

fn load(cli: &Cli) -> anyhow::Result<Declarations> {
    Ok(match &cli.config {
        Some(path) => declarations::load(path)?,
        None => declarations::load_current_dir(true)?,
    })
}

fn open(cli: &Cli, operation: &str) -> anyhow::Result<(Declarations, SledState)> {
    let decls = load(cli)?;
    let state = open_state(cli, operation)?;
    Ok((decls, state))
}

/// Opens the state, waiting up to `--lock-timeout` for another process to release it.
fn open_state(cli: &Cli, operation: &str) -> anyhow::Result<SledState> {
    let deadline = std::time::Instant::now() + Duration::from_secs(cli.lock_timeout);
    loop {
        match SledState::open(&cli.state, operation) {
            Err(crate::state::StateError::Locked { .. })
                if std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(250));
            }
            other => {
                let state = other?;
                if let Some(stale) = &state.stale_holder {
                    errln!(
                        "warning: the previous holder of this state ended without releasing it ({stale}); \
                         it was probably killed. Its lock ended with it."
                    );
                }
                return Ok(state);
            }
        }
    }
}

async fn validate(cli: &Cli, ctx: Printer) -> anyhow::Result<ExitCode> {
    let decls = load(cli)?;
    let d = &decls.desired;
    if d.accounts.values().any(|a| a.profile.is_some()) {
        let profiles = crate::cloud::profiles::Profiles::load()
            .await
            .map_err(anyhow::Error::msg)?;
        declarations::check_profiles(&decls.sources, &profiles).map_err(LoadError::Invalid)?;
    }
    for (key, synthesized) in policy::synthesize_all(d) {
        if let Err(e) = synthesized {
            let at = d
                .declared_at
                .get(&Address::Repository(key))
                .map_or(String::new(), |at| format!(" (declared at {at})"));
            bail!(
                "{e}{at}\n  hint: share with an Organization or org path instead of many accounts, or trim extra_statements"
            );
        }
    }
    // Without AWS, only extra_statements can be linted (live policies need `plan` or `check`).
    for w in crate::check::policy_warnings(d, &Default::default()) {
        errln!(
            "warning: {}: {}\n  hint: {}",
            w.repository,
            w.message,
            w.hint
        );
    }
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

/// Warns when the journal shows that the previous apply did not reach its end, and returns
/// what it left in flight.
fn warn_if_interrupted(
    state: &dyn StateStore,
    ctx: Printer,
) -> anyhow::Result<Option<crate::state::Interruption>> {
    let Some(i) = crate::state::interruption(&state.journal()?) else {
        return Ok(None);
    };
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
        ctx.err.paint(
            anstyle::Style::new()
                .bold()
                .fg_color(Some(anstyle::AnsiColor::Yellow.into())),
            "Warning:"
        ),
    );
    Ok(Some(i))
}

async fn make_plan(
    decls: &Declarations,
    state: &dyn StateStore,
    cloud: &dyn Cloud,
    targets: &[Address],
    ctx: Printer,
) -> anyhow::Result<Plan> {
    let mut snapshot = state.snapshot()?;
    if let Some(i) = warn_if_interrupted(state, ctx)? {
        snapshot.interrupted = i.in_flight.into_iter().collect();
    }
    for t in targets {
        let known = snapshot.resources.contains_key(t)
            || match t {
                Address::Repository(k) | Address::RepositoryPolicy(k) => {
                    decls.desired.repositories.contains_key(k)
                }
                Address::Function(k) => decls.desired.functions.contains_key(k),
                Address::Image(k) => decls.desired.images.contains_key(k),
                Address::Registry(k) => decls.desired.registries.contains_key(k),
            };
        if !known {
            bail!("--target {t}: no such resource is declared or in the state");
        }
    }
    let observed = refresh::refresh(cloud, &decls.desired, &snapshot)
        .await
        .context("refreshing live state failed")?;
    let plan = planner::plan(&decls.desired, &snapshot, &observed);
    if targets.is_empty() {
        return Ok(plan);
    }
    errln!(
        "{} the plan covers only {} and what they depend on; the declarations may not be fully applied.",
        ctx.err.paint(
            anstyle::Style::new()
                .bold()
                .fg_color(Some(anstyle::AnsiColor::Yellow.into())),
            "Warning: resource targeting is in effect:"
        ),
        targets
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(planner::restrict(plan, &decls.desired, targets))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Apply,
    Destroy,
}

/// Confirms (unless approved) and runs a plan that was already printed.
async fn execute(
    plan: &Plan,
    cloud: &dyn Cloud,
    state: &SledState,
    ctx: Printer,
    approved: bool,
    options: &apply::Options,
    verb: Verb,
) -> anyhow::Result<ExitCode> {
    err!("{}", render::warnings_text(&plan.warnings, ctx.err));
    if !plan.errors.is_empty() {
        err!("{}", render::errors_text(&plan.errors, ctx.err));
        bail!("the plan has errors; nothing was changed");
    }
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !approved {
        confirm(verb)?;
    }
    let observer = Progress::new(ctx.err);
    let outcome = apply::execute(plan, cloud, state, options, &observer).await;
    let (add, change, destroy) = count_completed(plan, &outcome.completed);
    if outcome.succeeded() {
        let (title, counts) = match verb {
            Verb::Apply => (
                "Apply complete!",
                format!("{add} added, {change} changed, {destroy} destroyed"),
            ),
            Verb::Destroy => ("Destroy complete!", format!("{destroy} destroyed")),
        };
        outln!(
            ctx,
            "\n{} Resources: {counts}.",
            ctx.out.paint(
                anstyle::Style::new()
                    .bold()
                    .fg_color(Some(anstyle::AnsiColor::Green.into())),
                title
            )
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    for (id, e) in &outcome.failed {
        errln!(
            "{} [{}] {}: {e}",
            ctx.err.paint(anstyle::Style::new().bold(), "failed:"),
            id + 1,
            plan.steps[*id].address
        );
    }
    if let Some((id, e)) = &outcome.state_error {
        errln!(
            "failed: [{}] {} succeeded in AWS but could not be recorded: {e}",
            id + 1,
            plan.steps[*id].address
        );
    }
    let cause = outcome
        .failed
        .first()
        .map(|(id, e)| format!("{}: {e}", plan.steps[*id].address))
        .unwrap_or_else(|| "a state write failed".to_string());
    let hint = outcome.failed.first().and_then(|(_, e)| e.hint());
    let failed = |message: String| -> anyhow::Result<ExitCode> {
        Err(Hinted {
            message,
            hint: hint.clone(),
        }
        .into())
    };
    if let Some(rb) = &outcome.rollback {
        for (id, e) in &rb.failed {
            errln!(
                "not rolled back: [{}] {}: {e}",
                id + 1,
                plan.steps[*id].address
            );
        }
        for (id, why) in &rb.kept {
            errln!(
                "not rolled back: [{}] {}: {why}",
                id + 1,
                plan.steps[*id].address
            );
        }
        if rb.failed.is_empty() && rb.kept.is_empty() {
            return failed(format!(
                "apply failed and was rolled back: {cause}\nAll {} change(s) this apply made were undone \
                 and the state records it; nothing else was changed.",
                rb.undone.len()
            ));
        }
        return failed(format!(
            "apply failed: {cause}\nThe rollback undid {} change(s) but {} could not be undone (listed above); \
             run `ferry plan` to see what is left, fix the cause and apply again",
            rb.undone.len(),
            rb.failed.len() + rb.kept.len()
        ));
    }
    failed(format!(
        "apply failed: {cause}\n{} step(s) completed and are recorded in state ({add} added, {change} changed, \
         {destroy} destroyed); {} step(s) were not started. Fix the error and run `ferry apply` again: it continues \
         from what is recorded.",
        outcome.completed.len(),
        outcome.skipped.len()
    ))
}

fn count_completed(plan: &Plan, completed: &[usize]) -> (usize, usize, usize) {
    let done = Plan {
        steps: plan
            .steps
            .iter()
            .filter(|s| completed.contains(&s.id))
            .cloned()
            .collect(),
        ..plan.clone()
    };
    done.counts()
}

fn confirm(verb: Verb) -> anyhow::Result<()> {
    let what = match verb {
        Verb::Apply => "apply",
        Verb::Destroy => "destroy",
    };
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to {what} without confirmation: standard input is not a terminal. \
             Review the plan and pass --auto-approve to {what} non-interactively"
        );
    }
    let question = match verb {
        Verb::Apply => "Do you want to perform these actions?",
        Verb::Destroy => "Do you really want to destroy everything ferry manages here?",
    };
    err!("\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != "yes" {
        bail!("{what} cancelled: nothing was changed");
    }
    Ok(())
}

/// Progress on stderr: on a terminal a live view of the running steps (account, address,
/// elapsed time), otherwise one line per finished step. Nothing goes to stdout.
struct Progress {
    p: Painter,
    live: Option<LiveView>,
}

/// Running steps grouped by account: a heading line per account (account key, id and region)
/// with its running steps beneath, each with its elapsed time.
struct LiveView {
    bars: indicatif::MultiProgress,
    running: std::sync::Mutex<Running>,
}

#[derive(Default)]
struct Running {
    steps: std::collections::HashMap<usize, indicatif::ProgressBar>,
    /// Per account and region: its heading and how many of its steps run.
    accounts: std::collections::HashMap<(String, String), (indicatif::ProgressBar, usize)>,
}

fn step_line(step: &Step) -> String {
    format!(
        "[{}] {} being {}",
        step.id + 1,
        step.address,
        step.action.verb()
    )
}

impl Progress {
    fn new(p: Painter) -> Self {
        let live = std::io::stderr().is_terminal().then(|| LiveView {
            bars: indicatif::MultiProgress::with_draw_target(
                indicatif::ProgressDrawTarget::stderr(),
            ),
            running: std::sync::Mutex::new(Running::default()),
        });
        Progress { p, live }
    }

    /// Prints a line above the live view (or plainly without one).
    fn line(&self, text: String) {
        match &self.live {
            Some(live) => {
                let _ = live.bars.println(text);
            }
            None => errln!("{text}"),
        }
    }

    fn address(&self, step: &Step) -> String {
        self.p
            .paint(anstyle::Style::new().bold(), &step.address.to_string())
    }
}

impl Observer for Progress {
    fn started(&self, step: &Step) {
        tracing::info!(
            "[{}] {}: {:?} started",
            step.id + 1,
            step.address,
            step.action
        );
        if let Some(live) = &self.live
            && let Ok(mut running) = live.running.lock()
        {
            let account = (step.target.account.clone(), step.target.region.clone());
            let (heading, count) = running.accounts.entry(account).or_insert_with(|| {
                let heading = live.bars.add(indicatif::ProgressBar::new_spinner());
                heading.set_style(
                    indicatif::ProgressStyle::with_template("{msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                heading.set_message(format!(
                    "{} ({}, {}):",
                    step.target.account, step.target.account_id, step.target.region
                ));
                (heading, 0)
            });
            *count += 1;
            let bar = live
                .bars
                .insert_after(heading, indicatif::ProgressBar::new_spinner());
            bar.set_style(
                indicatif::ProgressStyle::with_template("  {spinner} {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.set_message(step_line(step));
            bar.enable_steady_tick(Duration::from_millis(120));
            running.steps.insert(step.id, bar);
        }
    }

    fn finished(&self, step: &Step, result: &Result<(), String>, elapsed: Duration) {
        if let Some(live) = &self.live
            && let Ok(mut running) = live.running.lock()
            && let Some(bar) = running.steps.remove(&step.id)
        {
            bar.finish_and_clear();
            live.bars.remove(&bar);
            let account = (step.target.account.clone(), step.target.region.clone());
            if let Some((heading, count)) = running.accounts.get_mut(&account) {
                *count -= 1;
                if *count == 0 {
                    heading.finish_and_clear();
                    live.bars.remove(heading);
                    running.accounts.remove(&account);
                }
            }
        }
        let secs = elapsed.as_secs_f64();
        let address = self.address(step);
        self.line(match result {
            Ok(()) => format!(
                "[{}] {address}: {} ({secs:.1}s)",
                step.id + 1,
                step.action.verb()
            ),
            Err(e) => format!("[{}] {address}: FAILED after {secs:.1}s: {e}", step.id + 1),
        });
    }

    /// On a terminal the step's line says it is waiting for permissions to propagate (with
    /// `-v`, the log says it on every run).
    fn retrying(
        &self,
        step: &Step,
        error: &crate::cloud::CloudError,
        attempt: u32,
        wait: Duration,
    ) {
        if let Some(live) = &self.live
            && let Ok(running) = live.running.lock()
            && let Some(bar) = running.steps.get(&step.id)
        {
            bar.set_message(format!(
                "{}: {} (attempt {attempt}), retrying in {:.0}s while permissions propagate",
                step_line(step),
                error.code().unwrap_or("error"),
                wait.as_secs_f64()
            ));
        }
    }

    fn undone(&self, step: &Step, result: &Result<(), String>) {
        let address = self.address(step);
        self.line(match result {
            Ok(()) => format!("[{}] {address}: rolled back", step.id + 1),
            Err(e) => format!("[{}] {address}: could NOT be rolled back: {e}", step.id + 1),
        });
    }
}

/// The plan's steps and their dependencies as Graphviz DOT.
pub fn graph_dot(plan: &Plan) -> String {
    let mut out = String::from("digraph ferry {\n  rankdir = LR;\n  node [shape = box];\n");
    for s in &plan.steps {
        let color = match s.action {
            planner::Action::Create => "green",
            planner::Action::Update => "orange",
            planner::Action::Replace => "purple",
            planner::Action::Delete => "red",
            planner::Action::Adopt => "blue",
            planner::Action::Move => "gray",
        };
        out.push_str(&format!(
            "  \"{}\" [label = \"{} {}\", color = {color}];\n",
            s.address,
            s.action.symbol(),
            s.address
        ));
    }
    for s in &plan.steps {
        for d in &s.depends_on {
            out.push_str(&format!(
                "  \"{}\" -> \"{}\";\n",
                plan.steps[*d].address, s.address
            ));
        }
    }
    out.push_str("}\n");
    out
}
