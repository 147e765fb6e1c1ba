//! Planner and executor tests on plain data: declarations from TOML text, the in-memory fake
//! cloud, in-memory state. No network, no emulator.

#[path = "support/plain.rs"]
mod plain;

use ferry::apply;
use ferry::cloud::fake::{FakeCloud, api_error};
use ferry::model::{Desired, Target};
use ferry::planner::{self, Plan};
use ferry::refresh;
use ferry::state::{MemoryState, Snapshot, StateStore};
use plain::{Quiet, desired, lineage_state};
use std::time::Duration;

const BASE: &str = r#"
[project]
name = "payments"
default_region = "us-east-1"

[accounts.registry]
id = "111111111111"

[accounts.prod]
id = "222222222222"

[accounts.staging]
id = "333333333333"

[registries.central]
account = "registry"

[repositories.hello]
registry = "central"

[images.hello]
repository = "hello"
tag = "01"
"#;

const PROD_FN: &str = r#"
[functions.hello-world]
account = "prod"
image = "hello"
role = "arn:aws:iam::222222222222:role/LambdaRole"
"#;

const STAGING_FN: &str = r#"
[functions.hello-staging]
account = "staging"
image = "hello"
role = "arn:aws:iam::333333333333:role/LambdaRole"
"#;

fn registry() -> Target {
    Target {
        account: "registry".into(),
        account_id: "111111111111".into(),
        region: "us-east-1".into(),
    }
}

const DIGEST_1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const DIGEST_2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

async fn plan(cloud: &FakeCloud, d: &Desired, state: &dyn StateStore) -> Plan {
    let snap = state.snapshot().unwrap();
    let observed = refresh::refresh(cloud, d, &snap).await.unwrap();
    planner::plan(d, &snap, &observed)
}

async fn apply_all(cloud: &FakeCloud, d: &Desired, state: &dyn StateStore) -> Plan {
    let p = plan(cloud, d, state).await;
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let outcome = apply::execute(&p, cloud, state, &apply::Options::default(), &Quiet).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    p
}

fn summary(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .map(|s| format!("{} {:?} {}", s.level, s.action, s.address))
        .collect()
}

/// `function.hello-world` in prod.
fn prod_only() -> Desired {
    desired(&format!("{BASE}{PROD_FN}"))
}

/// `function.hello-world` in prod and `function.hello-staging` in staging.
fn prod_and_staging() -> Desired {
    desired(&format!("{BASE}{PROD_FN}{STAGING_FN}"))
}

/// A fake cloud and a state after phase one (`with_repository`).
async fn repository_applied() -> (FakeCloud, MemoryState) {
    let cloud = FakeCloud::new();
    let state = lineage_state();
    with_repository(&cloud, &state).await;
    (cloud, state)
}

/// Phase one: the repository alone; then an image is pushed.
async fn with_repository(cloud: &FakeCloud, state: &dyn StateStore) {
    apply_all(
        cloud,
        &desired(&BASE.replace("[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n", "")),
        state,
    )
    .await;
    cloud.push_image(&registry(), "hello", "01", DIGEST_1);
}

#[tokio::test]
async fn cross_account_plan_orders_repository_then_policy_then_function() {
    let (cloud, state) = repository_applied().await;
    let d = prod_only();
    let p = plan(&cloud, &d, &state).await;
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(
        summary(&p),
        vec![
            "0 Create repository_policy.hello",
            "1 Create function.hello-world",
        ]
    );
    let f = &p.steps[1];
    assert_eq!(f.depends_on, vec![0]);
    // Deployed by digest, in the function's account.
    let ferry::planner::Operation::CreateFunction { config } = &f.operation else {
        panic!("expected CreateFunction, got {:?}", f.operation)
    };
    assert_eq!(
        config.image_uri,
        format!("111111111111.dkr.ecr.us-east-1.amazonaws.com/hello@{DIGEST_1}")
    );
    assert_eq!(f.target.account_id, "222222222222");
}

#[tokio::test]
async fn fresh_declarations_create_the_repository_first() {
    let cloud = FakeCloud::new();
    let state = lineage_state();
    let d = desired(BASE);
    let p = plan(&cloud, &d, &state).await;
    assert_eq!(summary(&p), vec!["0 Create repository.hello"]);
    // The image cannot exist before its repository: a plan error that says what to do.
    assert_eq!(p.errors.len(), 1);
    assert!(
        p.errors[0].message.contains("does not exist yet"),
        "{:?}",
        p.errors
    );
}

#[tokio::test]
async fn a_second_plan_after_apply_has_nothing_to_do() {
    let (cloud, state) = repository_applied().await;
    let d = prod_and_staging();
    apply_all(&cloud, &d, &state).await;
    let calls_before = cloud.calls().len();
    let again = plan(&cloud, &d, &state).await;
    assert!(again.steps.is_empty(), "{:?}", summary(&again));
    assert!(again.errors.is_empty());
    assert_eq!(again.unchanged.len(), 4, "{:?}", again.unchanged);
    // A re-plan only reads.
    let writes: Vec<String> = cloud.calls()[calls_before..]
        .iter()
        .filter(|c| {
            !c.starts_with("Get") && !c.starts_with("Describe") && !c.starts_with("BatchGet")
        })
        .cloned()
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

#[tokio::test]
async fn a_moved_tag_updates_exactly_the_functions_using_it() {
    let (cloud, state) = repository_applied().await;
    let other_image = "\n[repositories.other]\nregistry = \"central\"\n";
    let other_fn = r#"
[images.other]
repository = "other"
tag = "01"

[functions.other-fn]
account = "prod"
image = "other"
role = "arn:aws:iam::222222222222:role/LambdaRole"
"#;
    apply_all(
        &cloud,
        &desired(&format!("{BASE}{other_image}{PROD_FN}")),
        &state,
    )
    .await;
    cloud.push_image(&registry(), "other", "01", DIGEST_1);
    let d = desired(&format!(
        "{BASE}{other_image}{other_fn}{PROD_FN}{STAGING_FN}"
    ));
    apply_all(&cloud, &d, &state).await;
    // The tag moves in `hello` only.
    cloud.push_image(&registry(), "hello", "01", DIGEST_2);
    let p = plan(&cloud, &d, &state).await;
    assert_eq!(
        summary(&p),
        vec![
            "0 Update function.hello-staging",
            "0 Update function.hello-world",
        ]
    );
    for s in &p.steps {
        assert_eq!(s.changes.len(), 1, "{:?}", s.changes);
        assert_eq!(s.changes[0].attribute, "image_uri");
        assert!(
            s.changes[0]
                .after
                .as_ref()
                .unwrap()
                .as_str()
                .unwrap()
                .ends_with(DIGEST_2)
        );
    }
}

#[tokio::test]
async fn a_function_in_a_new_account_updates_the_policy_before_the_function() {
    let (cloud, state) = repository_applied().await;
    apply_all(&cloud, &prod_only(), &state).await;
    let d = prod_and_staging();
    let p = plan(&cloud, &d, &state).await;
    assert_eq!(
        summary(&p),
        vec![
            "0 Update repository_policy.hello",
            "1 Create function.hello-staging",
        ]
    );
    assert_eq!(p.steps[1].depends_on, vec![p.steps[0].id]);
    let after = p.steps[0].changes[0].after.as_ref().unwrap().to_string();
    assert!(after.contains("arn:aws:iam::333333333333:root"), "{after}");
    assert!(
        after.contains("arn:aws:lambda:us-east-1:333333333333:function:*"),
        "{after}"
    );
}

#[tokio::test]
async fn removing_a_function_deletes_it_before_the_policy_drops_its_account() {
    let (cloud, state) = repository_applied().await;
    apply_all(&cloud, &prod_and_staging(), &state).await;
    let d = prod_only();
    let p = plan(&cloud, &d, &state).await;
    assert_eq!(
        summary(&p),
        vec![
            "0 Delete function.hello-staging",
            "1 Update repository_policy.hello",
        ]
    );
    apply_all(&cloud, &d, &state).await;
    let world = cloud.snapshot();
    assert_eq!(world.functions.len(), 1);
    let policy = world.policies.values().next().unwrap();
    assert!(!policy.contains("333333333333"), "{policy}");
}

#[tokio::test]
async fn a_missing_image_is_a_plan_error_naming_repository_tag_and_account() {
    let (cloud, state) = repository_applied().await;
    let d = desired(&format!("{BASE}{PROD_FN}").replace("tag = \"01\"", "tag = \"02\""));
    let p = plan(&cloud, &d, &state).await;
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    let m = &p.errors[0].message;
    assert!(
        m.contains("tag `02`") && m.contains("repository `hello`") && m.contains("111111111111"),
        "{m}"
    );
    // No function step without an image to deploy.
    assert!(
        p.steps
            .iter()
            .all(|s| !matches!(s.address, ferry::model::Address::Function(_)))
    );
}

#[tokio::test]
async fn an_unmanaged_function_of_the_same_name_is_refused_not_overwritten() {
    let (cloud, state) = repository_applied().await;
    let prod = Target {
        account: "prod".into(),
        account_id: "222222222222".into(),
        region: "us-east-1".into(),
    };
    use ferry::cloud::Cloud;
    cloud
        .create_function(
            &prod,
            &ferry::cloud::FunctionConfig {
                name: "hello-world".into(),
                image_uri: "someone/else@sha256:x".into(),
                role: "arn:aws:iam::222222222222:role/Other".into(),
                architecture: "x86_64".into(),
                memory_mb: 128,
                timeout_s: 3,
                description: String::new(),
                environment: Default::default(),
                tags: Default::default(),
            },
        )
        .await
        .unwrap();
    let p = plan(&cloud, &prod_only(), &state).await;
    assert_eq!(p.errors.len(), 1);
    assert!(
        p.errors[0]
            .hint
            .contains("ferry import function.hello-world hello-world"),
        "{:?}",
        p.errors
    );
}

#[tokio::test]
async fn a_function_created_but_not_recorded_is_adopted_by_its_tags() {
    let (cloud, state) = repository_applied().await;
    let d = prod_only();
    apply_all(&cloud, &d, &state).await;
    // Simulate a crash between CreateFunction and the state write.
    let addr: ferry::model::Address = "function.hello-world".parse().unwrap();
    state.remove(&addr).unwrap();
    // Tags alone do not make it ours (another state of the project, or `state rm`) ...
    let p = plan(&cloud, &d, &state).await;
    assert!(p.steps.is_empty(), "{:?}", summary(&p));
    assert!(
        p.errors[0].message.contains("carries this project's tags")
            && p.errors[0]
                .hint
                .contains("ferry import function.hello-world hello-world"),
        "{:?}",
        p.errors
    );
    // ... the journal's word that an interrupted apply was creating it does.
    let mut snap = state.snapshot().unwrap();
    snap.interrupted.insert(addr.clone());
    let observed = refresh::refresh(&cloud, &d, &snap).await.unwrap();
    let p = planner::plan(&d, &snap, &observed);
    assert_eq!(summary(&p), vec!["0 Adopt function.hello-world"]);
    let outcome = apply::execute(&p, &cloud, &state, &apply::Options::default(), &Quiet).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    assert!(plan(&cloud, &d, &state).await.steps.is_empty());
}

#[tokio::test]
async fn the_same_inputs_give_the_same_plan_byte_for_byte() {
    let (cloud, state) = repository_applied().await;
    let d = prod_and_staging();
    let snap = state.snapshot().unwrap();
    let observed = refresh::refresh(&cloud, &d, &snap).await.unwrap();
    let a = serde_json::to_string(&planner::plan(&d, &snap, &observed)).unwrap();
    // The same declarations written in another order, split across two files given in another
    // order, refreshed again: the same plan, byte for byte.
    let files = [
        ("b.toml", format!("{STAGING_FN}{BASE}")),
        ("a.toml", PROD_FN.to_string()),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let d2 = ferry::declarations::parse_sources(&plain::sources(&files), &|_| None).unwrap();
    let observed2 = refresh::refresh(&cloud, &d2, &snap).await.unwrap();
    let b = serde_json::to_string(&planner::plan(&d2, &snap, &observed2)).unwrap();
    assert_eq!(a, b);
    assert!(a.contains("hello-staging") && a.contains("hello-world"));
}

#[tokio::test]
async fn a_failed_step_stops_later_levels_and_state_keeps_what_completed() {
    let (cloud, state) = repository_applied().await;
    let d = prod_only();
    cloud.fail(
        "SetRepositoryPolicy",
        None,
        1,
        api_error(
            "SetRepositoryPolicy",
            "AccessDeniedException",
            "not allowed",
        ),
    );
    let p = plan(&cloud, &d, &state).await;
    let outcome = apply::execute(&p, &cloud, &state, &apply::Options::default(), &Quiet).await;
    assert!(
        outcome.rollback.is_none(),
        "only a failed CreateFunction rolls back"
    );
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].1.code(), Some("AccessDeniedException"));
    assert_eq!(
        outcome.skipped.len(),
        1,
        "the function must not be created without its policy"
    );
    assert!(cloud.snapshot().functions.is_empty());
    let recorded: Vec<String> = state
        .snapshot()
        .unwrap()
        .resources
        .keys()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(recorded, vec!["repository.hello"]);
    // The next run picks up where it stopped.
    let p = apply_all(&cloud, &d, &state).await;
    assert_eq!(
        summary(&p),
        vec![
            "0 Create repository_policy.hello",
            "1 Create function.hello-world"
        ]
    );
}

#[tokio::test]
async fn credentials_for_another_account_are_refused_before_any_read() {
    let cloud = FakeCloud::new();
    cloud
        .wrong_accounts
        .lock()
        .unwrap()
        .insert("prod".into(), "999999999999".into());
    let d = prod_only();
    let err = refresh::refresh(&cloud, &d, &Snapshot::default())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("999999999999") && text.contains("222222222222"),
        "{text}"
    );
    assert!(
        cloud
            .calls()
            .iter()
            .all(|c| c.starts_with("GetCallerIdentity")),
        "{:?}",
        cloud.calls()
    );
}

#[tokio::test]
async fn a_changed_sensitive_value_shows_without_the_value() {
    let (cloud, state) = repository_applied().await;
    let f = |secret: &str| {
        desired(&format!(
            "{BASE}{PROD_FN}environment = {{ DB_PASSWORD = \"{secret}\", MODE = \"x\" }}\nsensitive_environment = [\"DB_PASSWORD\"]\n"
        ))
    };
    apply_all(&cloud, &f("hunter2"), &state).await;
    let p = plan(&cloud, &f("correct-horse"), &state).await;
    let text = format!(
        "{}{}",
        serde_json::to_string(&p.steps.iter().map(|s| &s.changes).collect::<Vec<_>>()).unwrap(),
        ferry::render::plan_json(&p)
    );
    assert!(text.contains("(sensitive value changed)"), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("correct-horse"),
        "{text}"
    );
    let st = serde_json::to_string(&state.snapshot().unwrap()).unwrap();
    assert!(
        !st.contains("hunter2"),
        "state must not hold the secret: {st}"
    );
}

fn fast_retries(timeout_ms: u64) -> apply::Options {
    apply::Options {
        propagation_timeout: Duration::from_millis(timeout_ms),
        retry_base: Duration::from_millis(5),
        ..apply::Options::default()
    }
}

/// A CreateFunction error that is not a propagation error: no retry, straight to rollback.
fn quota_exceeded() -> ferry::cloud::CloudError {
    api_error(
        "CreateFunction",
        "CodeStorageExceededException",
        "Code storage limit exceeded.",
    )
}

/// The apply was rolled back completely and the cloud is `before` again.
fn assert_rolled_back_to(
    outcome: apply::Outcome,
    cloud: &FakeCloud,
    before: &ferry::cloud::fake::World,
    why: &str,
) {
    let rb = outcome
        .rollback
        .expect("a failed CreateFunction rolls back");
    assert!(rb.failed.is_empty() && rb.kept.is_empty(), "{rb:?}");
    assert_eq!(&cloud.snapshot(), before, "{why}");
}

fn ecr_denied() -> ferry::cloud::CloudError {
    api_error(
        "CreateFunction",
        "AccessDeniedException",
        "Lambda does not have permission to access the ECR image. Check the ECR permissions.",
    )
}

const OLD_FN: &str = r#"
[functions.old]
account = "prod"
image = "hello"
role = "arn:aws:iam::222222222222:role/LambdaRole"
"#;

/// prod's function and `old` exist; the next declarations update the first, delete `old`, and
/// add a staging function (so the policy gains staging's statements).
async fn mixed() -> (FakeCloud, MemoryState, Desired) {
    let (cloud, state) = repository_applied().await;
    apply_all(
        &cloud,
        &desired(&format!("{BASE}{PROD_FN}{OLD_FN}")),
        &state,
    )
    .await;
    let d = desired(&format!("{BASE}{PROD_FN}memory_mb = 512\n{STAGING_FN}"));
    (cloud, state, d)
}

#[tokio::test]
async fn a_failed_create_function_undoes_every_change_of_the_apply() {
    let (cloud, state, d) = mixed().await;
    let world_before = cloud.snapshot();
    let state_before = state.snapshot().unwrap().resources;
    cloud.fail(
        "CreateFunction",
        Some("hello-staging"),
        usize::MAX,
        ecr_denied(),
    );
    // Recreating `old` right after its policy is restored meets propagation once, too.
    cloud.fail("CreateFunction", Some("old"), 1, ecr_denied());
    let p = plan(&cloud, &d, &state).await;
    assert_eq!(
        summary(&p),
        vec![
            "0 Delete function.old",
            "1 Update repository_policy.hello",
            "2 Create function.hello-staging",
            "2 Update function.hello-world",
        ]
    );
    let outcome = apply::execute(&p, &cloud, &state, &fast_retries(100), &Quiet).await;
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].1.code(), Some("AccessDeniedException"));
    let rb = outcome
        .rollback
        .expect("a failed CreateFunction rolls back");
    assert!(rb.failed.is_empty() && rb.kept.is_empty(), "{rb:?}");
    assert_eq!(rb.undone.len(), 3);
    // The accounts are exactly as before the apply, and so is the state.
    assert_eq!(cloud.snapshot(), world_before);
    assert_eq!(state.snapshot().unwrap().resources, state_before);
    // It was retried while the permission might still be propagating.
    let attempts = cloud
        .calls()
        .iter()
        .filter(|c| *c == "CreateFunction hello-staging")
        .count();
    assert!(attempts > 1, "CreateFunction was tried {attempts} time(s)");
    // The journal says the apply finished (no interrupted apply for the next run).
    assert_eq!(ferry::state::interruption(&state.journal().unwrap()), None);
}

#[tokio::test]
async fn a_permission_error_that_clears_while_propagating_is_retried_to_success() {
    let (cloud, state) = repository_applied().await;
    cloud.fail("CreateFunction", Some("hello-world"), 2, ecr_denied());
    let d = prod_only();
    let p = plan(&cloud, &d, &state).await;
    let outcome = apply::execute(&p, &cloud, &state, &fast_retries(10_000), &Quiet).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    let attempts = cloud
        .calls()
        .iter()
        .filter(|c| *c == "CreateFunction hello-world")
        .count();
    assert_eq!(attempts, 3);
    assert_eq!(cloud.snapshot().functions.len(), 1);
}

#[tokio::test]
async fn the_role_not_yet_assumable_is_a_propagation_error_too() {
    let (cloud, state) = repository_applied().await;
    cloud.fail(
        "CreateFunction",
        None,
        1,
        api_error(
            "CreateFunction",
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda.",
        ),
    );
    let p = plan(&cloud, &prod_only(), &state).await;
    let outcome = apply::execute(&p, &cloud, &state, &fast_retries(10_000), &Quiet).await;
    assert!(outcome.succeeded(), "{outcome:?}");
}

#[tokio::test]
async fn other_create_function_errors_are_not_retried_but_roll_back() {
    let (cloud, state) = repository_applied().await;
    cloud.fail("CreateFunction", None, usize::MAX, quota_exceeded());
    let world_before = cloud.snapshot();
    let p = plan(&cloud, &prod_only(), &state).await;
    let outcome = apply::execute(&p, &cloud, &state, &fast_retries(10_000), &Quiet).await;
    assert_eq!(
        cloud
            .calls()
            .iter()
            .filter(|c| c.starts_with("CreateFunction"))
            .count(),
        1
    );
    assert_eq!(outcome.rollback.map(|r| r.undone.len()), Some(1));
    assert_eq!(
        cloud.snapshot(),
        world_before,
        "the policy written for it is gone again"
    );
}

#[tokio::test]
async fn no_rollback_keeps_the_completed_steps() {
    let (cloud, state, d) = mixed().await;
    cloud.fail(
        "CreateFunction",
        Some("hello-staging"),
        usize::MAX,
        ecr_denied(),
    );
    let p = plan(&cloud, &d, &state).await;
    let options = apply::Options {
        rollback: false,
        ..fast_retries(20)
    };
    let outcome = apply::execute(&p, &cloud, &state, &options, &Quiet).await;
    assert!(outcome.rollback.is_none());
    assert_eq!(outcome.completed.len(), 3);
    let world = cloud.snapshot();
    assert!(
        world
            .policies
            .values()
            .next()
            .unwrap()
            .contains("333333333333")
    );
    assert_eq!(
        world.functions.len(),
        1,
        "old deleted, hello-world kept, staging not created"
    );
    // The next run only has the failed step left.
    cloud.fail("CreateFunction", None, 0, ecr_denied());
    let again = plan(&cloud, &d, &state).await;
    assert_eq!(summary(&again), vec!["0 Create function.hello-staging"]);
}

#[tokio::test]
async fn an_undo_that_fails_keeps_what_it_depends_on_and_says_so() {
    let (cloud, state, d) = mixed().await;
    let world_before = cloud.snapshot();
    cloud.fail(
        "CreateFunction",
        Some("hello-staging"),
        usize::MAX,
        ecr_denied(),
    );
    // The forward policy write succeeds; writing the previous policy back fails.
    cloud.fail_after(
        "SetRepositoryPolicy",
        None,
        1,
        usize::MAX,
        api_error("SetRepositoryPolicy", "ServerException", "internal error"),
    );
    let p = plan(&cloud, &d, &state).await;
    let outcome = apply::execute(&p, &cloud, &state, &fast_retries(20), &Quiet).await;
    let rb = outcome.rollback.expect("rollback");
    let name = |id: &usize| p.steps[*id].address.to_string();
    assert_eq!(
        rb.undone.iter().map(name).collect::<Vec<_>>(),
        vec!["function.hello-world"]
    );
    assert_eq!(
        rb.failed.iter().map(|(id, _)| name(id)).collect::<Vec<_>>(),
        vec!["repository_policy.hello"]
    );
    // The policy still serves staging, so `old` (which the policy step depends on) is kept deleted
    // rather than recreated against a policy that could not be restored.
    assert_eq!(
        rb.kept.iter().map(|(id, _)| name(id)).collect::<Vec<_>>(),
        vec!["function.old"]
    );
    assert!(rb.kept[0].1.contains("could not be undone"));
    let world = cloud.snapshot();
    let hello = |w: &ferry::cloud::fake::World| {
        w.functions
            .iter()
            .find(|(k, _)| k.2 == "hello-world")
            .map(|(_, f)| f.clone())
    };
    assert_eq!(
        hello(&world),
        hello(&world_before),
        "hello-world got its previous configuration back"
    );
    // State tells the truth about what is left.
    let recorded: Vec<String> = state
        .snapshot()
        .unwrap()
        .resources
        .keys()
        .map(|a| a.to_string())
        .collect();
    assert!(
        !recorded.contains(&"function.old".to_string()),
        "{recorded:?}"
    );
}

#[tokio::test]
async fn a_policy_without_consumers_is_deleted_not_written_empty() {
    let (cloud, state) = repository_applied().await;
    apply_all(&cloud, &prod_only(), &state).await;
    assert_eq!(cloud.snapshot().policies.len(), 1);
    let d = desired(BASE);
    let p = plan(&cloud, &d, &state).await;
    assert_eq!(
        summary(&p),
        vec![
            "0 Delete function.hello-world",
            "1 Delete repository_policy.hello"
        ]
    );
    apply_all(&cloud, &d, &state).await;
    assert!(cloud.snapshot().policies.is_empty());
    assert!(plan(&cloud, &d, &state).await.steps.is_empty());
}

#[tokio::test]
async fn functions_and_policies_are_imported_by_name_and_by_repository() {
    use ferry::cloud::Cloud;
    use ferry::model::Address;
    let (cloud, state) = repository_applied().await;
    let prod = Target {
        account: "prod".into(),
        account_id: "222222222222".into(),
        region: "us-east-1".into(),
    };
    let existing = ferry::cloud::FunctionConfig {
        name: "hello-world".into(),
        image_uri: format!("111111111111.dkr.ecr.us-east-1.amazonaws.com/hello@{DIGEST_1}"),
        role: "arn:aws:iam::222222222222:role/LambdaRole".into(),
        architecture: "x86_64".into(),
        memory_mb: 512,
        timeout_s: 3,
        description: String::new(),
        environment: Default::default(),
        tags: Default::default(),
    };
    cloud.create_function(&prod, &existing).await.unwrap();
    cloud
        .put_repository_policy(&registry(), "hello", r#"{"Statement":[]}"#)
        .await
        .unwrap();
    let d = prod_only();
    let snap = state.snapshot().unwrap();
    let function: Address = "function.hello-world".parse().unwrap();
    let record = ferry::import::read(&d, &snap, &cloud, &function, "hello-world")
        .await
        .unwrap();
    state.put(&function, &record).unwrap();
    let policy: Address = "repository_policy.hello".parse().unwrap();
    let record = ferry::import::read(&d, &snap, &cloud, &policy, "hello")
        .await
        .unwrap();
    state.put(&policy, &record).unwrap();
    // Imported: the plan now updates them to the declaration instead of refusing.
    let p = plan(&cloud, &d, &state).await;
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(
        summary(&p),
        vec![
            "0 Update repository_policy.hello",
            "1 Update function.hello-world"
        ]
    );
    let changed: Vec<&str> = p.steps[1]
        .changes
        .iter()
        .map(|c| c.attribute.as_str())
        .collect();
    assert_eq!(changed, vec!["memory_mb", "tags"]);
    // Wrong names and repeated imports are refused with a reason.
    let snap = state.snapshot().unwrap();
    let again = ferry::import::read(&d, &snap, &cloud, &function, "hello-world")
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("already in the state"),
        "{again}"
    );
    let repo: Address = "repository.hello".parse().unwrap();
    let other = ferry::import::read(&d, &Snapshot::default(), &cloud, &repo, "other")
        .await
        .unwrap_err();
    assert!(
        other.to_string().contains("declared with the name `hello`"),
        "{other}"
    );
}

#[tokio::test]
async fn after_a_failure_no_new_step_of_the_level_starts() {
    let (cloud, state) = repository_applied().await;
    cloud.fail("CreateFunction", None, usize::MAX, quota_exceeded());
    let p = plan(&cloud, &prod_and_staging(), &state).await;
    let creates: Vec<usize> = p
        .steps
        .iter()
        .filter(|s| s.address.to_string().starts_with("function."))
        .map(|s| s.id)
        .collect();
    assert_eq!(creates.len(), 2);
    assert_eq!(p.steps[creates[0]].level, p.steps[creates[1]].level);
    let options = apply::Options {
        parallelism: 1,
        rollback: false,
        ..fast_retries(10)
    };
    let outcome = apply::execute(&p, &cloud, &state, &options, &Quiet).await;
    let tried = cloud
        .calls()
        .iter()
        .filter(|c| c.starts_with("CreateFunction"))
        .count();
    assert_eq!(
        tried, 1,
        "the second function of the level was started after the first failed"
    );
    assert_eq!(outcome.skipped, vec![creates[1]]);
}

#[tokio::test]
async fn a_function_created_that_never_becomes_active_is_removed_by_the_rollback() {
    let (cloud, state) = repository_applied().await;
    let world_before = cloud.snapshot();
    cloud.fail_after_effect(
        "CreateFunction",
        Some("hello-world"),
        api_error(
            "CreateFunction (the function did not become Active)",
            "ImageAccessDenied",
            "Lambda does not have permission to access the ECR image.",
        ),
    );
    let p = plan(&cloud, &prod_only(), &state).await;
    let outcome = apply::execute(&p, &cloud, &state, &fast_retries(10), &Quiet).await;
    assert_rolled_back_to(
        outcome,
        &cloud,
        &world_before,
        "the half-made function and the policy written for it are gone",
    );
}

#[tokio::test]
async fn a_move_whose_create_fails_brings_the_old_function_back() {
    let (cloud, state) = repository_applied().await;
    apply_all(&cloud, &prod_only(), &state).await;
    let world_before = cloud.snapshot();
    let state_before = state.snapshot().unwrap().resources;
    let moved = PROD_FN
        .replace("account = \"prod\"", "account = \"staging\"")
        .replace("222222222222", "333333333333");
    cloud.fail(
        "CreateFunction",
        None,
        1, // not retried: only the forward create fails
        quota_exceeded(),
    );
    let p = plan(&cloud, &desired(&format!("{BASE}{moved}")), &state).await;
    assert!(
        summary(&p).contains(&"1 Replace function.hello-world".to_string()),
        "{:?}",
        summary(&p)
    );
    let outcome = apply::execute(&p, &cloud, &state, &fast_retries(10), &Quiet).await;
    assert_rolled_back_to(outcome, &cloud, &world_before, "prod's function is back");
    assert_eq!(state.snapshot().unwrap().resources, state_before);
}

#[tokio::test]
async fn a_rolled_back_saved_plan_puts_back_the_real_secret() {
    let (cloud, state) = repository_applied().await;
    let text = |secret: &str, more: &str| {
        format!(
            "{BASE}{PROD_FN}memory_mb = {}\nenvironment = {{ DB_PASSWORD = \"{secret}\" }}\nsensitive_environment = [\"DB_PASSWORD\"]\n{more}",
            if more.is_empty() { 128 } else { 256 }
        )
    };
    apply_all(&cloud, &desired(&text("hunter2", "")), &state).await;
    let world_before = cloud.snapshot();
    let next = text("correct-horse", STAGING_FN);
    let d = desired(&next);
    let sources = plain::sources(&[("ferry.toml", &next)]);
    let p = plan(&cloud, &d, &state).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("change.plan");
    let key = state.snapshot().unwrap().secret_key;
    ferry::saved_plan::save(&file, &p, &d, &sources, &key).unwrap();
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(!saved.contains("hunter2") && !saved.contains("correct-horse"));
    let loaded = ferry::saved_plan::load(&file, &d, &sources, &state.snapshot().unwrap()).unwrap();
    cloud.fail(
        "CreateFunction",
        Some("hello-staging"),
        usize::MAX,
        quota_exceeded(),
    );
    let outcome = apply::execute(&loaded, &cloud, &state, &fast_retries(10), &Quiet).await;
    assert_rolled_back_to(
        outcome,
        &cloud,
        &world_before,
        "hello-world has hunter2 again, not a placeholder",
    );
}

#[tokio::test]
async fn a_removed_function_s_secret_is_not_shown_by_its_delete() {
    let (cloud, state) = repository_applied().await;
    let with_secret = format!(
        "{BASE}{PROD_FN}environment = {{ DB_PASSWORD = \"hunter2\", MODE = \"x\" }}\nsensitive_environment = [\"DB_PASSWORD\"]\n"
    );
    apply_all(&cloud, &desired(&with_secret), &state).await;
    // The key dropped from the declarations, then the whole function: neither shows the value.
    let dropped = format!("{BASE}{PROD_FN}environment = {{ MODE = \"x\" }}\n");
    for text in [dropped, BASE.to_string()] {
        let p = plan(&cloud, &desired(&text), &state).await;
        assert!(p.has_changes());
        let shown = format!(
            "{}{}{}",
            ferry::render::plan_text(&p, ferry::render::Painter { color: false }),
            ferry::render::plan_json(&p),
            ferry::render::plan_markdown(&p)
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("(sensitive value)"), "{shown}");
    }
}

#[tokio::test]
async fn a_policy_ferry_did_not_write_is_refused_unless_an_interrupted_apply_was_writing_it() {
    let (cloud, state) = repository_applied().await;
    let foreign = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Theirs","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444444444444:root"},"Action":"ecr:BatchGetImage"}]}"#;
    cloud.world.lock().unwrap().policies.insert(
        ("111111111111".into(), "us-east-1".into(), "hello".into()),
        foreign.to_string(),
    );
    let d = prod_only();
    let p = plan(&cloud, &d, &state).await;
    let error = p
        .errors
        .iter()
        .find(|e| e.address.to_string() == "repository_policy.hello")
        .expect("the foreign policy is refused");
    assert!(error.message.contains("did not write"), "{}", error.message);
    assert!(
        error
            .hint
            .contains("ferry import repository_policy.hello hello"),
        "{}",
        error.hint
    );
    // The journal says an apply was writing it when it was interrupted: it is ferry's own work.
    let mut snap = state.snapshot().unwrap();
    snap.interrupted
        .insert(ferry::model::Address::RepositoryPolicy("hello".into()));
    let observed = refresh::refresh(&cloud, &d, &snap).await.unwrap();
    let p = planner::plan(&d, &snap, &observed);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(
        summary(&p).contains(&"0 Update repository_policy.hello".to_string()),
        "{:?}",
        summary(&p)
    );
}

// Renamed keys and `[[moved]]` blocks.

/// `hello-world` applied, then its key renamed to `greeter` (the Lambda name stays).
const RENAMED_FN: &str = r#"
[functions.greeter]
name = "hello-world"
account = "prod"
image = "hello"
role = "arn:aws:iam::222222222222:role/LambdaRole"
"#;

const MOVED_FN: &str = r#"
[[moved]]
from = "function.hello-world"
to = "function.greeter"
"#;

/// A fake cloud and a state with `function.hello-world` applied.
async fn hello_world() -> (FakeCloud, MemoryState) {
    let (cloud, state) = repository_applied().await;
    apply_all(&cloud, &prod_only(), &state).await;
    (cloud, state)
}

fn live_tag(cloud: &FakeCloud, name: &str, tag: &str) -> Option<String> {
    let world = cloud.snapshot();
    let f = world.functions.iter().find(|(k, _)| k.2 == name)?.1;
    f.tags.get(tag).cloned()
}

#[tokio::test]
async fn a_renamed_key_is_one_error_naming_both_addresses_and_both_fixes() {
    let (cloud, state) = hello_world().await;
    let p = plan(&cloud, &desired(&format!("{BASE}{RENAMED_FN}")), &state).await;
    assert_eq!(p.errors.len(), 1, "{:#?}", p.errors);
    let e = &p.errors[0];
    assert_eq!(e.address.to_string(), "function.greeter");
    for shown in ["function.hello-world", "function.greeter", "`hello-world`"] {
        assert!(e.message.contains(shown), "{shown}: {}", e.message);
    }
    assert!(e.hint.contains("[[moved]]"), "{}", e.hint);
    assert!(
        e.hint
            .contains("ferry state mv function.hello-world function.greeter"),
        "{}",
        e.hint
    );
    assert!(
        !e.hint.contains("ferry import function.greeter"),
        "never an import hint: {}",
        e.hint
    );
    // Neither the delete of the old address nor anything on the new one is planned.
    assert_eq!(summary(&p), Vec::<String>::new());
}

#[tokio::test]
async fn a_moved_block_moves_the_record_and_retags_then_is_a_no_op() {
    let (cloud, state) = hello_world().await;
    let d = desired(&format!("{BASE}{RENAMED_FN}{MOVED_FN}"));
    let p = plan(&cloud, &d, &state).await;
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(
        summary(&p),
        vec!["0 Move function.hello-world", "1 Update function.greeter"]
    );
    assert_eq!(
        p.steps[0].moved_to().map(|a| a.to_string()).as_deref(),
        Some("function.greeter")
    );
    assert_eq!(p.steps[1].depends_on, vec![0]);
    assert_eq!(p.steps[1].name, "hello-world");
    assert_eq!(
        p.steps[1].reason,
        "it moved from function.hello-world, and its ferry:address tag follows"
    );
    assert_eq!(p.counts(), (0, 1, 0), "nothing added or destroyed");
    let calls_before = cloud.calls().len();
    let outcome = apply::execute(&p, &cloud, &state, &apply::Options::default(), &Quiet).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    let addresses: Vec<String> = state
        .snapshot()
        .unwrap()
        .resources
        .keys()
        .map(|a| a.to_string())
        .collect();
    assert!(
        addresses.contains(&"function.greeter".to_string()),
        "{addresses:?}"
    );
    assert!(
        !addresses.contains(&"function.hello-world".to_string()),
        "{addresses:?}"
    );
    assert_eq!(
        live_tag(&cloud, "hello-world", "ferry:address").as_deref(),
        Some("function.greeter")
    );
    assert!(
        !cloud.calls()[calls_before..]
            .iter()
            .any(|c| c.starts_with("DeleteFunction") || c.starts_with("CreateFunction")),
        "{:?}",
        cloud.calls()
    );
    // The block stays in the files: it is a no-op now.
    let again = plan(&cloud, &d, &state).await;
    assert!(
        again.errors.is_empty() && again.steps.is_empty(),
        "{:#?}",
        again.steps
    );
}

#[tokio::test]
async fn a_rolled_back_apply_moves_the_record_back() {
    let (cloud, state) = hello_world().await;
    let world_before = cloud.snapshot();
    let state_before = state.snapshot().unwrap().resources;
    cloud.fail(
        "CreateFunction",
        Some("hello-staging"),
        usize::MAX,
        quota_exceeded(),
    );
    let d = desired(&format!("{BASE}{RENAMED_FN}{MOVED_FN}{STAGING_FN}"));
    let p = plan(&cloud, &d, &state).await;
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(
        summary(&p).contains(&"0 Move function.hello-world".to_string()),
        "{:?}",
        summary(&p)
    );
    let outcome = apply::execute(&p, &cloud, &state, &fast_retries(100), &Quiet).await;
    let rb = outcome
        .rollback
        .expect("a failed CreateFunction rolls back");
    assert!(rb.failed.is_empty() && rb.kept.is_empty(), "{rb:?}");
    assert_eq!(
        state.snapshot().unwrap().resources,
        state_before,
        "the move is undone"
    );
    assert_eq!(cloud.snapshot(), world_before, "the tag is back");
}

#[tokio::test]
async fn two_steps_on_one_function_are_an_error_not_a_plan() {
    let (cloud, state) = repository_applied().await;
    let other = PROD_FN.replace("hello-world", "other");
    apply_all(&cloud, &desired(&format!("{BASE}{PROD_FN}{other}")), &state).await;
    // `hello-world` takes the Lambda name of `other`, which is no longer declared: the replace
    // would create `other` while the delete of function.other deletes it.
    let d = desired(&format!("{BASE}{PROD_FN}name = \"other\"\n"));
    let p = plan(&cloud, &d, &state).await;
    let both: Vec<_> = p
        .errors
        .iter()
        .filter(|e| e.message.contains("would both act on `other`"))
        .collect();
    assert_eq!(both.len(), 1, "{:#?}", p.errors);
    assert!(
        both[0].message.contains("function.hello-world")
            && both[0].message.contains("function.other"),
        "{}",
        both[0].message
    );
    assert!(both[0].hint.contains("[[moved]]"), "{}", both[0].hint);
}

#[tokio::test]
async fn destroy_says_why_it_deletes_and_gives_no_hint_to_declare_again() {
    let (cloud, state) = hello_world().await;
    let mut d = desired(BASE);
    d.repositories.clear();
    d.images.clear();
    d.functions.clear();
    d.purpose = ferry::model::Purpose::Destroy;
    let p = plan(&cloud, &d, &state).await;
    // The repository holds an image and is not force_delete.
    assert_eq!(
        summary(&p),
        vec![
            "0 Delete function.hello-world",
            "1 Delete repository_policy.hello"
        ]
    );
    for s in &p.steps {
        assert_eq!(
            s.reason, "destroy removes everything ferry manages",
            "{}",
            s.address
        );
    }
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    let e = &p.errors[0];
    assert!(
        e.message.contains("destroy does not delete it"),
        "{}",
        e.message
    );
    assert!(!e.hint.contains("declare it again"), "{}", e.hint);
    assert!(!e.message.contains("no longer declared"), "{}", e.message);
}

#[tokio::test]
async fn a_move_onto_an_address_state_already_holds_is_an_error() {
    let (cloud, state) = repository_applied().await;
    let greeter = PROD_FN.replace("hello-world", "greeter");
    apply_all(
        &cloud,
        &desired(&format!("{BASE}{PROD_FN}{greeter}")),
        &state,
    )
    .await;
    let p = plan(
        &cloud,
        &desired(&format!("{BASE}{greeter}{MOVED_FN}")),
        &state,
    )
    .await;
    assert_eq!(p.errors.len(), 1, "{:#?}", p.errors);
    assert!(
        p.errors[0]
            .message
            .contains("the state already records function.greeter"),
        "{}",
        p.errors[0].message
    );
    assert!(
        p.errors[0].hint.contains("ferry state rm function.greeter"),
        "{}",
        p.errors[0].hint
    );
    assert!(
        !p.steps
            .iter()
            .any(|s| s.action == ferry::planner::Action::Move)
    );
}

#[tokio::test]
async fn a_moved_repository_s_policy_still_waits_for_the_deletes_of_its_consumers() {
    let (cloud, state) = repository_applied().await;
    apply_all(&cloud, &prod_and_staging(), &state).await;
    // The repository's key is renamed (with a move) and the staging function removed.
    let d = desired(&format!(
        "{}{PROD_FN}\n[[moved]]\nfrom = \"repository.hello\"\nto = \"repository.main\"\n",
        BASE.replace(
            "[repositories.hello]\n",
            "[repositories.main]\nname = \"hello\"\n"
        )
        .replace("repository = \"hello\"", "repository = \"main\"")
    ));
    let p = plan(&cloud, &d, &state).await;
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let id = |a: &str| {
        p.steps
            .iter()
            .find(|s| s.address.to_string() == a)
            .unwrap_or_else(|| panic!("no step for {a}: {:?}", summary(&p)))
            .id
    };
    let policy = &p.steps[id("repository_policy.main")];
    assert!(
        policy.depends_on.contains(&id("function.hello-staging")),
        "{:?}",
        summary(&p)
    );
    assert_eq!(
        p.steps[id("repository.hello")].action,
        ferry::planner::Action::Move
    );
    assert_eq!(
        p.steps[id("repository.main")].depends_on,
        vec![id("repository.hello")]
    );
    apply_all(&cloud, &d, &state).await;
    assert!(plan(&cloud, &d, &state).await.steps.is_empty());
}

#[tokio::test]
async fn a_record_whose_account_key_now_names_another_id_is_a_plan_error_and_is_not_read() {
    let (cloud, state) = repository_applied().await;
    apply_all(&cloud, &prod_only(), &state).await;
    let repointed = format!("{BASE}{PROD_FN}")
        .replace("id = \"222222222222\"", "id = \"444444444444\"")
        .replace(
            "arn:aws:iam::222222222222:role/LambdaRole",
            "arn:aws:iam::444444444444:role/LambdaRole",
        );
    let d = desired(&repointed);
    let before = cloud.calls().len();
    let p = plan(&cloud, &d, &state).await;
    let error = p
        .errors
        .iter()
        .find(|e| e.address.to_string() == "function.hello-world")
        .unwrap_or_else(|| panic!("{:?}", p.errors));
    assert!(
        error.message.contains("applied in account 222222222222")
            && error.message.contains("the id 444444444444"),
        "{}",
        error.message
    );
    assert!(error.hint.contains("ferry state rm function.hello-world"));
    // No step for it, and only its declared place was read: the recorded one would be read
    // with the new id's credentials.
    assert!(
        p.steps
            .iter()
            .all(|s| s.address.to_string() != "function.hello-world"),
        "{:?}",
        summary(&p)
    );
    let reads = cloud.calls()[before..]
        .iter()
        .filter(|c| *c == "GetFunction hello-world")
        .count();
    assert_eq!(reads, 1, "{:?}", &cloud.calls()[before..]);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_stays_in_flight_through_other_applies() {
    let (cloud, state) = repository_applied().await;
    let two = format!("{BASE}\n[repositories.lost]\nregistry = \"central\"\n");
    cloud.fail_after_effect(
        "CreateRepository",
        Some("lost"),
        api_error("CreateRepository", "RequestFailed", "the answer was lost"),
    );
    let p = plan(&cloud, &desired(&two), &state).await;
    let outcome = apply::execute(&p, &cloud, &state, &apply::Options::default(), &Quiet).await;
    assert_eq!(outcome.failed.len(), 1);
    let lost: ferry::model::Address = "repository.lost".parse().unwrap();
    let i = ferry::state::interruption(&state.journal().unwrap()).expect("in flight");
    assert!(i.finished);
    assert_eq!(i.in_flight, vec![lost.clone()]);
    // Another apply that does not plan `lost` (here: one that only adds `other`) keeps it.
    let other = format!("{BASE}\n[repositories.other]\nregistry = \"central\"\n");
    apply_all(&cloud, &desired(&other), &state).await;
    let i = ferry::state::interruption(&state.journal().unwrap()).expect("still in flight");
    assert_eq!(i.in_flight, vec![lost.clone()]);
    // The journal's word lets the planner adopt what carries the address's tags; once
    // recorded, nothing is in flight any more.
    let both = format!("{other}\n[repositories.lost]\nregistry = \"central\"\n");
    let mut snap = state.snapshot().unwrap();
    snap.interrupted = i.in_flight.into_iter().collect();
    let observed = refresh::refresh(&cloud, &desired(&both), &snap)
        .await
        .unwrap();
    let p = planner::plan(&desired(&both), &snap, &observed);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(summary(&p), vec!["0 Adopt repository.lost"]);
    let outcome = apply::execute(&p, &cloud, &state, &apply::Options::default(), &Quiet).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    assert_eq!(ferry::state::interruption(&state.journal().unwrap()), None);
}
