//! Helpers for tests on plain data (no emulator): declarations from TOML text, a quiet
//! observer, and an in-memory state with a lineage.
#![allow(dead_code)]

use ferry::apply::Observer;
use ferry::declarations::{Source, parse_sources};
use ferry::model::Desired;
use ferry::planner::Step;
use ferry::state::{MemoryState, Snapshot};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub fn sources(files: &[(&str, &str)]) -> Vec<Source> {
    files
        .iter()
        .map(|(p, t)| Source {
            path: PathBuf::from(p),
            text: Arc::new(t.to_string()),
        })
        .collect()
}

/// Valid declarations from one file's text (panics with the rendered diagnostics otherwise).
pub fn desired(text: &str) -> Desired {
    parse_sources(&sources(&[("ferry.toml", text)]), &|_| None)
        .unwrap_or_else(|d| panic!("{}", d.render(false)))
}

pub struct Quiet;

impl Observer for Quiet {
    fn started(&self, _: &Step) {}
    fn finished(&self, _: &Step, _: &Result<(), String>, _: Duration) {}
}

pub fn lineage_state() -> MemoryState {
    MemoryState::new(Snapshot {
        lineage: "test-lineage".into(),
        secret_key: b"a test key, not a secret".to_vec(),
        ..Snapshot::default()
    })
}
