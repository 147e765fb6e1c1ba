//! Replication over the in-memory fake cloud: the executor applies and rolls back the
//! registry documents and replicas, drift is restored, digests are checked in the replica, the
//! rollback target is looked up where the function pulls from, and a move takes replicas along.

#[path = "support/plain.rs"]
mod plain;

use ferry::model::{Address, Target};
use plain::sources;

const REPLICATED: &str = include_str!("fixtures/replication.toml");
const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn target(account: &str, id: &str, region: &str) -> Target {
    Target {
        account: account.into(),
        account_id: id.into(),
        region: region.into(),
    }
}

use ferry::cloud::fake::{FakeCloud, api_error};
use ferry::state::StateStore;

const DIGEST_2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn central() -> Target {
    target("registry", "111111111111", "us-east-1")
}

fn eu_prod() -> Target {
    target("prod", "222222222222", "eu-west-1")
}

async fn plan_on(
    cloud: &FakeCloud,
    d: &ferry::model::Desired,
    state: &dyn StateStore,
) -> ferry::planner::Plan {
    let snap = state.snapshot().unwrap();
    let sources = sources(&[("ferry.toml", "")]);
    ferry::session::plan(d, &sources, &snap, cloud, &[])
        .await
        .unwrap()
}

/// Applies `d` over the fake, asserting success.
async fn apply_on(cloud: &FakeCloud, d: &ferry::model::Desired, state: &dyn StateStore) {
    let p = plan_on(cloud, d, state).await;
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let outcome = ferry::apply::execute(&p, cloud, state, &Default::default(), &plain::Quiet).await;
    assert!(outcome.succeeded(), "{outcome:?}");
}

/// The repositories and the replication applied over the fake, then the image `01` (DIGEST)
/// pushed at the source and, as replication would, into the replica.
async fn replication_on_the_fake() -> (FakeCloud, ferry::state::MemoryState) {
    let cloud = FakeCloud::new();
    let state = plain::lineage_state();
    let head = REPLICATED.split_once("[images.hello]").unwrap().0;
    apply_on(&cloud, &plain::desired(head), &state).await;
    cloud.push_image(&central(), "hello", "01", DIGEST);
    cloud.push_image(&eu_prod(), "hello", "01", DIGEST);
    (cloud, state)
}

/// Only the source repository applied over the fake (no replication yet), holding `01`.
async fn source_only_on_the_fake() -> (FakeCloud, ferry::state::MemoryState) {
    let cloud = FakeCloud::new();
    let state = plain::lineage_state();
    let head = REPLICATED.split_once("[images.hello]").unwrap().0;
    let unreplicated = head.replace("replicate_to = [\"eu-prod\"]\n", "");
    apply_on(&cloud, &plain::desired(&unreplicated), &state).await;
    cloud.push_image(&central(), "hello", "01", DIGEST);
    (cloud, state)
}

/// The whole estate applied over the fake, re-planned as a no-op.
async fn applied_on_the_fake() -> (FakeCloud, ferry::state::MemoryState) {
    let (cloud, state) = replication_on_the_fake().await;
    let d = plain::desired(REPLICATED);
    apply_on(&cloud, &d, &state).await;
    let again = plan_on(&cloud, &d, &state).await;
    assert!(again.steps.is_empty(), "{:?}", again.steps);
    (cloud, state)
}

#[tokio::test]
async fn a_failed_create_function_rolls_the_replication_back() {
    // The source repository alone first, holding the image.
    let (cloud, state) = source_only_on_the_fake().await;
    // Everything else at once (planned without the replica digest check, which would refuse a
    // replica that does not exist yet): the replication is among what the rollback undoes.
    let d = plain::desired(REPLICATED);
    let snap = state.snapshot().unwrap();
    let observed = ferry::session::observe(&cloud, &d, &snap).await.unwrap();
    let p = ferry::planner::plan(&d, &snap, &observed);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(
        p.steps
            .iter()
            .any(|s| s.address == Address::Replication("central".into()))
    );
    cloud.fail(
        "CreateFunction",
        Some("eu-third"),
        1,
        api_error(
            "CreateFunction",
            "CodeStorageExceededException",
            "Code storage limit exceeded.",
        ),
    );
    let outcome =
        ferry::apply::execute(&p, &cloud, &state, &Default::default(), &plain::Quiet).await;
    assert!(!outcome.succeeded());
    let rollback = outcome.rollback.expect("rolled back");
    assert!(rollback.failed.is_empty(), "{rollback:?}");
    let world = cloud.world.lock().unwrap().clone();
    assert!(world.replication.is_empty(), "{:?}", world.replication);
    assert!(
        world.registry_policies.is_empty(),
        "{:?}",
        world.registry_policies
    );
    assert!(world.functions.is_empty(), "{:?}", world.functions);
    let snap = state.snapshot().unwrap();
    for a in [
        "replication.central",
        "registry_policy.eu-prod",
        "repository_policy.hello@eu-prod",
    ] {
        let a: Address = a.parse().unwrap();
        assert!(!snap.resources.contains_key(&a), "{a} still in state");
    }
}

#[tokio::test]
async fn drift_of_the_registry_documents_is_shown_and_restored() {
    let (cloud, state) = applied_on_the_fake().await;
    let d = plain::desired(REPLICATED);
    let key = ("111111111111".to_string(), "us-east-1".to_string());
    cloud.world.lock().unwrap().replication.remove(&key);
    let policy_key = ("222222222222".to_string(), "eu-west-1".to_string());
    cloud.world.lock().unwrap().registry_policies.insert(
        policy_key.clone(),
        r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
    );
    let p = plan_on(&cloud, &d, &state).await;
    let drifted: Vec<String> = p
        .drift
        .iter()
        .map(|x| format!("{} {}", x.address, x.deleted))
        .collect();
    assert_eq!(
        drifted,
        vec!["replication.central true", "registry_policy.eu-prod false"]
    );
    let steps: Vec<String> = p
        .steps
        .iter()
        .map(|s| format!("{:?} {}", s.action, s.address))
        .collect();
    assert_eq!(
        steps,
        vec![
            "Update registry_policy.eu-prod",
            "Create replication.central"
        ]
    );
    let outcome =
        ferry::apply::execute(&p, &cloud, &state, &Default::default(), &plain::Quiet).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    assert!(plan_on(&cloud, &d, &state).await.steps.is_empty());
}

#[tokio::test]
async fn the_rollback_target_of_a_function_is_looked_up_in_the_replica_it_pulls_from() {
    let (cloud, state) = applied_on_the_fake().await;
    // The replica's copy of 01 expires (a lifecycle policy there); the source keeps it.
    cloud
        .world
        .lock()
        .unwrap()
        .images
        .get_mut(&("222222222222".into(), "eu-west-1".into(), "hello".into()))
        .unwrap()
        .clear();
    cloud.push_image(&central(), "hello", "02", DIGEST_2);
    cloud.push_image(&eu_prod(), "hello", "02", DIGEST_2);
    // Tag 02 and one more function, so that the apply creates one (and can roll back).
    let text = format!(
        "{}\n[functions.eu-new]\naccount = \"prod\"\nregion = \"eu-west-1\"\nimage = \"hello\"\n\
         role = \"arn:aws:iam::222222222222:role/LambdaRole\"\n",
        REPLICATED.replace("tag = \"01\"", "tag = \"02\"")
    );
    let d = plain::desired(&text);
    let p = plan_on(&cloud, &d, &state).await;
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let warned: Vec<String> = p
        .warnings
        .iter()
        .filter(|w| w.message.starts_with("rollback would fail"))
        .map(|w| w.address.to_string())
        .collect();
    assert_eq!(warned, vec!["function.eu-own", "function.eu-third"]);
    let gone = format!("222222222222.dkr.ecr.eu-west-1.amazonaws.com/hello@{DIGEST}");
    assert_eq!(p.gone_images, vec![gone]);
}

#[tokio::test]
async fn a_replica_without_the_digest_is_a_plan_error_naming_it() {
    let (cloud, state) = applied_on_the_fake().await;
    cloud.push_image(&central(), "hello", "02", DIGEST_2);
    let d = plain::desired(&REPLICATED.replace("tag = \"01\"", "tag = \"02\""));
    let p = plan_on(&cloud, &d, &state).await;
    let errors: Vec<(String, &str)> = p
        .errors
        .iter()
        .map(|e| (e.address.to_string(), e.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (address, message) in &errors {
        assert!(
            address == "function.eu-own" || address == "function.eu-third",
            "{address}"
        );
        assert!(message.contains("replica `hello@eu-prod`"), "{message}");
        assert!(
            message.contains("account 222222222222, eu-west-1"),
            "{message}"
        );
        assert!(message.contains(DIGEST_2), "{message}");
        assert!(
            message.contains("replication may still be in progress"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_moved_repository_takes_its_replicas_along() {
    let (cloud, state) = applied_on_the_fake().await;
    let renamed = REPLICATED
        .replace(
            "[repositories.hello]\n",
            "[repositories.greeting]\nname = \"hello\"\n",
        )
        .replace("repository = \"hello\"", "repository = \"greeting\"")
        + "\n[[moved]]\nfrom = \"repository.hello\"\nto = \"repository.greeting\"\n";
    let d = plain::desired(&renamed);
    let p = plan_on(&cloud, &d, &state).await;
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let moved = p
        .steps
        .iter()
        .find_map(|s| match &s.operation {
            ferry::planner::Operation::Move { moves } => Some(moves.clone()),
            _ => None,
        })
        .expect("a move step");
    let pairs: Vec<String> = moved.iter().map(|(a, b)| format!("{a} -> {b}")).collect();
    assert!(
        pairs.contains(&"repository.hello@eu-prod -> repository.greeting@eu-prod".to_string()),
        "{pairs:?}"
    );
    for s in &p.steps {
        assert!(
            !matches!(
                s.action,
                ferry::planner::Action::Create
                    | ferry::planner::Action::Delete
                    | ferry::planner::Action::Replace
            ),
            "{:?} {}",
            s.action,
            s.address
        );
    }
    apply_on(&cloud, &d, &state).await;
    assert!(plan_on(&cloud, &d, &state).await.steps.is_empty());
}

#[tokio::test]
async fn a_plan_that_creates_the_replica_says_to_apply_the_replication_first() {
    let (cloud, state) = source_only_on_the_fake().await;
    let p = plan_on(&cloud, &plain::desired(REPLICATED), &state).await;
    let refused: Vec<&ferry::planner::PlanError> = p.errors.iter().collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    for e in refused {
        assert!(
            e.message
                .contains("this plan creates the replica or its replication rule"),
            "{}",
            e.message
        );
        assert!(
            e.hint.contains("ferry apply --target replication.central"),
            "{}",
            e.hint
        );
    }
}

#[tokio::test]
async fn state_mv_of_a_replicated_repository_moves_its_replicas_too() {
    let (_cloud, state) = applied_on_the_fake().await;
    let snap = state.snapshot().unwrap();
    let moves = ferry::session::state_moves(
        &snap,
        &"repository.hello".parse().unwrap(),
        &"repository.greeting".parse().unwrap(),
    )
    .unwrap();
    let pairs: Vec<String> = moves.iter().map(|(a, b)| format!("{a} -> {b}")).collect();
    assert_eq!(
        pairs,
        vec![
            "repository.hello -> repository.greeting",
            "repository_policy.hello -> repository_policy.greeting",
            "repository.hello@eu-prod -> repository.greeting@eu-prod",
            "repository_policy.hello@eu-prod -> repository_policy.greeting@eu-prod",
        ]
    );
}
