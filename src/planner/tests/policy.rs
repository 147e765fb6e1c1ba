//! The policy decider.

use super::{GOOD, desired, planner, refused};
use crate::model::{Address, Place};
use crate::planner::policy::PolicyDecision;
use crate::policy;
use crate::refresh::Observed;
use crate::state::{Record, Snapshot};

const OTHER: &str = r#"{"Version":"2012-10-17","Statement":[]}"#;

/// `Some(true)`: the derived policy; `Some(false)`: another one; `None`: none.
fn decide(recorded: Option<bool>, live: Option<bool>, interrupted: bool) -> String {
    let d = desired(GOOD);
    let repo = &d.repositories["hello"];
    let derived = policy::to_text(&policy::synthesize(&d, repo).unwrap().unwrap());
    let text = |same: bool| {
        if same {
            derived.clone()
        } else {
            OTHER.to_string()
        }
    };
    let address = Address::RepositoryPolicy("hello".into());
    let mut state = Snapshot::default();
    if let Some(same) = recorded {
        state.resources.insert(
            address.clone(),
            Record::RepositoryPolicy {
                target: repo.target.clone(),
                repository: repo.name.clone(),
                policy: text(same),
            },
        );
    }
    if interrupted {
        state.interrupted.insert(address);
    }
    let mut observed = Observed::default();
    observed
        .policies
        .insert(Place::new(&repo.target, &repo.name), live.map(text));
    match planner(&d, &state, &observed).decide_policy(repo) {
        PolicyDecision::Write { why, .. } => format!("write ({why:?})"),
        PolicyDecision::Refused(e) => refused(&e, 7),
        PolicyDecision::Adopt { .. } => "adopt".into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn decisions_as_a_table() {
    // (recorded, live, interrupted apply, decision)
    let table = [
        (None, None, false, "write (First)"),
        (Some(true), None, false, "write (Recreate)"),
        (Some(true), Some(true), false, "Unchanged"),
        (None, Some(true), false, "adopt"),
        (Some(false), Some(true), false, "adopt"),
        (Some(true), Some(false), false, "write (Restore)"),
        (Some(false), Some(false), false, "write (Consumers)"),
        (None, Some(false), true, "write (Interrupted)"),
        (
            None,
            Some(false),
            false,
            "refused: repository `hello` already has a policy that",
        ),
    ];
    for (recorded, live, interrupted, want) in table {
        assert_eq!(
            decide(recorded, live, interrupted),
            want,
            "recorded {recorded:?}, live {live:?}, interrupted {interrupted}"
        );
    }
}
