//! The repository decider.

use super::{GOOD, desired, planner, refused};
use crate::cloud::RepositoryConfig;
use crate::model::{Address, Desired, Place};
use crate::planner::repository::RepositoryDecision;
use crate::refresh::Observed;
use crate::state::{Record, Snapshot};

/// What ferry writes for `hello` (its ownership tags included).
fn applied(d: &Desired, name: &str) -> RepositoryConfig {
    let repo = &d.repositories["hello"];
    RepositoryConfig {
        name: name.to_string(),
        tag_mutability: repo.tag_mutability,
        scan_on_push: repo.scan_on_push,
        tags: d.ownership_tags(&Address::Repository("hello".into()), &repo.tags),
    }
}

fn record(d: &Desired, name: &str) -> Record {
    Record::Repository {
        target: d.repositories["hello"].target.clone(),
        config: applied(d, name),
        force_delete: false,
    }
}

/// The decision for `hello` given what state records and what is live (by name, whether it
/// holds images), both without ownership tags (imported), live with the other scan setting.
fn decide(recorded: Option<&str>, live: &[(&str, bool)], untagged: bool, changed: bool) -> String {
    let d = desired(GOOD);
    let target = d.repositories["hello"].target.clone();
    let mut state = Snapshot::default();
    if let Some(name) = recorded {
        let mut record = record(&d, name);
        if let Record::Repository { config, .. } = &mut record
            && untagged
        {
            config.tags.clear();
        }
        state
            .resources
            .insert(Address::Repository("hello".into()), record);
    }
    let mut observed = Observed::default();
    for (name, images) in live {
        let mut config = applied(&d, name);
        if untagged {
            config.tags.clear();
        }
        config.scan_on_push ^= changed;
        let place = Place::new(&target, name);
        observed.repositories.insert(place.clone(), Some(config));
        observed.has_images.insert(place, *images);
    }
    match planner(&d, &state, &observed).decide_repository(&d.repositories["hello"]) {
        RepositoryDecision::Refused(e) => refused(&e, 7),
        RepositoryDecision::Replace { old, .. } => format!("replace {}", old.name),
        RepositoryDecision::Create { recreate } => format!("create (recreate: {recreate})"),
        RepositoryDecision::Existing { verdict, .. } => format!("{verdict:?}"),
    }
}

type Row<'a> = (Option<&'a str>, &'a [(&'a str, bool)], bool, bool, &'a str);

#[test]
fn decisions_as_a_table() {
    // (name state records, live repositories by name with whether they hold images,
    // recorded and live without ownership tags, live with the other scan_on_push, decision)
    let table: &[Row] = &[
        (None, &[], false, false, "create (recreate: false)"),
        (Some("hello"), &[], false, false, "create (recreate: true)"),
        (
            Some("hello"),
            &[("hello", false)],
            false,
            false,
            "Unchanged",
        ),
        (
            Some("hello"),
            &[("hello", false)],
            false,
            true,
            "Update(ChangedOutside)",
        ),
        (
            Some("hello"),
            &[("hello", false)],
            true,
            false,
            "Update(Cause(Imported { image: None }))",
        ),
        (
            None,
            &[("hello", false)],
            true,
            false,
            "refused: repository `hello` already exists in account 111111111111",
        ),
        (Some("old"), &[("old", false)], false, false, "replace old"),
        (Some("old"), &[], false, false, "replace old"),
        (
            Some("old"),
            &[("old", true)],
            false,
            false,
            "refused: repository `hello` moves from account 111111111111 (us-east-1)",
        ),
    ];
    for (recorded, live, untagged, changed, want) in table {
        let got = decide(*recorded, live, *untagged, *changed);
        assert_eq!(&got, want, "recorded {recorded:?}, live {live:?}");
    }
}
