//! Faults moto cannot produce, injected by the proxy in tests/support/faults.rs with AWS's real
//! error responses: throttling and 5xx storms, the ECR AccessDenied of CreateFunction that clears
//! or persists, and a kill while each kind of mutating call is in flight.

#[path = "support/faults.rs"]
mod faults;
mod support;

use faults::{Fault, Match, Proxy, Rule};
use serde_json::{Value, json};
use support::fixtures::{api_prod, api_staging};
use support::{PROD, REGISTRY, STAGING, World, function};

fn head() -> String {
    support::hello_declarations("faults")
}

fn cloud(w: &World) -> Value {
    support::cloud_snapshot(w)
}

/// hello with an image and api-prod applied, then ferry routed through a fresh proxy.
fn world_with_proxy() -> (World, Proxy) {
    let mut w = support::hello_applied("faults", &[PROD, STAGING]);
    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    (w, proxy)
}

/// The next apply: a new repository, a policy change, an updated and a created function.
fn next_declarations() -> String {
    format!(
        "{}\n[repositories.extra]\nregistry = \"central\"\n{}memory_mb = 256\n{}",
        head(),
        api_prod(),
        api_staging()
    )
}

#[test]
fn throttling_and_server_errors_do_not_surface() {
    let (w, proxy) = world_with_proxy();
    for (service, seed) in [("ecr", 7), ("lambda", 11)] {
        let throttled = if service == "ecr" {
            Fault::ecr_throttled()
        } else {
            Fault::lambda_throttled()
        };
        proxy.add_rule(Rule::new(
            Match::service(service).percent(20, seed),
            throttled,
        ));
        proxy.add_rule(Rule::new(
            Match::service(service).percent(5, seed + 100),
            Fault::internal_error(service),
        ));
    }
    // A larger apply: eight more functions, so that the storm hits a few dozen calls.
    let mut text = next_declarations();
    for i in 0..8 {
        let (account, id) = if i % 2 == 0 {
            ("prod", PROD)
        } else {
            ("staging", STAGING)
        };
        text.push_str(&function(
            &format!("worker-{i}"),
            account,
            id,
            "hello",
            "LambdaRole",
        ));
    }
    w.write("ferry.toml", &text);
    let run = w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout
            .contains("Apply complete! Resources: 10 added, 2 changed, 0 destroyed."),
        "{}",
        run.stdout
    );
    let calls = proxy.calls();
    let faults = |code: &str| {
        calls
            .iter()
            .filter(|c| c.injected.as_deref().is_some_and(|i| i.contains(code)))
            .count()
    };
    let throttled = faults("ThrottlingException") + faults("TooManyRequestsException");
    let errors = faults("ServerException") + faults("ServiceException");
    assert!(
        throttled >= 3 && errors >= 1,
        "the storm must really have happened: {throttled} throttled and {errors} 5xx in {} calls",
        calls.len()
    );
    assert_eq!(
        w.admin("functions", STAGING, &[])
            .as_object()
            .unwrap()
            .len(),
        5
    );
    proxy.clear_rules();
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn an_ecr_access_denied_that_clears_after_two_attempts_is_retried() {
    let (w, proxy) = world_with_proxy();
    proxy.add_rule(
        Rule::new(
            Match::operation("lambda", "CreateFunction"),
            Fault::lambda_ecr_access_denied(),
        )
        .times(2),
    );
    w.write("ferry.toml", &next_declarations());
    let run = w.ferry(&["apply", "--auto-approve", "-v"]).expect(0);
    assert!(
        run.stderr
            .contains("Lambda does not have permission to access the ECR image"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("retrying in"), "{}", run.stderr);
    assert_eq!(proxy.count("CreateFunction"), 3);
    assert!(w.admin("functions", STAGING, &[])["api-staging"].is_object());
}

#[test]
fn an_ecr_access_denied_that_persists_rolls_everything_back() {
    let (w, proxy) = world_with_proxy();
    proxy.add_rule(Rule::new(
        Match::operation("lambda", "CreateFunction"),
        Fault::lambda_ecr_access_denied(),
    ));
    let before = cloud(&w);
    w.write("ferry.toml", &next_declarations());
    let run = w
        .ferry(&["apply", "--auto-approve", "--propagation-timeout", "2"])
        .expect(1);
    assert!(
        run.stderr.contains("apply failed and was rolled back"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("AccessDeniedException: Lambda does not have permission to access the ECR image. Check the ECR permissions."),
        "{}",
        run.stderr
    );
    assert!(
        proxy.count("CreateFunction") > 1,
        "retried before giving up"
    );
    assert_eq!(cloud(&w), before);
    // Nothing left to undo next time either.
    proxy.clear_rules();
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stdout
            .contains("Plan: 2 to add, 2 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_kill_while_each_kind_of_mutating_call_is_in_flight_is_recovered() {
    // Killed before AWS saw the call, and after AWS did the work but before ferry heard back
    // (then the repository or function exists, tagged, and not in state: it is adopted).
    for (service, operation, effect) in [
        ("ecr", "CreateRepository", false),
        ("ecr", "SetRepositoryPolicy", false),
        ("lambda", "UpdateFunctionConfiguration", false),
        ("lambda", "CreateFunction", false),
        ("ecr", "CreateRepository", true),
        ("ecr", "SetRepositoryPolicy", true),
        ("lambda", "UpdateFunctionConfiguration", true),
        ("lambda", "CreateFunction", true),
    ] {
        let operation_shown = format!("{operation} (after the effect: {effect})");
        let (w, proxy) = world_with_proxy();
        kill_while_in_flight(
            &w,
            &proxy,
            (service, operation, effect),
            &next_declarations(),
        );
        // Exactly what is declared, nothing leaked.
        let c = cloud(&w);
        let mut repos: Vec<&String> = c["repos"].as_object().unwrap().keys().collect();
        repos.sort();
        assert_eq!(repos, vec!["extra", "hello"], "{operation_shown}");
        assert_eq!(
            c["prod"].as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["api-prod"],
            "{operation_shown}"
        );
        assert_eq!(
            c["staging"].as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["api-staging"],
            "{operation_shown}"
        );
        assert_eq!(
            c["policy"]["Statement"][0]["Principal"]["AWS"],
            json!([
                format!("arn:aws:iam::{PROD}:root"),
                format!("arn:aws:iam::{STAGING}:root")
            ]),
            "{operation_shown}"
        );
        assert_eq!(
            c["prod"]["api-prod"]["MemorySize"], 256,
            "{operation_shown}"
        );
    }
}

#[test]
fn reset_connections_and_slow_answers_are_survived() {
    let (w, proxy) = world_with_proxy();
    // The first two calls of each kind below lose their connection; every ECR call is slow.
    proxy.add_rule(Rule::new(Match::operation("lambda", "GetFunction"), Fault::Reset).times(2));
    proxy
        .add_rule(Rule::new(Match::operation("ecr", "SetRepositoryPolicy"), Fault::Reset).times(2));
    proxy.add_rule(Rule::new(
        Match::service("ecr"),
        Fault::Latency(std::time::Duration::from_millis(150)),
    ));
    w.write("ferry.toml", &next_declarations());
    let run = w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert!(run.stdout.contains("Apply complete!"), "{}", run.stdout);
    let resets = proxy
        .calls()
        .iter()
        .filter(|c| c.injected.as_deref() == Some("Reset"))
        .count();
    assert_eq!(resets, 4, "{:?}", proxy.calls());
    assert!(
        w.admin("policy", REGISTRY, &["hello"])
            .to_string()
            .contains(STAGING)
    );
}

#[test]
fn a_failure_at_each_create_function_undoes_everything_before_it() {
    // Three creates run one after another (--parallelism 1) after a new repository, a policy change
    // and an update; the k-th create fails for good.
    for k in 1..=3 {
        let (w, proxy) = world_with_proxy();
        proxy.add_rule(
            Rule::new(
                Match::operation("lambda", "CreateFunction"),
                Fault::lambda_ecr_access_denied(),
            )
            .after(k - 1),
        );
        let before = cloud(&w);
        let mut text = next_declarations();
        for i in 0..2 {
            text.push_str(&function(
                &format!("worker-{i}"),
                "staging",
                STAGING,
                "hello",
                "LambdaRole",
            ));
        }
        w.write("ferry.toml", &text);
        let run = w
            .ferry(&[
                "apply",
                "--auto-approve",
                "--parallelism",
                "1",
                "--propagation-timeout",
                "1",
            ])
            .expect(1);
        assert!(
            run.stderr.contains("apply failed and was rolled back"),
            "k={k}: {}",
            run.stderr
        );
        let created_then_undone = run.stderr.matches("created (").count();
        assert_eq!(
            created_then_undone,
            1 + (k - 1),
            "k={k}: the repository and {} function(s)\n{}",
            k - 1,
            run.stderr
        );
        assert_eq!(cloud(&w), before, "k={k}");
    }
}

#[test]
fn a_create_function_whose_answer_was_lost_is_not_mistaken_for_a_conflict() {
    let (w, proxy) = world_with_proxy();
    // Lambda creates api-staging, but its answer is a 500: the SDK retries, and the retry finds
    // the function the first attempt made.
    proxy.add_rule(
        Rule::new(
            Match::operation("lambda", "CreateFunction").on("api-staging"),
            Fault::internal_error("lambda").after_the_effect(),
        )
        .times(1),
    );
    w.write("ferry.toml", &next_declarations());
    let run = w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert!(run.stdout.contains("Apply complete!"), "{}", run.stderr);
    assert_eq!(proxy.count("CreateFunction"), 2, "{:?}", proxy.calls());
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(
        cloud(&w)["staging"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["api-staging"]
    );
}

#[test]
fn a_kill_during_the_rollback_is_reported_and_the_next_apply_converges() {
    let (w, proxy) = world_with_proxy();
    let before = cloud(&w);
    // api-staging's create fails for good; the rollback then hangs writing the previous policy
    // back (the first SetRepositoryPolicy is the forward write, the second the undo).
    proxy.add_rule(Rule::new(
        Match::operation("lambda", "CreateFunction"),
        Fault::lambda_quota_exceeded(),
    ));
    proxy.add_rule(Rule::new(Match::operation("ecr", "SetRepositoryPolicy"), Fault::Hang).after(1));
    w.write("ferry.toml", &next_declarations());
    let mut child = w.spawn_ferry(&["apply", "--auto-approve"], "apply.err");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while proxy.count("SetRepositoryPolicy") < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the rollback never started: {:?}",
            proxy.calls()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    proxy.clear_rules();
    // The killed holder's record stays behind; force-unlock removes it by its id.
    let holder: Value = serde_json::from_str(&support::read(&w.path("state/holder.json"))).unwrap();
    let forced = w
        .ferry(&["force-unlock", holder["lock_id"].as_str().unwrap()])
        .expect(0);
    assert!(
        forced.stdout.contains("belonged to a process that is gone")
            || forced.stderr.contains("belonged to a process that is gone"),
        "{}{}",
        forced.stdout,
        forced.stderr
    );
    assert!(!w.path("state/holder.json").exists());
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stderr
            .contains("the previous apply was interrupted while rolling back"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("repository_policy.hello"),
        "names the undo in flight: {}",
        plan.stderr
    );
    // Going back to the declarations of before converges to the cloud of before.
    w.write("ferry.toml", &format!("{}{}", head(), api_prod()));
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(cloud(&w), before);
}

#[test]
fn an_image_ecr_cannot_serve_is_a_plan_error_with_ecr_s_reason() {
    let (w, proxy) = world_with_proxy();
    // BatchGetImage answers with a per-image failure other than "not found".
    proxy.add_rule(Rule::new(
        Match::operation("ecr", "BatchGetImage"),
        Fault::Json(
            json!({"images": [], "failures": [{
                "imageId": {"imageTag": "01"},
                "failureCode": "KmsError",
                "failureReason": "The KMS key for the repository is disabled"
            }]})
            .to_string(),
        ),
    ));
    let plan = w.ferry(&["plan"]).expect(1);
    assert!(
        plan.stderr
            .contains("KmsError: The KMS key for the repository is disabled"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("check that the key is enabled"),
        "{}",
        plan.stderr
    );
    assert!(!plan.stderr.contains("not found"), "{}", plan.stderr);
}

#[test]
fn a_kill_during_deletes_code_updates_and_tagging_is_recovered() {
    // From next_declarations applied: remove api-staging and the extra repository, move tag 01 to
    // a new image (UpdateFunctionCode) and tag api-prod (TagResource).
    let after = format!(
        "{}{}memory_mb = 256\ntags = {{ team = \"payments\" }}\n",
        head(),
        api_prod()
    );
    for (service, operation, effect) in [
        ("lambda", "DeleteFunction", false),
        ("lambda", "DeleteFunction", true),
        ("ecr", "DeleteRepository", false),
        ("ecr", "DeleteRepository", true),
        ("lambda", "UpdateFunctionCode", false),
        ("lambda", "UpdateFunctionCode", true),
        ("lambda", "TagResource", false),
        ("lambda", "TagResource", true),
    ] {
        let shown = format!("{operation} (after the effect: {effect})");
        let (w, proxy) = world_with_proxy();
        w.write("ferry.toml", &next_declarations());
        w.ferry(&["apply", "--auto-approve"]).expect(0);
        let digest = w.admin("push", REGISTRY, &["hello", "01", "v2"]);
        kill_while_in_flight(&w, &proxy, (service, operation, effect), &after);
        let c = cloud(&w);
        assert_eq!(
            c["repos"].as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["hello"],
            "{shown}"
        );
        assert_eq!(c["staging"], json!({}), "{shown}");
        let api = &c["prod"]["api-prod"];
        assert_eq!(
            api["ImageUri"],
            format!(
                "{REGISTRY}.dkr.ecr.us-east-1.amazonaws.com/hello@{}",
                digest.as_str().unwrap()
            ),
            "{shown}"
        );
        assert_eq!(api["Tags"]["team"], "payments", "{shown}");
        assert_eq!(
            c["policy"]["Statement"][0]["Principal"]["AWS"],
            json!([format!("arn:aws:iam::{PROD}:root")]),
            "{shown}"
        );
    }
}

/// Applies `declarations` while `operation` hangs (before AWS sees it, or after AWS did the
/// work), kills ferry with SIGKILL, then checks that the next plan reports the interruption and
/// that the next apply converges (a re-plan has nothing to do).
fn kill_while_in_flight(
    w: &World,
    proxy: &Proxy,
    (service, operation, effect): (&str, &str, bool),
    declarations: &str,
) {
    let shown = format!("{operation} (after the effect: {effect})");
    let fault = if effect {
        Fault::Hang.after_the_effect()
    } else {
        Fault::Hang
    };
    proxy.reset_counts();
    proxy.add_rule(Rule::new(Match::operation(service, operation), fault));
    w.write("ferry.toml", declarations);
    let mut child = w.spawn_ferry(&["apply", "--auto-approve"], "apply.err");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while proxy.count(operation) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{shown} never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    if effect {
        // The proxy counts a call before forwarding it; give moto time to do the work.
        std::thread::sleep(std::time::Duration::from_millis(1500));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    proxy.clear_rules();
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stderr.contains("the previous apply was interrupted"),
        "{shown}: {}",
        plan.stderr
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_function_that_fails_to_become_active_is_named_with_lambda_s_reason_and_removed() {
    let (w, proxy) = world_with_proxy();
    let before = cloud(&w);
    // Lambda accepts api-staging, then reports it Failed: it cannot pull the image after all.
    // (The first GetFunction of api-staging is the refresh; the next is the wait for Active.)
    let failed = json!({
        "FunctionName": "api-staging",
        "State": "Failed",
        "StateReasonCode": "ImageAccessDenied",
        "StateReason": "Lambda does not have permission to access the ECR image."
    });
    proxy.add_rule(
        Rule::new(
            Match::operation("lambda", "GetFunction").on("api-staging"),
            Fault::Json(json!({ "Configuration": failed }).to_string()),
        )
        .after(1)
        .times(1),
    );
    proxy.add_rule(
        Rule::new(
            Match::operation("lambda", "GetFunctionConfiguration").on("api-staging"),
            Fault::Json(failed.to_string()),
        )
        .times(1),
    );
    w.write("ferry.toml", &next_declarations());
    let run = w.ferry(&["apply", "--auto-approve"]).expect(1);
    assert!(
        run.stderr.contains(
            "ImageAccessDenied: Lambda does not have permission to access the ECR image."
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("apply failed and was rolled back"),
        "{}",
        run.stderr
    );
    // The half-made function is gone with everything else this apply did.
    assert_eq!(cloud(&w), before);
}
