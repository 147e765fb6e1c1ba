//! ferry among the tools around it, through the real binary: `--version` and
//! `required_version`, completions and the man page, `fmt`, `show`, `schema`, `graph`, and the
//! plan JSON read the way Terraform-plan tooling reads it.

mod support;

use support::{PROD, REGISTRY, STAGING, World, function, hello_declarations};

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let w = World::offline();
    let run = w.ferry(&["--version"]).expect(0);
    let line = run.stdout.trim();
    assert!(
        line.starts_with(&format!("ferry {}", env!("CARGO_PKG_VERSION"))),
        "{line}"
    );
    // Built from this checkout (when it is one): the version names its HEAD.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(support::repo_root())
        .output();
    if let Ok(head) = head
        && head.status.success()
    {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
        assert!(
            line.contains(&format!("(commit {head}")),
            "{line} vs {head}"
        );
    }
}

#[test]
fn a_required_version_this_ferry_does_not_meet_is_refused_at_its_place() {
    let w = World::offline();
    let text = hello_declarations("tooling").replace(
        "default_region",
        "required_version = \">= 99.2\"\ndefault_region",
    );
    w.write("ferry.toml", &text);
    let run = w.ferry(&["validate"]).expect(1);
    assert!(run.stderr.contains("ferry.toml:3:20"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "this project requires ferry >= 99.2, and this is ferry {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("\">= 99.2\""), "{}", run.stderr);
    assert!(run.stderr.contains("install a ferry"), "{}", run.stderr);
    // Not a requirement at all: said so, with the syntax.
    w.write("ferry.toml", &text.replace(">= 99.2", "soon"));
    let run = w.ferry(&["validate"]).expect(1);
    assert!(run.stderr.contains("ferry.toml:3:20"), "{}", run.stderr);
    assert!(
        run.stderr.contains("not a version requirement"),
        "{}",
        run.stderr
    );
    // One this ferry meets passes.
    w.write(
        "ferry.toml",
        &text.replace(">= 99.2", &format!(">= {}", env!("CARGO_PKG_VERSION"))),
    );
    w.ferry(&["validate"]).expect(0);
}

#[test]
fn completions_come_from_the_command_line_definition() {
    let w = World::offline();
    let bash = w.ferry(&["completions", "bash"]).expect(0).stdout;
    insta::assert_snapshot!("completions_bash", bash);
    // A script bash accepts, which registers the completion of `ferry`.
    let script = w.path("ferry.bash");
    std::fs::write(&script, &bash).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p ferry", script.display()))
        .output()
        .expect("run bash");
    assert!(
        check.status.success() && String::from_utf8_lossy(&check.stdout).contains("_ferry"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = w.ferry(&["completions", shell]).expect(0).stdout;
        assert!(
            out.contains("plan") && out.contains("force-unlock"),
            "{shell}: {out}"
        );
    }
    let run = w.ferry(&["completions", "tcsh"]).expect(1);
    assert!(run.stderr.contains("possible values"), "{}", run.stderr);
}

#[test]
fn the_man_page_has_every_subcommand_and_renders() {
    let w = World::offline();
    let page = w.ferry(&["man"]).expect(0).stdout;
    assert!(
        page.starts_with(".ie") || page.contains(".TH ferry 1"),
        "{page}"
    );
    for sub in [
        "validate",
        "plan",
        "apply",
        "destroy",
        "import",
        "state",
        "completions",
    ] {
        assert!(
            page.contains(&format!("ferry {sub}")) || page.contains(&format!("ferry\\-{sub}")),
            "{sub}"
        );
    }
    // groff (when installed) reads it without a warning.
    w.write("ferry.1", &page);
    if let Ok(out) = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(w.path("ferry.1"))
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warned");
    }
}

/// Runs jq's `filter` on `json` (compact output), as a pipeline step would.
fn jq(json: &str, filter: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("jq")
        .args(["-c", "-S", filter])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run jq");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "jq {filter}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn terraform_style_jq_recipes_read_the_plan_json() {
    let w = support::hello_applied("tooling", &[PROD, STAGING]);
    let base = format!(
        "{}{}",
        hello_declarations("tooling"),
        function("api-prod", "prod", PROD, "hello", "LambdaRole")
    );
    let two = function("api-two", "prod", PROD, "hello", "LambdaRole");
    let gone = function("api-gone", "prod", PROD, "hello", "LambdaRole");
    w.write("ferry.toml", &format!("{base}{two}{gone}"));
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    // A change outside ferry, a rename (replace), a new function with a secret, a delete.
    w.admin("set-memory", PROD, &["api-two", "512"]);
    let renamed = base.replace(
        "[functions.api-prod]\n",
        "[functions.api-prod]\nname = \"api-prod-v2\"\n",
    );
    let staging = format!(
        "{}environment = {{ DB_PASSWORD = \"hunter2\" }}\nsensitive_environment = [\"DB_PASSWORD\"]\n",
        function("api-staging", "staging", STAGING, "hello", "LambdaRole")
    );
    w.write("ferry.toml", &format!("{renamed}{two}{staging}"));
    let plan = w.ferry(&["plan", "--json"]).expect(0).stdout;
    w.validate_json(&plan, &support::repo_root().join("docs/plan.schema.json"))
        .unwrap_or_else(|e| panic!("plan --json does not follow its schema: {e}\n{plan}"));
    assert!(!plan.contains("hunter2"), "{plan}");

    // The recipes of Terraform-plan tooling, unchanged.
    let deletes = r#"[.resource_changes[] | select(.change.actions | index("delete"))] | length"#;
    assert_eq!(jq(&plan, deletes), "2");
    let by_actions = r#"[.resource_changes[] | select(.mode == "managed") | {(.address): .change.actions}] | add"#;
    assert_eq!(
        jq(&plan, by_actions),
        r#"{"function.api-gone":["delete"],"function.api-prod":["delete","create"],"function.api-staging":["create"],"function.api-two":["update"],"repository_policy.hello":["update"]}"#
    );
    let created =
        r#"[.resource_changes[] | select(.change.actions == ["create"]) | .identity.arn]"#;
    assert_eq!(
        jq(&plan, created),
        format!(r#"["arn:aws:lambda:us-east-1:{STAGING}:function:api-staging"]"#)
    );
    let replaced = r#".resource_changes[] | select(.change.actions == ["delete","create"]) | [.change.before.memory_mb, .identity.name, .identity.account_id]"#;
    assert_eq!(
        jq(&plan, replaced),
        format!(r#"[128,"api-prod-v2","{PROD}"]"#)
    );
    let updated = r#".resource_changes[] | select(.address == "function.api-two") | [.change.before.memory_mb, .change.after.memory_mb]"#;
    assert_eq!(jq(&plan, updated), "[512,128]");
    let secret = r#".resource_changes[] | select(.address == "function.api-staging") | [.change.after_sensitive, .change.after.environment.DB_PASSWORD, .change.before_sensitive]"#;
    assert_eq!(
        jq(&plan, secret),
        r#"[{"environment":{"DB_PASSWORD":true}},"(sensitive value)",false]"#
    );
    let repository =
        r#".resource_changes[] | select(.type == "repository_policy") | .identity | [.name, .uri]"#;
    assert_eq!(
        jq(&plan, repository),
        format!(r#"["hello","{REGISTRY}.dkr.ecr.us-east-1.amazonaws.com/hello"]"#)
    );
    let drift = r#"[.resource_drift[] | {address, actions: .change.actions, before: .change.before.memory_mb, after: .change.after.memory_mb, name: .identity.name}]"#;
    assert_eq!(
        jq(&plan, drift),
        r#"[{"actions":["update"],"address":"function.api-two","after":512,"before":128,"name":"api-two"}]"#
    );
}

/// Every `*.toml` under examples/, sorted.
fn example_files() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![support::repo_root().join("examples")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    files
}

/// A TOML document as the JSON a schema validator reads.
fn toml_as_json(text: &str) -> String {
    let value: toml::Value = toml::from_str(text).expect("TOML");
    serde_json::to_string(&value).unwrap()
}

#[test]
fn the_declarations_schema_accepts_every_example_and_refuses_a_typo() {
    let w = World::offline();
    let schema = w.ferry(&["schema"]).expect(0).stdout;
    insta::assert_snapshot!("schema", schema);
    w.write("ferry.schema.json", &schema);
    let schema_path = w.path("ferry.schema.json");
    for file in example_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        w.validate_json(&toml_as_json(&text), &schema_path)
            .unwrap_or_else(|e| panic!("{} does not follow the schema: {e}", file.display()));
    }
    // A typo'd key: the schema refuses it, as the parser does.
    let typo = format!(
        "{}\n[functions.api]\naccount = \"prod\"\nimage = \"hello\"\nmemroy_mb = 256\n",
        hello_declarations("tooling")
    );
    let refused = w
        .validate_json(&toml_as_json(&typo), &schema_path)
        .expect_err("a typo'd key follows the schema");
    assert!(refused.contains("memroy_mb"), "{refused}");
    w.write("ferry.toml", &typo);
    let run = w.ferry(&["validate"]).expect(1);
    assert!(run.stderr.contains("memroy_mb"), "{}", run.stderr);
    // A value of the wrong type too.
    let wrong = hello_declarations("tooling").replace("tag = \"01\"", "tag = 1");
    assert!(
        w.validate_json(&toml_as_json(&wrong), &schema_path)
            .is_err()
    );
}

#[test]
fn fmt_leaves_every_example_as_it_is() {
    let w = World::offline();
    for file in example_files() {
        let run = w.ferry(&["fmt", "--check", file.to_str().unwrap()]);
        assert_eq!(
            run.code,
            0,
            "{} is not in the canonical layout:\n{}{}",
            file.display(),
            run.stdout,
            run.stderr
        );
        assert_eq!(run.stdout, "");
    }
}

const MESSY: &str = r#"# The payments project.


  [project]
    name="payments"     # its name
default_region =   "eu-west-1"
[accounts.prod]
id = "222222222222"


# the registry
[registries.central]
account = "prod"
[repositories.hello]
registry = "central"
   share_with_accounts = [ "prod","333333333333" ]
tags = {team="platform",  cost = "x"}
extra_statements = '''
    [ { "Sid": "CiPush" } ]   '''
[images.hello]
repository = "hello"
tag = "01"
[functions.api]
account = "prod"
image = "hello"
role = "arn:aws:iam::222222222222:role/LambdaRole"
architectures = [
  "x86_64", # the default
]
# trailing remark
"#;

const TIDY: &str = r#"# The payments project.

[project]
name = "payments" # its name
default_region = "eu-west-1"

[accounts.prod]
id = "222222222222"

# the registry
[registries.central]
account = "prod"

[repositories.hello]
registry = "central"
share_with_accounts = ["prod", "333333333333"]
tags = { team = "platform", cost = "x" }
extra_statements = '''
    [ { "Sid": "CiPush" } ]   '''

[images.hello]
repository = "hello"
tag = "01"

[functions.api]
account = "prod"
image = "hello"
role = "arn:aws:iam::222222222222:role/LambdaRole"
architectures = [
  "x86_64", # the default
]

# trailing remark
"#;

#[test]
fn fmt_fixes_a_messy_file_without_changing_what_it_says() {
    let w = World::offline();
    w.write("ferry.toml", MESSY);
    // --check changes nothing and names the file.
    let run = w.ferry(&["fmt", "--check"]).expect(1);
    assert_eq!(run.stdout, "ferry.toml\n");
    assert!(run.stderr.contains("run `ferry fmt`"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(w.path("ferry.toml")).unwrap(),
        MESSY
    );
    let run = w.ferry(&["fmt"]).expect(0);
    assert_eq!(run.stdout, "ferry.toml\n");
    let tidy = std::fs::read_to_string(w.path("ferry.toml")).unwrap();
    assert_eq!(tidy, TIDY);
    let parsed = |t: &str| toml::from_str::<toml::Value>(t).unwrap();
    assert_eq!(parsed(&tidy), parsed(MESSY));
    // Canonical is a fixed point, and ferry reads it as it read the original.
    w.ferry(&["fmt", "--check", "ferry.toml"]).expect(0);
    w.ferry(&["validate"]).expect(0);
    // Not TOML: the error names the place.
    w.write("bad.toml", "[project\nname = 1\n");
    let run = w.ferry(&["fmt", "bad.toml"]).expect(1);
    assert!(run.stderr.contains("bad.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("line 1, column 9"), "{}", run.stderr);
}
