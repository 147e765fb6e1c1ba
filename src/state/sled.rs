//! The embedded sled database behind `--state DIR`.
//!
//! Layout: tree `meta` (format_version, lineage, serial), tree `resources` (address → JSON
//! record) and tree `files` (address → the declarations file that declared it). A resource write and the serial bump are one transaction, flushed before returning.
//! sled holds an exclusive file lock for as long as the database is open; a second process gets
//! [`StateError::Locked`] naming the holder recorded in `holder.json`.

use super::lineage::new_lineage;
use super::lock::{
    HOLDER_FILE, LockHolder, describe_holder, holder_may_be_alive, new_lock_id, read_holder,
};
use super::secret::{KEY_FILE, secret_key};
use super::{FORMAT_VERSION, JournalEntry, Record, Snapshot, StateError, StateStore};
use crate::model::Address;
use ::sled::Transactional;
use std::path::{Path, PathBuf};

pub struct SledState {
    /// The record of a previous holder that ended without removing it (it was killed): its
    /// lock died with it, and this process took over.
    pub stale_holder: Option<String>,
    /// This process's lock id, as `force-unlock` takes it.
    pub lock_id: String,
    dir: PathBuf,
    db: ::sled::Db,
    meta: ::sled::Tree,
    resources: ::sled::Tree,
    journal: ::sled::Tree,
    files: ::sled::Tree,
    lineage: std::sync::Mutex<String>,
    secret_key: Vec<u8>,
}

impl SledState {
    /// Opens (or creates) the state in `dir` and takes its lock for `operation`.
    pub fn open(dir: &Path, operation: &str) -> Result<Self, StateError> {
        Self::open_keyed(dir, operation, None)
    }

    /// The same, hashing sensitive values with `key` (a shared backend's, kept beside its
    /// state) instead of the directory's own `secret.key`, which is then neither read nor made.
    pub(super) fn open_keyed(
        dir: &Path,
        operation: &str,
        key: Option<Vec<u8>>,
    ) -> Result<Self, StateError> {
        let shown = dir.display().to_string();
        create_private_dir(dir).map_err(|e| StateError::Open {
            dir: shown.clone(),
            message: e.to_string(),
        })?;
        let db_dir = private_db_dir(dir).map_err(|e| StateError::Open {
            dir: shown.clone(),
            message: e.to_string(),
        })?;
        let db = open_db(dir, &db_dir)?;
        // A database that holds anything but ferry's trees is someone else's: refuse it before
        // creating a tree in it.
        let ours: [&[u8]; 5] = [
            b"__sled__default",
            b"meta",
            b"resources",
            b"journal",
            b"files",
        ];
        let foreign: Vec<String> = db
            .tree_names()
            .iter()
            .filter(|n| !ours.contains(&n.as_ref()))
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        if !foreign.is_empty() || !db.is_empty() {
            return Err(StateError::Corrupt {
                dir: shown,
                message: format!(
                    "the database holds data that is not ferry's ({}); ferry does not write into it",
                    if foreign.is_empty() {
                        "keys outside ferry's trees".to_string()
                    } else {
                        format!("trees {}", foreign.join(", "))
                    }
                ),
            });
        }
        let meta = db.open_tree("meta").map_err(|e| open_error(dir, e))?;
        let resources = db.open_tree("resources").map_err(|e| open_error(dir, e))?;
        let journal = db.open_tree("journal").map_err(|e| open_error(dir, e))?;
        let files = db.open_tree("files").map_err(|e| open_error(dir, e))?;
        let format = read_u64(&meta, "format_version", &shown)?;
        if let Some(found) = format
            && found > FORMAT_VERSION
        {
            return Err(StateError::NewerFormat { dir: shown, found });
        }
        let lineage = match meta.get("lineage").map_err(|e| open_error(dir, e))? {
            Some(v) => String::from_utf8(v.to_vec()).map_err(|_| StateError::Corrupt {
                dir: shown.clone(),
                message: "the lineage is not text".into(),
            })?,
            None => {
                if !resources.is_empty() {
                    return Err(StateError::Corrupt {
                        dir: shown,
                        message: "resources without a lineage: not a ferry state".into(),
                    });
                }
                let lineage = new_lineage(dir);
                meta.insert("lineage", lineage.as_bytes())
                    .and_then(|_| meta.insert("format_version", &FORMAT_VERSION.to_be_bytes()))
                    .and_then(|_| meta.insert("serial", &0u64.to_be_bytes()))
                    .map_err(|e| StateError::Write(e.to_string()))?;
                db.flush().map_err(|e| StateError::Write(e.to_string()))?;
                lineage
            }
        };
        let secret_key = match key {
            Some(key) => key,
            None => secret_key(dir).map_err(|e| StateError::Open {
                dir: shown.clone(),
                message: format!("cannot read or create {KEY_FILE}: {e}"),
            })?,
        };
        let stale_holder = read_holder(dir).map(|h| describe_holder(&h));
        let lock_id = new_lock_id(dir);
        let holder = LockHolder::this_process(lock_id.clone(), operation).to_json();
        // Best effort: the lock itself is sled's; this file only names the holder. But never
        // through a symlink: one planted there would have ferry write wherever it points.
        let holder_path = dir.join(HOLDER_FILE);
        if is_symlink(&holder_path) {
            return Err(StateError::Open {
                dir: shown,
                message: format!(
                    "{} is a symlink; ferry never writes through one: remove it",
                    holder_path.display()
                ),
            });
        }
        let _ = replace_private(&holder_path, &holder.to_string());
        Ok(SledState {
            stale_holder,
            lock_id,
            dir: dir.to_path_buf(),
            db,
            meta,
            resources,
            journal,
            files,
            lineage: std::sync::Mutex::new(lineage),
            secret_key,
        })
    }

    fn write_err(e: impl std::fmt::Display) -> StateError {
        StateError::Write(e.to_string())
    }

    fn change(&self, address: &Address, value: Option<Vec<u8>>) -> Result<(), StateError> {
        let key = address.to_string();
        (&self.meta, &self.resources, &self.files)
            .transaction(|(meta, resources, files)| {
                let changed = match &value {
                    Some(v) => resources.insert(key.as_bytes(), v.clone())?.as_deref() != Some(v),
                    None => {
                        files.remove(key.as_bytes())?;
                        resources.remove(key.as_bytes())?.is_some()
                    }
                };
                if changed {
                    bump_serial(meta)?;
                }
                Ok(())
            })
            .map_err(|e| Self::write_err(format!("{e:?}")))?;
        self.db.flush().map_err(Self::write_err)?;
        Ok(())
    }
}

impl SledState {
    /// Makes this working copy hold exactly `snapshot` (lineage, serial, records, files) and
    /// `journal`: a shared backend's authoritative copy, read when it opens.
    pub(super) fn overwrite(
        &self,
        snapshot: &Snapshot,
        journal: &[JournalEntry],
    ) -> Result<(), StateError> {
        self.replace(snapshot)?;
        self.journal_replace(journal)
    }

    fn lineage(&self) -> std::sync::MutexGuard<'_, String> {
        self.lineage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the records, files, lineage and serial exactly `snapshot`'s.
    fn replace_records(&self, snapshot: &Snapshot) -> Result<(), StateError> {
        let mut records = Vec::new();
        for (address, record) in &snapshot.resources {
            records.push((
                address.to_string(),
                serde_json::to_vec(&record.redacted(&self.secret_key)).map_err(Self::write_err)?,
            ));
        }
        // A working copy is overwritten again whenever it is opened, so a crash between the
        // clearing and the transaction only leaves it empty until then.
        self.resources.clear().map_err(Self::write_err)?;
        self.files.clear().map_err(Self::write_err)?;
        (&self.meta, &self.resources, &self.files)
            .transaction(|(meta, resources, files)| {
                meta.insert("lineage", snapshot.lineage.as_bytes())?;
                meta.insert("serial", &snapshot.serial.to_be_bytes())?;
                meta.insert("format_version", &FORMAT_VERSION.to_be_bytes())?;
                for (k, v) in &records {
                    resources.insert(k.as_bytes(), v.clone())?;
                }
                for (address, file) in &snapshot.declared_in {
                    files.insert(address.to_string().as_bytes(), file.as_bytes())?;
                }
                Ok::<(), ::sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| Self::write_err(format!("{e:?}")))?;
        *self.lineage() = snapshot.lineage.clone();
        self.db.flush().map_err(Self::write_err)?;
        Ok(())
    }
}

/// Adds one to the state's serial, inside a transaction.
fn bump_serial(
    meta: &::sled::transaction::TransactionalTree,
) -> Result<(), ::sled::transaction::ConflictableTransactionError<()>> {
    let serial = meta
        .get("serial")?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0);
    meta.insert("serial", &(serial + 1).to_be_bytes())?;
    Ok(())
}

impl Drop for SledState {
    fn drop(&mut self) {
        let _ = self.db.flush();
        let _ = std::fs::remove_file(self.dir.join(HOLDER_FILE));
    }
}

impl StateStore for SledState {
    fn snapshot(&self) -> Result<Snapshot, StateError> {
        let dir = self.dir.display().to_string();
        let serial = read_u64(&self.meta, "serial", &dir)?.unwrap_or(0);
        let mut resources = std::collections::BTreeMap::new();
        for item in self.resources.iter() {
            let (k, v) = item.map_err(|e| StateError::Corrupt {
                dir: dir.clone(),
                message: e.to_string(),
            })?;
            let key = String::from_utf8_lossy(&k).to_string();
            let address: Address = key.parse().map_err(|e| StateError::Corrupt {
                dir: dir.clone(),
                message: format!("bad address {key}: {e}"),
            })?;
            let record: Record = serde_json::from_slice(&v).map_err(|e| StateError::Corrupt {
                dir: dir.clone(),
                message: format!("record {key}: {e}"),
            })?;
            resources.insert(address, record);
        }
        let mut declared_in = std::collections::BTreeMap::new();
        for item in self.files.iter() {
            let (k, v) = item.map_err(|e| StateError::Corrupt {
                dir: dir.clone(),
                message: e.to_string(),
            })?;
            // An entry that does not parse only loses a safety check; it never stops a run.
            if let (Ok(address), Ok(file)) = (
                String::from_utf8_lossy(&k).parse::<Address>(),
                String::from_utf8(v.to_vec()),
            ) && resources.contains_key(&address)
            {
                declared_in.insert(address, file);
            }
        }
        Ok(Snapshot {
            lineage: self.lineage().clone(),
            serial,
            resources,
            secret_key: self.secret_key.clone(),
            interrupted: Default::default(),
            declared_in,
        })
    }

    fn put(&self, address: &Address, record: &Record) -> Result<(), StateError> {
        let json =
            serde_json::to_vec(&record.redacted(&self.secret_key)).map_err(Self::write_err)?;
        self.change(address, Some(json))
    }

    fn remove(&self, address: &Address) -> Result<(), StateError> {
        self.change(address, None)
    }

    fn replace(&self, snapshot: &Snapshot) -> Result<(), StateError> {
        self.replace_records(snapshot)
    }

    fn rename(&self, moves: &[(Address, Address)]) -> Result<(), StateError> {
        (&self.meta, &self.resources, &self.files)
            .transaction(|(meta, resources, files)| {
                for (from, to) in moves {
                    if let Some(v) = resources.remove(from.to_string().as_bytes())? {
                        resources.insert(to.to_string().as_bytes(), v)?;
                    }
                    if let Some(f) = files.remove(from.to_string().as_bytes())? {
                        files.insert(to.to_string().as_bytes(), f)?;
                    }
                }
                bump_serial(meta)
            })
            .map_err(|e| Self::write_err(format!("{e:?}")))?;
        self.db.flush().map_err(Self::write_err)?;
        Ok(())
    }

    fn record_files(
        &self,
        files: &std::collections::BTreeMap<Address, String>,
    ) -> Result<(), StateError> {
        let mut batch = ::sled::Batch::default();
        for (address, file) in files {
            batch.insert(address.to_string().as_bytes(), file.as_bytes());
        }
        self.files.apply_batch(batch).map_err(Self::write_err)?;
        self.files.flush().map_err(Self::write_err)?;
        Ok(())
    }

    fn journal_append(&self, entry: &JournalEntry) -> Result<(), StateError> {
        let id = self.db.generate_id().map_err(Self::write_err)?;
        let json = serde_json::to_vec(entry).map_err(Self::write_err)?;
        self.journal
            .insert(id.to_be_bytes(), json)
            .map_err(Self::write_err)?;
        self.journal.flush().map_err(Self::write_err)?;
        Ok(())
    }

    fn journal(&self) -> Result<Vec<JournalEntry>, StateError> {
        self.journal
            .iter()
            .values()
            .map(|v| {
                let v = v.map_err(|e| StateError::Corrupt {
                    dir: self.dir.display().to_string(),
                    message: e.to_string(),
                })?;
                serde_json::from_slice(&v).map_err(|e| StateError::Corrupt {
                    dir: self.dir.display().to_string(),
                    message: format!("journal: {e}"),
                })
            })
            .collect()
    }

    fn journal_clear(&self) -> Result<(), StateError> {
        self.journal.clear().map_err(Self::write_err)?;
        self.journal.flush().map_err(Self::write_err)?;
        Ok(())
    }

    /// The lock is the database's file lock, taken by [`SledState::open`] and held until the
    /// store is dropped: this only records `operation` in the holder record.
    fn lock(&self, operation: &str) -> Result<LockHolder, StateError> {
        let holder = LockHolder::this_process(self.lock_id.clone(), operation);
        replace_private(&self.dir.join(HOLDER_FILE), &holder.to_json().to_string())
            .map_err(Self::write_err)?;
        Ok(holder)
    }

    /// Removes the holder record; the file lock itself ends when the store is dropped.
    fn unlock(&self) -> Result<(), StateError> {
        match std::fs::remove_file(self.dir.join(HOLDER_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Self::write_err(e)),
            _ => Ok(()),
        }
    }

    /// An open store holds the live lock itself, and a dead holder's record was taken over
    /// when it opened ([`SledState::stale_holder`]): there is nothing to break. The directory's
    /// lock is broken from outside by [`force_unlock`].
    fn force_unlock(&self, lock_id: &str) -> Result<String, StateError> {
        let dir = self.dir.display().to_string();
        Err(StateError::Open {
            dir,
            message: if lock_id == self.lock_id {
                "the lock is held by this process; it ends when the process does".to_string()
            } else {
                format!(
                    "no lock has the id {lock_id}; the holder is this process (lock id {})",
                    self.lock_id
                )
            },
        })
    }

    fn stale_holder(&self) -> Option<String> {
        self.stale_holder.clone()
    }

    fn lock_holder(&self) -> Result<Option<LockHolder>, StateError> {
        Ok(read_holder(&self.dir).and_then(|h| serde_json::from_value(h).ok()))
    }

    fn journal_replace(&self, entries: &[JournalEntry]) -> Result<(), StateError> {
        // One batch, applied atomically: a crash keeps the old journal or the new one, never
        // a journal that lost an entry still in flight.
        let mut batch = ::sled::Batch::default();
        for key in self.journal.iter().keys() {
            batch.remove(key.map_err(Self::write_err)?);
        }
        for entry in entries {
            let id = self.db.generate_id().map_err(Self::write_err)?;
            batch.insert(
                &id.to_be_bytes(),
                serde_json::to_vec(entry).map_err(Self::write_err)?,
            );
        }
        self.journal.apply_batch(batch).map_err(Self::write_err)?;
        self.journal.flush().map_err(Self::write_err)?;
        Ok(())
    }
}

fn read_u64(tree: &::sled::Tree, key: &str, dir: &str) -> Result<Option<u64>, StateError> {
    match tree.get(key) {
        Ok(None) => Ok(None),
        Ok(Some(v)) => <[u8; 8]>::try_from(v.as_ref())
            .map(|b| Some(u64::from_be_bytes(b)))
            .map_err(|_| StateError::Corrupt {
                dir: dir.to_string(),
                message: format!("`{key}` is not a number"),
            }),
        Err(e) => Err(StateError::Corrupt {
            dir: dir.to_string(),
            message: e.to_string(),
        }),
    }
}

/// Opens the database, taking its file lock. A lock that is busy while no live holder is
/// recorded is most often one being released: a store just dropped (in this process or one that
/// just ended) whose database threads have not let go of the file yet. That is retried for a
/// few seconds before it is reported; a recorded live holder is reported at once.
fn open_db(dir: &Path, db_dir: &Path) -> Result<::sled::Db, StateError> {
    let mut retries = 0;
    loop {
        // Every write is flushed before it returns, so sled's background flusher adds nothing;
        // without it the file lock is released as soon as the state is dropped.
        match ::sled::Config::new()
            .path(db_dir)
            .flush_every_ms(None)
            .open()
        {
            Ok(db) => return Ok(db),
            Err(e)
                if lock_busy(&e)
                    && retries < 30
                    && !read_holder(dir).as_ref().is_some_and(holder_may_be_alive) =>
            {
                retries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(open_error(dir, e)),
        }
    }
}

fn lock_busy(e: &::sled::Error) -> bool {
    matches!(e, ::sled::Error::Io(io)
        if io.kind() == std::io::ErrorKind::WouldBlock
            || io.raw_os_error() == Some(11)
            || io.to_string().contains("could not acquire lock"))
}

fn open_error(dir: &Path, e: ::sled::Error) -> StateError {
    let shown = dir.display().to_string();
    if lock_busy(&e) {
        // The holder writes its record just after taking the lock: in that instant the record is
        // missing or still a dead predecessor's. Give it a moment before naming anyone.
        let mut holder = read_holder(dir);
        for _ in 0..10 {
            if holder.as_ref().is_some_and(holder_may_be_alive) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            holder = read_holder(dir);
        }
        let holder = holder
            .map(|h| describe_holder(&h))
            .unwrap_or_else(|| "holder unknown".to_string());
        return StateError::Locked { dir: shown, holder };
    }
    StateError::Open {
        dir: shown,
        message: e.to_string(),
    }
}

/// `ferry force-unlock LOCK_ID`. ferry's lock is the database's own file lock, which the
/// operating system releases when its holder ends, so there is never a dead lock to break: a
/// live holder is refused (stop that process instead), and a leftover record of a dead one is
/// removed.
pub fn force_unlock(dir: &Path, lock_id: &str) -> Result<String, StateError> {
    let shown = dir.display().to_string();
    let Some(holder) = read_holder(dir) else {
        return Err(StateError::Open {
            dir: shown,
            message: "the state is not locked".into(),
        });
    };
    if holder["lock_id"].as_str() != Some(lock_id) {
        return Err(StateError::Open {
            dir: shown,
            message: format!(
                "no lock has the id {lock_id}; the recorded holder is {}",
                describe_holder(&holder)
            ),
        });
    }
    match ::sled::Config::new()
        .path(dir.join("db"))
        .flush_every_ms(None)
        .open()
    {
        Ok(_) => {
            std::fs::remove_file(dir.join(HOLDER_FILE))
                .map_err(|e| StateError::Write(e.to_string()))?;
            Ok(format!(
                "The lock {lock_id} belonged to a process that is gone ({}); its record is removed. \
                 Run `ferry plan`: it reports what that process left unfinished.",
                describe_holder(&holder)
            ))
        }
        Err(e) => match open_error(dir, e) {
            StateError::Locked { holder, .. } => Err(StateError::Open {
                dir: shown,
                message: format!(
                    "the lock is held by a running process ({holder}); it is the database's file lock, which ends \
                     with that process: stop the process instead of forcing the lock"
                ),
            }),
            other => Err(other),
        },
    }
}

/// Creates `dir` (and missing parents) readable by its owner only. An existing directory keeps
/// its mode (it may be a project folder given as `--state .`); what ferry keeps in it is private
/// on its own: the database inside `db/` (see [`private_db_dir`]), `secret.key` and `holder.json`
/// 0600.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The database's own directory, `DIR/db`: ferry's alone, so it is made 0700 whether new or not
/// (sled's files inside cannot be reached through it by anyone else).
fn private_db_dir(dir: &Path) -> std::io::Result<PathBuf> {
    let db = dir.join("db");
    create_private_dir(&db)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&db)?;
        if meta.is_dir() && meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(db)
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Replaces a small owner-only file by writing a new one beside it and renaming it over: a
/// symlink at `path` is refused (and a rename replaces a link, it never follows it), and a
/// reader never sees a half-written file.
fn replace_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if is_symlink(path) {
        return Err(std::io::Error::other(format!(
            "{} is a symlink; ferry never writes through one",
            path.display()
        )));
    }
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    // create_new: never opens an existing file or follows a link planted at the temporary name.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests;
