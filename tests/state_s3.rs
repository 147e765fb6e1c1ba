//! End to end, the S3 state backend against moto's S3 (which enforces `If-None-Match: *` and
//! `If-Match`, also on DeleteObject): the lock across working directories (refused naming the
//! holder, waited for with `--lock-timeout`), a lock broken under its holder (its unlock with a
//! stale ETag is refused), `state pull` / `push` / `migrate`, a lost working copy restored from
//! S3, and a SIGKILL mid-apply in one working directory recovered from another.
//!
//! Each "working directory" is its own `--state DIR`: its own sled working copy, nothing shared
//! but S3.

#[path = "support/s3.rs"]
mod s3;
mod support;

use serde_json::json;
use support::{PROD, STAGING, World, function};

/// hello's repository (with the image pushed) and api-prod, applied through S3 state from the
/// working copy `a`; staging's execution role does not exist.
fn applied() -> World {
    let w = s3::world();
    w.admin("role", PROD, &["LambdaRole"]);
    let full = support::hello_declarations("shared");
    let repo_only = full.replace("[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n", "");
    w.write("ferry.toml", &format!("{repo_only}{}", s3::state_table()));
    w.ferry(&["apply", "--auto-approve", "--state", "a"])
        .expect(0);
    w.admin("push", support::REGISTRY, &["hello", "01", "v1"]);
    w.write("ferry.toml", &prod_declarations());
    w.ferry(&["apply", "--auto-approve", "--state", "a"])
        .expect(0);
    w
}

fn prod_declarations() -> String {
    format!(
        "{}{}{}",
        support::hello_declarations("shared"),
        s3::state_table(),
        function("api-prod", "prod", PROD, "hello", "LambdaRole")
    )
}

/// api-prod and a staging function whose role does not exist yet: its CreateFunction retries
/// ("retrying in") until the role appears.
fn staging_declarations() -> String {
    format!(
        "{}{}",
        prod_declarations(),
        function("api-staging", "staging", STAGING, "hello", "LambdaRole")
    )
}

/// Starts an apply from working copy `a` that hangs in CreateFunction's retries, holding the lock.
fn hanging_apply(w: &World) -> std::process::Child {
    w.write("ferry.toml", &staging_declarations());
    let child = w.spawn_ferry(
        &[
            "apply",
            "--auto-approve",
            "-v",
            "--state",
            "a",
            "--propagation-timeout",
            "600",
        ],
        "apply.err",
    );
    w.wait_for("apply.err", "retrying in");
    child
}

#[test]
fn the_state_lives_in_s3_with_its_secret_key_beside_it_and_a_lost_working_copy_comes_back() {
    let w = applied();
    let doc = s3::state_document(&w);
    assert_eq!(doc["format_version"], 1);
    assert!(doc["serial"].as_u64().unwrap() >= 3, "{doc}");
    let addresses: Vec<&String> = doc["resources"].as_object().unwrap().keys().collect();
    assert_eq!(
        addresses,
        vec![
            "repository.hello",
            "repository_policy.hello",
            "function.api-prod"
        ]
    );
    // The HMAC key is its own object, made once, never inside the state object.
    let secret = s3::object(&w, ".secret");
    assert_eq!(secret["size"], 32);
    assert!(!doc.to_string().contains("secret"), "{doc}");
    // Nothing is locked between runs, and no local secret key was made.
    assert_eq!(s3::lock_record(&w), None);
    assert!(!w.path("a/secret.key").exists());
    // The working copy is lost: a fresh one (and another directory) read S3's state.
    std::fs::remove_dir_all(w.path("a")).unwrap();
    w.ferry(&["plan", "--detailed-exitcode", "--state", "a"])
        .expect(0);
    w.ferry(&["plan", "--detailed-exitcode", "--state", "elsewhere"])
        .expect(0);
    let listed = w.ferry(&["state", "list", "--state", "b"]).expect(0).stdout;
    assert_eq!(
        listed,
        "repository.hello\nrepository_policy.hello\nfunction.api-prod\n"
    );
}

#[test]
fn a_second_process_is_refused_naming_the_holder_or_waits_and_sees_the_first_ones_result() {
    let w = applied();
    let mut first = hanging_apply(&w);
    let pid = first.id();
    // The lock object names the holder.
    let record = s3::lock_record(&w).expect("the apply holds the lock");
    assert_eq!(record["pid"], pid);
    assert_eq!(record["operation"], "apply");
    // Another working directory is refused at once, naming the holder.
    let refused = w.ferry(&["plan", "--state", "b"]).expect(1);
    assert!(
        refused
            .stderr
            .contains("is in use by another ferry process")
            && refused.stderr.contains(&format!("pid {pid}"))
            && refused.stderr.contains("running `ferry apply`")
            && refused
                .stderr
                .contains(&format!("lock id {}", record["lock_id"].as_str().unwrap())),
        "{}",
        refused.stderr
    );
    // One that waits gets the lock when the first ends, and plans from its result.
    let mut waiting = w.ferry_command(&[
        "plan",
        "--detailed-exitcode",
        "--state",
        "b",
        "--lock-timeout",
        "300",
    ]);
    let waiting = waiting
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the waiting plan");
    std::thread::sleep(std::time::Duration::from_secs(2));
    w.admin("role", STAGING, &["LambdaRole"]);
    let status = first.wait().expect("wait for the apply");
    assert!(status.success(), "{}", support::read(&w.path("apply.err")));
    let out = waiting.wait_with_output().expect("wait for the plan");
    assert_eq!(
        out.status.code(),
        Some(0),
        "the waiting plan saw changes or failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        s3::state_document(&w)["resources"]["function.api-staging"].is_object(),
        "the first apply's result is in S3"
    );
    assert_eq!(s3::lock_record(&w), None);
}

#[test]
fn an_unlock_with_a_stale_etag_is_refused_and_force_unlock_breaks_a_dead_lock() {
    let w = applied();
    let mut first = hanging_apply(&w);
    // Someone forces the lock and another runner takes it while the apply still runs.
    let other = json!({
        "lock_id": "feedfacecafe", "pid": 4242, "user": "ci", "host": "runner-7",
        "operation": "apply", "started": 1
    });
    s3::admin(
        &w,
        "put",
        &[&format!("{}.lock", s3::KEY), &other.to_string()],
    );
    w.admin("role", STAGING, &["LambdaRole"]);
    assert!(first.wait().expect("wait for the apply").success());
    let err = support::read(&w.path("apply.err"));
    assert!(
        err.contains("is no longer this process's") && err.contains("runner-7"),
        "{err}"
    );
    // The other runner's lock was not removed.
    assert_eq!(s3::lock_record(&w), Some(other));
    let refused = w.ferry(&["plan", "--state", "b"]).expect(1);
    assert!(refused.stderr.contains("runner-7"), "{}", refused.stderr);
    // force-unlock reads [project.state] too: a wrong id is refused, the right one breaks it.
    let wrong = w.ferry(&["force-unlock", "0123456789ab"]).expect(1);
    assert!(
        wrong.stderr.contains("no lock has the id"),
        "{}",
        wrong.stderr
    );
    let broken = w.ferry(&["force-unlock", "feedfacecafe"]).expect(0);
    assert!(broken.stdout.contains("feedfacecafe"), "{}", broken.stdout);
    assert_eq!(s3::lock_record(&w), None);
    w.ferry(&["plan", "--detailed-exitcode", "--state", "b"])
        .expect(0);
}

#[test]
fn a_push_of_an_older_serial_or_another_lineage_is_refused_without_force() {
    let w = applied();
    let old = w.ferry(&["state", "pull", "--state", "a"]).expect(0).stdout;
    w.write("old.json", &old);
    let old_doc: serde_json::Value = serde_json::from_str(&old).unwrap();
    assert_eq!(old_doc, s3::state_document(&w));
    // A newer state is written from another working directory.
    w.ferry(&["state", "rm", "function.api-prod", "--state", "b"])
        .expect(0);
    let newer = s3::state_document(&w);
    assert!(newer["serial"].as_u64() > old_doc["serial"].as_u64());
    let refused = w
        .ferry(&["state", "push", "old.json", "--state", "a"])
        .expect(1);
    assert!(
        refused.stderr.contains("older than the state's"),
        "{}",
        refused.stderr
    );
    assert_eq!(s3::state_document(&w), newer);
    let mut other = old_doc.clone();
    other["lineage"] = json!("00000000-0000-0000-0000-000000000000");
    other["serial"] = json!(1000);
    w.write("other.json", &other.to_string());
    let refused = w.ferry(&["state", "push", "other.json"]).expect(1);
    assert!(
        refused.stderr.contains("another state"),
        "{}",
        refused.stderr
    );
    // --force pushes the old records back, under a serial above the current one.
    w.ferry(&["state", "push", "old.json", "--force", "--state", "c"])
        .expect(0);
    let pushed = s3::state_document(&w);
    assert_eq!(pushed["resources"], old_doc["resources"]);
    assert_eq!(pushed["lineage"], old_doc["lineage"]);
    assert!(pushed["serial"].as_u64() > newer["serial"].as_u64());
    w.ferry(&["plan", "--detailed-exitcode", "--state", "a"])
        .expect(0);
}

#[test]
fn a_kill_mid_apply_in_one_working_directory_is_recovered_from_another() {
    let w = applied();
    let mut first = hanging_apply(&w);
    let pid = first.id();
    first.kill().expect("SIGKILL ferry");
    first.wait().expect("reap ferry");
    // The killed run's journal reached S3: its call in flight is readable elsewhere.
    let journal = s3::object(&w, ".journal");
    assert!(
        journal["body"]
            .as_str()
            .unwrap()
            .contains("function.api-staging"),
        "{journal}"
    );
    w.admin("role", STAGING, &["LambdaRole"]);
    let plan = w.ferry(&["plan", "--state", "b"]).expect(0);
    assert!(
        plan.stderr.contains("the previous apply was interrupted")
            && plan.stderr.contains("function.api-staging"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr
            .contains("the previous holder of this state ended without releasing it")
            && plan.stderr.contains(&format!("pid {pid}")),
        "{}",
        plan.stderr
    );
    w.ferry(&["apply", "--auto-approve", "--state", "b"])
        .expect(0);
    w.ferry(&["plan", "--detailed-exitcode", "--state", "c"])
        .expect(0);
    let staging = w.admin("functions", STAGING, &[]);
    assert_eq!(
        staging.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["api-staging"]
    );
}

#[test]
fn a_local_state_migrates_into_a_fresh_key_only() {
    let w = s3::world();
    w.admin("role", PROD, &["LambdaRole"]);
    let full = support::hello_declarations("shared");
    let repo_only = full.replace("[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n", "");
    // A local state first.
    w.write("ferry.toml", &repo_only);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let local = w.ferry(&["state", "pull"]).expect(0).stdout;
    let local: serde_json::Value = serde_json::from_str(&local).unwrap();
    let key = std::fs::read(w.path("state/secret.key")).unwrap();
    // Without declaring S3, there is nowhere to migrate to.
    let refused = w.ferry(&["state", "migrate", "--to", "s3"]).expect(1);
    assert!(
        refused.stderr.contains("does not declare an S3 backend"),
        "{}",
        refused.stderr
    );
    w.write("ferry.toml", &format!("{repo_only}{}", s3::state_table()));
    // A working copy with records and no state in S3 is never silently dropped or uploaded.
    let refused = w.ferry(&["plan"]).expect(1);
    assert!(
        refused.stderr.contains("state migrate --to s3"),
        "{}",
        refused.stderr
    );
    let moved = w.ferry(&["state", "migrate", "--to", "s3"]).expect(0);
    assert!(
        moved.stdout.contains("Moved 1 record ("),
        "{}",
        moved.stdout
    );
    let doc = s3::state_document(&w);
    assert_eq!(doc["lineage"], local["lineage"]);
    assert_eq!(doc["resources"], local["resources"]);
    // The local key went along, so recorded hashes stay valid.
    let shared = s3::object(&w, ".secret")["body"]
        .as_str()
        .unwrap()
        .chars()
        .map(|c| c as u8)
        .collect::<Vec<u8>>();
    assert_eq!(shared, key);
    w.ferry(&["plan", "--detailed-exitcode", "--state", "elsewhere"])
        .expect(0);
    // A key that holds a state is never migrated into.
    let again = w.ferry(&["state", "migrate", "--to", "s3"]).expect(1);
    assert!(
        again.stderr.contains("a state is already there"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_writer_never_overwrites_a_state_written_after_it_read_it() {
    let w = applied();
    let mut first = hanging_apply(&w);
    // Another writer (which forced the lock) writes a newer state while the apply runs.
    let mut newer = s3::state_document(&w);
    newer["serial"] = json!(newer["serial"].as_u64().unwrap() + 10);
    s3::admin(&w, "put", &[s3::KEY, &newer.to_string()]);
    w.admin("role", STAGING, &["LambdaRole"]);
    let status = first.wait().expect("wait for the apply");
    let err = support::read(&w.path("apply.err"));
    assert!(!status.success(), "{err}");
    assert!(
        err.contains("the state changed since this run read it"),
        "{err}"
    );
    // The newer state is still there, untouched.
    assert_eq!(s3::state_document(&w), newer);
}

#[test]
fn the_pipeline_demo_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new("bash")
        .arg(support::repo_root().join("scripts/pipeline-demo.sh"))
        .env("FERRY_BIN", env!("CARGO_BIN_EXE_ferry"))
        .env("FERRY_DEMO_DIR", dir.path())
        .output()
        .expect("run scripts/pipeline-demo.sh");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for step in [
        "merge #3: its saved plan was made before merge #2 changed the state, and is refused",
        "the waiting runner planned after the lock was released",
        "Pipeline demo complete.",
    ] {
        assert!(stdout.contains(step), "{stdout}\n{stderr}");
    }
    assert!(
        stderr.contains("the state changed since the plan was saved")
            && stderr.contains("is in use by another ferry process"),
        "{stderr}"
    );
}

#[test]
fn a_three_account_estate_is_rebuilt_from_its_tags_after_every_state_object_is_deleted() {
    let w = applied();
    w.admin("role", STAGING, &["LambdaRole"]);
    w.write("ferry.toml", &staging_declarations());
    w.ferry(&["apply", "--auto-approve", "--state", "a"])
        .expect(0);
    let deleted = s3::admin(&w, "delete-all", &[]);
    assert!(
        deleted.as_array().unwrap().len() >= 3,
        "state, journal and secret key: {deleted}"
    );
    std::fs::remove_dir_all(w.path("a")).unwrap();

    // A fresh runner: no working copy, no state object.
    let run = w
        .ferry(&["state", "rebuild", "--auto-approve", "--state", "b"])
        .expect(0);
    assert!(
        run.stdout.contains("Rebuild: 4 to record."),
        "{}",
        run.stdout
    );
    let doc = s3::state_document(&w);
    let mut addresses: Vec<&String> = doc["resources"].as_object().unwrap().keys().collect();
    addresses.sort();
    assert_eq!(
        addresses,
        [
            "function.api-prod",
            "function.api-staging",
            "repository.hello",
            "repository_policy.hello"
        ],
        "{doc}"
    );
    let plan = w
        .ferry(&["plan", "--detailed-exitcode", "--state", "c"])
        .expect(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
}
