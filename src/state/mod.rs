//! Stage: state. The last-applied attributes of every managed resource, a lineage and a serial,
//! behind the small [`StateStore`] trait so that a shared backend (S3, for pipelines) can come
//! later without touching the planner or the executor.
//!
//! [`sled_store::SledState`] is the embedded database in `--state DIR`; [`MemoryState`] serves
//! tests. Sensitive environment values never reach a store in clear: [`Record::redacted`] keeps
//! only a keyed hash, so a changed value is still noticed.

pub mod sled_store;

use crate::cloud::{FunctionConfig, RepositoryConfig};
use crate::model::{Address, Target};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// The format of records this binary writes; a newer one on disk is refused.
pub const FORMAT_VERSION: u64 = 1;

/// What ferry last applied for one address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Repository {
        target: Target,
        config: RepositoryConfig,
        force_delete: bool,
    },
    RepositoryPolicy {
        target: Target,
        /// The ECR repository name.
        repository: String,
        policy: String,
    },
    Function {
        target: Target,
        /// The key of the repository its image comes from, for ordering deletes.
        repository: String,
        config: FunctionConfig,
        sensitive: BTreeSet<String>,
    },
}

impl Record {
    pub fn target(&self) -> &Target {
        match self {
            Record::Repository { target, .. }
            | Record::RepositoryPolicy { target, .. }
            | Record::Function { target, .. } => target,
        }
    }

    /// The AWS resource the record stands for: its kind (as in addresses), account id, region
    /// and name (a policy's is its repository's). Two records with one identity are one resource.
    pub fn identity(&self) -> (&'static str, &str, &str, &str) {
        let (kind, name) = match self {
            Record::Repository { config, .. } => ("repository", config.name.as_str()),
            Record::RepositoryPolicy { repository, .. } => {
                ("repository_policy", repository.as_str())
            }
            Record::Function { config, .. } => ("function", config.name.as_str()),
        };
        let t = self.target();
        (kind, &t.account_id, &t.region, name)
    }

    /// The record with every sensitive environment value replaced by its HMAC under the state's
    /// secret key.
    pub fn redacted(&self, key: &[u8]) -> Record {
        match self {
            Record::Function {
                target,
                repository,
                config,
                sensitive,
            } => {
                let mut config = config.clone();
                for name in sensitive {
                    if let Some(v) = config.environment.get_mut(name)
                        && !v.starts_with(SENSITIVE_PREFIX)
                    {
                        *v = sensitive_hash(key, name, v);
                    }
                }
                Record::Function {
                    target: target.clone(),
                    repository: repository.clone(),
                    config,
                    sensitive: sensitive.clone(),
                }
            }
            other => other.clone(),
        }
    }
}

const SENSITIVE_PREFIX: &str = "(sensitive) hmac-sha256:";

/// HMAC-SHA256 of a sensitive value under a secret key: equal values give equal hashes, so a
/// changed value is noticed, and without the key (kept apart from the records) the value cannot
/// be guessed from the hash.
pub fn sensitive_hash(key: &[u8], name: &str, value: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{SENSITIVE_PREFIX}{hex}")
}

/// The whole state at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub lineage: String,
    pub serial: u64,
    pub resources: BTreeMap<Address, Record>,
    /// The key sensitive values are hashed with. Never serialized with the records.
    #[serde(skip)]
    pub secret_key: Vec<u8>,
    /// Addresses whose calls an interrupted apply left without a recorded outcome (from the
    /// journal): what is live there may be ferry's own unrecorded work.
    #[serde(skip)]
    pub interrupted: BTreeSet<Address>,
    /// The declarations file (path as read, relative unless given absolute) that declared each
    /// recorded address when it was last applied: a plan that would delete an address whose
    /// file still exists but was not read is refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub declared_in: BTreeMap<Address, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state in {dir} is in use by another ferry process ({holder})")]
    Locked { dir: String, holder: String },
    #[error("cannot open the state in {dir}: {message}")]
    Open { dir: String, message: String },
    #[error(
        "the state in {dir} was written by a newer ferry (format {found}, this binary knows {FORMAT_VERSION})"
    )]
    NewerFormat { dir: String, found: u64 },
    #[error("the state in {dir} is damaged: {message}")]
    Corrupt { dir: String, message: String },
    #[error("cannot write the state: {0}")]
    Write(String),
}

/// What an apply was doing, written before and after every mutating call, so that the next run
/// can tell that an apply (or its rollback) was interrupted and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Identifies one apply.
    pub apply: String,
    pub phase: Phase,
    pub step: Option<usize>,
    pub address: Option<Address>,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Started,
    Intent,
    Done,
    Failed,
    UndoIntent,
    UndoDone,
    UndoFailed,
    Finished,
}

/// An apply that did not reach its end, read from the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interruption {
    pub apply: String,
    /// Calls that started and have no recorded outcome.
    pub in_flight: Vec<Address>,
    pub rolling_back: bool,
}

/// The interruption the journal shows, if its last apply never finished.
pub fn interruption(journal: &[JournalEntry]) -> Option<Interruption> {
    let last = journal.last()?;
    if last.phase == Phase::Finished {
        return None;
    }
    let apply = last.apply.clone();
    let mut open: BTreeMap<(bool, usize), Address> = BTreeMap::new();
    let mut rolling_back = false;
    for e in journal.iter().filter(|e| e.apply == apply) {
        let (Some(step), Some(address)) = (e.step, e.address.clone()) else {
            continue;
        };
        match e.phase {
            Phase::Intent => {
                open.insert((false, step), address);
            }
            Phase::UndoIntent => {
                rolling_back = true;
                open.insert((true, step), address);
            }
            Phase::Done | Phase::Failed => {
                open.remove(&(false, step));
            }
            Phase::UndoDone | Phase::UndoFailed => {
                open.remove(&(true, step));
            }
            Phase::Started | Phase::Finished => {}
        }
    }
    Some(Interruption {
        apply,
        in_flight: open.into_values().collect(),
        rolling_back,
    })
}

/// Where state lives. Every write is durable when the call returns, so a crash after a step
/// never loses that step.
pub trait StateStore: Send + Sync {
    fn snapshot(&self) -> Result<Snapshot, StateError>;
    fn put(&self, address: &Address, record: &Record) -> Result<(), StateError>;
    fn remove(&self, address: &Address) -> Result<(), StateError>;
    /// Moves records to new addresses, all or none (`ferry state mv`): a crash never leaves a
    /// record at both addresses, which the next plan would read as a resource to delete.
    fn rename(&self, moves: &[(Address, Address)]) -> Result<(), StateError>;
    /// Records which declarations file declares each of these addresses (durably; the serial is
    /// not bumped: no resource changed). Entries of addresses without a record are not shown
    /// by [`StateStore::snapshot`]; `remove` forgets an address's entry, `rename` moves it.
    fn record_files(&self, files: &BTreeMap<Address, String>) -> Result<(), StateError>;
    /// Appends to the journal of the current apply (durably).
    fn journal_append(&self, entry: &JournalEntry) -> Result<(), StateError>;
    fn journal(&self) -> Result<Vec<JournalEntry>, StateError>;
    /// Forgets the previous apply's journal (a new apply starts).
    fn journal_clear(&self) -> Result<(), StateError>;
}

/// State in memory, for tests.
#[derive(Default)]
pub struct MemoryState {
    inner: Mutex<Snapshot>,
    journal: Mutex<Vec<JournalEntry>>,
}

impl MemoryState {
    pub fn new(snapshot: Snapshot) -> Self {
        MemoryState {
            inner: Mutex::new(snapshot),
            journal: Mutex::new(Vec::new()),
        }
    }

    fn with_journal<T>(
        &self,
        f: impl FnOnce(&mut Vec<JournalEntry>) -> T,
    ) -> Result<T, StateError> {
        let mut guard = self
            .journal
            .lock()
            .map_err(|_| StateError::Write("memory journal poisoned".into()))?;
        Ok(f(&mut guard))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Snapshot) -> T) -> Result<T, StateError> {
        let mut guard = self
            .inner
            .lock()
            .map_err(|_| StateError::Write("memory state poisoned".into()))?;
        Ok(f(&mut guard))
    }
}

impl StateStore for MemoryState {
    fn snapshot(&self) -> Result<Snapshot, StateError> {
        self.with(|s| {
            let mut s = s.clone();
            let recorded = &s.resources;
            s.declared_in.retain(|a, _| recorded.contains_key(a));
            s
        })
    }

    fn record_files(&self, files: &BTreeMap<Address, String>) -> Result<(), StateError> {
        self.with(|s| {
            s.declared_in
                .extend(files.iter().map(|(a, f)| (a.clone(), f.clone())))
        })
    }

    fn put(&self, address: &Address, record: &Record) -> Result<(), StateError> {
        self.with(|s| {
            let r = record.redacted(&s.secret_key);
            s.resources.insert(address.clone(), r);
            s.serial += 1;
        })
    }

    fn remove(&self, address: &Address) -> Result<(), StateError> {
        self.with(|s| {
            s.declared_in.remove(address);
            if s.resources.remove(address).is_some() {
                s.serial += 1;
            }
        })
    }

    fn rename(&self, moves: &[(Address, Address)]) -> Result<(), StateError> {
        self.with(|s| {
            for (from, to) in moves {
                if let Some(r) = s.resources.remove(from) {
                    s.resources.insert(to.clone(), r);
                }
                if let Some(f) = s.declared_in.remove(from) {
                    s.declared_in.insert(to.clone(), f);
                }
            }
            s.serial += 1;
        })
    }

    fn journal_append(&self, entry: &JournalEntry) -> Result<(), StateError> {
        self.with_journal(|j| j.push(entry.clone()))
    }

    fn journal(&self) -> Result<Vec<JournalEntry>, StateError> {
        self.with_journal(|j| j.clone())
    }

    fn journal_clear(&self) -> Result<(), StateError> {
        self.with_journal(|j| j.clear())
    }
}
