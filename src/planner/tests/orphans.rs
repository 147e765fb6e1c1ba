//! The decider for records no longer declared.

use super::{GOOD, desired, first_words, planner, refused};
use crate::cloud::{LiveFunction, RepositoryConfig};
use crate::model::{Address, Place, Purpose};
use crate::planner::orphans::OrphanDecision;
use crate::refresh::Observed;
use crate::state::{Record, Snapshot};
use std::collections::BTreeMap;

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// `GOOD`'s function, repository `old` (`force_delete` as given) or `hello`'s policy, as state
/// records it at `address`.
fn record(address: &Address, force_delete: bool) -> Record {
    let d = desired(GOOD);
    let target = d.repositories["hello"].target.clone();
    match address {
        Address::Function(_) => {
            let (state, observed) = (Snapshot::default(), Observed::default());
            let digests = BTreeMap::from([("hello".to_string(), DIGEST.to_string())]);
            planner(&d, &state, &observed)
                .function_config(&d.functions["hello-world"], &digests)
                .expect("GOOD's function has a repository and a digest")
                .1
        }
        Address::Repository(name) => Record::Repository {
            target,
            config: RepositoryConfig {
                name: name.clone(),
                tag_mutability: crate::model::TagMutability::Mutable,
                scan_on_push: false,
                tags: BTreeMap::new(),
            },
            force_delete,
        },
        _ => Record::RepositoryPolicy {
            target,
            repository: "hello".into(),
            policy: "{}".into(),
        },
    }
}

/// The decision for the record at `address` under `text`, with what is live there (`images`:
/// a live repository holds some).
fn decide(
    text: &str,
    purpose: Purpose,
    address: &str,
    live: bool,
    images: bool,
    force: bool,
) -> String {
    let mut d = desired(text);
    d.purpose = purpose;
    let address: Address = address.parse().expect("an address");
    let record = record(&address, force);
    let mut state = Snapshot::default();
    state.resources.insert(address.clone(), record.clone());
    let mut observed = Observed::default();
    let (target, name) = (record.target().clone(), record.identity().3.to_string());
    let place = Place::new(&target, &name);
    match &record {
        Record::Function { config, .. } => {
            let config = config.clone();
            let arn = String::new();
            observed
                .functions
                .insert(place, live.then_some(LiveFunction { config, arn }));
        }
        Record::Repository { config, .. } => {
            observed.has_images.insert(place.clone(), images);
            observed
                .repositories
                .insert(place, live.then(|| config.clone()));
        }
        Record::RepositoryPolicy { policy, .. } => {
            observed
                .policies
                .insert(place, live.then(|| policy.clone()));
        }
        Record::Replication { .. } | Record::RegistryPolicy { .. } => {}
    }
    match planner(&d, &state, &observed).decide_orphan(&address, &record) {
        OrphanDecision::Kept(why) => format!("kept ({why:?})"),
        OrphanDecision::Refused(e) => format!("{} / {}", refused(&e, 8), first_words(&e.hint, 6)),
        OrphanDecision::Delete { why, live } => {
            format!("delete ({why:?}, live: {})", live.is_some())
        }
    }
}

#[test]
fn decisions_as_a_table() {
    let (no_function, _) = GOOD
        .split_once("[functions.hello-world]")
        .expect("GOOD declares a function");
    let unmanaged_policy = GOOD.replace(
        "[repositories.hello]\nregistry = \"central\"\n",
        "[repositories.hello]\nregistry = \"central\"\nmanage_policy = false\n",
    );
    let (r, x) = (Purpose::Reconcile, Purpose::Destroy);
    let f = "function.hello-world";
    // (declarations, purpose, recorded address, live, live repository holds images,
    // force_delete, decision)
    let table: &[(&str, Purpose, &str, bool, bool, bool, &str)] = &[
        (GOOD, r, f, true, false, false, "kept (Declared)"),
        (
            GOOD,
            r,
            "function.old",
            true,
            false,
            false,
            "kept (Renamed)",
        ),
        (
            no_function,
            r,
            f,
            true,
            false,
            false,
            "delete (Undeclared, live: true)",
        ),
        (
            no_function,
            r,
            f,
            false,
            false,
            false,
            "delete (Undeclared, live: false)",
        ),
        (
            GOOD,
            r,
            "repository.old",
            true,
            false,
            false,
            "delete (Undeclared, live: true)",
        ),
        (
            GOOD,
            r,
            "repository.old",
            true,
            true,
            true,
            "delete (Undeclared, live: true)",
        ),
        (
            GOOD,
            r,
            "repository.old",
            true,
            true,
            false,
            "refused: repository `old` is no longer declared but still / delete its images first, or declare",
        ),
        (
            GOOD,
            x,
            "repository.old",
            true,
            true,
            false,
            "refused: repository `old` still holds images, so destroy does / delete its images first, or set",
        ),
        (
            &unmanaged_policy,
            r,
            "repository_policy.hello",
            true,
            false,
            false,
            "delete (PolicyUnmanaged, live: true)",
        ),
        (
            &unmanaged_policy,
            r,
            "repository_policy.hello",
            false,
            false,
            false,
            "delete (UndeclaredAndGone, live: false)",
        ),
    ];
    for (text, purpose, address, live, images, force, want) in table {
        let got = decide(text, *purpose, address, *live, *images, *force);
        assert_eq!(
            &got, want,
            "{address}, live {live}, images {images}, force {force}"
        );
    }
}
