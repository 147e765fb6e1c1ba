//! End to end, trustworthy apply: rollback of a failed CreateFunction, propagation retries,
//! a kill in the middle of an apply, and two processes on one state. The failing CreateFunction
//! is moto's own answer for an execution role that does not exist: "The role defined for the
//! function cannot be assumed by Lambda.", the same error AWS gives while a new role propagates.

mod support;

use serde_json::{Value, json};
use support::{PROD, REGISTRY, STAGING, World};

fn head() -> String {
    support::hello_declarations("trust")
}

/// hello with an image and api-prod applied; staging has no role yet.
fn prod_applied() -> World {
    support::hello_applied("trust", &[PROD])
}

fn cloud(w: &World) -> Value {
    support::cloud_snapshot(w)
}

fn function(key: &str, account: &str, id: &str, role: &str) -> String {
    support::function(key, account, id, "hello", role)
}

/// An update of prod's function, a policy change for staging, and a staging function whose role
/// does not exist.
fn doomed_declarations() -> String {
    format!(
        "{}{}memory_mb = 256\n{}",
        head(),
        function("api-prod", "prod", PROD, "LambdaRole"),
        function("api-staging", "staging", STAGING, "LambdaRole")
    )
}

#[test]
fn a_failed_create_function_leaves_every_account_as_it_was() {
    let w = prod_applied();
    let before = cloud(&w);
    let state_before = w.ferry(&["state", "list", "-v"]).expect(0).stdout;
    w.write("ferry.toml", &doomed_declarations());
    let run = w
        .ferry(&["apply", "--auto-approve", "--propagation-timeout", "2"])
        .expect(1);
    assert!(
        run.stderr.contains("apply failed and was rolled back"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("function.api-staging"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("InvalidParameterValueException"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("The role defined for the function cannot be assumed by Lambda."),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("repository_policy.hello: rolled back"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("function.api-prod: rolled back"),
        "{}",
        run.stderr
    );
    assert_eq!(
        cloud(&w),
        before,
        "the accounts must be exactly as before the apply"
    );
    let state_after = w.ferry(&["state", "list", "-v"]).expect(0).stdout;
    // Same resources and places; only the serial moved on.
    let strip = |s: &str| s.lines().skip(1).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(strip(&state_after), strip(&state_before));
    // With the role in place the same declarations apply cleanly.
    w.admin("role", STAGING, &["LambdaRole"]);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        w.admin("functions", PROD, &[])["api-prod"]["MemorySize"],
        256
    );
    assert!(w.admin("functions", STAGING, &[])["api-staging"].is_object());
}

#[test]
fn no_rollback_keeps_what_completed() {
    let w = prod_applied();
    w.write("ferry.toml", &doomed_declarations());
    let run = w
        .ferry(&[
            "apply",
            "--auto-approve",
            "--propagation-timeout",
            "0",
            "--no-rollback",
        ])
        .expect(1);
    assert!(run.stderr.contains("recorded in state"), "{}", run.stderr);
    assert!(
        w.admin("policy", REGISTRY, &["hello"])
            .to_string()
            .contains(STAGING)
    );
    assert_eq!(
        w.admin("functions", PROD, &[])["api-prod"]["MemorySize"],
        256
    );
    assert_eq!(w.admin("functions", STAGING, &[]), json!({}));
}

#[test]
fn a_role_that_appears_while_ferry_retries_lets_the_apply_succeed() {
    let w = prod_applied();
    w.write(
        "ferry.toml",
        &format!(
            "{}{}",
            head(),
            function("api-staging", "staging", STAGING, "LambdaRole")
        ),
    );
    let mut child = w.spawn_ferry(&["apply", "--auto-approve", "-v"], "apply.err");
    w.wait_for("apply.err", "retrying in");
    w.admin("role", STAGING, &["LambdaRole"]);
    let status = child.wait().expect("wait for ferry");
    let err = support::read(&w.path("apply.err"));
    assert!(status.success(), "{err}");
    assert!(err.contains("cannot be assumed by Lambda"), "{err}");
    assert!(w.admin("functions", STAGING, &[])["api-staging"].is_object());
}

#[test]
fn a_kill_during_create_function_is_recovered_by_the_next_apply() {
    let w = prod_applied();
    w.write("ferry.toml", &doomed_declarations());
    let mut child = w.spawn_ferry(&["apply", "--auto-approve", "-v"], "apply.err");
    // SIGKILL while CreateFunction is in flight (in its propagation retries).
    w.wait_for("apply.err", "retrying in");
    let pid = child.id();
    child.kill().expect("SIGKILL ferry");
    child.wait().expect("reap ferry");
    w.admin("role", STAGING, &["LambdaRole"]);
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stderr.contains("the previous apply was interrupted"),
        "{}",
        plan.stderr
    );
    // The dead holder's lock died with it; its record is noticed and named.
    assert!(
        plan.stderr
            .contains("the previous holder of this state ended without releasing it")
            && plan.stderr.contains(&format!("pid {pid}")),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("function.api-staging"),
        "{}",
        plan.stderr
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    // Nothing leaked: exactly the declared functions and statements.
    assert_eq!(
        w.admin("functions", PROD, &[])
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["api-prod"]
    );
    assert_eq!(
        w.admin("functions", STAGING, &[])
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["api-staging"]
    );
    let policy = w.admin("policy", REGISTRY, &["hello"]);
    let roots = &policy["Statement"][0]["Principal"]["AWS"];
    assert_eq!(
        roots,
        &json!([
            format!("arn:aws:iam::{PROD}:root"),
            format!("arn:aws:iam::{STAGING}:root")
        ])
    );
}

#[test]
fn a_second_apply_at_the_same_time_is_refused_naming_the_holder() {
    let w = prod_applied();
    w.write("ferry.toml", &doomed_declarations());
    let mut first = w.spawn_ferry(
        &[
            "apply",
            "--auto-approve",
            "-v",
            "--propagation-timeout",
            "60",
        ],
        "first.err",
    );
    w.wait_for("first.err", "retrying in");
    let second = w.ferry(&["apply", "--auto-approve"]).expect(1);
    assert!(
        second.stderr.contains("in use by another ferry process"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains(&format!("pid {}", first.id())),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("ferry apply"), "{}", second.stderr);
    // The lock id the refusal names cannot be forced while its holder runs.
    let lock_id = second
        .stderr
        .split("lock id ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .expect("the refusal names the lock id")
        .to_string();
    let forced = w.ferry(&["force-unlock", &lock_id]).expect(1);
    assert!(
        forced.stderr.contains("held by a running process"),
        "{}",
        forced.stderr
    );
    // A waiting process gets the state once the holder is gone.
    let mut waiting = w.spawn_ferry(&["state", "list", "--lock-timeout", "60"], "waiting.err");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "it must wait for the lock"
    );
    first.kill().expect("kill the first apply");
    first.wait().expect("reap");
    let status = waiting.wait().expect("wait");
    assert!(
        status.success(),
        "{}",
        support::read(&w.path("waiting.err"))
    );
    // The state is intact.
    let list = w.ferry(&["state", "list"]).expect(0).stdout;
    assert!(list.contains("function.api-prod"), "{list}");
}

#[test]
fn a_terminal_gets_a_live_view_of_running_steps() {
    let w = prod_applied();
    w.write("ferry.toml", &doomed_declarations());
    let run = w.ferry_in_terminal(&["apply", "--auto-approve", "--propagation-timeout", "2"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    // Running steps are drawn under a heading for their account, each with its elapsed time.
    let heading = "staging (333333333333, us-east-1):";
    let grouped = run.stdout.match_indices(heading).any(|(i, _)| {
        run.stdout[i + heading.len()..]
            .chars()
            .take(300)
            .collect::<String>()
            .contains("s [3] function.api-staging being created")
    });
    assert!(grouped, "{}", run.stdout);
    // While the role cannot be assumed yet, the line says ferry is waiting for it (no -v needed).
    assert!(
        run.stdout.contains(
            "[3] function.api-staging being created: InvalidParameterValueException (attempt 1), retrying in 1s while permissions propagate"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("rolled back"), "{}", run.stdout);
}
