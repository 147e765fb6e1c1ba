//! Rollback targets that still exist (issue 14 item 6): before an apply that changes a function's
//! image, ferry looks up the image a rollback would give the function back. One an ECR lifecycle
//! policy expired is warned about in the plan, and the rollback reports that function's undo as
//! impossible up front instead of failing half way (CloudFormation's UPDATE_ROLLBACK_FAILED).

#[path = "support/faults.rs"]
mod faults;
mod support;

use faults::{Fault, Match, Proxy, Rule};
use support::fixtures::{api_prod, api_staging};
use support::{PROD, REGISTRY, World};

/// `hello:02` pushed beside the running `hello:01`, the declarations moved to it, and a new
/// function in staging: the apply updates api-prod's image and creates api-staging.
fn next(w: &World) -> String {
    w.admin("push", REGISTRY, &["hello", "02", "v2"]);
    let decls = format!(
        "{}{}{}",
        support::hello_declarations("rollback-targets").replace("tag = \"01\"", "tag = \"02\""),
        api_prod(),
        api_staging()
    );
    w.write("ferry.toml", &decls);
    decls
}

fn running_image(w: &World) -> String {
    w.admin("functions", PROD, &[])["api-prod"]["ImageUri"]
        .as_str()
        .expect("api-prod runs an image")
        .to_string()
}

#[test]
fn a_previous_image_that_is_gone_is_warned_about_and_its_rollback_reported_impossible() {
    let mut w = support::hello_applied("rollback-targets", &[PROD, support::STAGING]);
    let previous = running_image(&w);
    let digest = previous.split_once('@').expect("by digest").1.to_string();
    next(&w);
    // An ECR lifecycle policy expires the image api-prod runs now.
    assert_eq!(w.admin("delete-image", REGISTRY, &["hello", &digest]), "ok");

    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stderr.contains(&format!(
            "rollback would fail: the previous image {previous} is gone from its repository"
        )),
        "{}",
        plan.stderr
    );
    assert!(plan.stderr.contains("function.api-prod"), "{}", plan.stderr);

    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    proxy.add_rule(Rule::new(
        Match::operation("lambda", "CreateFunction"),
        Fault::lambda_ecr_access_denied(),
    ));
    let run = w
        .ferry(&["apply", "--auto-approve", "--propagation-timeout", "1"])
        .expect(1);
    let all = format!("{}\n{}", run.stdout, run.stderr);
    assert!(
        all.contains("rollback would fail: the previous image"),
        "the apply shows the warning too: {all}"
    );
    assert!(
        all.contains(&format!("its previous image {previous} is gone")),
        "the rollback names the image it cannot restore: {all}"
    );
    // No UpdateFunctionCode back to the gone image was attempted.
    let updates = proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "UpdateFunctionCode")
        .count();
    assert_eq!(updates, 1, "only the forward update: {all}");
    // api-prod keeps the new image (what state says too), api-staging was not left behind.
    assert_ne!(running_image(&w), previous);
    assert!(
        w.admin("functions", support::STAGING, &[])
            .as_object()
            .unwrap()
            .is_empty()
    );
    proxy.clear_rules();
    let again = w.ferry(&["plan"]).expect(0);
    assert!(
        again
            .stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "only api-staging is left to do: {}",
        again.stdout
    );
}

#[test]
fn a_previous_image_that_exists_is_not_warned_about() {
    let w = support::hello_applied("rollback-targets", &[PROD, support::STAGING]);
    next(&w);
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        !plan.stderr.contains("rollback would fail"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stdout.contains("1 to add, 2 to change"),
        "{}",
        plan.stdout
    );
}
