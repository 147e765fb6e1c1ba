//! The S3 state backend (`[project.state] backend = "s3"`): the authoritative snapshot is the
//! object `KEY` (a [`StateDocument`]), written with `If-Match` on the ETag this run last read
//! or wrote, so a writer never overwrites a newer state; beside it the lock `KEY.lock`
//! ([`lock`]), the journal `KEY.journal` (written with every entry, so the calls a killed run
//! left in flight are read by the next run wherever it runs) and the secret key `KEY.secret`
//! (created once with `If-None-Match: *`, never inside the state object).
//!
//! The sled database in `--state DIR` is the working copy: refilled from S3 when the store
//! opens, written first on every change, then the whole document is uploaded.
//!
//! May not touch: declarations, planning; AWS only through `cloud::aws::objects`.

mod lock;
mod remote;

use super::document::StateDocument;
use super::lock::{LockHolder, new_lock_id};
use super::secret::{existing_key, random_key};
use super::sled::SledState;
use super::{JournalEntry, Record, Snapshot, StateError, StateStore};
use crate::cloud::aws::AwsCloud;
use crate::cloud::aws::objects::Condition;
use crate::model::{Account, Address, S3Backend, Target};
use remote::{Part, PutError, Remote};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// How the store treats a key that holds no state yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// An empty key starts an empty state; a working copy with records is refused (it would be
    /// silently dropped or silently uploaded).
    Open,
    /// `ferry state migrate --to s3`: the working copy (a local state) is uploaded to the key,
    /// which must hold no state.
    Migrate,
}

pub struct S3State {
    local: SledState,
    remote: Remote,
    /// The state object's ETag as this run last read or wrote it; `None`: there is none yet.
    etag: Mutex<Option<String>>,
    held: Mutex<Option<lock::Held>>,
    /// Held while the journal is read and uploaded: steps run concurrently, and an upload that
    /// read the journal earlier must never land after one that read it later.
    journal_upload: Mutex<()>,
    stale_holder: Option<String>,
    dir: String,
}

/// The objects of `backend`, reached with the credentials of its account.
fn connect(
    backend: &S3Backend,
    accounts: &BTreeMap<String, Account>,
) -> Result<Remote, StateError> {
    let at = format!("s3://{}/{}", backend.bucket, backend.key);
    let account = accounts
        .get(&backend.account)
        .ok_or_else(|| StateError::Open {
            dir: at.clone(),
            message: format!("the account `{}` is not declared", backend.account),
        })?;
    let target = Target {
        account: backend.account.clone(),
        account_id: account.id.clone(),
        region: backend.region.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| StateError::Open {
            dir: at.clone(),
            message: format!("cannot start a runtime: {e}"),
        })?;
    let cloud = AwsCloud::new(accounts.clone());
    let bucket = backend.bucket.clone();
    let store = std::thread::scope(|s| {
        s.spawn(|| runtime.block_on(cloud.object_store(&target, &bucket)))
            .join()
            .expect("connecting does not panic")
    })
    .map_err(|e| StateError::Remote {
        at,
        message: e.to_string(),
    })?;
    Ok(Remote::new(runtime, store, &backend.key))
}

/// `ferry force-unlock LOCK_ID` on the S3 state `backend`.
pub fn force_unlock(
    backend: &S3Backend,
    accounts: &BTreeMap<String, Account>,
    lock_id: &str,
) -> Result<String, StateError> {
    lock::force_unlock(&connect(backend, accounts)?, lock_id)
}

impl S3State {
    /// Takes the lock `KEY.lock` for `operation` (waiting up to `timeout`), reads the secret
    /// key, the state and the journal, and opens the working copy in `dir` holding them.
    pub fn open(
        dir: &Path,
        backend: &S3Backend,
        accounts: &BTreeMap<String, Account>,
        operation: &str,
        timeout: Duration,
        mode: Mode,
    ) -> Result<Self, StateError> {
        let remote = connect(backend, accounts)?;
        let holder = LockHolder::this_process(new_lock_id(dir), operation);
        let (held, stale_holder) = lock::acquire(&remote, holder, timeout)?;
        match Self::open_locked(dir, &remote, operation, mode) {
            Ok((local, etag)) => Ok(S3State {
                local,
                remote,
                etag: Mutex::new(etag),
                held: Mutex::new(Some(held)),
                journal_upload: Mutex::new(()),
                stale_holder,
                dir: dir.display().to_string(),
            }),
            Err(e) => {
                let _ = lock::release(&remote, &held);
                Err(e)
            }
        }
    }

    fn open_locked(
        dir: &Path,
        remote: &Remote,
        operation: &str,
        mode: Mode,
    ) -> Result<(SledState, Option<String>), StateError> {
        let shown = dir.display().to_string();
        let object = remote.get(Part::State)?;
        let key = match (mode, &object, existing_key(dir)) {
            (Mode::Migrate, Some(_), _) => return Err(not_fresh(remote)),
            // Nothing was hashed with a shared key yet (there is no state, and this process
            // holds the lock): the migrated records' own key becomes it.
            (Mode::Migrate, None, Some(key)) => match remote.put(Part::Secret, key.clone(), None) {
                Ok(_) => key,
                Err(PutError::Failed(e)) => return Err(e),
                Err(PutError::Refused) => unreachable!("an unconditional write is never refused"),
            },
            _ => shared_key(remote)?,
        };
        let local = SledState::open_keyed(dir, operation, Some(key))?;
        let mine = local.snapshot()?;
        let journal = match remote.get(Part::Journal)? {
            Some(o) => serde_json::from_slice::<Vec<JournalEntry>>(&o.body).map_err(|e| {
                StateError::Corrupt {
                    dir: remote.url(Part::Journal),
                    message: format!("not a ferry journal: {e}"),
                }
            })?,
            None => Vec::new(),
        };
        let Some(object) = object else {
            return match (mode, mine.resources.is_empty()) {
                // The empty state is written at once, so that every runner shares its lineage
                // (a plan saved on one is applied on another).
                (Mode::Open, true) => {
                    local.journal_replace(&journal)?;
                    let body = StateDocument::of(&mine).to_json();
                    match remote.put(Part::State, body, Some(Condition::Absent)) {
                        Ok(etag) => Ok((local, Some(etag))),
                        Err(PutError::Refused) => Err(StateError::Remote {
                            at: remote.url(Part::State),
                            message:
                                "a state appeared there while this process held the lock; run again"
                                    .into(),
                        }),
                        Err(PutError::Failed(e)) => Err(e),
                    }
                }
                (Mode::Open, false) => Err(StateError::Open {
                    dir: remote.url(Part::State),
                    message: format!(
                        "there is no state there, but the working copy in {shown} holds {} records \
                         (lineage {}): run `ferry state migrate --to s3` to move them there, or remove {shown} to start empty",
                        mine.resources.len(),
                        mine.lineage
                    ),
                }),
                (Mode::Migrate, true) => Err(StateError::Open {
                    dir: shown,
                    message: "there is no local state to migrate".into(),
                }),
                (Mode::Migrate, false) => {
                    let body = StateDocument::of(&mine).to_json();
                    let etag = match remote.put(Part::State, body, Some(Condition::Absent)) {
                        Ok(etag) => etag,
                        Err(PutError::Refused) => return Err(not_fresh(remote)),
                        Err(PutError::Failed(e)) => return Err(e),
                    };
                    put_journal(remote, &local.journal()?)?;
                    Ok((local, Some(etag)))
                }
            };
        };
        let doc = StateDocument::parse(&object.body, &remote.url(Part::State))?;
        if doc.lineage != mine.lineage && !mine.resources.is_empty() {
            return Err(StateError::Open {
                dir: shown.clone(),
                message: format!(
                    "the working copy holds another state (lineage {}) than {} (lineage {}); \
                     remove {shown} or use another --state directory",
                    mine.lineage,
                    remote.url(Part::State),
                    doc.lineage
                ),
            });
        }
        local.overwrite(&doc.snapshot(), &journal)?;
        Ok((local, Some(object.etag)))
    }

    /// Uploads the working copy's document under the ETag last seen. A refusal means another
    /// writer changed the state since: nothing is overwritten.
    fn upload(&self) -> Result<(), StateError> {
        let mut etag = self.etag.lock().unwrap_or_else(|e| e.into_inner());
        let body = StateDocument::of(&self.local.snapshot()?).to_json();
        let condition = match etag.as_ref() {
            Some(e) => Condition::Matches(e.clone()),
            None => Condition::Absent,
        };
        match self.remote.put(Part::State, body, Some(condition)) {
            Ok(new) => {
                *etag = Some(new);
                Ok(())
            }
            Err(PutError::Refused) => Err(StateError::Remote {
                at: self.remote.url(Part::State),
                message: format!(
                    "the state changed since this run read it (another process wrote it, after forcing this run's lock); \
                     it was not overwritten, and this run's last change is only in the working copy {}",
                    self.dir
                ),
            }),
            Err(PutError::Failed(e)) => Err(e),
        }
    }

    fn sync_journal(&self) -> Result<(), StateError> {
        let _one_at_a_time = self
            .journal_upload
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        put_journal(&self.remote, &self.local.journal()?)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<lock::Held>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn not_fresh(remote: &Remote) -> StateError {
    StateError::Open {
        dir: remote.url(Part::State),
        message: "a state is already there; migrate only into a fresh key (or `ferry state push` a pulled file)".into(),
    }
}

fn put_journal(remote: &Remote, journal: &[JournalEntry]) -> Result<(), StateError> {
    let body = serde_json::to_vec(journal).map_err(|e| StateError::Write(e.to_string()))?;
    match remote.put(Part::Journal, body, None) {
        Ok(_) => Ok(()),
        Err(PutError::Failed(e)) => Err(e),
        Err(PutError::Refused) => unreachable!("an unconditional write is never refused"),
    }
}

/// The key sensitive values are hashed with: `KEY.secret`, made once at random
/// (`If-None-Match: *`); a racing creator's key wins.
fn shared_key(remote: &Remote) -> Result<Vec<u8>, StateError> {
    let damaged = || {
        StateError::Corrupt {
        dir: remote.url(Part::Secret),
        message: "the secret key is not 32 bytes; restore it (changed sensitive values then show as changed once)".into(),
    }
    };
    for _ in 0..2 {
        if let Some(o) = remote.get(Part::Secret)? {
            return if o.body.len() == 32 {
                Ok(o.body)
            } else {
                Err(damaged())
            };
        }
        let key = random_key().map_err(|e| StateError::Write(e.to_string()))?;
        match remote.put(Part::Secret, key.clone(), Some(Condition::Absent)) {
            Ok(_) => return Ok(key),
            Err(PutError::Refused) => continue,
            Err(PutError::Failed(e)) => return Err(e),
        }
    }
    Err(damaged())
}

impl Drop for S3State {
    fn drop(&mut self) {
        if let Some(held) = self.held().take()
            && let Err(e) = lock::release(&self.remote, &held)
        {
            // Nothing else can be told once the command is done.
            eprintln!("warning: {e}");
        }
    }
}

impl StateStore for S3State {
    fn snapshot(&self) -> Result<Snapshot, StateError> {
        self.local.snapshot()
    }

    fn put(&self, address: &Address, record: &Record) -> Result<(), StateError> {
        self.local.put(address, record)?;
        self.upload()
    }

    fn remove(&self, address: &Address) -> Result<(), StateError> {
        self.local.remove(address)?;
        self.upload()
    }

    fn replace(&self, snapshot: &Snapshot) -> Result<(), StateError> {
        self.local.replace(snapshot)?;
        self.upload()
    }

    fn rename(&self, moves: &[(Address, Address)]) -> Result<(), StateError> {
        self.local.rename(moves)?;
        self.upload()
    }

    fn record_files(&self, files: &BTreeMap<Address, String>) -> Result<(), StateError> {
        self.local.record_files(files)?;
        self.upload()
    }

    fn journal_append(&self, entry: &JournalEntry) -> Result<(), StateError> {
        self.local.journal_append(entry)?;
        self.sync_journal()
    }

    fn journal(&self) -> Result<Vec<JournalEntry>, StateError> {
        self.local.journal()
    }

    fn journal_clear(&self) -> Result<(), StateError> {
        self.local.journal_clear()?;
        self.sync_journal()
    }

    fn journal_replace(&self, entries: &[JournalEntry]) -> Result<(), StateError> {
        self.local.journal_replace(entries)?;
        self.sync_journal()
    }

    fn lock(&self, operation: &str) -> Result<LockHolder, StateError> {
        let mut held = self.held();
        let Some(current) = held.as_ref() else {
            return Err(StateError::Remote {
                at: self.remote.url(Part::Lock),
                message: "this process released the lock".into(),
            });
        };
        let renamed = lock::rename(&self.remote, current, operation)?;
        let holder = renamed.holder.clone();
        *held = Some(renamed);
        Ok(holder)
    }

    fn unlock(&self) -> Result<(), StateError> {
        match self.held().take() {
            Some(held) => lock::release(&self.remote, &held),
            None => Ok(()),
        }
    }

    fn force_unlock(&self, lock_id: &str) -> Result<String, StateError> {
        let own = self.held().as_ref().map(|h| h.holder.lock_id.clone());
        Err(StateError::Remote {
            at: self.remote.url(Part::Lock),
            message: if own.as_deref() == Some(lock_id) {
                "the lock is held by this process; it ends when the process does".into()
            } else {
                format!("this process holds the lock; break {lock_id} from another one")
            },
        })
    }

    fn lock_holder(&self) -> Result<Option<LockHolder>, StateError> {
        lock::holder(&self.remote)
    }

    fn stale_holder(&self) -> Option<String> {
        self.stale_holder.clone()
    }
}
