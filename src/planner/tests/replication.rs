//! The registry documents' decider (replication configurations and registry policies).

use crate::planner::replication::{DocumentDecision, Kind, decide};

const OURS: &str = r#"{"rules":[{"destinations":[{"region":"eu-west-1","registryId":"222222222222"}],"repositoryFilters":[{"filter":"hello","filterType":"PREFIX_MATCH"}]}]}"#;
/// OURS in another order of keys: the same configuration.
const OURS_REORDERED: &str = r#"{"rules":[{"repositoryFilters":[{"filterType":"PREFIX_MATCH","filter":"hello"}],"destinations":[{"registryId":"222222222222","region":"eu-west-1"}]}]}"#;
const OTHER: &str =
    r#"{"rules":[{"destinations":[{"region":"us-west-2","registryId":"111111111111"}]}]}"#;

fn row(want: Option<&str>, record: Option<&str>, live: Option<&str>, interrupted: bool) -> String {
    match decide(Kind::Replication, want, record, live, interrupted) {
        Ok(DocumentDecision::Write { before, why }) => {
            format!(
                "write {why:?}{}",
                if before.is_some() { " over live" } else { "" }
            )
        }
        Ok(DocumentDecision::Delete { before }) => {
            format!("delete{}", if before.is_none() { " (gone)" } else { "" })
        }
        Ok(other) => format!("{other:?}"),
        Err(()) => "refused".into(),
    }
}

#[test]
fn decisions_as_a_table() {
    let (o, r, x) = (Some(OURS), Some(OURS_REORDERED), Some(OTHER));
    // (wanted, recorded, live, interrupted apply, decision)
    let table = [
        (o, None, None, false, "write First"),
        (o, None, None, true, "write Interrupted"),
        (o, None, r, false, "Adopt"),
        (o, o, r, false, "Unchanged"),
        (o, x, o, false, "Adopt"),
        (o, o, None, false, "write Recreate"),
        (o, o, x, false, "write Restore over live"),
        (o, x, x, false, "write Declared over live"),
        (o, None, x, false, "refused"),
        (o, None, x, true, "write Interrupted over live"),
        (None, o, o, false, "delete"),
        (None, o, None, false, "delete (gone)"),
        (None, None, x, false, "Unchanged"),
    ];
    for (want, record, live, interrupted, expected) in table {
        assert_eq!(
            row(want, record, live, interrupted),
            expected,
            "want {want:?}, record {record:?}, live {live:?}, interrupted {interrupted}"
        );
    }
}
