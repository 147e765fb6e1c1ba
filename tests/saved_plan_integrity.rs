//! Saved plans are integrity-checked: any edit of the file is refused before anything of it is
//! used, and a plan's structure is checked so that no plan (not even one the MAC accepts) can
//! make the executor panic or allocate without bound.

#[path = "support/plain.rs"]
mod plain;

use ferry::apply;
use ferry::cloud::fake::FakeCloud;
use ferry::declarations::{Source, parse_sources};
use ferry::model::{Desired, Target};
use ferry::planner::{self, Operation, Plan};
use ferry::refresh;
use ferry::saved_plan::{self, SavedPlanError};
use ferry::state::{MemoryState, Snapshot, StateStore};
use plain::{Quiet, sources};
use proptest::prelude::*;

const KEY: &[u8] = b"a test key, not a secret";

const DECLARATIONS: &str = plain::GOOD;

struct Fixture {
    desired: Desired,
    sources: Vec<Source>,
    snapshot: Snapshot,
    plan: Plan,
    file: Vec<u8>,
}

/// A real plan (a function created, a policy written, over a repository applied before),
/// saved under the test key.
fn fixture() -> Fixture {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let cloud = FakeCloud::new();
            let state = MemoryState::new(Snapshot {
                lineage: "l".into(),
                secret_key: KEY.to_vec(),
                ..Snapshot::default()
            });
            let repo_only = DECLARATIONS.split("[images.hello]").next().unwrap();
            let first = parse_sources(&sources(&[("ferry.toml", repo_only)]), &|_| None).unwrap();
            let snap = state.snapshot().unwrap();
            let p = planner::plan(
                &first,
                &snap,
                &refresh::refresh(&cloud, &first, &snap).await.unwrap(),
            );
            apply::execute(&p, &cloud, &state, &apply::Options::default(), &Quiet).await;
            cloud.push_image(
                &Target {
                    account: "registry".into(),
                    account_id: "111111111111".into(),
                    region: "us-east-1".into(),
                },
                "hello",
                "01",
                "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            );
            let sources = sources(&[("ferry.toml", DECLARATIONS)]);
            let desired = parse_sources(&sources, &|_| None).unwrap();
            let snapshot = state.snapshot().unwrap();
            let plan = planner::plan(
                &desired,
                &snapshot,
                &refresh::refresh(&cloud, &desired, &snapshot).await.unwrap(),
            );
            assert!(plan.steps.len() >= 2, "{plan:?}");
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("change.plan");
            saved_plan::save(&path, &plan, &desired, &sources, KEY).unwrap();
            let file = std::fs::read(&path).unwrap();
            Fixture {
                desired,
                sources,
                snapshot,
                plan,
                file,
            }
        })
}

fn load(f: &Fixture, bytes: &[u8]) -> Result<Plan, SavedPlanError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.plan");
    std::fs::write(&path, bytes).unwrap();
    saved_plan::load(&path, &f.desired, &f.sources, &f.snapshot)
}

#[test]
fn an_unedited_saved_plan_loads_as_it_was_planned() {
    let f = fixture();
    assert_eq!(load(&f, &f.file).unwrap(), f.plan);
    saved_plan::check_structure(&f.plan).unwrap();
}

#[test]
fn a_readable_edit_is_refused_by_the_mac_in_one_line() {
    let f = fixture();
    let text = String::from_utf8(f.file.clone()).unwrap();
    for (what, edited) in [
        (
            "memory",
            text.replace("\"memory_mb\": 128", "\"memory_mb\": 10240"),
        ),
        (
            "policy principal",
            text.replace("arn:aws:iam::222222222222:root", "*"),
        ),
    ] {
        assert_ne!(edited, text, "the {what} edit must change the file");
        let e = load(&f, edited.as_bytes()).unwrap_err();
        assert!(matches!(e, SavedPlanError::Tampered { .. }), "{what}: {e}");
        let shown = e.to_string();
        assert!(!shown.contains('\n'), "{shown}");
        assert!(
            shown.contains("was changed after ferry saved it"),
            "{shown}"
        );
    }
}

#[test]
fn a_plan_saved_with_another_state_key_is_refused() {
    let f = fixture();
    let other = Snapshot {
        secret_key: b"another state's key".to_vec(),
        ..f.snapshot.clone()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.plan");
    std::fs::write(&path, &f.file).unwrap();
    let e = saved_plan::load(&path, &f.desired, &f.sources, &other).unwrap_err();
    assert!(matches!(e, SavedPlanError::Tampered { .. }), "{e}");
}

#[test]
fn structure_checks_refuse_what_would_panic_or_allocate_without_bound() {
    let f = fixture();
    let last = f.plan.steps.len() - 1;
    let cases: Vec<(&str, Box<Edit>)> = vec![
        ("level 2^64-1", Box::new(|p| p.steps[0].level = usize::MAX)),
        (
            "level 10^12",
            Box::new(|p| p.steps[0].level = 1_000_000_000_000),
        ),
        ("id off its position", Box::new(|p| p.steps[0].id = 7)),
        (
            "a dependency forwards",
            Box::new(move |p| p.steps[0].depends_on = vec![last]),
        ),
        (
            "a dependency on a missing step",
            Box::new(|p| p.steps[0].depends_on = vec![usize::MAX]),
        ),
        (
            "a dependency at the same level",
            Box::new(move |p| {
                p.steps[last].depends_on = vec![0];
                p.steps[last].level = p.steps[0].level;
            }),
        ),
        (
            "a delete of another resource on a create step",
            Box::new(|p| {
                p.steps[0].operation = Operation::DeleteRepository {
                    name: "someone-elses".into(),
                    force: true,
                }
            }),
        ),
        (
            "an operation for another name",
            Box::new(move |p| {
                if let Operation::CreateFunction { config } = &mut p.steps[last].operation {
                    config.name = "other-fn".into();
                }
            }),
        ),
        (
            "a record in another account",
            Box::new(|p| {
                p.steps[0].target.account_id = "999999999999".into();
            }),
        ),
    ];
    for (what, edit) in cases {
        let mut p = f.plan.clone();
        edit(&mut p);
        assert!(
            saved_plan::check_structure(&p).is_err(),
            "{what} must be refused"
        );
        // Never a panic from the executor's view of it either, once refused: levels() is only
        // reached for plans that pass.
    }
}

/// An edit of a plan, as a test case.
type Edit = dyn Fn(&mut Plan);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random byte edits (changes, insertions, deletions) of a saved plan are always refused,
    /// and loading never panics.
    #[test]
    fn random_byte_edits_are_always_refused(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4)
    ) {
        thread_local! {
            static FIXTURE: Fixture = fixture();
        }
        FIXTURE.with(|f| {
            let mut bytes = f.file.clone();
            for (at, byte, kind) in &edits {
                let i = at.index(bytes.len().max(1));
                match kind {
                    0 if !bytes.is_empty() => bytes[i] = *byte,
                    1 => bytes.insert(i, *byte),
                    _ if !bytes.is_empty() => {
                        bytes.remove(i);
                    }
                    _ => {}
                }
            }
            if bytes != f.file {
                let r = std::panic::catch_unwind(|| load(f, &bytes));
                prop_assert!(r.is_ok(), "load panicked");
                prop_assert!(r.unwrap().is_err(), "an edited plan was accepted");
            }
            Ok(())
        })?;
    }
}
