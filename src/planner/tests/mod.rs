//! The deciders as tables, on plain data: declarations from the same two-account file the
//! integration tests use (`tests/fixtures/two-accounts.toml`), state and live resources written
//! out, no cloud. Each row is one situation and the decision it gets.

mod function;
mod images;
mod orphans;
mod policy;
mod replication;
mod repository;

use super::Planner;
use super::ownership::renames;
use crate::declarations::{Source, parse_sources};
use crate::model::Desired;
use crate::refresh::Observed;
use crate::state::Snapshot;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// One registry account, one consumer account, repository and image `hello`, function
/// `hello-world` in the consumer account.
const GOOD: &str = include_str!("../../../tests/fixtures/two-accounts.toml");

/// Valid declarations from one file's text (panics with the rendered diagnostics otherwise).
fn desired(text: &str) -> Desired {
    let sources = [Source {
        path: PathBuf::from("ferry.toml"),
        text: Arc::new(text.to_string()),
    }];
    parse_sources(&sources, &|_| None).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

/// A planner over plain data, with renamed keys found as `plan` finds them (no moves).
fn planner<'a>(desired: &'a Desired, state: &'a Snapshot, observed: &'a Observed) -> Planner<'a> {
    Planner {
        desired,
        state,
        observed,
        drafts: Vec::new(),
        errors: Vec::new(),
        unchanged: Vec::new(),
        renames: renames(desired, state),
        moved_into: BTreeMap::new(),
        policies: crate::policy::synthesize_all(desired),
    }
}

/// The first `words` words of a refusal's message, to name it in a table.
fn refused(error: &crate::planner::PlanError, words: usize) -> String {
    format!("refused: {}", first_words(&error.message, words))
}

fn first_words(text: &str, words: usize) -> String {
    text.split(' ').take(words).collect::<Vec<_>>().join(" ")
}
