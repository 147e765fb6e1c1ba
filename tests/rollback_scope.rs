//! Failure isolation across accounts (issue 12 item 6), end to end against moto: one account's
//! CreateFunction denied (the seeds' AccessDeniedException, injected through the proxy, since
//! moto enforces no repository policy), with `--rollback-scope account` and
//! `--failure-tolerance`, checked with an independent boto3 client.

#[path = "support/faults.rs"]
mod faults;
mod support;

use faults::{Fault, Match, Proxy, Rule};
use support::fixtures::{fleet_declarations, fleet_ready};
use support::{REGISTRY, World};

const IDS: [&str; 3] = ["210000000001", "210000000002", "210000000003"];

/// The repository applied and holding `hello:01`, `api` and `worker` declared in each of three
/// accounts, and ferry routed through a proxy that denies the CreateFunction of `api` in c1.
fn world() -> (World, Proxy) {
    let functions = ["api".to_string(), "worker".to_string()];
    let full = fleet_declarations("isolation", "", &IDS, &functions);
    let mut w = fleet_ready(&full, &IDS);
    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    proxy.add_rule(Rule::new(
        Match::operation("lambda", "CreateFunction").on(&format!("api-{}", IDS[1])),
        Fault::lambda_ecr_access_denied(),
    ));
    (w, proxy)
}

fn functions(w: &World, id: &str) -> Vec<String> {
    let live = w.admin("functions", id, &[]);
    let mut names: Vec<String> = live.as_object().unwrap().keys().cloned().collect();
    names.sort();
    names
}

#[test]
fn account_scope_undoes_only_the_failed_account_and_keeps_the_healthy_ones() {
    let (w, proxy) = world();
    let run = w
        .ferry(&[
            "apply",
            "--auto-approve",
            "--rollback-scope",
            "account",
            "--failure-tolerance",
            "1",
            "--propagation-timeout",
            "1",
        ])
        .expect(1);
    let all = format!("{}\n{}", run.stdout, run.stderr);
    assert!(
        all.contains("Lambda does not have permission to access the ECR image"),
        "AWS's error is shown: {all}"
    );
    assert!(
        run.stderr.contains("accounts succeeded: c0, c2, registry"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("accounts rolled back: c1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("apply failed in account(s) c1"),
        "{}",
        run.stderr
    );
    // The healthy accounts keep both functions; the failed one has none left.
    for id in [IDS[0], IDS[2]] {
        assert_eq!(
            functions(&w, id),
            [format!("api-{id}"), format!("worker-{id}")]
        );
    }
    assert!(functions(&w, IDS[1]).is_empty(), "{all}");
    // The registry's policy is shared: it keeps the grants of every account, c1's included, so
    // the next apply needs only c1's functions.
    let policy = w.admin("policy", REGISTRY, &["hello"]).to_string();
    for id in IDS {
        assert!(policy.contains(id), "{id} is still granted: {policy}");
    }
    proxy.clear_rules();
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stdout
            .contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "only c1's two functions are left: {}",
        plan.stdout
    );
    assert!(plan.stdout.contains("function.api[c1]"), "{}", plan.stdout);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(functions(&w, IDS[1]).len(), 2);
}

#[test]
fn the_default_scope_rolls_back_every_account_and_says_so_per_account() {
    let (w, _proxy) = world();
    let run = w
        .ferry(&["apply", "--auto-approve", "--propagation-timeout", "1"])
        .expect(1);
    assert!(
        run.stderr.contains("apply failed and was rolled back"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("accounts rolled back: c0, c1, c2, registry"),
        "{}",
        run.stderr
    );
    for id in IDS {
        assert!(functions(&w, id).is_empty(), "{id}");
    }
    // A failure tolerance alone would keep accounts going only for the apply-wide undo to
    // take their work back: refused before anything runs.
    let refused = w
        .ferry(&["apply", "--auto-approve", "--failure-tolerance", "1"])
        .expect(1);
    assert!(
        refused.stderr.contains("--rollback-scope account"),
        "{}",
        refused.stderr
    );
    let conflict = w
        .ferry(&["apply", "--no-rollback", "--rollback-scope", "account"])
        .expect(1);
    assert!(
        conflict.stderr.contains("cannot be used with"),
        "{}",
        conflict.stderr
    );
}

#[test]
fn a_failure_tolerance_without_rollback_keeps_the_other_accounts_going() {
    let (w, _proxy) = world();
    let run = w
        .ferry(&[
            "apply",
            "--auto-approve",
            "--no-rollback",
            "--failure-tolerance",
            "1",
            "--propagation-timeout",
            "1",
        ])
        .expect(1);
    assert!(
        run.stderr
            .contains("accounts failed (completed changes kept): c1"),
        "{}",
        run.stderr
    );
    for id in [IDS[0], IDS[2]] {
        assert_eq!(functions(&w, id).len(), 2, "{id}: {}", run.stderr);
    }
    // c1's api failed; its worker either completed before or never started, and is kept if
    // it completed.
    assert!(!functions(&w, IDS[1]).contains(&format!("api-{}", IDS[1])));
}
