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
