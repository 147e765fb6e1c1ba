//! The planner on plain data only: declarations, a state snapshot and what is live, all
//! written out (no cloud, not even the fake). Each row is one situation and what the plan says.

#[path = "support/plain.rs"]
mod plain;

use ferry::cloud::RepositoryConfig;
use ferry::model::{Address, Desired};
use ferry::planner;
use ferry::state::Record;
use plain::{Live, desired, snapshot};

const DECLARED: &str = r#"
[project]
name = "payments"
default_region = "us-east-1"

[accounts.registry]
id = "111111111111"

[registries.central]
account = "registry"

[repositories.hello]
registry = "central"
"#;

fn hello() -> Address {
    Address::Repository("hello".into())
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

/// What the plan says about `hello`: its step's action and reason, "unchanged", or its error.
fn outcome(recorded: bool, live: Option<RepositoryConfig>) -> String {
    let d = desired(DECLARED);
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
    let plan = planner::plan(&d, &state, &observed);
    if let Some(e) = plan.errors.iter().find(|e| e.address == hello()) {
        return format!("refused: {}", e.message);
    }
    if plan.unchanged.contains(&hello()) {
        return "unchanged".into();
    }
    let step = plan
        .steps
        .iter()
        .find(|s| s.address == hello())
        .expect("a step, an error or unchanged");
    format!("{:?}: {}", step.action, step.reason)
}

#[test]
fn a_declared_repository_as_a_table() {
    let d = desired(DECLARED);
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
        let got = outcome(recorded, live.clone());
        assert_eq!(got, want, "recorded: {recorded}, live: {live:?}");
    }
}
