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

/// A state snapshot written out directly (with a lineage and a secret key, as `lineage_state`).
pub fn snapshot(
    records: impl IntoIterator<Item = (ferry::model::Address, ferry::state::Record)>,
) -> Snapshot {
    Snapshot {
        lineage: "test-lineage".into(),
        secret_key: b"a test key, not a secret".to_vec(),
        resources: records.into_iter().collect(),
        ..Snapshot::default()
    }
}

/// An `Observed` written out directly, without refreshing a cloud: what is live, by place.
#[derive(Default)]
pub struct Live(pub ferry::refresh::Observed);

impl Live {
    /// A live repository (`images`: whether it holds images).
    pub fn repository(
        mut self,
        target: &ferry::model::Target,
        config: ferry::cloud::RepositoryConfig,
        images: bool,
    ) -> Self {
        let place = ferry::model::Place::new(target, &config.name);
        self.0.has_images.insert(place.clone(), images);
        self.0.repositories.insert(place, Some(config));
        self
    }

    /// A repository looked up and found absent.
    pub fn no_repository(mut self, target: &ferry::model::Target, name: &str) -> Self {
        self.0
            .repositories
            .insert(ferry::model::Place::new(target, name), None);
        self
    }

    /// A repository's live policy text (`None`: it has none).
    pub fn policy(mut self, target: &ferry::model::Target, name: &str, text: Option<&str>) -> Self {
        self.0.policies.insert(
            ferry::model::Place::new(target, name),
            text.map(str::to_string),
        );
        self
    }

    /// A live function (`None`: looked up and absent).
    pub fn function(
        mut self,
        target: &ferry::model::Target,
        name: &str,
        config: Option<ferry::cloud::FunctionConfig>,
    ) -> Self {
        let live = config.map(|config| ferry::cloud::LiveFunction {
            config,
            arn: String::new(),
        });
        self.0
            .functions
            .insert(ferry::model::Place::new(target, name), live);
        self
    }

    /// What the registry answers for a declared image.
    pub fn image(mut self, key: &str, lookup: ferry::cloud::ImageLookup) -> Self {
        self.0.images.insert(key.to_string(), lookup);
        self
    }

    pub fn build(self) -> ferry::refresh::Observed {
        self.0
    }
}

/// The blog's two-account project: one registry, one repository, one image, one function.
/// (The planner's own decider tables read the same file.)
pub const GOOD: &str = include_str!("../fixtures/two-accounts.toml");

/// `GOOD` up to its image: the accounts, the registry and the repository alone.
pub fn repository_only() -> &'static str {
    GOOD.split_once("[images.hello]")
        .map_or(GOOD, |(head, _)| head)
}
