//! Stage: cli. Clap and wiring only: [`args`] parses the command line, [`commands`] has one
//! short function per subcommand over the shared [`session`](crate::session), [`output`]
//! decides what goes to stdout (data: plans, policies, state listings) and what to stderr
//! (progress, diagnostics), [`progress`] shows an apply as it runs. This file holds `main`,
//! logging, the error report and the dispatch. The only module that uses `anyhow`; it makes
//! no domain decisions and renders nothing itself (see [`render`](crate::render)).

use crate::declarations::LoadError;
use crate::render::Painter;
use args::{Cli, Command, StateCommand};
use clap::Parser;
use output::{Printer, err, errln, style};
use std::process::ExitCode;

pub mod args;
pub(crate) mod commands;
pub(crate) mod output;
pub(crate) mod progress;
pub(crate) mod prompt;

/// The DOT renderer lives in [`crate::render::dot`]; this path is kept for callers.
pub use crate::render::graph_dot;

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
    let err = p.paint(style::ERROR, "error:");
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
        let label = p.paint(style::HINT, "hint:");
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
pub(crate) struct Hinted {
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
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
        Command::Validate => commands::validate::run(&cli, ctx).await,
        Command::Plan {
            detailed_exitcode,
            out,
            json,
            markdown,
            target,
        } => {
            let options = commands::plan::Options {
                detailed_exitcode: *detailed_exitcode,
                out,
                json: *json,
                markdown: *markdown,
                target,
            };
            commands::plan::run(&cli, ctx, options).await
        }
        Command::Apply {
            planfile,
            auto_approve,
            parallelism,
            target,
            no_rollback,
            rollback_scope,
            failure_tolerance,
            propagation_timeout,
            wait_for_replication,
        } => {
            let options = commands::apply::Options {
                planfile,
                auto_approve: *auto_approve,
                parallelism: *parallelism,
                target,
                no_rollback: *no_rollback,
                rollback_scope: *rollback_scope,
                failure_tolerance: *failure_tolerance,
                propagation_timeout: *propagation_timeout,
                wait_for_replication: *wait_for_replication,
            };
            commands::apply::run(&cli, ctx, options).await
        }
        Command::Destroy {
            auto_approve,
            parallelism,
        } => commands::destroy::run(&cli, ctx, *auto_approve, *parallelism).await,
        Command::Import {
            address: Some(address),
            id: Some(id),
            ..
        } => commands::import::run(&cli, ctx, address, id).await,
        Command::Import {
            all_tagged: Some(pattern),
            auto_approve,
            ..
        } => {
            let patterns = std::slice::from_ref(pattern);
            commands::rebuild::run(&cli, ctx, *auto_approve, patterns).await
        }
        Command::Import { .. } => {
            anyhow::bail!("ferry import needs ADDRESS ID or --all-tagged PATTERN")
        }
        Command::Check { json } => commands::check::run(&cli, ctx, *json).await,
        Command::Policy { repository } => commands::policy::run(&cli, ctx, repository),
        Command::Graph { format } => commands::graph::run(&cli, ctx, *format).await,
        Command::State(StateCommand::Rebuild { auto_approve }) => {
            commands::rebuild::run(&cli, ctx.finishing(), *auto_approve, &[]).await
        }
        Command::State(command) => commands::state::run(&cli, command, ctx),
        Command::ForceUnlock { lock_id } => commands::force_unlock::run(&cli, ctx, lock_id),
        // --- eco (issue 15) ---
        Command::Completions { shell } => commands::completions::run(ctx, *shell),
        Command::Man => commands::man::run(ctx),
        Command::Schema => commands::schema::run(ctx),
        Command::Fmt { check, path } => {
            let path = path.as_deref().or(cli.config.as_deref());
            commands::fmt::run(ctx, *check, path.unwrap_or(std::path::Path::new(".")))
        }
        Command::Show { planfile, json } => {
            commands::show::run(&cli, ctx, *json, planfile.as_deref())
        } // --- end eco ---
    }
}
