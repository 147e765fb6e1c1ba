//! State in memory, for tests: the same serial semantics as sled's (a serial counts changes:
//! a record written again unchanged, or recorded files, bump nothing) and a lock held by one
//! holder at a time.
//!
//! May not touch: the disk.

use super::{JournalEntry, LockHolder, Record, Snapshot, StateError, StateStore};
use crate::model::Address;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// How errors name a memory store.
const MEMORY: &str = "memory";
/// The lock id of a memory store's own lock.
const MEMORY_LOCK_ID: &str = "memory";

/// State in memory, for tests.
#[derive(Default)]
pub struct MemoryState {
    inner: Mutex<Snapshot>,
    journal: Mutex<Vec<JournalEntry>>,
    holder: Mutex<Option<LockHolder>>,
}

impl MemoryState {
    pub fn new(snapshot: Snapshot) -> Self {
        MemoryState {
            inner: Mutex::new(snapshot),
            journal: Mutex::new(Vec::new()),
            holder: Mutex::new(None),
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

    fn with_holder<T>(
        &self,
        f: impl FnOnce(&mut Option<LockHolder>) -> T,
    ) -> Result<T, StateError> {
        let mut guard = self
            .holder
            .lock()
            .map_err(|_| StateError::Write("memory lock poisoned".into()))?;
        Ok(f(&mut guard))
    }

    /// This store's lock id: one store stands for one process, so its lock id is fixed.
    fn lock_id(&self) -> String {
        MEMORY_LOCK_ID.to_string()
    }

    /// The store with its lock held by `holder`, as by another process (for tests of a refusal).
    pub fn held_by(self, holder: LockHolder) -> Self {
        if let Ok(mut h) = self.holder.lock() {
            *h = Some(holder);
        }
        self
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
            // As sled: the serial counts changes, and writing a record again is none.
            let r = record.redacted(&s.secret_key);
            if s.resources.insert(address.clone(), r.clone()) != Some(r) {
                s.serial += 1;
            }
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

    fn replace(&self, snapshot: &Snapshot) -> Result<(), StateError> {
        self.with(|s| {
            let key = std::mem::take(&mut s.secret_key);
            *s = Snapshot {
                secret_key: key,
                interrupted: Default::default(),
                ..snapshot.clone()
            };
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

    fn journal_replace(&self, entries: &[JournalEntry]) -> Result<(), StateError> {
        self.with_journal(|j| *j = entries.to_vec())
    }

    fn lock(&self, operation: &str) -> Result<LockHolder, StateError> {
        self.with_holder(|h| match h {
            Some(held) if held.lock_id != self.lock_id() => Err(StateError::Locked {
                dir: MEMORY.into(),
                holder: held.describe(),
            }),
            _ => {
                let holder = LockHolder::this_process(self.lock_id(), operation);
                *h = Some(holder.clone());
                Ok(holder)
            }
        })?
    }

    fn unlock(&self) -> Result<(), StateError> {
        self.with_holder(|h| *h = None)
    }

    fn force_unlock(&self, lock_id: &str) -> Result<String, StateError> {
        self.with_holder(|h| match h {
            None => Err(StateError::Open {
                dir: MEMORY.into(),
                message: "the state is not locked".into(),
            }),
            Some(held) if held.lock_id != lock_id => Err(StateError::Open {
                dir: MEMORY.into(),
                message: format!(
                    "no lock has the id {lock_id}; the recorded holder is {}",
                    held.describe()
                ),
            }),
            Some(held) => {
                let shown = held.describe();
                *h = None;
                Ok(format!("The lock {lock_id} ({shown}) is removed."))
            }
        })?
    }

    fn lock_holder(&self) -> Result<Option<LockHolder>, StateError> {
        self.with_holder(|h| h.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Target;

    fn policy(text: &str) -> Record {
        Record::RepositoryPolicy {
            target: Target {
                account: "registry".into(),
                account_id: "111111111111".into(),
                region: "us-east-1".into(),
            },
            repository: "r".into(),
            policy: text.into(),
        }
    }

    /// The serials after each write of one sequence.
    fn serials(state: &dyn StateStore) -> Vec<u64> {
        let a: Address = "repository_policy.a".parse().unwrap();
        let b: Address = "repository_policy.b".parse().unwrap();
        let files = BTreeMap::from([(a.clone(), "ferry.toml".to_string())]);
        let mut seen = Vec::new();
        let writes: Vec<Box<dyn Fn() -> Result<(), StateError>>> = vec![
            Box::new(|| state.put(&a, &policy("{}"))),
            // The same record again: no change.
            Box::new(|| state.put(&a, &policy("{}"))),
            Box::new(|| state.put(&a, &policy("{\"v\":2}"))),
            Box::new(|| state.record_files(&files)),
            Box::new(|| state.rename(&[(a.clone(), b.clone())])),
            // Nothing at `a` any more.
            Box::new(|| state.remove(&a)),
            Box::new(|| state.remove(&b)),
        ];
        for write in writes {
            write().unwrap();
            seen.push(state.snapshot().unwrap().serial);
        }
        seen
    }

    #[test]
    fn memory_and_sled_count_the_serial_alike() {
        let dir = tempfile::tempdir().unwrap();
        let sled = crate::state::sled::SledState::open(dir.path(), "test").unwrap();
        let on_disk = serials(&sled);
        assert_eq!(on_disk, [1, 1, 2, 2, 3, 3, 4]);
        assert_eq!(serials(&MemoryState::default()), on_disk);
    }

    #[test]
    fn a_held_lock_is_refused_and_only_its_id_breaks_it() {
        let other = LockHolder {
            lock_id: "abc123".into(),
            pid: 1,
            user: "ci".into(),
            host: "runner".into(),
            operation: "apply".into(),
            started: 0,
            version: String::new(),
        };
        let state = MemoryState::default().held_by(other.clone());
        match state.lock("plan") {
            Err(StateError::Locked { holder, .. }) => assert!(holder.contains("lock id abc123")),
            other => panic!("{other:?}"),
        }
        assert!(state.force_unlock("nope").is_err());
        assert_eq!(state.lock_holder().unwrap(), Some(other));
        state.force_unlock("abc123").unwrap();
        let mine = state.lock("plan").unwrap();
        assert_eq!(mine.operation, "plan");
        assert_eq!(state.lock_holder().unwrap(), Some(mine));
        state.unlock().unwrap();
        assert_eq!(state.lock_holder().unwrap(), None);
    }

    #[test]
    fn a_sled_store_holds_its_lock_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        let sled = crate::state::sled::SledState::open(dir.path(), "apply").unwrap();
        let state: &dyn StateStore = &sled;
        let holder = state.lock_holder().unwrap().expect("held since open");
        assert_eq!(
            (holder.lock_id.as_str(), holder.operation.as_str()),
            (sled.lock_id.as_str(), "apply")
        );
        // The live lock is this process's: it cannot be forced.
        assert!(state.force_unlock(&sled.lock_id).is_err());
        assert_eq!(state.lock("destroy").unwrap().operation, "destroy");
        state.unlock().unwrap();
        assert_eq!(state.lock_holder().unwrap(), None);
    }
}
