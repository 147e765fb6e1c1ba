//! The S3 state backend's test support: a bucket in moto, declarations whose
//! `[project.state]` keeps the state there, and boto3 (`tests/support/s3_admin.py`) to read and
//! tamper with the objects ferry writes.
#![allow(dead_code)]

use crate::support::{REGISTRY, Run, World, repo_root, venv};
use serde_json::Value;
use std::process::Command;

pub const BUCKET: &str = "ferry-state";
pub const KEY: &str = "team/ferry.json";

/// `[project.state]` keeping the state at `s3://ferry-state/team/ferry.json`, reached with the
/// registry account's credentials.
pub fn state_table() -> String {
    format!(
        "\n[project.state]\nbackend = \"s3\"\nbucket = \"{BUCKET}\"\nkey = \"{KEY}\"\naccount = \"registry\"\nregion = \"us-east-1\"\n"
    )
}

/// Runs `s3_admin.py COMMAND REGISTRY BUCKET ARGS...` against the world's moto.
pub fn admin(w: &World, command: &str, args: &[&str]) -> Value {
    let moto = w.moto.as_ref().expect("a world with moto");
    let out = Command::new(venv().join("bin/python"))
        .arg(repo_root().join("tests/support/s3_admin.py"))
        .args([command, REGISTRY, BUCKET])
        .args(args)
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run s3_admin.py");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
    .expect(0);
    serde_json::from_str(&run.stdout).expect("s3_admin.py prints JSON")
}

/// A world whose bucket exists.
pub fn world() -> World {
    let w = World::new();
    admin(&w, "bucket", &[]);
    w
}

/// The object `KEY` + `suffix` (`""`, `".lock"`, `".journal"`, `".secret"`), as boto3 reads it.
pub fn object(w: &World, suffix: &str) -> Value {
    admin(w, "get", &[&format!("{KEY}{suffix}")])
}

/// The state document S3 holds.
pub fn state_document(w: &World) -> Value {
    let o = object(w, "");
    serde_json::from_str(o["body"].as_str().expect("a state object")).expect("JSON state")
}

/// The lock record S3 holds, if any.
pub fn lock_record(w: &World) -> Option<Value> {
    let o = object(w, ".lock");
    o.get("body")
        .map(|b| serde_json::from_str(b.as_str().unwrap()).expect("a JSON lock record"))
}
