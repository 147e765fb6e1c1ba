//! Beside the planner: a plan never acts on half of the declarations.
//!
//! State keeps the declarations file of every address it records (`Snapshot::declared_in`). A
//! plan that would destroy an address whose file still exists, but was not read this run (`-c`
//! named another file of the project), is refused: the address is not "no longer declared",
//! it is declared somewhere this run did not look. Pure: the caller says, for each recorded
//! file, whether it was read, is elsewhere on disk, or is gone.

use crate::model::Address;
use crate::planner::{Action, Plan, PlanError};
use crate::state::Snapshot;
use std::collections::BTreeMap;
use std::path::Path;

/// What became of a declarations file recorded in state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Read by this run: what it no longer declares may go.
    Read,
    /// On disk but not read by this run.
    Unread,
    /// No longer there: what it declared may go.
    Gone,
}

/// One error per unread file whose addresses the plan would destroy.
pub fn unread_files(
    plan: &Plan,
    state: &Snapshot,
    status: &dyn Fn(&str) -> FileStatus,
) -> Vec<PlanError> {
    let mut by_file: BTreeMap<&str, Vec<&Address>> = BTreeMap::new();
    for step in plan.steps.iter().filter(|s| s.action == Action::Delete) {
        if let Some(file) = state.declared_in.get(&step.address) {
            by_file
                .entry(file.as_str())
                .or_default()
                .push(&step.address);
        }
    }
    by_file
        .into_iter()
        .filter(|(file, _)| status(file) == FileStatus::Unread)
        .map(|(file, addresses)| {
            let dir = Path::new(file)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or(".".to_string(), |p| p.display().to_string());
            let listed = addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            PlanError {
                address: addresses[0].clone(),
                message: format!(
                    "the plan would destroy {listed}, declared in {file}, which this run did not read"
                ),
                hint: format!(
                    "read every file of the project: `ferry -c {dir} plan` (or ferry without -c in {dir}) \
                     reads {file} too; to destroy them on purpose, remove their tables from {file} (or \
                     the file itself) and plan again"
                ),
                declared_at: None,
            }
        })
        .collect()
}

/// The status of recorded files against the sources this run read, from the file system
/// (paths are compared after resolving them, so `./a.toml`, `a.toml` and an absolute path are
/// one file).
pub fn file_status(sources: &[crate::declarations::Source]) -> impl Fn(&str) -> FileStatus {
    let read: Vec<std::path::PathBuf> = sources
        .iter()
        .filter_map(|s| std::fs::canonicalize(&s.path).ok())
        .collect();
    move |file: &str| match std::fs::canonicalize(file) {
        Ok(p) if read.contains(&p) => FileStatus::Read,
        Ok(p) if p.is_file() => FileStatus::Unread,
        _ => FileStatus::Gone,
    }
}

/// Adds to `plan.errors` the refusals of [`unread_files`] for this run's sources.
pub fn refuse_unread(plan: &mut Plan, state: &Snapshot, sources: &[crate::declarations::Source]) {
    let errors = unread_files(plan, state, &file_status(sources));
    plan.errors.extend(errors);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Target;
    use crate::planner::{Operation, Step};

    fn delete(address: &str) -> Step {
        Step {
            id: 0,
            address: address.parse().unwrap(),
            name: String::new(),
            action: Action::Delete,
            reason: String::new(),
            target: Target {
                account: "a".into(),
                account_id: "111111111111".into(),
                region: "us-east-1".into(),
            },
            changes: vec![],
            depends_on: vec![],
            level: 0,
            operation: Operation::Record,
            record: None,
            sensitive: Default::default(),
        }
    }

    fn plan(steps: Vec<Step>) -> Plan {
        Plan {
            project: "p".into(),
            lineage: String::new(),
            serial: 0,
            images: vec![],
            drift: vec![],
            steps,
            errors: vec![],
            warnings: vec![],
            unchanged: vec![],
            targets: vec![],
            gone_images: vec![],
        }
    }

    #[test]
    fn deletes_declared_in_an_unread_file_are_refused_once_per_file() {
        let mut state = Snapshot::default();
        for (a, f) in [
            ("function.a", "fns/functions.toml"),
            ("function.b", "fns/functions.toml"),
            ("function.c", "old.toml"),
            ("function.d", "ferry.toml"),
        ] {
            state.declared_in.insert(a.parse().unwrap(), f.into());
        }
        let p = plan(vec![
            delete("function.a"),
            delete("function.b"),
            delete("function.c"),
            delete("function.d"),
            delete("function.e"),
        ]);
        let errors = unread_files(&p, &state, &|f| match f {
            "fns/functions.toml" => FileStatus::Unread,
            "old.toml" => FileStatus::Gone,
            _ => FileStatus::Read,
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].message,
            "the plan would destroy function.a, function.b, declared in fns/functions.toml, \
             which this run did not read"
        );
        assert!(
            errors[0].hint.contains("`ferry -c fns plan`"),
            "{}",
            errors[0].hint
        );
    }
}
