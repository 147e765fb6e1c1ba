//! End to end against moto: the account id is part of every record's identity (a repointed
//! account key never reads or deletes the other account's resource of the same name), a create
//! re-checks ownership at apply time (a resource someone else made since the plan is not taken
//! over), and a create whose answer was lost is finished by a later apply, however it is
//! targeted and even if one fails first. Checked with the independent boto3 client.

#[path = "support/faults.rs"]
mod faults;
mod support;

use faults::{Fault, Match, Proxy, Rule};
use serde_json::{Value, json};
use support::fixtures::{api_prod, api_staging, state_list};
use support::{PROD, REGISTRY, STAGING, World, declarations_head as head, function};

/// The account the function was first applied in.
const ORIGINAL: &str = "592444418872";

/// A registry, the repository `hello` and the account key `consumer` with `id`.
fn consumer_declarations(id: &str) -> String {
    format!(
        r#"[project]
name = "identity"
default_region = "us-east-1"
assume_role = "arn:aws:iam::{{account_id}}:role/FerryDeployer"

[accounts.registry]
id = "{REGISTRY}"

[accounts.consumer]
id = "{id}"

[registries.central]
account = "registry"

[repositories.hello]
registry = "central"
"#
    )
}

fn with_function(id: &str) -> String {
    format!(
        "{}\n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n{}",
        consumer_declarations(id),
        function("svc-api", "consumer", id, "hello", "LambdaRole")
    )
}

/// `svc-api` applied in account key `consumer` = ORIGINAL; then an unrelated `svc-api` appears
/// in `other`, and the key is repointed to `other`.
fn repointed_account_key_touches_neither_account(other: &str) {
    let w = World::new();
    for id in [ORIGINAL, other] {
        w.admin("role", id, &["LambdaRole"]);
    }
    w.write("ferry.toml", &consumer_declarations(ORIGINAL));
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let digest = w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.write("ferry.toml", &with_function(ORIGINAL));
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let uri = format!(
        "{REGISTRY}.dkr.ecr.us-east-1.amazonaws.com/hello@{}",
        digest.as_str().unwrap()
    );
    w.admin(
        "create-function",
        other,
        &[
            "svc-api",
            &uri,
            &format!("arn:aws:iam::{other}:role/LambdaRole"),
        ],
    );
    let theirs = w.admin("functions", other, &[]);
    let ours = w.admin("functions", ORIGINAL, &[]);
    let policy = w.admin("policy", REGISTRY, &["hello"]);
    assert_eq!(ours["svc-api"]["Tags"]["ferry:address"], "function.svc-api");
    assert_eq!(theirs["svc-api"]["Tags"], json!({}));

    w.write("ferry.toml", &with_function(other));
    let plan = w.ferry(&["plan"]).expect(1);
    assert!(
        plan.stderr.contains(&format!(
            "error: function.svc-api: it was applied in account {ORIGINAL} (account key `consumer`), \
             but the declarations now give `consumer` the id {other}"
        )),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr
            .contains(&format!("put `id = \"{ORIGINAL}\"` back"))
            && plan.stderr.contains("`ferry state rm function.svc-api`")
            && plan.stderr.contains("`ferry state mv`"),
        "the hint names the fixes: {}",
        plan.stderr
    );
    assert!(
        !plan.stdout.contains("function.svc-api will be"),
        "no step for the repointed function: {}",
        plan.stdout
    );
    let apply = w.ferry(&["apply", "--auto-approve"]).expect(1);
    assert!(
        apply.stderr.contains("nothing was changed"),
        "{}",
        apply.stderr
    );
    // Neither account was touched: the other owner's function, ferry's own, and the policy.
    assert_eq!(w.admin("functions", other, &[]), theirs);
    assert_eq!(w.admin("functions", ORIGINAL, &[]), ours);
    assert_eq!(w.admin("policy", REGISTRY, &["hello"]), policy);
    assert!(state_list(&w).contains(&"function.svc-api".to_string()));

    // The fix the hint names: forget the record. The function in `other` is then someone
    // else's, refused with the import hint, and the one in ORIGINAL stays as it was.
    w.ferry(&["state", "rm", "function.svc-api"]).expect(0);
    let plan = w.ferry(&["plan"]).expect(1);
    assert!(
        plan.stderr.contains(&format!(
            "function `svc-api` already exists in account {other} (us-east-1) and is not managed by this project"
        )),
        "{}",
        plan.stderr
    );
    assert_eq!(w.admin("functions", other, &[]), theirs);
    assert_eq!(w.admin("functions", ORIGINAL, &[]), ours);
}

#[test]
fn an_account_key_repointed_to_a_higher_id_is_a_plan_error_and_deletes_nothing() {
    repointed_account_key_touches_neither_account("777777777777");
}

#[test]
fn an_account_key_repointed_to_a_lower_id_is_a_plan_error_and_deletes_nothing() {
    repointed_account_key_touches_neither_account("400000000004");
}

fn repository_only() -> String {
    format!(
        "{}\n[repositories.hello]\nregistry = \"central\"\ntag_mutability = \"immutable\"\nscan_on_push = true\n",
        head("identity")
    )
}

#[test]
fn a_repository_someone_else_creates_after_the_plan_is_not_taken_over() {
    let w = World::new();
    w.write("ferry.toml", &repository_only());
    w.ferry(&["plan", "--out", "change.plan"]).expect(0);
    w.admin("create-repo", REGISTRY, &["hello"]);
    let theirs = w.admin("repos", REGISTRY, &[]);
    let run = w.ferry(&["apply", "change.plan"]).expect(1);
    assert!(
        run.stderr.contains(&format!(
            "repository `hello` in account {REGISTRY} (us-east-1) was created by someone else since the plan: \
             CreateRepository answered RepositoryAlreadyExistsException"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("ferry left it untouched"),
        "{}",
        run.stderr
    );
    // No tag, no setting: still MUTABLE, without scanning, without ferry's tags.
    assert_eq!(
        theirs["hello"],
        json!({"imageTagMutability": "MUTABLE", "scanOnPush": false, "tags": {}})
    );
    assert_eq!(w.admin("repos", REGISTRY, &[]), theirs);
    assert!(!state_list(&w).contains(&"repository.hello".to_string()));
    // And a fresh plan refuses it as someone else's; the failed create is settled (it made
    // nothing), so no call is reported in flight.
    let plan = w.ferry(&["plan"]).expect(1);
    assert!(
        plan.stderr.contains("is not managed by this project"),
        "{}",
        plan.stderr
    );
    assert!(!plan.stderr.contains("in flight"), "{}", plan.stderr);
}

#[test]
fn a_function_someone_else_creates_after_the_plan_is_not_taken_over() {
    let w = support::hello_applied("identity", &[PROD, STAGING]);
    let declarations = format!(
        "{}{}{}",
        support::hello_declarations("identity"),
        api_prod(),
        api_staging()
    );
    w.write("ferry.toml", &declarations);
    w.ferry(&["plan", "--out", "change.plan"]).expect(0);
    let image = w.admin("functions", PROD, &[])["api-prod"]["ImageUri"].clone();
    w.admin(
        "create-function",
        STAGING,
        &[
            "api-staging",
            image.as_str().unwrap(),
            &format!("arn:aws:iam::{STAGING}:role/LambdaRole"),
        ],
    );
    let before = support::cloud_snapshot(&w);
    let run = w.ferry(&["apply", "change.plan"]).expect(1);
    assert!(
        run.stderr.contains(&format!(
            "function `api-staging` in account {STAGING} (us-east-1) was created by someone else since the plan: \
             CreateFunction answered ResourceConflictException"
        )),
        "{}",
        run.stderr
    );
    // The policy the plan widened for staging is put back; the other owner's function is
    // neither tagged, nor changed, nor deleted by the rollback.
    assert!(
        run.stderr.contains("apply failed and was rolled back"),
        "{}",
        run.stderr
    );
    assert_eq!(support::cloud_snapshot(&w), before);
    assert_eq!(before["staging"]["api-staging"]["Tags"], json!({}));
    assert!(!state_list(&w).contains(&"function.api-staging".to_string()));
}

/// `hello` applied, then ferry routed through a fresh proxy.
fn repository_world() -> (World, Proxy) {
    let mut w = World::new();
    w.write("ferry.toml", &repository_only());
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    (w, proxy)
}

fn with_extra() -> String {
    format!(
        "{}\n[repositories.extra]\nregistry = \"central\"\ntag_mutability = \"immutable\"\n",
        repository_only()
    )
}

#[test]
fn a_create_repository_whose_first_answer_was_lost_is_recognised_by_its_tags() {
    let (w, proxy) = repository_world();
    // ECR creates `extra` but the connection drops; the SDK's retry is answered
    // RepositoryAlreadyExistsException, and the repository carries this address's tags.
    proxy.add_rule(
        Rule::new(
            Match::operation("ecr", "CreateRepository").on("extra"),
            Fault::Reset.after_the_effect(),
        )
        .times(1),
    );
    w.write("ferry.toml", &with_extra());
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(proxy.count("CreateRepository"), 2, "{:?}", proxy.calls());
    let repos = w.admin("repos", REGISTRY, &[]);
    assert_eq!(repos["extra"]["imageTagMutability"], "IMMUTABLE");
    assert_eq!(repos["extra"]["tags"]["ferry:address"], "repository.extra");
    assert!(state_list(&w).contains(&"repository.extra".to_string()));
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

/// The create of `extra` takes effect but ferry never learns it: each answer is replaced by
/// `fault`. The apply fails; the next one adopts exactly that repository and settles the entry.
fn a_lost_create_repository_answer_is_finished_by_the_next_apply(fault: Fault) {
    let (w, proxy) = repository_world();
    proxy.add_rule(Rule::new(
        Match::operation("ecr", "CreateRepository").on("extra"),
        fault.after_the_effect(),
    ));
    w.write("ferry.toml", &with_extra());
    let failed = w
        .ferry_with_env(&["apply", "--auto-approve"], &[("AWS_MAX_ATTEMPTS", "2")])
        .expect(1);
    assert!(
        failed.stderr.contains("repository.extra"),
        "{}",
        failed.stderr
    );
    proxy.clear_rules();
    let repos = w.admin("repos", REGISTRY, &[]);
    assert_eq!(repos["extra"]["tags"]["ferry:address"], "repository.extra");
    assert!(!state_list(&w).contains(&"repository.extra".to_string()));

    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stderr
            .contains("an earlier apply did not learn the outcome of some calls (calls in flight: repository.extra)"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stdout
            .contains("repository.extra will be adopted into state"),
        "{}",
        plan.stdout
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert!(state_list(&w).contains(&"repository.extra".to_string()));
    assert_eq!(w.admin("repos", REGISTRY, &[]), repos);
    // Settled: the next plan has nothing to do and nothing to warn about.
    let again = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(!again.stderr.contains("Warning"), "{}", again.stderr);
}

#[test]
fn a_create_repository_whose_connection_drops_after_the_effect_is_finished_by_the_next_apply() {
    a_lost_create_repository_answer_is_finished_by_the_next_apply(Fault::Reset);
}

#[test]
fn a_create_repository_answered_with_a_malformed_200_is_finished_by_the_next_apply() {
    a_lost_create_repository_answer_is_finished_by_the_next_apply(Fault::Json(
        "{\"repository\": {\"repositoryName\": ".to_string(),
    ));
}

fn staging_declarations(extra: &str) -> String {
    format!(
        "{}{}{}{extra}",
        support::hello_declarations("identity"),
        api_prod(),
        api_staging()
    )
}

/// Starts an apply of `declarations`, waits until `operation` has reached AWS (the proxy then
/// hangs its answer), and kills ferry with SIGKILL.
fn kill_after_the_effect(w: &World, proxy: &Proxy, service: &str, operation: &str, on: &str) {
    proxy.reset_counts();
    proxy.add_rule(Rule::new(
        Match::operation(service, operation).on(on),
        Fault::Hang.after_the_effect(),
    ));
    let mut child = w.spawn_ferry(&["apply", "--auto-approve"], "apply.err");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while proxy.count(operation) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{operation} never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The proxy counts a call before forwarding it; give moto time to do the work.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    proxy.clear_rules();
}

#[test]
fn a_killed_create_survives_a_targeted_apply_and_a_failed_one_and_is_then_adopted() {
    let mut w = support::hello_applied("identity", &[PROD, STAGING]);
    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    w.write("ferry.toml", &staging_declarations(""));
    kill_after_the_effect(&w, &proxy, "lambda", "CreateFunction", "api-staging");
    let made = w.admin("functions", STAGING, &[]);
    assert_eq!(
        made["api-staging"]["Tags"]["ferry:address"],
        "function.api-staging"
    );
    assert!(!state_list(&w).contains(&"function.api-staging".to_string()));
    let in_flight = |w: &World| {
        let plan = w.ferry(&["plan"]).expect(0);
        assert!(
            plan.stderr.contains("function.api-staging"),
            "the call is still in flight: {}",
            plan.stderr
        );
    };

    // An apply targeted elsewhere does not lose it.
    w.write(
        "ferry.toml",
        &staging_declarations("\n[repositories.other]\nregistry = \"central\"\n"),
    );
    w.ferry(&["apply", "--auto-approve", "--target", "repository.other"])
        .expect(0);
    assert!(state_list(&w).contains(&"repository.other".to_string()));
    in_flight(&w);

    // (An apply failing before it reaches the adoption can no longer be staged with
    // `--parallelism 1`: steps start by their own dependencies and the cap is per account and
    // region, so the staging adoption runs beside a registry failure.)
    w.write(
        "ferry.toml",
        &staging_declarations(
            "\n[repositories.other]\nregistry = \"central\"\n\n[repositories.third]\nregistry = \"central\"\n",
        ),
    );

    // A full apply adopts exactly that function, as it is, and settles the entry.
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let list = state_list(&w);
    assert!(
        list.contains(&"function.api-staging".to_string())
            && list.contains(&"repository.third".to_string()),
        "{list:?}"
    );
    assert_eq!(w.admin("functions", STAGING, &[]), made);
    let again = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(!again.stderr.contains("Warning"), "{}", again.stderr);
}

#[test]
fn a_killed_create_that_never_reached_aws_is_settled_by_creating_it() {
    let (w, proxy) = repository_world();
    proxy.add_rule(Rule::new(
        Match::operation("ecr", "CreateRepository").on("extra"),
        Fault::Hang,
    ));
    w.write("ferry.toml", &with_extra());
    let mut child = w.spawn_ferry(&["apply", "--auto-approve"], "apply.err");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while proxy.count("CreateRepository") == 0 {
        assert!(std::time::Instant::now() < deadline, "never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    proxy.clear_rules();
    let repos: Value = w.admin("repos", REGISTRY, &[]);
    assert!(repos.get("extra").is_none(), "{repos}");
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stderr
            .contains("the previous apply was interrupted (calls in flight: repository.extra)"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stdout.contains("repository.extra will be created"),
        "{}",
        plan.stdout
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let again = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(!again.stderr.contains("Warning"), "{}", again.stderr);
}
