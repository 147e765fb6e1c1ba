//! The S3 lock: the object `KEY.lock`, created with `If-None-Match: *` and holding the
//! holder's record, deleted with `If-Match` on the ETag its creation returned, so a process
//! never removes a lock it does not hold (one broken by `force-unlock` and taken by another).

use super::super::StateError;
use super::super::lock::{LockHolder, describe_holder, holder_may_be_alive};
use super::remote::{Part, PutError, Remote};
use crate::cloud::aws::objects::Condition;
use std::time::{Duration, Instant};

/// The lock as this process holds it.
#[derive(Clone, Debug)]
pub(super) struct Held {
    pub holder: LockHolder,
    pub etag: String,
}

/// The lock object as it is now: its record and ETag.
fn current(remote: &Remote) -> Result<Option<(serde_json::Value, String)>, StateError> {
    Ok(remote.get(Part::Lock)?.map(|o| {
        let record = serde_json::from_slice(&o.body).unwrap_or(serde_json::Value::Null);
        (record, o.etag)
    }))
}

/// Who holds the lock, if anyone does.
pub(super) fn holder(remote: &Remote) -> Result<Option<LockHolder>, StateError> {
    Ok(current(remote)?.and_then(|(r, _)| serde_json::from_value(r).ok()))
}

/// Takes the lock for `holder`, waiting up to `timeout` while another process holds it. A
/// holder of this host whose process is gone (killed) is taken over, and its record returned
/// for the warning; a holder elsewhere is never judged dead (only `force-unlock` breaks it).
pub(super) fn acquire(
    remote: &Remote,
    holder: LockHolder,
    timeout: Duration,
) -> Result<(Held, Option<String>), StateError> {
    let deadline = Instant::now() + timeout;
    let body = serde_json::to_vec(&holder).expect("a lock record serializes");
    let mut stale = None;
    loop {
        match remote.put(Part::Lock, body.clone(), Some(Condition::Absent)) {
            Ok(etag) => return Ok((Held { holder, etag }, stale)),
            Err(PutError::Failed(e)) => return Err(e),
            Err(PutError::Refused) => {}
        }
        // Someone holds it (or just released it: then try again at once).
        let Some((record, etag)) = current(remote)? else {
            continue;
        };
        if !holder_may_be_alive(&record) {
            match remote.delete(Part::Lock, Some(&etag)) {
                Ok(()) | Err(PutError::Refused) => {}
                Err(PutError::Failed(e)) => return Err(e),
            }
            stale = Some(describe_holder(&record));
            continue;
        }
        if Instant::now() >= deadline {
            return Err(StateError::Locked {
                dir: remote.url(Part::State),
                holder: describe_holder(&record),
            });
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Records another operation in the lock this process holds.
pub(super) fn rename(remote: &Remote, held: &Held, operation: &str) -> Result<Held, StateError> {
    let holder = LockHolder {
        operation: operation.to_string(),
        ..held.holder.clone()
    };
    let body = serde_json::to_vec(&holder).expect("a lock record serializes");
    match remote.put(
        Part::Lock,
        body,
        Some(Condition::Matches(held.etag.clone())),
    ) {
        Ok(etag) => Ok(Held { holder, etag }),
        Err(PutError::Refused) => Err(lost(remote, held)),
        Err(PutError::Failed(e)) => Err(e),
    }
}

/// Deletes the lock if it is still the one this process created.
pub(super) fn release(remote: &Remote, held: &Held) -> Result<(), StateError> {
    match remote.delete(Part::Lock, Some(&held.etag)) {
        Ok(()) => Ok(()),
        Err(PutError::Refused) => Err(lost(remote, held)),
        Err(PutError::Failed(e)) => Err(e),
    }
}

fn lost(remote: &Remote, held: &Held) -> StateError {
    let now = match current(remote) {
        Ok(Some((record, _))) => format!("it is now held by {}", describe_holder(&record)),
        Ok(None) => "nobody holds it now".to_string(),
        Err(_) => "its holder now is unknown".to_string(),
    };
    StateError::Remote {
        at: remote.url(Part::Lock),
        message: format!(
            "the lock {} is no longer this process's (it was forced, {now}); it was left as it is",
            held.holder.lock_id
        ),
    }
}

/// `ferry force-unlock LOCK_ID` on an S3 state: deletes the lock `lock_id` (under its ETag,
/// so a lock taken again in between is not touched). A holder running on this host is refused:
/// stop it instead.
pub fn force_unlock(remote: &Remote, lock_id: &str) -> Result<String, StateError> {
    let at = remote.url(Part::Lock);
    let Some((record, etag)) = current(remote)? else {
        return Err(StateError::Remote {
            at,
            message: "the state is not locked".into(),
        });
    };
    if record["lock_id"].as_str() != Some(lock_id) {
        return Err(StateError::Remote {
            at,
            message: format!(
                "no lock has the id {lock_id}; the holder is {}",
                describe_holder(&record)
            ),
        });
    }
    if holder_may_be_alive(&record)
        && record["host"].as_str() == Some(super::super::lock::hostname().as_str())
    {
        return Err(StateError::Remote {
            at,
            message: format!(
                "the lock is held by a process running on this host ({}): stop it instead of forcing the lock",
                describe_holder(&record)
            ),
        });
    }
    match remote.delete(Part::Lock, Some(&etag)) {
        Ok(()) => Ok(format!(
            "The lock {lock_id} is removed ({}). If that process is still running, it cannot \
             release the lock, and its state writes are refused once another run has written. Run `ferry plan`: it reports what it left unfinished.",
            describe_holder(&record)
        )),
        Err(PutError::Refused) => Err(StateError::Remote {
            at,
            message: format!("the lock {lock_id} changed while it was being removed; look again"),
        }),
        Err(PutError::Failed(e)) => Err(e),
    }
}
