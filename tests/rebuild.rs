//! Non-interactive runs (issue 13, item 4): with `CI` set, or without a terminal, ferry never
//! prompts; a needed prompt is an error naming the flag, exit 1, and nothing changes.

mod support;

use support::*;

fn repository_only(w: &World) {
    let full = hello_declarations("ci");
    let repo_only = full.replace("[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n", "");
    w.write("ferry.toml", &repo_only);
}

#[test]
fn ci_set_refuses_the_prompt_even_on_a_terminal() {
    let w = World::new();
    repository_only(&w);
    let run = w.ferry_in_terminal_with_env(&["apply"], "yes\n", &[("CI", "true")]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("CI is set"), "{all}");
    assert!(all.contains("--auto-approve"), "{all}");
    assert!(!all.contains("Enter a value"), "prompted under CI: {all}");
    assert_eq!(w.admin("repos", REGISTRY, &[]), serde_json::json!({}));
    // The same answer without CI on that terminal is accepted.
    let run = w.ferry_in_terminal_typing(&["apply"], "yes\n");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn no_terminal_refuses_destroy_naming_the_flag() {
    let w = World::new();
    repository_only(&w);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let run = w.ferry(&["destroy"]).expect(1);
    assert!(
        run.stderr.contains("standard input is not a terminal"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    assert_ne!(w.admin("repos", REGISTRY, &[]), serde_json::json!({}));
}

/// Three accounts applied, with a function since dropped from the declarations; then every
/// state file deleted.
fn estate_without_state() -> World {
    let w = hello_applied("rebuilt", &[PROD, STAGING]);
    let full = format!(
        "{}{}{}",
        hello_declarations("rebuilt"),
        function("api-prod", "prod", PROD, "hello", "LambdaRole"),
        function("api-staging", "staging", STAGING, "hello", "LambdaRole"),
    );
    w.write(
        "ferry.toml",
        &format!(
            "{full}{}",
            function("old-staging", "staging", STAGING, "hello", "LambdaRole")
        ),
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.write("ferry.toml", &full);
    std::fs::remove_dir_all(w.path("state")).unwrap();
    w
}

#[test]
fn state_rebuild_finds_a_three_account_estate_by_its_tags_and_the_plan_is_a_no_op() {
    let w = estate_without_state();
    let before = cloud_snapshot(&w);
    // Without state the plan is not a no-op.
    let lost = w.ferry(&["plan", "--detailed-exitcode"]);
    assert_ne!(lost.code, 0, "{}", lost.stdout);

    // Without a terminal it asks for --auto-approve and records nothing.
    let refused = w.ferry(&["state", "rebuild"]).expect(1);
    assert!(
        refused.stderr.contains("--auto-approve"),
        "{}",
        refused.stderr
    );
    assert_eq!(w.ferry(&["state", "list"]).expect(0).stdout, "");

    let run = w.ferry(&["state", "rebuild", "--auto-approve"]).expect(0);
    for address in [
        "repository.hello",
        "repository_policy.hello",
        "function.api-prod",
        "function.api-staging",
    ] {
        assert!(
            run.stdout.contains(&format!("  + {address}: ")),
            "{address}: {}",
            run.stdout
        );
    }
    assert!(
        run.stdout.contains(&format!(
            "  ? `old-staging` in account {STAGING} (us-east-1) carries this project's tags for \
             function.old-staging, which is not declared: not recorded"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Rebuild: 4 to record."),
        "{}",
        run.stdout
    );
    let listed = w.ferry(&["state", "list"]).expect(0).stdout;
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        [
            "repository.hello",
            "repository_policy.hello",
            "function.api-prod",
            "function.api-staging"
        ],
        "{listed}"
    );
    let plan = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    assert_eq!(
        cloud_snapshot(&w),
        before,
        "a rebuild changes nothing in AWS"
    );
    // A second rebuild finds everything recorded.
    let again = w.ferry(&["state", "rebuild", "--auto-approve"]).expect(0);
    assert!(
        again.stdout.contains("Nothing to record."),
        "{}",
        again.stdout
    );
}

#[test]
fn import_all_tagged_records_only_what_the_pattern_names() {
    let w = estate_without_state();
    let run = w
        .ferry(&["import", "--all-tagged", "function.*", "--auto-approve"])
        .expect(0);
    assert!(
        run.stdout.contains("Rebuild: 2 to record."),
        "{}",
        run.stdout
    );
    let listed = w.ferry(&["state", "list"]).expect(0).stdout;
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["function.api-prod", "function.api-staging"],
        "{listed}"
    );
    w.ferry(&[
        "import",
        "--all-tagged",
        "account:registry",
        "--auto-approve",
    ])
    .expect(0);
    let plan = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
}
