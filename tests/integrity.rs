//! End to end: a plan never acts on half of the declarations, and a saved plan is applied only
//! as ferry wrote it. The real binary against moto, checked with boto3.

mod support;

use support::{PROD, REGISTRY, STAGING, World, cloud_snapshot, declarations_head, function};

const REPOSITORY: &str = "\n[repositories.hello]\nregistry = \"central\"\n";
const IMAGE: &str = "\n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n";

/// A project in two files, as a Terraform user splits it: `ferry.toml` holds the project,
/// accounts, registry, repository and image; `functions.toml` the function. Applied with no -c.
fn two_files_applied(project: &str) -> World {
    let w = World::new();
    w.admin("role", PROD, &["LambdaRole"]);
    w.write(
        "ferry.toml",
        &format!("{}{REPOSITORY}", declarations_head(project)),
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.write(
        "ferry.toml",
        &format!("{}{REPOSITORY}{IMAGE}", declarations_head(project)),
    );
    w.write(
        "functions.toml",
        &function("api-prod", "prod", PROD, "hello", "LambdaRole"),
    );
    let run = w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout.contains("function.api-prod will be created"),
        "{}",
        run.stdout
    );
    w
}

#[test]
fn a_two_file_project_planned_from_its_directory_without_c_deletes_nothing() {
    let w = two_files_applied("twofiles");
    assert!(w.admin("functions", PROD, &[])["api-prod"].is_object());
    let plan = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("destroyed"), "{}", plan.stdout);
    // `-c DIR` reads the same files.
    w.ferry(&["-c", ".", "plan", "--detailed-exitcode"])
        .expect(0);
}

#[test]
fn a_plan_that_did_not_read_a_file_never_deletes_what_it_declares() {
    let w = two_files_applied("unread");
    let before = cloud_snapshot(&w);
    let plan = w.ferry(&["-c", "ferry.toml", "plan"]).expect(1);
    assert!(
        plan.stderr.contains(
            "the plan would destroy function.api-prod, declared in functions.toml, which this run did not read"
        ),
        "{}",
        plan.stderr
    );
    assert!(plan.stderr.contains("`ferry -c . plan`"), "{}", plan.stderr);
    let apply = w
        .ferry(&["-c", "ferry.toml", "apply", "--auto-approve"])
        .expect(1);
    assert!(apply.stderr.contains("functions.toml"), "{}", apply.stderr);
    assert_eq!(cloud_snapshot(&w), before, "nothing may change");
    // Once the file is gone, what it declared is no longer declared: the delete is planned.
    std::fs::remove_file(w.path("functions.toml")).unwrap();
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stdout.contains("function.api-prod will be destroyed"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_toml_of_another_tool_in_the_directory_is_refused_naming_it() {
    let w = World::offline();
    w.write(
        "ferry.toml",
        &format!("{}{REPOSITORY}", declarations_head("foreign")),
    );
    w.write(
        "Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
    );
    let run = w.ferry(&["validate"]).expect(1);
    assert!(
        run.stderr
            .contains("Cargo.toml is not a ferry declarations file (its tables: [package])"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("-c FILE"), "{}", run.stderr);
    w.ferry(&["-c", "ferry.toml", "validate"]).expect(0);
}

#[test]
fn a_directory_without_declarations_says_so() {
    let w = World::offline();
    let run = w.ferry(&["validate"]).expect(1);
    assert!(
        run.stderr
            .contains("the current directory holds no *.toml files"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dangling_symlink_is_refused_and_nothing_it_declared_is_destroyed() {
    let w = two_files_applied("dangling");
    let before = cloud_snapshot(&w);
    std::fs::rename(w.path("functions.toml"), w.path("moved-away.toml.bak")).unwrap();
    std::os::unix::fs::symlink("shared/functions.toml", w.path("functions.toml")).unwrap();
    for command in [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["destroy", "--auto-approve"],
    ] {
        let run = w.ferry(command).expect(1);
        assert!(
            run.stderr.contains(
                "functions.toml is a symlink to shared/functions.toml, which does not exist"
            ),
            "{command:?}: {}",
            run.stderr
        );
    }
    assert_eq!(cloud_snapshot(&w), before, "nothing may change");
}

#[test]
fn symlinks_that_loop_or_point_at_a_directory_are_refused_naming_them() {
    let w = World::offline();
    w.write(
        "ferry.toml",
        &format!("{}{REPOSITORY}", declarations_head("links")),
    );
    std::os::unix::fs::symlink("b.toml", w.path("a.toml")).unwrap();
    std::os::unix::fs::symlink("a.toml", w.path("b.toml")).unwrap();
    let run = w.ferry(&["validate"]).expect(1);
    assert!(
        run.stderr.contains("a.toml is a symlink that loops"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(w.path("a.toml")).unwrap();
    std::fs::remove_file(w.path("b.toml")).unwrap();
    std::fs::create_dir(w.path("dir")).unwrap();
    std::os::unix::fs::symlink("dir", w.path("d.toml")).unwrap();
    let run = w.ferry(&["validate"]).expect(1);
    assert!(
        run.stderr
            .contains("d.toml is a symlink to something that is not a file"),
        "{}",
        run.stderr
    );
    // The same with -c DIR.
    let run = w.ferry(&["-c", ".", "validate"]).expect(1);
    assert!(run.stderr.contains("d.toml"), "{}", run.stderr);
}

#[test]
fn a_non_utf8_file_is_an_error_at_its_first_bad_byte() {
    let w = World::offline();
    let text = format!("{}{REPOSITORY}", declarations_head("latin"))
        .replace("name = \"latin\"", "name = \"latin\" # caf\u{1}");
    let mut bytes = text.into_bytes();
    let at = bytes.iter().position(|&b| b == 1).unwrap();
    bytes[at] = 0xe9;
    std::fs::write(w.path("ferry.toml"), bytes).unwrap();
    let run = w.ferry(&["validate"]).expect(1);
    assert!(run.stderr.contains("ferry.toml:2:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("the file is not UTF-8: byte 0xe9"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_edited_saved_plan_is_refused_and_changes_nothing() {
    let w = World::new();
    for id in [PROD, STAGING] {
        w.admin("role", id, &["LambdaRole"]);
    }
    let head = format!("{}{REPOSITORY}", declarations_head("tamper"));
    w.write("ferry.toml", &head);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.write(
        "ferry.toml",
        &format!(
            "{head}{IMAGE}{}{}",
            function("api-prod", "prod", PROD, "hello", "LambdaRole"),
            function("api-staging", "staging", STAGING, "hello", "LambdaRole")
        ),
    );
    w.ferry(&["plan", "--out", "change.plan"]).expect(0);
    let saved = std::fs::read_to_string(w.path("change.plan")).unwrap();
    let before = cloud_snapshot(&w);
    for (what, edited) in [
        (
            "principal",
            saved.replace(&format!("arn:aws:iam::{STAGING}:root"), "*"),
        ),
        (
            "memory",
            saved.replace("\"memory_mb\": 128", "\"memory_mb\": 10240"),
        ),
    ] {
        assert_ne!(edited, saved, "the {what} edit must change the file");
        std::fs::write(w.path("edited.plan"), edited).unwrap();
        let run = w.ferry(&["apply", "edited.plan"]).expect(1);
        assert!(
            run.stderr
                .contains("edited.plan was changed after ferry saved it"),
            "{what}: {}",
            run.stderr
        );
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1,
            "{}",
            run.stderr
        );
        assert_eq!(cloud_snapshot(&w), before, "{what}: nothing may change");
    }
    // The plan as ferry wrote it still applies.
    w.ferry(&["apply", "change.plan"]).expect(0);
    assert!(w.admin("functions", STAGING, &[])["api-staging"].is_object());
}

/// A repository shared with so many accounts that its policy passes ECR's size limit.
fn oversized(project: &str) -> String {
    let ids: Vec<String> = (0..200).map(|i| format!("\"4000000{i:05}\"")).collect();
    format!(
        "{}\n[repositories.hello]\nregistry = \"central\"\nshare_with_accounts = [{}]\n",
        declarations_head(project),
        ids.join(", ")
    )
}

#[test]
fn an_oversized_policy_says_where_its_repository_is_declared() {
    let w = World::offline();
    w.write("ferry.toml", &oversized("big"));
    let run = w.ferry(&["validate"]).expect(1);
    assert!(run.stderr.contains("over ECR's limit"), "{}", run.stderr);
    assert!(
        run.stderr.contains("(declared at ferry.toml:18:15)"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_oversized_policy_plan_error_says_where_its_repository_is_declared() {
    let w = World::new();
    w.write("ferry.toml", &oversized("bigplan"));
    let run = w.ferry(&["plan"]).expect(1);
    assert!(run.stderr.contains("over ECR's limit"), "{}", run.stderr);
    assert!(
        run.stderr.contains("declared at: ferry.toml:18:15\n"),
        "{}",
        run.stderr
    );
}
