//! The state as one JSON document: what the S3 backend stores at its key, what `ferry state
//! pull` prints and `ferry state push` reads. The secret key is never part of it.
//!
//! May not touch: where the document is kept (each backend's), the journal.

use super::{FORMAT_VERSION, Record, Snapshot, StateError};
use crate::model::Address;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDocument {
    pub format_version: u64,
    pub lineage: String,
    pub serial: u64,
    pub resources: BTreeMap<Address, Record>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub declared_in: BTreeMap<Address, String>,
}

impl StateDocument {
    pub fn of(snapshot: &Snapshot) -> Self {
        StateDocument {
            format_version: FORMAT_VERSION,
            lineage: snapshot.lineage.clone(),
            serial: snapshot.serial,
            resources: snapshot.resources.clone(),
            declared_in: snapshot.declared_in.clone(),
        }
    }

    /// The snapshot the document holds (without a secret key or interrupted calls).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            lineage: self.lineage.clone(),
            serial: self.serial,
            resources: self.resources.clone(),
            declared_in: self.declared_in.clone(),
            ..Snapshot::default()
        }
    }

    /// Pretty JSON, keys in a fixed order, ending in a newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut text = serde_json::to_vec_pretty(self).expect("a state document serializes");
        text.push(b'\n');
        text
    }

    /// A document read from `origin` (a file, an S3 object): refused if it is not one, or was
    /// written by a newer ferry.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, StateError> {
        let doc: StateDocument =
            serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
                dir: origin.to_string(),
                message: format!("not a ferry state document: {e}"),
            })?;
        if doc.format_version > FORMAT_VERSION {
            return Err(StateError::NewerFormat {
                dir: origin.to_string(),
                found: doc.format_version,
            });
        }
        if doc.lineage.is_empty() {
            return Err(StateError::Corrupt {
                dir: origin.to_string(),
                message: "the document has no lineage".into(),
            });
        }
        Ok(doc)
    }
}

/// Why `ferry state push` refuses a document (Terraform's `CheckValidImport`): another
/// lineage, an older serial, or the same serial with other records. `None`: it may replace
/// `current`. A state that never recorded anything (serial 0) takes any document.
pub fn push_refusal(current: &Snapshot, pushed: &StateDocument) -> Option<String> {
    if current.serial == 0 && current.resources.is_empty() {
        return None;
    }
    if pushed.lineage != current.lineage {
        return Some(format!(
            "the file is of another state (lineage {}; this state's is {})",
            pushed.lineage, current.lineage
        ));
    }
    if pushed.serial < current.serial {
        return Some(format!(
            "the file's serial {} is older than the state's {}: it would undo what was applied since",
            pushed.serial, current.serial
        ));
    }
    if pushed.serial == current.serial
        && (pushed.resources != current.resources || pushed.declared_in != current.declared_in)
    {
        return Some(format!(
            "the file has the state's serial {} but other records",
            pushed.serial
        ));
    }
    None
}

/// The snapshot a push writes: the document's records, with a serial above the current one
/// (so every writer that read the state before sees that it changed) and the current lineage
/// when forced over another.
pub fn pushed_snapshot(current: &Snapshot, pushed: &StateDocument) -> Snapshot {
    let mut s = pushed.snapshot();
    s.serial = pushed.serial.max(current.serial + 1);
    if !current.lineage.is_empty() {
        s.lineage = current.lineage.clone();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Target;

    fn state(serial: u64, lineage: &str, n: usize) -> Snapshot {
        let mut s = Snapshot {
            lineage: lineage.into(),
            serial,
            ..Snapshot::default()
        };
        for i in 0..n {
            s.resources.insert(
                format!("repository_policy.r{i}").parse().unwrap(),
                Record::RepositoryPolicy {
                    target: Target {
                        account: "registry".into(),
                        account_id: "111111111111".into(),
                        region: "us-east-1".into(),
                    },
                    repository: format!("r{i}"),
                    policy: "{}".into(),
                },
            );
        }
        s
    }

    #[test]
    fn a_push_is_refused_when_older_of_another_lineage_or_different_at_one_serial() {
        let current = state(5, "L", 2);
        let doc = |serial, lineage, n| StateDocument::of(&state(serial, lineage, n));
        assert!(
            push_refusal(&current, &doc(4, "L", 2))
                .unwrap()
                .contains("older")
        );
        assert!(
            push_refusal(&current, &doc(9, "M", 2))
                .unwrap()
                .contains("another state")
        );
        assert!(
            push_refusal(&current, &doc(5, "L", 1))
                .unwrap()
                .contains("other records")
        );
        assert_eq!(push_refusal(&current, &doc(5, "L", 2)), None);
        assert_eq!(push_refusal(&current, &doc(6, "L", 1)), None);
        // A fresh state takes anything.
        assert_eq!(push_refusal(&Snapshot::default(), &doc(1, "M", 1)), None);
        // What is written always moves the serial on, in the current lineage.
        let forced = pushed_snapshot(&current, &doc(2, "M", 1));
        assert_eq!((forced.serial, forced.lineage.as_str()), (6, "L"));
    }

    #[test]
    fn a_document_round_trips_and_a_newer_format_is_refused() {
        let doc = StateDocument::of(&state(3, "L", 2));
        assert_eq!(StateDocument::parse(&doc.to_json(), "f").unwrap(), doc);
        let mut newer = serde_json::to_value(&doc).unwrap();
        newer["format_version"] = (FORMAT_VERSION + 1).into();
        let bytes = serde_json::to_vec(&newer).unwrap();
        assert!(matches!(
            StateDocument::parse(&bytes, "f"),
            Err(StateError::NewerFormat { .. })
        ));
        assert!(StateDocument::parse(b"{}", "f").is_err());
    }
}
