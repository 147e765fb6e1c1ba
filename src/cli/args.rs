//! The command line, as clap types only: no behaviour, so that shell completions and a man page
//! can be generated from it.

use crate::model::Address;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "ferry",
    version = crate::version::LINE,
    about = "Declarative reconciler for container-image Lambda functions and their ECR repositories",
    long_about = None
)]
pub struct Cli {
    /// Declarations: one .toml file or a directory of them [default: every *.toml of the
    /// current directory]
    #[arg(short = 'c', long = "config", global = true)]
    pub config: Option<PathBuf>,
    /// State directory
    #[arg(long, env = "FERRY_STATE", default_value = "state", global = true)]
    pub state: PathBuf,
    /// Never colour the output (NO_COLOR is honoured too)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More logging on stderr (-v, -vv, -vvv)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Wait this long for another ferry process to release the state
    #[arg(long, value_name = "SECONDS", default_value_t = 0, global = true)]
    pub lock_timeout: u64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
        /// Plan only this address and what it depends on (repeatable); also a pattern
        /// (`function.api[*]`, `function.*[prod]`) or every resource of an account (`account:prod`)
        #[arg(long, value_name = "ADDR")]
        target: Vec<crate::model::TargetPattern>,
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
        /// Apply only this address and what it depends on (repeatable); also a pattern
        /// (`function.api[*]`, `function.*[prod]`) or every resource of an account (`account:prod`)
        #[arg(long, value_name = "ADDR", conflicts_with = "planfile")]
        target: Vec<crate::model::TargetPattern>,
        /// Keep completed steps when a CreateFunction fails (default: undo this apply's changes)
        #[arg(long, conflicts_with = "rollback_scope")]
        no_rollback: bool,
        /// What a failed CreateFunction undoes: the whole apply, or only the changes in the
        /// account where it failed (the other accounts, and shared registry policies, keep theirs)
        #[arg(long, value_enum, value_name = "SCOPE")]
        rollback_scope: Option<RollbackScope>,
        /// Keep going in the other accounts until more than N accounts have failed (a failed
        /// account starts nothing more); needs `--rollback-scope account` or `--no-rollback`
        #[arg(long, value_name = "N", default_value_t = 0)]
        failure_tolerance: usize,
        /// Retry the permission errors of a just-written policy or role for at most this long
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        propagation_timeout: u64,
        /// Wait at most this long for replicas to hold the digests their functions will pull
        #[arg(long, value_name = "SECONDS", conflicts_with = "planfile")]
        wait_for_replication: Option<u64>,
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
    /// repository_policy.KEY REPOSITORY-NAME; or, with --all-tagged PATTERN, every declared
    /// resource matching PATTERN that carries this project's ownership tags
    Import {
        #[arg(required_unless_present = "all_tagged", requires = "id")]
        address: Option<Address>,
        id: Option<String>,
        /// Find the resources by their ownership tags instead (as `state rebuild` does), for
        /// the addresses PATTERN matches (`function.api[*]`, `account:prod`, ...)
        #[arg(long, value_name = "PATTERN", conflicts_with = "address")]
        all_tagged: Option<crate::model::TargetPattern>,
        /// With --all-tagged: record what was found without asking
        #[arg(long)]
        auto_approve: bool,
    },
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
    /// The whole estate (declared and in state) by account and region, pending changes marked,
    /// as Graphviz DOT or Mermaid
    Graph {
        /// dot (Graphviz) or mermaid (GitHub renders it in a pull-request comment)
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Read and edit the state
    #[command(subcommand)]
    State(StateCommand),
    /// Remove the record of a state lock whose holder is gone (a running holder is refused)
    ForceUnlock {
        /// The lock id, as the "in use" error names it
        lock_id: String,
    },
    // --- eco (issue 15): ferry among the tools around it ---
    /// Print a shell completion script: `ferry completions bash > /etc/bash_completion.d/ferry`
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `ferry man > ferry.1 && man ./ferry.1`
    Man,
    /// Print a saved plan as `plan` does, or (without a file) every resource the state holds;
    /// no AWS calls
    Show {
        /// A plan saved with `ferry plan --out FILE`
        planfile: Option<PathBuf>,
        /// Print JSON (a plan in docs/plan.schema.json's format) instead of text
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of the declarations, for editors: `ferry schema > ferry.schema.json`
    Schema,
    /// Rewrite declaration files in the canonical layout (comments kept, meaning unchanged)
    Fmt {
        /// Change nothing: name the files that would change and exit 1 if there are any
        #[arg(long)]
        check: bool,
        /// A .toml file or a directory of them [default: -c, or the current directory]
        path: Option<PathBuf>,
    },
    // --- end eco ---
}

/// The output of `ferry graph`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
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
    /// Print the whole state as JSON (the document an S3 state keeps; no secret key)
    Pull,
    /// Replace the state with a JSON file from `state pull`; another lineage, an older serial,
    /// or other records at the same serial are refused without --force
    Push {
        file: PathBuf,
        /// Replace the state even so
        #[arg(long)]
        force: bool,
    },
    /// Find the state again from ownership tags: search the declared accounts and regions for
    /// this project's resources, show what would be recorded, and record it on confirmation
    Rebuild {
        /// Record without asking
        #[arg(long)]
        auto_approve: bool,
    },
    /// Move the local state (`--state DIR`) into the S3 key `[project.state]` declares, which
    /// must hold no state yet
    Migrate {
        /// The backend to move to
        #[arg(long, value_enum)]
        to: MigrateTarget,
    },
}

/// Where `ferry state migrate` moves the state.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrateTarget {
    S3,
}

/// `--rollback-scope`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RollbackScope {
    /// Undo every change of the apply (the default: an apply is one change)
    Apply,
    /// Undo only the failed account's changes
    Account,
}
