//! `ferry show` and `ferry graph` through the real binary: a saved plan printed exactly as `plan`
//! printed it and the state's resources, with moto stopped (no AWS call could succeed); the
//! whole estate as DOT and Mermaid.

mod support;

use support::{PROD, STAGING, function, hello_applied, hello_declarations};

#[test]
fn show_prints_a_saved_plan_as_plan_did_and_the_state_without_aws() {
    let mut w = hello_applied("show", &[PROD]);
    let secret = format!(
        "{}environment = {{ DB_PASSWORD = \"hunter2\", MODE = \"a\" }}\nsensitive_environment = [\"DB_PASSWORD\"]\n",
        function("api-prod", "prod", PROD, "hello", "LambdaRole")
    );
    w.write(
        "ferry.toml",
        &format!("{}{secret}", hello_declarations("show")),
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.write(
        "ferry.toml",
        &format!(
            "{}{}memory_mb = 256\n",
            hello_declarations("show"),
            secret.replace("MODE = \"a\"", "MODE = \"b\"")
        ),
    );
    let text = w.ferry(&["plan", "--out", "change.plan"]).expect(0).stdout;
    let json = w.ferry(&["plan", "--json"]).expect(0).stdout;
    // A secret that changed reads as changed in the saved plan too (its old value is not saved).
    let changed = std::fs::read_to_string(w.path("ferry.toml"))
        .unwrap()
        .replace("hunter2", "hunter3");
    w.write("ferry.toml", &changed);
    w.ferry(&["plan", "--out", "secret.plan"]).expect(0);
    let secret_json = w.ferry(&["plan", "--json"]).expect(0).stdout;
    assert!(
        secret_json.contains("(sensitive value changed)"),
        "{secret_json}"
    );

    // No AWS from here on: the emulator is gone, and its endpoint refuses connections.
    drop(w.moto.take());
    let shown = w.ferry(&["show", "change.plan"]).expect(0).stdout;
    assert_eq!(shown, text);
    insta::assert_snapshot!("show_saved_plan", shown);
    assert_eq!(
        w.ferry(&["show", "--json", "change.plan"]).expect(0).stdout,
        json
    );
    assert!(!shown.contains("hunter2") && !json.contains("hunter2"));
    let shown_secret = w.ferry(&["show", "--json", "secret.plan"]).expect(0).stdout;
    assert_eq!(shown_secret, secret_json);

    // A plan file edited after it was saved is not shown.
    let file = w.path("change.plan");
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("256", "257");
    std::fs::write(&file, edited).unwrap();
    let run = w.ferry(&["show", "change.plan"]).expect(1);
    assert!(
        run.stderr.contains("was changed after ferry saved it"),
        "{}",
        run.stderr
    );

    // Without a file: what the state holds, sensitive values hidden.
    let state = w.ferry(&["show"]).expect(0).stdout;
    assert!(!state.contains("hunter2"), "{state}");
    insta::assert_snapshot!("show_state", state);
    let state: serde_json::Value =
        serde_json::from_str(&w.ferry(&["show", "--json"]).expect(0).stdout).unwrap();
    let function = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "function.api-prod")
        .expect("the function in state");
    assert_eq!(function["name"], "api-prod");
    assert_eq!(function["account_id"], PROD);
    assert_eq!(
        function["values"]["config"]["environment"],
        serde_json::json!({ "DB_PASSWORD": "(sensitive value)", "MODE": "a" })
    );
}

#[test]
fn graph_draws_the_whole_estate_by_account_and_region_with_pending_changes_marked() {
    let w = hello_applied("graph", &[PROD, STAGING]);
    // Converged: every resource is drawn, none marked, in its account's cluster.
    let dot = w.ferry(&["graph"]).expect(0).stdout;
    for node in [
        "\"repository.hello\" [label = \"repository.hello\", color = black];",
        "\"repository_policy.hello\" [label = \"repository_policy.hello\", color = black];",
        "\"function.api-prod\" [label = \"function.api-prod\", color = black];",
        "label = \"registry (111111111111) us-east-1\";",
        "label = \"prod (222222222222) us-east-1\";",
        "\"repository.hello\" -> \"repository_policy.hello\" [style = dashed];",
        "\"repository_policy.hello\" -> \"function.api-prod\" [style = dashed];",
    ] {
        assert!(dot.contains(node), "{node} in\n{dot}");
    }
    // A new function in another account: it and the policy it needs are marked.
    w.write(
        "ferry.toml",
        &format!(
            "{}{}{}",
            hello_declarations("graph"),
            function("api-prod", "prod", PROD, "hello", "LambdaRole"),
            function("api-staging", "staging", STAGING, "hello", "LambdaRole")
        ),
    );
    let mermaid = w.ferry(&["graph", "--format", "mermaid"]).expect(0).stdout;
    insta::assert_snapshot!("graph_mermaid", mermaid);
    let dot = w.ferry(&["graph"]).expect(0).stdout;
    assert!(
        dot.contains("\"repository_policy.hello\" -> \"function.api-staging\";"),
        "{dot}"
    );
    assert!(
        dot.contains(
            "\"function.api-staging\" [label = \"+ function.api-staging\", color = green];"
        ),
        "{dot}"
    );
    // Graphviz (when installed) reads it.
    w.write("estate.dot", &dot);
    if let Ok(out) = std::process::Command::new("dot")
        .args(["-Tsvg", "-o", "/dev/null"])
        .arg(w.path("estate.dot"))
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
