//! Replication end to end: the real binary against moto, checked with an independent client.
//! moto stores replication configurations and registry policies but replicates nothing, so
//! each test pushes the same manifest into the destination itself (the digest is the same:
//! replication keeps digests). DescribeImageReplicationStatus, which moto answers with 500, is
//! answered by the fault proxy.

#[path = "support/faults.rs"]
mod faults;
#[path = "support/replication.rs"]
mod replication;
mod support;

use faults::Proxy;
use replication::{registry_admin, replication_status};
use serde_json::{Value, json};
use support::{PROD, REGISTRY, STAGING, World, declarations_head};

const EU: &str = "--region=eu-west-1";

/// The registry `central` (us-east-1), the registry `eu-prod` (prod, eu-west-1) and the
/// repository `hello` replicated to it.
fn repository_only() -> String {
    format!(
        "{}\n[registries.eu-prod]\naccount = \"prod\"\nregion = \"eu-west-1\"\n\
         \n[repositories.hello]\nregistry = \"central\"\nreplicate_to = [\"eu-prod\"]\n",
        declarations_head("repl")
    )
}

/// With the image `hello:TAG` and three functions: `home` (prod, us-east-1), `eu-own` (prod,
/// eu-west-1: the replica's own account) and `eu-third` (staging, eu-west-1: a third account).
fn with_functions(tag: &str) -> String {
    let f = |key: &str, account: &str, id: &str, region: Option<&str>| {
        let region = region
            .map(|r| format!("region = \"{r}\"\n"))
            .unwrap_or_default();
        format!(
            "\n[functions.{key}]\naccount = \"{account}\"\n{region}image = \"hello\"\n\
             role = \"arn:aws:iam::{id}:role/LambdaRole\"\n"
        )
    };
    format!(
        "{}\n[images.hello]\nrepository = \"hello\"\ntag = \"{tag}\"\n{}{}{}",
        repository_only(),
        f("home", "prod", PROD, None),
        f("eu-own", "prod", PROD, Some("eu-west-1")),
        f("eu-third", "staging", STAGING, Some("eu-west-1")),
    )
}

/// A world where the replication is applied (no image yet).
fn replicated() -> World {
    let w = World::new();
    for id in [PROD, STAGING] {
        w.admin("role", id, &["LambdaRole"]);
        w.admin("role", id, &[EU, "LambdaRole"]);
    }
    w.write("ferry.toml", &repository_only());
    // The plan as JSON follows the published schema; saved, it is applied as it is.
    let json = w.ferry(&["plan", "--json"]).expect(0).stdout;
    w.validate_json(&json, &support::repo_root().join("docs/plan.schema.json"))
        .unwrap_or_else(|e| panic!("plan --json does not follow the schema: {e}\n{json}"));
    assert!(json.contains("\"type\": \"replication\""), "{json}");
    w.ferry(&["plan", "--out", "replication.plan"]).expect(0);
    let run = w.ferry(&["apply", "replication.plan"]).expect(0);
    assert!(run.stdout.contains("replication.central"), "{}", run.stdout);
    w
}

/// What an independent client sees once the replication is removed: no rule, no registry
/// policy, no replica repository.
fn assert_replication_gone(w: &World) {
    let rules = registry_admin(w, "replication", REGISTRY, &[]);
    assert_eq!(rules, json!({ "rules": [] }));
    assert_eq!(
        registry_admin(w, "registry-policy", PROD, &[EU]),
        Value::Null
    );
    assert!(
        w.admin("repos", PROD, &[EU])
            .as_object()
            .unwrap()
            .is_empty()
    );
}

fn image_uri(functions: &Value, name: &str) -> String {
    functions[name]["ImageUri"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn replication_is_written_checked_independently_and_replanned_as_a_no_op() {
    let w = replicated();
    let config = registry_admin(&w, "replication", REGISTRY, &[]);
    assert_eq!(
        config,
        json!({ "rules": [{
            "destinations": [{ "region": "eu-west-1", "registryId": PROD }],
            "repositoryFilters": [{ "filter": "hello", "filterType": "PREFIX_MATCH" }]
        }]})
    );
    let policy = registry_admin(&w, "registry-policy", PROD, &[EU]);
    let statement = &policy["Statement"][0];
    assert_eq!(
        statement["Principal"]["AWS"],
        json!(format!("arn:aws:iam::{REGISTRY}:root"))
    );
    assert_eq!(
        statement["Action"],
        json!(["ecr:CreateRepository", "ecr:ReplicateImage"])
    );
    assert_eq!(
        statement["Resource"],
        json!([format!("arn:aws:ecr:eu-west-1:{PROD}:repository/hello")])
    );
    // The replica repository exists before any image arrives, with ferry's tags.
    let repos = w.admin("repos", PROD, &[EU]);
    assert_eq!(
        repos["hello"]["tags"]["ferry:address"],
        json!("repository.hello@eu-prod")
    );
    // Nothing in the source account's other regions, nothing in prod's us-east-1.
    assert!(w.admin("repos", PROD, &[]).as_object().unwrap().is_empty());
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    let state = w.ferry(&["state", "list"]).expect(0).stdout;
    for a in [
        "replication.central",
        "registry_policy.eu-prod",
        "repository.hello@eu-prod",
    ] {
        assert!(state.contains(a), "{a} not in state:\n{state}");
    }
}

#[test]
fn functions_in_a_second_region_deploy_by_digest_from_the_replica() {
    let w = replicated();
    let digest = w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.write("ferry.toml", &with_functions("01"));
    // The replica does not hold the image yet (moto replicates nothing): refused.
    let refused = w.ferry(&["plan"]).expect(1);
    assert!(
        refused.stderr.contains(&format!(
            "replica `hello@eu-prod` (repository `hello` in registry `eu-prod`, account {PROD}, eu-west-1) does not hold {}",
            digest.as_str().unwrap()
        )),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--wait-for-replication"),
        "{}",
        refused.stderr
    );
    // Replication keeps digests: the same manifest pushed into the replica has the same one.
    let copied = w.admin("push", PROD, &[EU, "hello", "01", "v1"]);
    assert_eq!(copied, digest);
    let run = w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout.contains("pulls from replica `hello@eu-prod`"),
        "{}",
        run.stdout
    );
    let d = digest.as_str().unwrap();
    let eu_prod = w.admin("functions", PROD, &[EU]);
    let eu_third = w.admin("functions", STAGING, &[EU]);
    let home = w.admin("functions", PROD, &[]);
    let replica_uri = format!("{PROD}.dkr.ecr.eu-west-1.amazonaws.com/hello@{d}");
    assert_eq!(image_uri(&eu_prod, "eu-own"), replica_uri);
    assert_eq!(image_uri(&eu_third, "eu-third"), replica_uri);
    assert_eq!(
        image_uri(&home, "home"),
        format!("{REGISTRY}.dkr.ecr.us-east-1.amazonaws.com/hello@{d}")
    );
    // The replica's policy is its own consumers'; the source's only its region's.
    let replica_policy = w.admin("policy", PROD, &[EU, "hello"]).to_string();
    assert!(
        replica_policy.contains(&format!("arn:aws:iam::{STAGING}:root")),
        "{replica_policy}"
    );
    assert!(
        replica_policy.contains(&format!("arn:aws:lambda:eu-west-1:{PROD}:function:*")),
        "{replica_policy}"
    );
    let source_policy = w.admin("policy", REGISTRY, &["hello"]).to_string();
    assert!(
        source_policy.contains(&format!("arn:aws:iam::{PROD}:root")),
        "{source_policy}"
    );
    assert!(!source_policy.contains(STAGING), "{source_policy}");
    assert!(!source_policy.contains("eu-west-1"), "{source_policy}");
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    let check = w.ferry(&["check"]).expect(0).stdout;
    assert!(check.contains("hello@eu-prod"), "{check}");

    // A new digest at the source that the replica lacks: refused, naming it.
    let newer = w.admin("push", REGISTRY, &["hello", "02", "v2"]);
    w.write("ferry.toml", &with_functions("02"));
    let refused = w.ferry(&["apply", "--auto-approve"]).expect(1);
    assert!(
        refused
            .stderr
            .contains(&format!("does not hold {}", newer.as_str().unwrap())),
        "{}",
        refused.stderr
    );
    assert_eq!(
        image_uri(&w.admin("functions", PROD, &[EU]), "eu-own"),
        replica_uri
    );
}

#[test]
fn removing_replicate_to_deletes_the_rule_before_the_replica_and_the_registry_policy() {
    let w = replicated();
    w.write(
        "ferry.toml",
        &repository_only().replace("replicate_to = [\"eu-prod\"]\n", "force_delete = true\n"),
    );
    let run = w.ferry(&["apply", "--auto-approve"]).expect(0);
    let at = |a: &str| {
        run.stdout
            .find(a)
            .unwrap_or_else(|| panic!("{a}: {}", run.stdout))
    };
    assert!(
        at("replication.central will be destroyed")
            < at("repository.hello@eu-prod will be destroyed"),
        "{}",
        run.stdout
    );
    assert_replication_gone(&w);
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_replication_configuration_written_outside_ferry_is_refused_then_imported() {
    let w = World::new();
    let foreign = json!({ "rules": [{ "destinations": [{ "region": "us-west-2", "registryId": REGISTRY }] }] });
    registry_admin(&w, "set-replication", REGISTRY, &[&foreign.to_string()]);
    w.write("ferry.toml", &repository_only());
    let refused = w.ferry(&["plan"]).expect(1);
    assert!(
        refused.stderr.contains("ferry did not write"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains(&format!("ferry import replication.central {REGISTRY}")),
        "{}",
        refused.stderr
    );
    w.ferry(&["import", "replication.central", REGISTRY])
        .expect(0);
    let run = w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout.contains("replication.central will be updated"),
        "{}",
        run.stdout
    );
    assert_eq!(
        registry_admin(&w, "replication", REGISTRY, &[])["rules"][0]["destinations"],
        json!([{ "region": "eu-west-1", "registryId": PROD }])
    );
    // Drift: someone rewrites it; the plan shows it and puts ferry's back.
    registry_admin(&w, "set-replication", REGISTRY, &[&foreign.to_string()]);
    let plan = w.ferry(&["plan"]).expect(0).stdout;
    assert!(plan.contains("replication.central"), "{plan}");
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

/// Replication applied, `hello:01` pushed at the source only, the functions declared, and
/// ferry's calls going through a proxy that answers DescribeImageReplicationStatus with
/// `status` (and `failure`) for the replica. Returns the world, the proxy and the digest.
fn awaiting_replication(status: &str, failure: Option<&str>) -> (World, Proxy, String) {
    let mut w = replicated();
    let digest = w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    let d = digest.as_str().unwrap().to_string();
    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    proxy.add_rule(replication_status(
        "hello",
        &d,
        "eu-west-1",
        PROD,
        status,
        failure,
    ));
    w.write("ferry.toml", &with_functions("01"));
    (w, proxy, d)
}

/// `apply --wait-for-replication`: IN_PROGRESS until the test has copied the image, then
/// COMPLETE.
#[test]
fn apply_waits_for_replication_through_the_status_api() {
    let (w, proxy, d) = awaiting_replication("IN_PROGRESS", None);
    let mut child = w.spawn_ferry(
        &["apply", "--auto-approve", "--wait-for-replication", "300"],
        "apply.err",
    );
    while proxy.count("DescribeImageReplicationStatus") == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("ferry ended before asking for the replication status: {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    w.admin("push", PROD, &[EU, "hello", "01", "v1"]);
    proxy.clear_rules();
    proxy.add_rule(replication_status(
        "hello",
        &d,
        "eu-west-1",
        PROD,
        "COMPLETE",
        None,
    ));
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(w.path("apply.err")).unwrap();
    assert!(status.success(), "{stderr}");
    assert_eq!(
        image_uri(&w.admin("functions", STAGING, &[EU]), "eu-third"),
        format!("{PROD}.dkr.ecr.eu-west-1.amazonaws.com/hello@{d}")
    );
}

#[test]
fn a_failed_replication_stops_the_wait_naming_the_failure() {
    let (w, _proxy, _) = awaiting_replication("FAILED", Some("REPLICATION_ACCESS_DENIED"));
    let run = w
        .ferry(&["apply", "--auto-approve", "--wait-for-replication", "300"])
        .expect(1);
    assert!(
        run.stderr
            .contains("replication FAILED (REPLICATION_ACCESS_DENIED)"),
        "{}",
        run.stderr
    );
    assert!(
        w.admin("functions", STAGING, &[EU])
            .as_object()
            .unwrap()
            .is_empty()
    );
}

/// A world where the three functions run `hello:01` (DIGEST), the replica holding it too.
fn deployed() -> (World, String) {
    let w = replicated();
    let digest = w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.admin("push", PROD, &[EU, "hello", "01", "v1"]);
    w.write("ferry.toml", &with_functions("01"));
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    (w, digest.as_str().unwrap().to_string())
}

#[test]
fn a_previous_image_expired_in_the_replica_is_warned_about_and_its_rollback_reported_impossible() {
    let (mut w, d1) = deployed();
    let previous = format!("{PROD}.dkr.ecr.eu-west-1.amazonaws.com/hello@{d1}");
    // A lifecycle policy of the replica expires 01 there; the source keeps it.
    assert_eq!(w.admin("delete-image", PROD, &[EU, "hello", &d1]), "ok");
    w.admin("push", REGISTRY, &["hello", "02", "v2"]);
    w.admin("push", PROD, &[EU, "hello", "02", "v2"]);
    // Tag 02, and a new function whose CreateFunction will fail (the one failure that rolls back).
    let decls = format!(
        "{}\n[functions.eu-new]\naccount = \"prod\"\nregion = \"eu-west-1\"\nimage = \"hello\"\n\
         role = \"arn:aws:iam::{PROD}:role/LambdaRole\"\n",
        with_functions("02")
    );
    w.write("ferry.toml", &decls);
    let plan = w.ferry(&["plan"]).expect(0);
    let warning = format!("rollback would fail: the previous image {previous} is gone");
    assert!(plan.stderr.contains(&warning), "{}", plan.stderr);
    for f in ["function.eu-own", "function.eu-third"] {
        assert!(plan.stderr.contains(f), "{f}: {}", plan.stderr);
    }
    // home pulls from the source, which still holds 01: no warning for it.
    assert!(!plan.stderr.contains("function.home"), "{}", plan.stderr);

    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    proxy.add_rule(faults::Rule::new(
        faults::Match::operation("lambda", "CreateFunction"),
        faults::Fault::lambda_ecr_access_denied(),
    ));
    let run = w
        .ferry(&["apply", "--auto-approve", "--propagation-timeout", "1"])
        .expect(1);
    let all = format!("{}\n{}", run.stdout, run.stderr);
    assert!(
        all.contains(&format!("its previous image {previous} is gone")),
        "{all}"
    );
}

#[test]
fn a_replication_still_in_progress_when_the_wait_ends_is_refused_saying_so() {
    let (w, proxy, d) = awaiting_replication("IN_PROGRESS", None);
    let run = w
        .ferry(&["apply", "--auto-approve", "--wait-for-replication", "3"])
        .expect(1);
    assert!(
        run.stderr.contains(&format!("does not hold {d} yet")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("(ferry waited 3 s)"), "{}", run.stderr);
    assert!(proxy.count("DescribeImageReplicationStatus") >= 1);
    assert!(
        w.admin("functions", STAGING, &[EU])
            .as_object()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn destroy_removes_the_rule_the_registry_policy_and_both_repositories() {
    let w = replicated();
    let run = w.ferry(&["destroy", "--auto-approve"]).expect(0);
    assert!(
        run.stdout.contains("replication.central will be destroyed"),
        "{}",
        run.stdout
    );
    assert_replication_gone(&w);
    assert!(
        w.admin("repos", REGISTRY, &[])
            .as_object()
            .unwrap()
            .is_empty()
    );
    assert!(
        w.ferry(&["state", "list"])
            .expect(0)
            .stdout
            .trim()
            .is_empty()
    );
}
