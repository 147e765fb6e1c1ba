//! End to end: renamed keys, `[[moved]]` blocks, and reasons that say what really happens
//! (an import, a destroy). The real binary against moto, checked with boto3.

mod support;

use serde_json::Value;
use support::fixtures::{api_prod, state_list};
use support::{PROD, REGISTRY, World, function, hello_applied, hello_declarations, repo_root};

/// The declarations of `hello_applied`, as written there.
fn applied_declarations() -> String {
    format!("{}{}", hello_declarations("moves"), api_prod())
}

/// The same with the function's key renamed to `api` (its Lambda name stays `api-prod`).
fn function_renamed() -> String {
    applied_declarations().replace(
        "[functions.api-prod]\n",
        "[functions.api]\nname = \"api-prod\"\n",
    )
}

const MOVED_FUNCTION: &str = "\n[[moved]]\nfrom = \"function.api-prod\"\nto = \"function.api\"\n";

fn address_tag(w: &World) -> Value {
    w.admin("functions", PROD, &[])["api-prod"]["Tags"]["ferry:address"].clone()
}

#[test]
fn a_renamed_key_is_refused_with_both_fixes_and_import_is_refused_too() {
    let w = hello_applied("moves", &[PROD]);
    let before = support::cloud_snapshot(&w);
    w.write("ferry.toml", &function_renamed());
    let run = w.ferry(&["plan"]).expect(1);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error for the pair: {}", run.stderr);
    for shown in [
        "function.api-prod",
        "function.api ",
        "[[moved]]",
        "from = \"function.api-prod\" and to = \"function.api\"",
        "ferry state mv function.api-prod function.api",
    ] {
        assert!(run.stderr.contains(shown), "{shown}: {}", run.stderr);
    }
    assert!(
        !run.stderr.contains("not managed by this project")
            && !run.stderr.contains("ferry import function.api "),
        "a rename is never answered with an import: {}",
        run.stderr
    );
    // The trap of the issue: importing under the new address. Refused, naming the old one.
    let import = w.ferry(&["import", "function.api", "api-prod"]).expect(1);
    assert!(
        import
            .stderr
            .contains("already in the state as function.api-prod")
            && import
                .stderr
                .contains("ferry state mv function.api-prod function.api"),
        "{}",
        import.stderr
    );
    assert_eq!(
        state_list(&w),
        vec![
            "repository.hello",
            "repository_policy.hello",
            "function.api-prod"
        ]
    );
    // Nor does an apply touch anything.
    w.ferry(&["apply", "--auto-approve"]).expect(1);
    assert_eq!(support::cloud_snapshot(&w), before, "nothing was deleted");
    assert_eq!(address_tag(&w), "function.api-prod");
}

#[test]
fn a_moved_block_keeps_the_function_retags_it_and_then_is_a_no_op() {
    let w = hello_applied("moves", &[PROD]);
    let before = w.admin("functions", PROD, &[])["api-prod"].clone();
    w.write(
        "ferry.toml",
        &format!("{}{MOVED_FUNCTION}", function_renamed()),
    );
    let plan = w.ferry(&["plan", "--detailed-exitcode"]).expect(2);
    for shown in [
        "# [1] function.api-prod has moved to function.api",
        "Lambda function `api-prod` in account prod",
        "# [2] function.api will be updated in-place",
        "it moved from function.api-prod, and its ferry:address tag follows",
        "~ \"ferry:address\" = \"function.api-prod\" -> \"function.api\"",
        "Plan: 0 to add, 1 to change, 0 to destroy. 1 to move.",
    ] {
        assert!(plan.stdout.contains(shown), "{shown}: {}", plan.stdout);
    }
    assert!(!plan.stdout.contains("destroyed"), "{}", plan.stdout);

    // Machine and pull-request renderings show the move as its own kind of change.
    let json = w.ferry(&["plan", "--json"]).expect(0).stdout;
    w.validate_json(&json, &repo_root().join("docs/plan.schema.json"))
        .unwrap_or_else(|e| panic!("plan --json does not follow its schema: {e}\n{json}"));
    let v: Value = serde_json::from_str(&json).unwrap();
    let steps = v["resource_changes"].as_array().unwrap();
    assert_eq!(steps[0]["action"], "move", "{json}");
    assert_eq!(steps[0]["address"], "function.api-prod");
    assert_eq!(steps[0]["moved_to"], "function.api");
    assert_eq!(steps[0]["name"], "api-prod");
    assert_eq!(steps[1]["action"], "update");
    assert_eq!(steps[1]["name"], "api-prod");
    assert_eq!(v["summary"]["destroy"], 0);
    let md = w.ferry(&["plan", "--markdown"]).expect(0).stdout;
    assert!(
        md.contains("| 1 | `->` Move | `function.api-prod` -> `function.api` | `api-prod` |"),
        "{md}"
    );

    // A saved plan carries the move like any other step.
    w.ferry(&["plan", "--out", "move.plan"]).expect(0);
    let apply = w.ferry(&["apply", "move.plan"]).expect(0);
    assert!(
        apply
            .stdout
            .contains("Resources: 0 added, 1 changed, 0 destroyed."),
        "{}",
        apply.stdout
    );
    assert_eq!(
        state_list(&w),
        vec![
            "repository.hello",
            "repository_policy.hello",
            "function.api"
        ]
    );
    let after = w.admin("functions", PROD, &[])["api-prod"].clone();
    assert_eq!(after["Tags"]["ferry:address"], "function.api", "{after}");
    let untagged = |mut f: Value| {
        f["Tags"] = Value::Null;
        f
    };
    assert_eq!(
        untagged(after),
        untagged(before),
        "only the ownership tag changed"
    );
    // The block stays in the files and is a no-op from now on.
    let again = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

#[test]
fn a_moved_repository_takes_its_policy_along() {
    let w = hello_applied("moves", &[PROD]);
    let policy = w.admin("policy", REGISTRY, &["hello"]);
    let renamed = applied_declarations()
        .replace(
            "[repositories.hello]\n",
            "[repositories.main]\nname = \"hello\"\n",
        )
        .replace("repository = \"hello\"", "repository = \"main\"");
    // Without the block: one error for the pair, its policy included.
    w.write("ferry.toml", &renamed);
    let refused = w.ferry(&["plan"]).expect(1);
    assert!(
        refused
            .stderr
            .contains("ferry state mv repository.hello repository.main")
            && refused.stderr.contains("takes its policy along"),
        "{}",
        refused.stderr
    );
    w.write(
        "ferry.toml",
        &format!("{renamed}\n[[moved]]\nfrom = \"repository.hello\"\nto = \"repository.main\"\n"),
    );
    let plan = w.ferry(&["plan"]).expect(0);
    for shown in [
        "repository.hello has moved to repository.main",
        "(its policy moves along)",
        "repository.main will be updated in-place",
        "it moved from repository.hello, and its ferry:address tag follows",
        // The function's record names its repository by key: state catches up, AWS is untouched.
        "function.api-prod will be adopted into state",
        "Plan: 0 to add, 1 to change, 0 to destroy.",
        "1 to move.",
    ] {
        assert!(plan.stdout.contains(shown), "{shown}: {}", plan.stdout);
    }
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        state_list(&w),
        vec![
            "repository.main",
            "repository_policy.main",
            "function.api-prod"
        ]
    );
    assert_eq!(
        w.admin("repos", REGISTRY, &[])["hello"]["tags"]["ferry:address"],
        "repository.main"
    );
    assert_eq!(
        w.admin("policy", REGISTRY, &["hello"]),
        policy,
        "the policy is untouched"
    );
    assert!(w.admin("functions", PROD, &[])["api-prod"].is_object());
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn an_imported_function_and_a_destroy_say_why_they_change_things() {
    let w = World::new();
    w.admin("role", PROD, &["LambdaRole"]);
    let repo_only = hello_declarations("moves").replace(
        "\n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n",
        "",
    );
    w.write("ferry.toml", &repo_only);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let digest = w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    // A function made by hand, by tag; then declared and imported.
    let by_tag = format!("{REGISTRY}.dkr.ecr.us-east-1.amazonaws.com/hello:01");
    let role = format!("arn:aws:iam::{PROD}:role/LambdaRole");
    w.admin("create-function", PROD, &["api-prod", &by_tag, &role]);
    w.write("ferry.toml", &applied_declarations());
    w.ferry(&["import", "function.api-prod", "api-prod"])
        .expect(0);
    let plan = w.ferry(&["plan"]).expect(0);
    let reason = format!(
        "it was just imported: it runs `{by_tag}` by tag, and ferry deploys by digest \
         (tag `01` of image.hello is {}); it also gets ferry's ownership tags",
        digest.as_str().expect("a digest")
    );
    assert!(plan.stdout.contains(&reason), "{reason}\n{}", plan.stdout);
    assert!(
        !plan.stdout.contains("now resolves to a new digest"),
        "{}",
        plan.stdout
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);

    // Destroy: the function goes, the repository holding an image is refused, in destroy's words.
    let destroy = w.ferry(&["destroy", "--auto-approve"]).expect(1);
    assert!(
        destroy.stdout.contains(
            "Lambda function `api-prod` in account prod (222222222222, us-east-1): destroy removes \
             everything ferry manages"
        ),
        "{}",
        destroy.stdout
    );
    assert!(
        !destroy.stdout.contains("no longer declared"),
        "{}",
        destroy.stdout
    );
    assert!(
        destroy
            .stderr
            .contains("repository `hello` still holds images, so destroy does not delete it"),
        "{}",
        destroy.stderr
    );
    assert!(
        !destroy.stderr.contains("declare it again")
            && !destroy.stderr.contains("no longer declared"),
        "no hint to re-declare: {}",
        destroy.stderr
    );
    assert!(
        w.admin("functions", PROD, &[])["api-prod"].is_object(),
        "a plan with errors changes nothing"
    );
}

#[test]
fn a_rolled_back_apply_undoes_the_move_too() {
    let w = hello_applied("moves", &[PROD]);
    let before = support::cloud_snapshot(&w);
    // The move, and a staging function whose execution role does not exist: its CreateFunction
    // fails (moto: "cannot be assumed by Lambda") and the apply rolls back.
    w.write(
        "ferry.toml",
        &format!(
            "{}{MOVED_FUNCTION}{}",
            function_renamed(),
            function(
                "api-staging",
                "staging",
                support::STAGING,
                "hello",
                "LambdaRole"
            )
        ),
    );
    let run = w
        .ferry(&["apply", "--auto-approve", "--propagation-timeout", "2"])
        .expect(1);
    assert!(
        run.stderr.contains("apply failed and was rolled back"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("function.api-prod: rolled back"),
        "the move step is undone: {}",
        run.stderr
    );
    assert_eq!(
        state_list(&w),
        vec![
            "repository.hello",
            "repository_policy.hello",
            "function.api-prod"
        ]
    );
    assert_eq!(support::cloud_snapshot(&w), before, "the tag is back too");
    // Nothing was lost: the move is still to do.
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stdout
            .contains("function.api-prod has moved to function.api"),
        "{}",
        plan.stdout
    );
}
