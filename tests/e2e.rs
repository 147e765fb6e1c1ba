//! End to end: the real `ferry` binary against moto's server, across two and three accounts
//! (STS AssumeRole into arn:aws:iam::<account>:role/... lands in that account), checked with an
//! independent boto3 client.

mod support;

use serde_json::{Value, json};
use support::{PROD, REGISTRY, STAGING, World, declarations_head as head, function};

fn statements(policy: &Value) -> Vec<Value> {
    policy["Statement"].as_array().cloned().unwrap_or_default()
}

fn sid<'a>(statements: &'a [Value], sid: &str) -> &'a Value {
    statements
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid} in {statements:#?}"))
}

/// Both phases of the blog's cross-account scenario.
fn cross_account_world() -> (World, String) {
    let w = World::new();
    w.admin("role", PROD, &["LambdaRole"]);
    let repos = format!(
        "{}\n[repositories.hello]\nregistry = \"central\"\nname = \"cross-account-function\"\n",
        head("blog")
    );
    w.write("decl/registry.toml", &repos);
    w.ferry(&["-c", "decl/registry.toml", "apply", "--auto-approve"])
        .expect(0);
    let digest = w.admin("push", REGISTRY, &["cross-account-function", "01", "v1"]);
    w.write(
        "decl/functions.toml",
        &format!(
            "[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n{}",
            function("hello-world", "prod", PROD, "hello", "LambdaRole")
        ),
    );
    (w, digest.as_str().unwrap().to_string())
}

#[test]
fn cross_account_in_two_phases_writes_both_statements_and_deploys_by_digest() {
    let (w, digest) = cross_account_world();
    let plan = w
        .ferry(&["-c", "decl", "plan", "--detailed-exitcode"])
        .expect(2);
    let policy_at = plan
        .stdout
        .find("repository_policy.hello will be created")
        .expect("policy step");
    let function_at = plan
        .stdout
        .find("function.hello-world will be created")
        .expect("function step");
    assert!(
        policy_at < function_at,
        "the policy must come before the function:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );

    w.ferry(&["-c", "decl", "apply", "--auto-approve"])
        .expect(0);

    let policy = w.admin("policy", REGISTRY, &["cross-account-function"]);
    let st = statements(&policy);
    assert_eq!(st.len(), 2, "{policy:#}");
    let cross = sid(&st, "CrossAccountPermission");
    assert_eq!(cross["Effect"], "Allow");
    assert_eq!(
        cross["Principal"]["AWS"],
        json!([format!("arn:aws:iam::{PROD}:root")])
    );
    assert_eq!(
        cross["Action"],
        json!(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"])
    );
    let lambda = sid(&st, "LambdaECRImageCrossAccountRetrievalPolicy");
    assert_eq!(lambda["Principal"]["Service"], "lambda.amazonaws.com");
    assert_eq!(
        lambda["Action"],
        json!(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"])
    );
    assert_eq!(
        lambda["Condition"]["StringLike"]["aws:sourceArn"],
        json!([format!("arn:aws:lambda:us-east-1:{PROD}:function:*")])
    );

    let functions = w.admin("functions", PROD, &[]);
    let f = &functions["hello-world"];
    assert_eq!(
        f["ImageUri"],
        format!("{REGISTRY}.dkr.ecr.us-east-1.amazonaws.com/cross-account-function@{digest}")
    );
    assert_eq!(f["Role"], format!("arn:aws:iam::{PROD}:role/LambdaRole"));
    assert_eq!(f["Tags"]["ferry:project"], "blog");
    assert_eq!(f["Tags"]["ferry:address"], "function.hello-world");
    // Nothing landed in the registry account's Lambda.
    assert_eq!(w.admin("functions", REGISTRY, &[]), json!({}));

    let again = w
        .ferry(&["-c", "decl", "plan", "--detailed-exitcode"])
        .expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    let state = w.ferry(&["state", "list"]).expect(0);
    assert_eq!(
        state.stdout.lines().collect::<Vec<_>>(),
        vec![
            "repository.hello",
            "repository_policy.hello",
            "function.hello-world"
        ]
    );
}

#[test]
fn a_moved_tag_updates_exactly_the_function_that_uses_it() {
    let w = World::new();
    for (id, _) in [(PROD, "prod"), (STAGING, "staging")] {
        w.admin("role", id, &["LambdaRole"]);
    }
    let repos = format!(
        "{}\n[repositories.api]\nregistry = \"central\"\n\n[repositories.worker]\nregistry = \"central\"\n",
        head("moved-tag")
    );
    w.write("ferry.toml", &repos);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.admin("push", REGISTRY, &["api", "stable", "api-v1"]);
    w.admin("push", REGISTRY, &["worker", "stable", "worker-v1"]);
    let all = format!(
        "{repos}\n[images.api]\nrepository = \"api\"\ntag = \"stable\"\n\n[images.worker]\nrepository = \"worker\"\ntag = \"stable\"\n{}{}{}",
        function("api-prod", "prod", PROD, "api", "LambdaRole"),
        function("api-staging", "staging", STAGING, "api", "LambdaRole"),
        function("worker-prod", "prod", PROD, "worker", "LambdaRole"),
    );
    w.write("ferry.toml", &all);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let before_prod = w.admin("functions", PROD, &[]);

    let new_digest = w.admin("push", REGISTRY, &["api", "stable", "api-v2"]);
    let plan = w.ferry(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 2 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("function.api-prod will be updated"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("function.api-staging will be updated"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("function.worker-prod will"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("tag `stable` of image.api now resolves to a new digest"),
        "{}",
        plan.stdout
    );

    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let after_prod = w.admin("functions", PROD, &[]);
    let new_digest = new_digest.as_str().unwrap();
    assert!(
        after_prod["api-prod"]["ImageUri"]
            .as_str()
            .unwrap()
            .ends_with(new_digest)
    );
    assert_eq!(after_prod["worker-prod"], before_prod["worker-prod"]);
    let staging = w.admin("functions", STAGING, &[]);
    assert!(
        staging["api-staging"]["ImageUri"]
            .as_str()
            .unwrap()
            .ends_with(new_digest)
    );
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn same_account_functions_get_the_lambda_statement() {
    let w = World::new();
    w.admin("role", REGISTRY, &["LambdaRole"]);
    let repos = format!(
        "{}\n[repositories.lambda-same-account]\nregistry = \"central\"\n",
        head("same")
    );
    w.write("ferry.toml", &repos);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let digest = w.admin("push", REGISTRY, &["lambda-same-account", "0.0.1", "same"]);
    w.write(
        "ferry.toml",
        &format!(
            "{repos}\n[images.app]\nrepository = \"lambda-same-account\"\ntag = \"0.0.1\"\n{}",
            function(
                "test-same-account",
                "registry",
                REGISTRY,
                "app",
                "LambdaRole"
            )
        ),
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let st = statements(&w.admin("policy", REGISTRY, &["lambda-same-account"]));
    assert_eq!(st.len(), 1, "{st:#?}");
    let s = sid(&st, "LambdaECRImageRetrievalPolicy");
    assert_eq!(s["Principal"]["Service"], "lambda.amazonaws.com");
    assert_eq!(
        s["Condition"]["StringLike"]["aws:sourceArn"],
        format!("arn:aws:lambda:us-east-1:{REGISTRY}:function:*")
    );
    let f = w.admin("functions", REGISTRY, &[]);
    assert!(
        f["test-same-account"]["ImageUri"]
            .as_str()
            .unwrap()
            .ends_with(digest.as_str().unwrap())
    );
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn an_organization_share_serves_functions_in_three_accounts() {
    let w = World::new();
    for id in [PROD, STAGING] {
        w.admin("role", id, &["LambdaRole"]);
    }
    let org = "o-a1b2c3d4e5";
    let repos = format!(
        "{}\n[repositories.lambda-aws-organizations]\nregistry = \"central\"\nshare_with_organization = \"{org}\"\n",
        head("org")
    )
    .replace(
        &format!("id = \"{PROD}\""),
        &format!("id = \"{PROD}\"\norganization_id = \"{org}\""),
    )
    .replace(
        &format!("id = \"{STAGING}\""),
        &format!("id = \"{STAGING}\"\norganization_id = \"{org}\""),
    );
    w.write("ferry.toml", &repos);
    // With no consumers yet, the Organization share alone makes the policy.
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let st = statements(&w.admin("policy", REGISTRY, &["lambda-aws-organizations"]));
    assert_eq!(st.len(), 2, "{st:#?}");
    let cross = sid(&st, "CrossAccountPermission");
    assert_eq!(cross["Principal"]["AWS"], "*");
    assert_eq!(
        cross["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
        org
    );
    let lambda = sid(&st, "LambdaECRImageCrossAccountRetrievalPolicy");
    assert_eq!(lambda["Condition"]["StringEquals"]["aws:SourceOrgID"], org);

    let digest = w.admin(
        "push",
        REGISTRY,
        &["lambda-aws-organizations", "0.0.1", "org"],
    );
    let digest = digest.as_str().expect("a digest");
    w.write(
        "ferry.toml",
        &format!(
            "{repos}\n[images.app]\nrepository = \"lambda-aws-organizations\"\ntag = \"0.0.1\"\n{}{}",
            function("team-a", "prod", PROD, "app", "LambdaRole"),
            function("team-b", "staging", STAGING, "app", "LambdaRole")
        ),
    );
    // Member accounts are covered by the Organization statements: the policy does not change.
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stdout
            .contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("repository_policy"),
        "{}",
        plan.stdout
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let uri =
        format!("{REGISTRY}.dkr.ecr.us-east-1.amazonaws.com/lambda-aws-organizations@{digest}");
    for (account, name) in [(PROD, "team-a"), (STAGING, "team-b")] {
        let functions = w.admin("functions", account, &[]);
        assert_eq!(
            functions[name]["ImageUri"], uri,
            "{name} in {account} must pull the pushed image by digest from the registry account: {functions:#}"
        );
    }
    assert_eq!(
        statements(&w.admin("policy", REGISTRY, &["lambda-aws-organizations"])),
        st
    );
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_missing_image_is_a_plan_error_and_nothing_changes() {
    let (w, _) = cross_account_world();
    w.write(
        "decl/functions.toml",
        &format!(
            "[images.hello]\nrepository = \"hello\"\ntag = \"02\"\n{}",
            function("hello-world", "prod", PROD, "hello", "LambdaRole")
        ),
    );
    let run = w
        .ferry(&["-c", "decl", "apply", "--auto-approve"])
        .expect(1);
    assert!(
        run.stderr.contains(
            "tag `02` not found in repository `cross-account-function` of account 111111111111"
        ),
        "{}",
        run.stderr
    );
    // The image key, in the first table of the second file.
    assert!(
        run.stderr.contains("declared at: decl/functions.toml:1:9"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert_eq!(
        w.admin("policy", REGISTRY, &["cross-account-function"]),
        Value::Null
    );
    assert_eq!(w.admin("functions", PROD, &[]), json!({}));
}

#[test]
fn a_function_in_another_region_than_its_registry_is_a_validation_error() {
    // No emulator: validate must not call AWS at all.
    let w = World::offline();
    w.write(
        "ferry.toml",
        &format!(
            "{}\n[repositories.hello]\nregistry = \"central\"\n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n{}region = \"eu-west-1\"\n",
            head("region"),
            function("f", "prod", PROD, "hello", "LambdaRole")
        ),
    );
    let run = w.ferry(&["validate"]).expect(1);
    assert!(
        run.stderr.contains(
            "function `f` is in eu-west-1 but its image is in registry `central` in us-east-1"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("Lambda only pulls images from an ECR registry in its own region"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ferry.toml:"), "{}", run.stderr);
}

#[test]
fn credentials_of_another_account_are_refused_before_anything_changes() {
    let w = World::new();
    // No role to assume: the environment's own credentials, which moto places in its default
    // account 123456789012 (a role_arn of another account is already refused by validate).
    let text = format!(
        "{}\n[repositories.hello]\nregistry = \"central\"\n",
        head("wrong")
    )
    .replace(
        "assume_role = \"arn:aws:iam::{account_id}:role/FerryDeployer\"\n",
        "",
    );
    assert!(!text.contains("assume_role"));
    w.write("ferry.toml", &text);
    w.ferry(&["validate"]).expect(0);
    let run = w.ferry(&["apply", "--auto-approve"]).expect(1);
    assert!(
        run.stderr
            .contains("belong to account 123456789012, not 111111111111"),
        "{}",
        run.stderr
    );
    assert_eq!(w.admin("repos", "123456789012", &[]), json!({}));
    assert_eq!(w.admin("repos", REGISTRY, &[]), json!({}));
}

#[test]
fn apply_without_a_terminal_needs_auto_approve() {
    let w = World::new();
    w.write(
        "ferry.toml",
        &format!(
            "{}\n[repositories.hello]\nregistry = \"central\"\n",
            head("approve")
        ),
    );
    let run = w.ferry(&["apply"]).expect(1);
    assert!(run.stderr.contains("pass --auto-approve"), "{}", run.stderr);
    assert_eq!(w.admin("repos", REGISTRY, &[]), json!({}));
    // The plan was shown (on stdout) before the refusal.
    assert!(
        run.stdout.contains("repository.hello will be created"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_second_process_on_the_same_state_is_told_who_holds_it() {
    let w = World::offline();
    w.write("ferry.toml", &format!("{}\n", head("lock")));
    let _held =
        ferry::state::sled_store::SledState::open(&w.path("state"), "apply").expect("open state");
    let run = w.ferry(&["state", "list"]).expect(1);
    assert!(
        run.stderr.contains("in use by another ferry process"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("pid {}", std::process::id())),
        "{}",
        run.stderr
    );
}

#[test]
fn every_example_validates_and_prints_its_policy_offline() {
    let w = World::offline();
    let root = support::repo_root();
    for (example, repository, sid) in [
        (
            "examples/same-account",
            "lambda-same-account",
            "LambdaECRImageRetrievalPolicy",
        ),
        (
            "examples/cross-account",
            "hello",
            "LambdaECRImageCrossAccountRetrievalPolicy",
        ),
        (
            "examples/organization",
            "lambda-aws-organizations",
            "CrossAccountPermission",
        ),
    ] {
        let path = root.join(example);
        let path = path.to_str().unwrap();
        let run = w.ferry(&["-c", path, "validate"]).expect(0);
        assert!(
            run.stdout.contains("The declarations are valid"),
            "{example}: {}",
            run.stdout
        );
        let policy = w.ferry(&["-c", path, "policy", repository]).expect(0);
        let v: Value = serde_json::from_str(&policy.stdout)
            .unwrap_or_else(|e| panic!("{example}: {e}: {}", policy.stdout));
        assert!(
            statements(&v).iter().any(|s| s["Sid"] == sid),
            "{example}: {v:#}"
        );
    }
    // The Organization example's policy is the contract's: org conditions, no per-account principals.
    let org = root.join("examples/organization");
    let policy = w
        .ferry(&[
            "-c",
            org.to_str().unwrap(),
            "policy",
            "lambda-aws-organizations",
        ])
        .expect(0);
    let v: Value = serde_json::from_str(&policy.stdout).unwrap();
    assert_eq!(statements(&v).len(), 2, "{v:#}");
    assert_eq!(
        sid(&statements(&v), "CrossAccountPermission")["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
        "o-a1b2c3d4e5"
    );
    let unknown = w
        .ferry(&["-c", org.to_str().unwrap(), "policy", "nope"])
        .expect(1);
    assert!(
        unknown.stderr.contains("repository `nope` is not declared"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn an_image_declared_by_digest_is_checked_and_deployed_as_is() {
    let (w, digest) = cross_account_world();
    w.write(
        "decl/functions.toml",
        &format!(
            "[images.hello]\nrepository = \"hello\"\ndigest = \"{digest}\"\n{}",
            function("hello-world", "prod", PROD, "hello", "LambdaRole")
        ),
    );
    w.ferry(&["-c", "decl", "apply", "--auto-approve"])
        .expect(0);
    let f = &w.admin("functions", PROD, &[])["hello-world"];
    assert!(f["ImageUri"].as_str().unwrap().ends_with(&digest), "{f}");
    // A digest that is not in the repository is a plan error, like a missing tag.
    let missing = format!("sha256:{}", "0".repeat(64));
    w.write(
        "decl/functions.toml",
        &format!(
            "[images.hello]\nrepository = \"hello\"\ndigest = \"{missing}\"\n{}",
            function("hello-world", "prod", PROD, "hello", "LambdaRole")
        ),
    );
    let run = w.ferry(&["-c", "decl", "plan"]).expect(1);
    assert!(
        run.stderr
            .contains(&format!("digest `{missing}` not found")),
        "{}",
        run.stderr
    );
}

#[test]
fn on_a_terminal_apply_asks_and_only_yes_applies() {
    let w = World::new();
    w.write(
        "ferry.toml",
        &format!(
            "{}\n[repositories.hello]\nregistry = \"central\"\n",
            head("ask")
        ),
    );
    let no = w.ferry_in_terminal_typing(&["apply"], "no\n");
    assert_ne!(no.code, 0, "{}", no.stdout);
    assert!(
        no.stdout
            .contains("Only 'yes' will be accepted to approve."),
        "{}",
        no.stdout
    );
    assert!(
        no.stdout.contains("apply cancelled: nothing was changed"),
        "{}",
        no.stdout
    );
    assert_eq!(w.admin("repos", REGISTRY, &[]), json!({}));
    let yes = w.ferry_in_terminal_typing(&["apply"], "yes\n");
    assert_eq!(yes.code, 0, "{}", yes.stdout);
    assert!(
        yes.stdout.contains("Apply complete! Resources: 1 added"),
        "{}",
        yes.stdout
    );
    assert!(w.admin("repos", REGISTRY, &[])["hello"].is_object());
}

#[test]
fn validate_lints_extra_statements_without_calling_aws() {
    let w = World::offline();
    let extra = r#"extra_statements = '''[{"Sid": "CiPush", "Effect": "Allow", "Principal": "*", "Action": "ecr:*"}]'''"#;
    w.write(
        "ferry.toml",
        &format!(
            "{}\n[repositories.hello]\nregistry = \"central\"\n{extra}\n",
            head("lint")
        ),
    );
    let run = w.ferry(&["validate"]).expect(0);
    assert!(
        run.stderr.contains(
            "warning: repository.hello: extra_statements: statement \"CiPush\": allows everyone"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("allows every ECR action"),
        "{}",
        run.stderr
    );
}

#[test]
fn colour_only_on_a_terminal_and_never_when_told_not_to() {
    let w = World::new();
    let w_repo_only = support::hello_declarations("colours")
        .replace("[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n", "");
    w.write("ferry.toml", &w_repo_only);
    const ESC: &str = "\u{1b}[";
    let coloured = w.ferry_in_colour_terminal(&["plan"]);
    assert_eq!(coloured.code, 0, "{}", coloured.stdout);
    assert!(
        coloured.stdout.contains("repository.hello"),
        "{}",
        coloured.stdout
    );
    assert!(
        coloured.stdout.contains(ESC),
        "a terminal gets colour: {:?}",
        coloured.stdout
    );
    let flag = w.ferry_in_colour_terminal(&["--no-color", "plan"]);
    assert!(flag.stdout.contains("repository.hello"), "{}", flag.stdout);
    assert!(!flag.stdout.contains(ESC), "--no-color: {:?}", flag.stdout);
    // NO_COLOR=1 is in every other run's environment.
    let env = w.ferry_in_terminal(&["plan"]);
    assert!(!env.stdout.contains(ESC), "NO_COLOR: {:?}", env.stdout);
    // Not a terminal, colour allowed (an empty NO_COLOR does not ask for none): still plain.
    let piped = w.ferry_with_env(&["plan"], &[("NO_COLOR", "")]);
    assert!(
        piped.stdout.contains("repository.hello"),
        "{}",
        piped.stdout
    );
    assert!(!piped.stdout.contains(ESC) && !piped.stderr.contains(ESC));
}
