//! End to end, the whole lifecycle: deletes, destroy, drift, ownership and import, saved plans,
//! machine output, targets, and secrets. The real binary against moto, checked with boto3.

mod support;

use serde_json::{Value, json};
use support::{PROD, REGISTRY, STAGING, World, declarations_head, repo_root};

fn function(key: &str, account: &str, id: &str) -> String {
    support::function(key, account, id, "hello", "LambdaRole")
}

fn head() -> String {
    format!(
        "{}\n[repositories.hello]\nregistry = \"central\"\nforce_delete = true\n",
        declarations_head("life")
    )
}

const IMAGE: &str = "\n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n";

/// `hello` applied alone, then an image pushed to it (its digest returned); prod has LambdaRole.
fn hello_pushed() -> (World, serde_json::Value) {
    let w = World::new();
    w.admin("role", PROD, &["LambdaRole"]);
    w.write("ferry.toml", &head());
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let digest = w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    (w, digest)
}

/// Registry, image, and functions in prod and staging, applied.
fn three_accounts() -> World {
    let w = World::new();
    for id in [PROD, STAGING] {
        w.admin("role", id, &["LambdaRole"]);
    }
    w.write("ferry.toml", &head());
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.write(
        "ferry.toml",
        &format!(
            "{}{IMAGE}{}{}",
            head(),
            function("api-prod", "prod", PROD),
            function("api-staging", "staging", STAGING)
        ),
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w
}

fn policy_text(w: &World) -> String {
    w.admin("policy", REGISTRY, &["hello"]).to_string()
}

#[test]
fn removing_a_function_deletes_it_then_its_accounts_statements() {
    let w = three_accounts();
    assert!(policy_text(&w).contains(STAGING));
    w.write(
        "ferry.toml",
        &format!("{}{IMAGE}{}", head(), function("api-prod", "prod", PROD)),
    );
    let plan = w.ferry(&["plan"]).expect(0);
    let delete_at = plan
        .stdout
        .find("function.api-staging will be destroyed")
        .expect("delete step");
    let policy_at = plan
        .stdout
        .find("repository_policy.hello will be updated")
        .expect("policy step");
    assert!(delete_at < policy_at, "{}", plan.stdout);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(w.admin("functions", STAGING, &[]), json!({}));
    assert!(w.admin("functions", PROD, &[])["api-prod"].is_object());
    let policy = policy_text(&w);
    assert!(!policy.contains(STAGING), "{policy}");
    assert!(policy.contains(PROD), "{policy}");
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn removing_the_last_function_of_a_repository_deletes_its_policy() {
    let w = three_accounts();
    assert!(
        w.admin("policy", REGISTRY, &["hello"]).is_object(),
        "the functions' policy must exist first"
    );
    w.write("ferry.toml", &format!("{}{IMAGE}", head()));
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stdout
            .contains("repository_policy.hello will be destroyed"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 0 to change, 3 to destroy."),
        "{}",
        plan.stdout
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        w.admin("policy", REGISTRY, &["hello"]),
        Value::Null,
        "a policy with no consumers left is deleted, not written empty"
    );
    assert!(
        w.admin("repos", REGISTRY, &[])["hello"].is_object(),
        "the repository itself stays"
    );
    let state = w.ferry(&["state", "list"]).expect(0).stdout;
    assert_eq!(state, "repository.hello\n", "{state}");
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn destroy_of_three_accounts_leaves_nothing() {
    let w = three_accounts();
    let run = w.ferry(&["destroy"]).expect(1);
    assert!(run.stderr.contains("pass --auto-approve"), "{}", run.stderr);
    let run = w.ferry(&["destroy", "--auto-approve"]).expect(0);
    assert!(
        run.stdout
            .contains("Destroy complete! Resources: 4 destroyed."),
        "{}",
        run.stdout
    );
    for account in [REGISTRY, PROD, STAGING] {
        assert_eq!(
            w.admin("functions", account, &[]),
            json!({}),
            "functions left in {account}"
        );
        assert_eq!(
            w.admin("repos", account, &[]),
            json!({}),
            "repositories left in {account}"
        );
    }
    assert_eq!(w.ferry(&["state", "list"]).expect(0).stdout, "");
}

#[test]
fn a_repository_with_images_is_not_deleted_without_force_delete() {
    let w = World::new();
    let repos = head().replace("force_delete = true\n", "");
    w.write("ferry.toml", &repos);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.write(
        "ferry.toml",
        &repos.replace("[repositories.hello]\nregistry = \"central\"\n", ""),
    );
    let run = w.ferry(&["apply", "--auto-approve"]).expect(1);
    assert!(run.stderr.contains("still holds images"), "{}", run.stderr);
    assert!(run.stderr.contains("force_delete = true"), "{}", run.stderr);
    assert!(w.admin("repos", REGISTRY, &[])["hello"].is_object());
}

#[test]
fn a_hand_edited_policy_is_drift_and_is_restored() {
    let w = three_accounts();
    let managed = w.admin("policy", REGISTRY, &["hello"]);
    let tampered = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Everyone", "Effect": "Allow",
        "Principal": "*", "Action": "ecr:*"}]});
    w.admin("set-policy", REGISTRY, &["hello", &tampered.to_string()]);
    let plan = w.ferry(&["plan", "--detailed-exitcode"]).expect(2);
    let drift_at = plan
        .stdout
        .find("Changes outside ferry since the last apply")
        .expect("drift section");
    let changed_at = plan
        .stdout
        .find("repository_policy.hello was changed outside ferry")
        .expect("drift item");
    let step_at = plan
        .stdout
        .find("repository_policy.hello will be updated")
        .expect("restore step");
    assert!(
        drift_at < changed_at && changed_at < step_at,
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("\"Sid\": \"Everyone\""),
        "{}",
        plan.stdout
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(w.admin("policy", REGISTRY, &["hello"]), managed);
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn console_changes_and_deletions_are_drift_and_are_undone() {
    let w = three_accounts();
    w.admin("set-memory", PROD, &["api-prod", "1024"]);
    w.admin("delete-function", STAGING, &["api-staging"]);
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stdout
            .contains("function.api-prod was changed outside ferry"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("memory_mb = 128 -> 1024"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("function.api-staging was deleted outside ferry"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("function.api-staging will be created"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("memory_mb = 1024 -> 128"),
        "{}",
        plan.stdout
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        w.admin("functions", PROD, &[])["api-prod"]["MemorySize"],
        128
    );
    assert!(w.admin("functions", STAGING, &[])["api-staging"].is_object());
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn an_unmanaged_repository_is_refused_then_imported() {
    let w = World::new();
    w.admin("create-repo", REGISTRY, &["hello"]);
    w.write("ferry.toml", &head());
    refused_then_imported_and_tagged(&w, "repository.hello", "hello", "repository `hello`");
    assert_eq!(
        w.admin("repos", REGISTRY, &[])["hello"]["tags"]["ferry:address"],
        "repository.hello"
    );
    // Importing twice is refused.
    let again = w.ferry(&["import", "repository.hello", "hello"]).expect(1);
    assert!(
        again.stderr.contains("already in the state"),
        "{}",
        again.stderr
    );
}

/// A resource made by hand: the plan refuses it with the import hint and leaves it alone; after
/// `ferry import`, the plan adds ferry's ownership tags, apply converges.
fn refused_then_imported_and_tagged(w: &World, address: &str, name: &str, what: &str) {
    let run = w.ferry(&["plan"]).expect(1);
    assert!(
        run.stderr.contains(&format!("{what} already exists"))
            && run.stderr.contains("not managed by this project")
            && run
                .stderr
                .contains(&format!("ferry import {address} {name}")),
        "{}",
        run.stderr
    );
    let run = w.ferry(&["import", address, name]).expect(0);
    assert!(
        run.stdout.contains(&format!("Imported {address}")),
        "{}",
        run.stdout
    );
    let plan = w.ferry(&["plan", "--detailed-exitcode"]).expect(2);
    for shown in [
        format!("{address} will be updated in-place"),
        "\"ferry:project\" = \"life\"".to_string(),
        format!("\"ferry:address\" = \"{address}\""),
    ] {
        assert!(plan.stdout.contains(&shown), "{shown}: {}", plan.stdout);
    }
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_function_created_by_hand_is_refused_then_imported_and_tagged() {
    let (w, digest) = hello_pushed();
    let uri = format!(
        "{REGISTRY}.dkr.ecr.us-east-1.amazonaws.com/hello@{}",
        digest.as_str().expect("a digest")
    );
    let role = format!("arn:aws:iam::{PROD}:role/LambdaRole");
    w.admin("create-function", PROD, &["api-prod", &uri, &role]);
    w.write(
        "ferry.toml",
        &format!("{}{IMAGE}{}", head(), function("api-prod", "prod", PROD)),
    );
    w.ferry(&["plan"]).expect(1);
    assert_eq!(
        w.admin("functions", PROD, &[])["api-prod"]["Tags"],
        json!({}),
        "a refused plan must not touch the function"
    );
    refused_then_imported_and_tagged(&w, "function.api-prod", "api-prod", "function `api-prod`");
    let f = &w.admin("functions", PROD, &[])["api-prod"];
    assert_eq!(f["Tags"]["ferry:project"], "life", "{f}");
    assert_eq!(f["Tags"]["ferry:address"], "function.api-prod", "{f}");
    assert_eq!(f["ImageUri"], uri, "{f}");
}

#[test]
fn a_repository_deleted_by_hand_is_drift_and_is_created_again_with_its_policy() {
    let w = World::new();
    let shared = format!("{}share_with_accounts = [\"prod\"]\n", head());
    w.write("ferry.toml", &shared);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let policy = w.admin("policy", REGISTRY, &["hello"]);
    assert!(
        policy.to_string().contains(PROD),
        "the share must write a policy first: {policy}"
    );
    w.admin("delete-repo", REGISTRY, &["hello"]);
    assert_eq!(w.admin("repos", REGISTRY, &[]), json!({}));
    let plan = w.ferry(&["plan", "--detailed-exitcode"]).expect(2);
    let drift_at = plan
        .stdout
        .find("Changes outside ferry since the last apply")
        .expect("drift section");
    let deleted_at = plan
        .stdout
        .find("repository.hello was deleted outside ferry")
        .expect("drift item for the repository");
    assert!(
        plan.stdout
            .contains("repository_policy.hello was deleted outside ferry"),
        "the policy went with its repository:\n{}",
        plan.stdout
    );
    let repo_at = plan
        .stdout
        .find("repository.hello will be created")
        .expect("repository step");
    let policy_at = plan
        .stdout
        .find("repository_policy.hello will be created")
        .expect("policy step");
    assert!(
        drift_at < deleted_at && deleted_at < repo_at && repo_at < policy_at,
        "drift, then the repository, then its policy:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        w.admin("repos", REGISTRY, &[])["hello"]["tags"]["ferry:address"],
        "repository.hello"
    );
    assert_eq!(
        w.admin("policy", REGISTRY, &["hello"]),
        policy,
        "the recreated repository gets its policy again"
    );
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_saved_plan_applies_exactly_and_is_refused_once_state_moved_on() {
    let w = three_accounts();
    w.write(
        "ferry.toml",
        &format!(
            "{}{IMAGE}{}memory_mb = 256\n{}",
            head(),
            function("api-prod", "prod", PROD),
            function("api-staging", "staging", STAGING)
        ),
    );
    let saved = w.ferry(&["plan", "--out", "change.plan"]).expect(0);
    assert!(
        saved.stderr.contains("ferry apply change.plan"),
        "{}",
        saved.stderr
    );
    let stale = w.ferry(&["plan", "--out", "stale.plan"]).expect(0);
    drop(stale);
    let run = w.ferry(&["apply", "change.plan"]).expect(0);
    assert!(
        run.stdout
            .contains("Apply complete! Resources: 0 added, 1 changed, 0 destroyed."),
        "{}",
        run.stdout
    );
    assert_eq!(
        w.admin("functions", PROD, &[])["api-prod"]["MemorySize"],
        256
    );
    let refused = w.ferry(&["apply", "stale.plan"]).expect(1);
    assert!(
        refused
            .stderr
            .contains("the state changed since the plan was saved"),
        "{}",
        refused.stderr
    );
    // Changed declarations also void a saved plan.
    w.ferry(&["plan", "--out", "again.plan"]).expect(0);
    w.write(
        "ferry.toml",
        &format!("{}{IMAGE}{}", head(), function("api-prod", "prod", PROD)),
    );
    let refused = w.ferry(&["apply", "again.plan"]).expect(1);
    assert!(
        refused.stderr.contains("the declarations changed"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_saved_plan_deploys_the_digest_it_resolved_even_after_the_tag_moves() {
    let w = three_accounts();
    let uri_of = |account: &str, name: &str| {
        w.admin("functions", account, &[])[name]["ImageUri"]
            .as_str()
            .unwrap_or_else(|| panic!("no function {name} in {account}"))
            .to_string()
    };
    let planned_uri = uri_of(PROD, "api-prod");
    w.write(
        "ferry.toml",
        &format!(
            "{}{IMAGE}{}{}{}",
            head(),
            function("api-prod", "prod", PROD),
            function("api-staging", "staging", STAGING),
            function("api-new", "prod", PROD)
        ),
    );
    w.ferry(&["plan", "--out", "new.plan"]).expect(0);
    // The tag moves after the plan was saved: a fresh plan would deploy the new digest.
    let moved = w.admin("push", REGISTRY, &["hello", "01", "v2"]);
    let moved = moved.as_str().expect("a digest");
    assert!(
        !planned_uri.ends_with(moved),
        "the push must change the digest: {planned_uri} vs {moved}"
    );
    let run = w.ferry(&["apply", "new.plan"]).expect(0);
    assert!(
        run.stdout
            .contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed."),
        "the saved plan holds one create and nothing for the moved tag:\n{}",
        run.stdout
    );
    assert_eq!(
        uri_of(PROD, "api-new"),
        planned_uri,
        "apply must deploy the digest the saved plan resolved, not re-plan"
    );
    assert_eq!(
        uri_of(PROD, "api-prod"),
        planned_uri,
        "functions the saved plan did not touch keep their image"
    );
    // Only now does a plan see the moved tag.
    let plan = w.ferry(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(
        plan.stdout
            .contains("tag `01` of image.hello now resolves to a new digest"),
        "{}",
        plan.stdout
    );
}

#[test]
fn json_plans_follow_the_documented_schema() {
    let w = three_accounts();
    w.admin("set-memory", PROD, &["api-prod", "512"]);
    w.write(
        "ferry.toml",
        &format!(
            "{}{IMAGE}{}{}",
            head(),
            function("api-prod", "prod", PROD),
            function("api-new", "prod", PROD)
        ),
    );
    let run = w.ferry(&["plan", "--json"]).expect(0);
    w.validate_json(&run.stdout, &repo_root().join("docs/plan.schema.json"))
        .unwrap_or_else(|e| {
            panic!(
                "plan --json does not follow its schema: {e}\n{}",
                run.stdout
            )
        });
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["format_version"], "1.2");
    assert_eq!(v["summary"], json!({"add": 1, "change": 2, "destroy": 1}));
    let drift = v["resource_drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0]["address"], "function.api-prod");
    assert_eq!(drift[0]["before"]["memory_mb"], 128);
    assert_eq!(drift[0]["after"]["memory_mb"], 512);
    let changes = v["resource_changes"].as_array().unwrap();
    let find = |a: &str| {
        changes
            .iter()
            .find(|c| c["address"] == a)
            .unwrap_or_else(|| panic!("{a} in {changes:#?}"))
    };
    assert_eq!(find("function.api-staging")["action"], "delete");
    assert_eq!(find("function.api-new")["action"], "create");
    // before/after: the changed attributes; values: the whole resource on each side.
    let restored = find("function.api-prod");
    assert_eq!(restored["action"], "update");
    assert_eq!(restored["before"], json!({"memory_mb": 512}));
    assert_eq!(restored["values"]["before"]["memory_mb"], 512);
    assert_eq!(restored["values"]["after"]["memory_mb"], 128);
    assert_eq!(
        restored["values"]["before"]["image_uri"],
        restored["values"]["after"]["image_uri"]
    );
    assert!(
        restored["values"]["after"]["role"]
            .as_str()
            .is_some_and(|r| r.ends_with(":role/LambdaRole")),
        "{restored}"
    );
    assert_eq!(find("function.api-new")["values"]["before"], Value::Null);
    assert_eq!(find("function.api-staging")["values"]["after"], Value::Null);
    assert!(find("function.api-staging")["values"]["before"]["image_uri"].is_string());
    assert_eq!(
        find("function.api-new")["depends_on"],
        json!(["repository_policy.hello"])
    );
    // A plan with an error still follows the schema.
    w.write(
        "ferry.toml",
        &format!(
            "{}{}{}",
            head(),
            IMAGE.replace("\"01\"", "\"nope\""),
            function("api-prod", "prod", PROD)
        ),
    );
    let run = w.ferry(&["plan", "--json"]).expect(1);
    w.validate_json(&run.stdout, &repo_root().join("docs/plan.schema.json"))
        .unwrap();
    assert!(
        run.stdout.contains("tag `nope` not found"),
        "{}",
        run.stdout
    );
}

#[test]
fn markdown_plans_are_pull_request_comments() {
    let w = three_accounts();
    w.write(
        "ferry.toml",
        &format!("{}{IMAGE}{}", head(), function("api-prod", "prod", PROD)),
    );
    let md = w.ferry(&["plan", "--markdown"]).expect(0).stdout;
    assert!(
        md.contains("**Plan: 0 to add, 1 to change, 1 to destroy.**"),
        "{md}"
    );
    assert!(
        md.contains("<details><summary><code>~ repository_policy.hello</code>"),
        "{md}"
    );
    assert!(md.contains("```diff\n"), "{md}");
    let removed = format!("\"arn:aws:iam::{STAGING}:root\"");
    assert!(
        md.lines()
            .any(|l| l.starts_with('-') && l.contains(&removed)),
        "the staging account's root must show as a removed line: {md}"
    );
    assert!(
        !md.contains("-{}"),
        "an empty environment is not a diff: {md}"
    );
}

#[test]
fn target_applies_only_its_closure() {
    let w = World::new();
    for id in [PROD, STAGING] {
        w.admin("role", id, &["LambdaRole"]);
    }
    w.write(
        "ferry.toml",
        &format!(
            "{}{IMAGE}{}{}",
            head(),
            function("api-prod", "prod", PROD),
            function("api-staging", "staging", STAGING)
        ),
    );
    // The repository alone first: the image errors of the rest do not block it.
    let run = w
        .ferry(&["apply", "--auto-approve", "--target", "repository.hello"])
        .expect(0);
    assert!(
        run.stderr.contains("resource targeting is in effect"),
        "{}",
        run.stderr
    );
    assert!(w.admin("repos", REGISTRY, &[])["hello"].is_object());
    w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    let run = w
        .ferry(&["apply", "--auto-approve", "--target", "function.api-prod"])
        .expect(0);
    assert!(
        run.stdout
            .contains("Apply complete! Resources: 2 added, 0 changed, 0 destroyed."),
        "{}",
        run.stdout
    );
    assert!(w.admin("functions", PROD, &[])["api-prod"].is_object());
    assert_eq!(w.admin("functions", STAGING, &[]), json!({}));
    let unknown = w.ferry(&["plan", "--target", "function.nope"]).expect(1);
    assert!(
        unknown.stderr.contains("no such resource"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn state_show_and_rm() {
    let w = three_accounts();
    let show = w.ferry(&["state", "show", "function.api-prod"]).expect(0);
    let v: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(v["config"]["name"], "api-prod");
    assert_eq!(v["target"]["account_id"], PROD);
    let list = w.ferry(&["state", "list", "-v"]).expect(0);
    assert!(list.stdout.starts_with("# lineage "), "{}", list.stdout);
    assert!(
        list.stdout
            .contains(&format!("function.api-prod\tprod ({PROD}, us-east-1)")),
        "{}",
        list.stdout
    );
    w.ferry(&["state", "rm", "function.api-prod"]).expect(0);
    assert!(
        w.admin("functions", PROD, &[])["api-prod"].is_object(),
        "state rm must not delete"
    );
    // Forgotten means forgotten: its tags alone do not bring it back, as in Terraform ...
    let plan = w.ferry(&["plan"]).expect(1);
    assert!(
        plan.stderr
            .contains("carries this project's tags for function.api-prod")
            && plan
                .stderr
                .contains("ferry import function.api-prod api-prod"),
        "{}",
        plan.stderr
    );
    // ... an import does.
    w.ferry(&["import", "function.api-prod", "api-prod"])
        .expect(0);
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_secret_never_appears_in_any_output_or_file() {
    let (w, _) = hello_pushed();
    let secret = "s3cr3t-Pa55w0rd-value";
    let with_secret = |value: &str| {
        format!(
            "{}{IMAGE}{}environment = {{ LOG_LEVEL = \"info\", DB_PASSWORD = \"{value}\" }}\nsensitive_environment = [\"DB_PASSWORD\", \"API_TOKEN\"]\n",
            head(),
            function("api-prod", "prod", PROD)
        )
    };
    w.write(
        "ferry.toml",
        &with_secret(secret).replace(&format!(", DB_PASSWORD = \"{secret}\""), ""),
    );
    // API_TOKEN comes from ferry's environment, DB_PASSWORD from the file (below).
    let token = "t0ken-from-the-environment";
    let mut outputs = Vec::new();
    let run_with_token = |args: &[&str]| w.ferry_with_env(args, &[("API_TOKEN", token)]);
    w.write("ferry.toml", &with_secret(secret));
    for args in [
        vec!["validate"],
        vec!["plan", "-vv"],
        vec!["plan", "--json"],
        vec!["plan", "--markdown"],
        vec!["plan", "--out", "saved.plan"],
        vec!["apply", "--auto-approve", "-vv"],
        vec!["state", "show", "function.api-prod"],
        vec!["state", "list", "-v"],
        vec!["graph"],
    ] {
        let run = run_with_token(&args);
        assert!(run.code == 0, "{args:?}: {}\n{}", run.stdout, run.stderr);
        outputs.push((format!("{args:?}"), run.stdout, run.stderr));
    }
    // A changed secret shows as changed, without its value.
    w.write("ferry.toml", &with_secret("another-s3cr3t"));
    let run = run_with_token(&["plan"]);
    assert!(
        run.stdout.contains("(sensitive value changed)"),
        "{}",
        run.stdout
    );
    outputs.push(("plan after change".into(), run.stdout, run.stderr));
    // Lambda got the real values.
    let f = &w.admin("functions", PROD, &[])["api-prod"];
    assert_eq!(f["Environment"]["DB_PASSWORD"], secret);
    assert_eq!(f["Environment"]["API_TOKEN"], token);
    for (what, out, err) in &outputs {
        for s in [secret, token, "another-s3cr3t"] {
            assert!(
                !out.contains(s) && !err.contains(s),
                "{what} printed a secret:\n{out}\n{err}"
            );
        }
    }
    for (path, bytes) in w.all_files() {
        if path.file_name().is_some_and(|n| n == "ferry.toml") {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for s in [secret, token] {
            assert!(!text.contains(s), "{} holds a secret", path.display());
        }
    }
}

#[test]
fn the_secret_of_a_removed_function_appears_in_no_output_or_file() {
    let (w, _) = hello_pushed();
    let token = "t0ken-of-a-removed-function";
    let run_with_token = |args: &[&str]| w.ferry_with_env(args, &[("API_TOKEN", token)]);
    w.write(
        "ferry.toml",
        &format!(
            "{}{IMAGE}{}environment = {{ LOG_LEVEL = \"info\" }}\nsensitive_environment = [\"API_TOKEN\"]\n",
            head(),
            function("api-prod", "prod", PROD)
        ),
    );
    run_with_token(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        w.admin("functions", PROD, &[])["api-prod"]["Environment"]["API_TOKEN"],
        token,
        "Lambda must hold the secret, or there is nothing to leak"
    );
    // The function goes; the live one still holds the secret until apply deletes it.
    w.write("ferry.toml", &format!("{}{IMAGE}", head()));
    let mut outputs = Vec::new();
    for (args, code) in [
        (vec!["plan", "-vv"], 0),
        (vec!["plan", "--detailed-exitcode"], 2),
        (vec!["plan", "--json"], 0),
        (vec!["plan", "--markdown"], 0),
        (vec!["plan", "--out", "removal.plan"], 0),
        (vec!["apply", "--auto-approve", "-vv"], 0),
        (vec!["destroy", "--auto-approve", "-vv"], 0),
    ] {
        let run = run_with_token(&args);
        assert!(
            run.code == code,
            "{args:?} exited {}: {}\n{}",
            run.code,
            run.stdout,
            run.stderr
        );
        outputs.push((format!("{args:?}"), run.stdout, run.stderr));
    }
    assert!(
        outputs[0].1.contains("function.api-prod will be destroyed"),
        "the plan must show the removal: {}",
        outputs[0].1
    );
    assert_eq!(w.admin("functions", PROD, &[]), json!({}));
    assert_eq!(w.admin("repos", REGISTRY, &[]), json!({}));
    for (what, out, err) in &outputs {
        assert!(
            !out.contains(token) && !err.contains(token),
            "{what} printed the secret:\n{out}\n{err}"
        );
    }
    let files = w.all_files();
    assert!(
        files.iter().any(|(p, _)| p.ends_with("removal.plan")),
        "the saved plan must be among the files checked"
    );
    for (path, bytes) in files {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(token),
            "{} holds the secret",
            path.display()
        );
    }
}

#[test]
fn graph_shows_the_plan_s_edges_with_deletes_and_creates_apart() {
    let w = three_accounts();
    w.write(
        "ferry.toml",
        &format!(
            "{}{IMAGE}{}{}",
            head(),
            function("api-prod", "prod", PROD),
            function("api-new", "prod", PROD)
        ),
    );
    let dot = w.ferry(&["graph"]).expect(0).stdout;
    assert!(dot.starts_with("digraph ferry {"), "{dot}");
    assert!(
        dot.contains("\"function.api-new\" [label = \"+ function.api-new\", color = green];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"function.api-staging\" [label = \"- function.api-staging\", color = red];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"function.api-staging\" -> \"repository_policy.hello\";"),
        "{dot}"
    );
    assert!(
        dot.contains("\"repository_policy.hello\" -> \"function.api-new\";"),
        "{dot}"
    );
}

#[test]
fn destroy_does_not_need_the_secrets_it_will_never_deploy() {
    let (w, _) = hello_pushed();
    w.write(
        "ferry.toml",
        &format!(
            "{}{IMAGE}{}sensitive_environment = [\"API_TOKEN\"]\n",
            head(),
            function("api-prod", "prod", PROD)
        ),
    );
    w.ferry_with_env(&["apply", "--auto-approve"], &[("API_TOKEN", "s3cret")])
        .expect(0);
    // The teardown job has no secrets: plan still needs them, destroy does not.
    let plan = w.ferry(&["plan"]).expect(1);
    assert!(
        plan.stderr
            .contains("sensitive variable `API_TOKEN` has no value"),
        "{}",
        plan.stderr
    );
    w.ferry(&["destroy", "--auto-approve"]).expect(0);
    assert_eq!(w.admin("functions", PROD, &[]), serde_json::json!({}));
    assert!(
        w.ferry(&["state", "list"])
            .expect(0)
            .stdout
            .trim()
            .is_empty()
    );
}

#[test]
fn state_mv_follows_a_renamed_key_without_touching_the_resources() {
    let (w, _) = hello_pushed();
    w.write(
        "ferry.toml",
        &format!("{}{IMAGE}{}", head(), function("api-prod", "prod", PROD)),
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    // The keys are renamed; the AWS names stay (`name`).
    let renamed = format!("{}{IMAGE}{}", head(), function("api-prod", "prod", PROD))
        .replace(
            "[repositories.hello]\n",
            "[repositories.main]\nname = \"hello\"\n",
        )
        .replace("repository = \"hello\"", "repository = \"main\"")
        .replace(
            "[functions.api-prod]\n",
            "[functions.api]\nname = \"api-prod\"\n",
        );
    w.write("ferry.toml", &renamed);
    // Without a move, the old addresses would be deleted and the new ones refused.
    w.ferry(&["plan"]).expect(1);
    let before = support::cloud_snapshot(&w);
    w.ferry(&["state", "mv", "function.api-prod", "function.api"])
        .expect(0);
    let run = w
        .ferry(&["state", "mv", "repository.hello", "repository.main"])
        .expect(0);
    assert!(
        run.stdout
            .contains("Moved repository_policy.hello to repository_policy.main"),
        "{}",
        run.stdout
    );
    assert_eq!(support::cloud_snapshot(&w), before, "state mv touched AWS");
    let list = w.ferry(&["state", "list"]).expect(0).stdout;
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        vec!["repository.main", "repository_policy.main", "function.api"],
        "{list}"
    );
    // Only the ownership tags change; nothing is deleted or created.
    let plan = w.ferry(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 2 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(
        w.admin("functions", PROD, &[])["api-prod"]["Tags"]["ferry:address"],
        "function.api"
    );
    // Moves that make no sense are refused.
    let kind = w
        .ferry(&["state", "mv", "function.api", "repository.x"])
        .expect(1);
    assert!(kind.stderr.contains("different kinds"), "{}", kind.stderr);
    let taken = w
        .ferry(&["state", "mv", "repository.main", "repository.main"])
        .expect(1);
    assert!(
        taken.stderr.contains("already in the state"),
        "{}",
        taken.stderr
    );
}
