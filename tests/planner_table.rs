//! The planner on plain data only: declarations, a state snapshot and what is live, all
//! written out (no cloud, not even the fake). Each row is one situation and what the plan says.

#[path = "support/plain.rs"]
mod plain;

use ferry::cloud::{FunctionConfig, ImageLookup, RepositoryConfig};
use ferry::model::{Address, Desired};
use ferry::planner::{self, Operation};
use ferry::refresh::Observed;
use ferry::state::{Record, Snapshot};
use plain::{GOOD, Live, desired, repository_only, snapshot};

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn hello() -> Address {
    Address::Repository("hello".into())
}

fn hello_world() -> Address {
    Address::Function("hello-world".into())
}

/// What the plan says about `address`: its step's action (and "state only" when it calls
/// nothing) and reason, "unchanged", or its error.
fn outcome(d: &Desired, state: &Snapshot, observed: &Observed, address: &Address) -> String {
    let plan = planner::plan(d, state, observed);
    if let Some(e) = plan.errors.iter().find(|e| &e.address == address) {
        return format!("refused: {}", e.message);
    }
    if plan.unchanged.contains(address) {
        return "unchanged".into();
    }
    let step = plan
        .steps
        .iter()
        .find(|s| &s.address == address)
        .expect("a step, an error or unchanged");
    let only = match step.operation {
        Operation::Record => " (state only)",
        _ => "",
    };
    format!("{:?}{only}: {}", step.action, step.reason)
}

/// What ferry writes for `hello`, ownership tags included.
fn applied(d: &Desired) -> RepositoryConfig {
    let repo = &d.repositories["hello"];
    RepositoryConfig {
        name: repo.name.clone(),
        tag_mutability: repo.tag_mutability,
        scan_on_push: repo.scan_on_push,
        tags: d.ownership_tags(&hello(), &repo.tags),
    }
}

/// What the plan says about repository `hello`.
fn repository_outcome(recorded: bool, live: Option<RepositoryConfig>) -> String {
    let d = desired(repository_only());
    let target = d.repositories["hello"].target.clone();
    let state = snapshot(recorded.then(|| {
        (
            hello(),
            Record::Repository {
                target: target.clone(),
                config: applied(&d),
                force_delete: false,
            },
        )
    }));
    let observed = match live {
        Some(config) => Live::default().repository(&target, config, false),
        None => Live::default().no_repository(&target, "hello"),
    }
    .policy(&target, "hello", None)
    .build();
    outcome(&d, &state, &observed, &hello())
}

#[test]
fn a_declared_repository_as_a_table() {
    let d = desired(repository_only());
    let untagged = RepositoryConfig {
        tags: Default::default(),
        ..applied(&d)
    };
    let mut changed = applied(&d);
    changed.scan_on_push = !changed.scan_on_push;
    let table = [
        (false, None, "Create: it is declared and does not exist"),
        (
            true,
            None,
            "Create: it was deleted outside ferry; it will be created again",
        ),
        (true, Some(applied(&d)), "unchanged"),
        (
            true,
            Some(changed),
            "Update: it was changed outside ferry; the declared values will be restored",
        ),
        (
            false,
            Some(untagged),
            "refused: repository `hello` already exists in account 111111111111 (us-east-1) and is \
             not managed by this project; ferry never overwrites or adopts it silently",
        ),
    ];
    for (recorded, live, want) in table {
        let got = repository_outcome(recorded, live.clone());
        assert_eq!(got, want, "recorded: {recorded}, live: {live:?}");
    }
}

/// `GOOD`'s repository as applied (with ferry's tags), its image found: the ground the function
/// tables stand on.
fn with_repository(d: &Desired) -> Live {
    let target = d.repositories["hello"].target.clone();
    Live::default()
        .repository(&target, applied(d), false)
        .policy(&target, "hello", None)
        .image(
            "hello",
            ImageLookup::Found {
                digest: DIGEST.into(),
            },
        )
}

/// The record a first plan of `GOOD` would leave for `hello-world`: what ferry deploys.
fn deployed(d: &Desired) -> Record {
    let observed = with_repository(d)
        .function(&d.functions["hello-world"].target, "hello-world", None)
        .build();
    let plan = planner::plan(d, &snapshot([]), &observed);
    plan.steps
        .into_iter()
        .find(|s| s.address == hello_world())
        .and_then(|s| s.record)
        .expect("a first plan creates the function")
}

fn config(record: &Record) -> FunctionConfig {
    match record {
        Record::Function { config, .. } => config.clone(),
        _ => unreachable!("a function's record"),
    }
}

/// What the plan says about `hello-world` declared by `text`, given whether state records it
/// as deployed and what is live.
fn function_outcome(text: &str, recorded: bool, live: Option<FunctionConfig>) -> String {
    let d = desired(text);
    let record = deployed(&desired(GOOD));
    let state = snapshot(recorded.then(|| (hello_world(), record)));
    let observed = with_repository(&d)
        .function(&d.functions["hello-world"].target, "hello-world", live)
        .build();
    outcome(&d, &state, &observed, &hello_world())
}

#[test]
fn a_declared_function_as_a_table() {
    let deployed = config(&deployed(&desired(GOOD)));
    let mut changed = deployed.clone();
    changed.memory_mb = 256;
    let mut untagged = deployed.clone();
    untagged.tags.clear();
    let more_memory = GOOD.replace("memory_mb = 128", "memory_mb = 256");
    let table = [
        (
            GOOD,
            false,
            None,
            "Create: it is declared and does not exist",
        ),
        (
            GOOD,
            true,
            None,
            "Create: it was deleted outside ferry; it will be created again",
        ),
        (GOOD, true, Some(deployed.clone()), "unchanged"),
        (
            GOOD,
            true,
            Some(changed),
            "Update: it was changed outside ferry; the declared values will be restored",
        ),
        (
            &more_memory,
            true,
            Some(deployed.clone()),
            "Update: the declaration changed",
        ),
        (
            GOOD,
            false,
            Some(untagged),
            "refused: function `hello-world` already exists in account 222222222222 (us-east-1) \
             and is not managed by this project; ferry never overwrites or adopts it silently",
        ),
    ];
    for (text, recorded, live, want) in table {
        let got = function_outcome(text, recorded, live.clone());
        assert_eq!(got, want, "recorded: {recorded}, live: {live:?}");
    }
}

#[test]
fn a_function_no_longer_declared_as_a_table() {
    let d = desired(repository_only());
    let record = deployed(&desired(GOOD));
    let target = record.target().clone();
    let live = Some(config(&record));
    let table = [
        (live, "Delete: it is no longer declared"),
        (None, "Delete (state only): it is no longer declared"),
    ];
    for (live, want) in table {
        let state = snapshot([(hello_world(), record.clone())]);
        let observed = with_repository(&d)
            .function(&target, "hello-world", live.clone())
            .build();
        let got = outcome(&d, &state, &observed, &hello_world());
        assert_eq!(got, want, "live: {live:?}");
    }
}
