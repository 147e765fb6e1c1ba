//! The lock's holder record: who holds a state's lock (lock id, process, user, host, command,
//! since when), whether that holder may still be alive, and how it is named in errors. The
//! lock itself is each backend's ([`super::StateStore::lock`]): sled's is the database's file
//! lock, which the holder record only names.
//!
//! May not touch: the records, the journal.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file beside a sled database that names its lock's holder.
pub(super) const HOLDER_FILE: &str = "holder.json";

/// Who holds a state's lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// What `ferry force-unlock` takes.
    pub lock_id: String,
    pub pid: u32,
    pub user: String,
    pub host: String,
    /// The ferry command that took the lock.
    pub operation: String,
    /// Unix time, in seconds.
    pub started: u64,
    /// The holder's ferry version (records written before it was kept have none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}

impl LockHolder {
    /// A holder record for this process, running `ferry {operation}`.
    pub fn this_process(lock_id: String, operation: &str) -> Self {
        LockHolder {
            lock_id,
            pid: std::process::id(),
            user: std::env::var("USER").unwrap_or_default(),
            host: hostname(),
            operation: operation.to_string(),
            started: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            version: crate::version::VERSION.to_string(),
        }
    }

    /// The record as JSON, its keys in sorted order (as `holder.json` has always been written).
    pub(super) fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// How errors name the holder.
    pub fn describe(&self) -> String {
        describe_holder(&self.to_json())
    }

    /// Whether the holder may still be running.
    pub fn may_be_alive(&self) -> bool {
        holder_may_be_alive(&self.to_json())
    }
}

/// A new lock id (12 hex digits, unique per directory, process and moment).
pub(super) fn new_lock_id(dir: &Path) -> String {
    super::lineage::new_lineage(dir)[..13].replace('-', "")
}

/// The holder record in `dir`, as written (fields a damaged record lacks show as `?`).
pub(super) fn read_holder(dir: &Path) -> Option<serde_json::Value> {
    std::fs::read_to_string(dir.join(HOLDER_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

pub(super) fn describe_holder(h: &serde_json::Value) -> String {
    let version = match h["version"].as_str() {
        Some(v) if !v.is_empty() => format!(" (ferry {v})"),
        _ => String::new(),
    };
    format!(
        "lock id {}, pid {} of {}@{}, running `ferry {}`{version} since unix time {}",
        h["lock_id"].as_str().unwrap_or("?"),
        h["pid"],
        h["user"].as_str().unwrap_or("?"),
        h["host"].as_str().unwrap_or("?"),
        h["operation"].as_str().unwrap_or("?"),
        h["started"]
    )
}

/// Whether a holder record may name a running process: false only when it is of this host and
/// its pid is gone (Linux's /proc tells; elsewhere every record may be alive).
pub(super) fn holder_may_be_alive(h: &serde_json::Value) -> bool {
    let (Some(pid), Some(host)) = (h["pid"].as_u64(), h["host"].as_str()) else {
        return false;
    };
    if host != hostname() || !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

pub(super) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}
