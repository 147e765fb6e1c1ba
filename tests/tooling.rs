//! ferry among the tools around it, through the real binary: `--version` and
//! `required_version`, completions and the man page, `fmt`, `show`, `schema`, `graph`, and the
//! plan JSON read the way Terraform-plan tooling reads it.

mod support;

use support::{World, hello_declarations};

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
