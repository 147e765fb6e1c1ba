//! Access analysis end to end: `ferry check` and the plan's refusal, against moto, for a
//! repository whose policy ferry only reads. moto never enforces ECR policies, so ferry's own
//! evaluation is the only thing that can say no here.

mod support;

use serde_json::json;
use support::{PROD, REGISTRY, World, declarations_head, function};

fn declarations(with_function: bool) -> String {
    let mut text = format!(
        "{}\n[repositories.hello]\nregistry = \"central\"\nmanage_policy = false\n",
        declarations_head("access")
    );
    if with_function {
        text.push_str("\n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n");
        text.push_str(&function("api", "prod", PROD, "hello", "LambdaRole"));
    }
    text
}

fn cross_account_permission_only() -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "CrossAccountPermission", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{PROD}:root")},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})
}

#[test]
fn a_read_only_policy_without_the_lambda_statement_is_caught_before_any_change() {
    let w = World::new();
    w.admin("role", PROD, &["LambdaRole"]);
    w.write("ferry.toml", &declarations(false));
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.admin(
        "set-policy",
        REGISTRY,
        &["hello", &cross_account_permission_only().to_string()],
    );
    w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.write("ferry.toml", &declarations(true));

    let check = w.ferry(&["check"]).expect(1);
    assert!(
        check.stdout.contains("DENIED  function.api"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("the live policy (manage_policy = false)"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("NO   Lambda (lambda.amazonaws.com) for arn:aws:lambda:us-east-1:222222222222:function:api"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("statement \"CrossAccountPermission\" does not apply: the principal is not one of arn:aws:iam::222222222222:root"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("ok   account 222222222222"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("LambdaECRImageCrossAccountRetrievalPolicy"),
        "the hint shows the statement to add: {}",
        check.stdout
    );

    let json_check = w.ferry(&["check", "--json"]).expect(1);
    let v: serde_json::Value = serde_json::from_str(&json_check.stdout).unwrap();
    assert_eq!(v["denied"], 1);
    assert_eq!(v["functions"][0]["allowed"], false);

    let plan = w.ferry(&["plan"]).expect(1);
    assert!(
        plan.stderr
            .contains("Lambda would not be allowed to pull the image of function `api`"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("AccessDeniedException"),
        "{}",
        plan.stderr
    );
    let apply = w.ferry(&["apply", "--auto-approve"]).expect(1);
    assert!(
        apply.stderr.contains("nothing was changed"),
        "{}",
        apply.stderr
    );
    assert_eq!(w.admin("functions", PROD, &[]), json!({}));

    // Fixed by hand (ferry does not own this policy): both pass, and the function is created.
    let mut fixed = cross_account_permission_only();
    fixed["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "LambdaECRImageCrossAccountRetrievalPolicy", "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Condition": {"StringLike": {"aws:sourceArn": format!("arn:aws:lambda:us-east-1:{PROD}:function:*")}}}));
    w.admin("set-policy", REGISTRY, &["hello", &fixed.to_string()]);
    let check = w.ferry(&["check"]).expect(0);
    assert!(
        check.stdout.contains("allowed function.api"),
        "{}",
        check.stdout
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert!(w.admin("functions", PROD, &[])["api"].is_object());
    // ferry left the policy it does not own alone.
    assert_eq!(w.admin("policy", REGISTRY, &["hello"]), fixed);
}

#[test]
fn managed_policies_pass_the_check_and_risky_live_policies_are_linted() {
    let w = World::new();
    w.admin("role", PROD, &["LambdaRole"]);
    w.write("ferry.toml", &declarations(false));
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let open = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Everyone", "Effect": "Allow", "Principal": "*",
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:SetRepositoryPolicy"]}]});
    w.admin("set-policy", REGISTRY, &["hello", &open.to_string()]);
    w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.write("ferry.toml", &declarations(true));
    // Allowed (everyone may pull), but the lint says why that is a problem.
    let check = w.ferry(&["check"]).expect(0);
    assert!(
        check.stderr.contains(
            "warning: repository.hello: live policy: statement \"Everyone\": allows everyone"
        ),
        "{}",
        check.stderr
    );
    assert!(
        check.stderr.contains("grants ecr:SetRepositoryPolicy"),
        "{}",
        check.stderr
    );
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stderr.contains("warning: repository.hello"),
        "{}",
        plan.stderr
    );

    // With ferry managing the policy, the synthesized statements allow the function.
    w.write(
        "ferry.toml",
        &declarations(true).replace("manage_policy = false\n", ""),
    );
    let check = w.ferry(&["check"]).expect(0);
    assert!(
        check.stdout.contains("allowed function.api"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("judged against the policy ferry will write"),
        "{}",
        check.stdout
    );
}
