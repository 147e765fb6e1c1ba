//! Stage: state. The last-applied attributes of every managed resource, a lineage and a serial,
//! behind the small [`StateStore`] trait so that a shared backend (S3, for pipelines) can come
//! later without touching the planner or the executor.
//!
//! [`sled_store::SledState`] is the embedded database in `--state DIR`; [`MemoryState`] serves
//! tests. Sensitive environment values never reach a store in clear: [`Record::redacted`] keeps
//! only a keyed hash, so a changed value is still noticed.

pub mod document;
mod lineage;
pub mod lock;
mod memory;
pub mod s3;
pub mod secret;
pub mod sled;

/// The path cli.rs and the tests know [`sled::SledState`] by.
pub use self::sled as sled_store;
pub use lock::LockHolder;
pub use memory::MemoryState;
pub use secret::sensitive_hash;

use crate::cloud::{FunctionConfig, RepositoryConfig};
use crate::model::{Address, Target};
use secret::SENSITIVE_PREFIX;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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
    /// A source registry's replication configuration (`crate::replication`'s JSON).
    Replication {
        target: Target,
        configuration: String,
    },
    /// A destination registry's policy.
    RegistryPolicy { target: Target, policy: String },
}

impl Record {
    pub fn target(&self) -> &Target {
        match self {
            Record::Repository { target, .. }
            | Record::RepositoryPolicy { target, .. }
            | Record::Function { target, .. }
            | Record::Replication { target, .. }
            | Record::RegistryPolicy { target, .. } => target,
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
            Record::Replication { .. } => ("replication", ""),
            Record::RegistryPolicy { .. } => ("registry_policy", ""),
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
    /// A shared backend's object could not be read or written (AWS's answer, in words).
    #[error("the state at {at}: {message}")]
    Remote { at: String, message: String },
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
    /// The call failed for an address state has no record of: it may have done its work all
    /// the same (a create whose answer was lost, malformed or timed out), so the address stays
    /// in flight until a later apply settles it (adopts what it made, or records it made nothing).
    Uncertain,
    /// A later look found that the call left nothing behind: the address is no longer in flight.
    Settled,
}

/// Calls whose outcome the journal does not know, read from the journal: an apply that did not
/// reach its end, or earlier calls still in flight (carried over by [`unsettled`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interruption {
    /// The last apply of the journal.
    pub apply: String,
    /// Addresses whose calls started and have no recorded outcome, from any apply the journal
    /// still holds.
    pub in_flight: Vec<Address>,
    pub rolling_back: bool,
    /// Whether the last apply reached its end (the calls in flight are then older, or
    /// creates whose answer was lost).
    pub finished: bool,
}

/// Per address, the phase that leaves it in flight, over the whole journal in order. An answer
/// (`Done`, `Failed`) settles the call it answers; `Uncertain` is an answer that settles
/// nothing; an undo's outcome settles only the undo.
fn open_calls(journal: &[JournalEntry]) -> BTreeMap<Address, Phase> {
    let mut open: BTreeMap<Address, Phase> = BTreeMap::new();
    for e in journal {
        let Some(address) = e.address.clone() else {
            continue;
        };
        match e.phase {
            Phase::Intent | Phase::UndoIntent | Phase::Uncertain => {
                open.insert(address, e.phase);
            }
            Phase::Done | Phase::UndoDone | Phase::Settled | Phase::Failed => {
                open.remove(&address);
            }
            Phase::UndoFailed => {
                if open.get(&address) == Some(&Phase::UndoIntent) {
                    open.remove(&address);
                }
            }
            Phase::Started | Phase::Finished => {}
        }
    }
    open
}

/// What the journal shows was left without an outcome, if anything: the last apply did not
/// finish, or some call of it (or of an earlier apply) is still in flight.
pub fn interruption(journal: &[JournalEntry]) -> Option<Interruption> {
    let last = journal.last()?;
    let finished = last.phase == Phase::Finished;
    let open = open_calls(journal);
    if finished && open.is_empty() {
        return None;
    }
    Some(Interruption {
        apply: last.apply.clone(),
        rolling_back: open.values().any(|p| *p == Phase::UndoIntent)
            || (!finished
                && journal
                    .iter()
                    .any(|e| e.apply == last.apply && e.phase == Phase::UndoIntent)),
        in_flight: open.into_keys().collect(),
        finished,
    })
}

/// The journal a new apply starts from: for every address still in flight that state has no
/// record of, the last entry that left it in flight, so that what it may have made is still adopted however the next
/// applies are targeted and even if they fail before reaching it. A recorded address needs no
/// entry: the planner compares its record with what is live.
pub fn unsettled(journal: &[JournalEntry], state: &Snapshot) -> Vec<JournalEntry> {
    let open = open_calls(journal);
    let mut keep: BTreeMap<&Address, &JournalEntry> = BTreeMap::new();
    for e in journal {
        if let Some(a) = &e.address
            && open.get(a) == Some(&e.phase)
            && !state.resources.contains_key(a)
        {
            keep.insert(a, e);
        }
    }
    keep.into_values().cloned().collect()
}

/// Where state lives. Every write is durable when the call returns, so a crash after a step
/// never loses that step.
pub trait StateStore: Send + Sync {
    fn snapshot(&self) -> Result<Snapshot, StateError>;
    fn put(&self, address: &Address, record: &Record) -> Result<(), StateError>;
    fn remove(&self, address: &Address) -> Result<(), StateError>;
    /// Replaces every record, file entry, the lineage and the serial with `snapshot`'s
    /// (`ferry state push`); the journal is kept.
    fn replace(&self, snapshot: &Snapshot) -> Result<(), StateError>;
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
    /// Replaces the journal with `entries`, all or none (a new apply keeps what is still
    /// in flight, see [`unsettled`]).
    fn journal_replace(&self, entries: &[JournalEntry]) -> Result<(), StateError>;
    /// Takes the state's lock for `ferry {operation}` and records this process as its holder,
    /// or fails with [`StateError::Locked`] naming the live holder. Taking a lock this store
    /// already holds renames the operation it is held for.
    fn lock(&self, operation: &str) -> Result<LockHolder, StateError>;
    /// Gives the lock up (a store whose lock is its open database lets it go when it is
    /// dropped; this removes the holder record).
    fn unlock(&self) -> Result<(), StateError>;
    /// Breaks the lock `lock_id` if its holder is gone, and says what was removed; a live
    /// holder is refused.
    fn force_unlock(&self, lock_id: &str) -> Result<String, StateError>;
    /// Who holds the lock, if anyone does.
    fn lock_holder(&self) -> Result<Option<LockHolder>, StateError>;
    /// The record of a previous holder that ended without releasing the lock (it was killed)
    /// and whose lock this store took over when it opened, as errors name it.
    fn stale_holder(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(apply: &str, phase: Phase, address: Option<&Address>) -> JournalEntry {
        JournalEntry {
            apply: apply.into(),
            phase,
            step: address.map(|_| 0),
            address: address.cloned(),
            detail: String::new(),
        }
    }

    fn record() -> Record {
        Record::RepositoryPolicy {
            target: Target {
                account: "registry".into(),
                account_id: "111111111111".into(),
                region: "us-east-1".into(),
            },
            repository: "r".into(),
            policy: "{}".into(),
        }
    }

    #[test]
    fn a_call_in_flight_outlives_the_applies_that_do_not_settle_it() {
        let lost: Address = "repository.lost".parse().unwrap();
        let other: Address = "repository.other".parse().unwrap();
        let state = MemoryState::default();
        // Apply a1 creates `lost`; AWS does the work but the answer is lost.
        for e in [
            entry("a1", Phase::Started, None),
            entry("a1", Phase::Intent, Some(&lost)),
            entry("a1", Phase::Uncertain, Some(&lost)),
            entry("a1", Phase::Finished, None),
        ] {
            state.journal_append(&e).unwrap();
        }
        let i = interruption(&state.journal().unwrap()).expect("still in flight");
        assert_eq!(i.in_flight, vec![lost.clone()]);
        assert!(i.finished && !i.rolling_back);
        // Apply a2 touches only `other`, and fails: `lost` is carried over, `other` is not.
        let carried = unsettled(&state.journal().unwrap(), &state.snapshot().unwrap());
        assert_eq!(carried, vec![entry("a1", Phase::Uncertain, Some(&lost))]);
        state.journal_replace(&carried).unwrap();
        for e in [
            entry("a2", Phase::Started, None),
            entry("a2", Phase::Intent, Some(&other)),
            entry("a2", Phase::Failed, Some(&other)),
            entry("a2", Phase::Finished, None),
        ] {
            state.journal_append(&e).unwrap();
        }
        let i = interruption(&state.journal().unwrap()).expect("still in flight");
        assert_eq!(i.in_flight, vec![lost.clone()]);
        // Apply a3 adopts it: settled, and nothing is carried to the apply after.
        state
            .journal_replace(&unsettled(
                &state.journal().unwrap(),
                &state.snapshot().unwrap(),
            ))
            .unwrap();
        for e in [
            entry("a3", Phase::Started, None),
            entry("a3", Phase::Intent, Some(&lost)),
            entry("a3", Phase::Done, Some(&lost)),
            entry("a3", Phase::Finished, None),
        ] {
            state.journal_append(&e).unwrap();
        }
        assert_eq!(interruption(&state.journal().unwrap()), None);
        assert!(unsettled(&state.journal().unwrap(), &state.snapshot().unwrap()).is_empty());
    }

    #[test]
    fn a_recorded_address_is_not_carried_and_a_settled_one_is_closed() {
        let kept: Address = "repository_policy.r".parse().unwrap();
        let gone: Address = "function.gone".parse().unwrap();
        let journal = vec![
            entry("a1", Phase::Started, None),
            entry("a1", Phase::Intent, Some(&kept)),
            entry("a1", Phase::Intent, Some(&gone)),
            entry("a1", Phase::Uncertain, Some(&gone)),
            // The rollback looked for what the failed create left, and found nothing.
            entry("a1", Phase::Settled, Some(&gone)),
        ];
        let i = interruption(&journal).expect("killed");
        assert_eq!(i.in_flight, vec![kept.clone()]);
        assert!(!i.finished);
        // `kept` has a record: the planner compares it with what is live, no entry is needed.
        let mut snapshot = Snapshot::default();
        snapshot.resources.insert(kept, record());
        assert!(unsettled(&journal, &snapshot).is_empty());
        // An undo that failed settles the undo, not a create whose outcome is unknown.
        let journal = vec![
            entry("a1", Phase::Intent, Some(&gone)),
            entry("a1", Phase::Uncertain, Some(&gone)),
            entry("a1", Phase::UndoFailed, Some(&gone)),
            entry("a1", Phase::Finished, None),
        ];
        assert_eq!(
            unsettled(&journal, &Snapshot::default()),
            vec![entry("a1", Phase::Uncertain, Some(&gone))]
        );
    }
}
