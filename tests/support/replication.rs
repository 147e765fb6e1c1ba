//! Support for the replication tests: the independent client for registry-wide reads
//! (`replication_admin.py`), and the proxy's answers for DescribeImageReplicationStatus, which
//! moto answers with 500. Included with `#[path]` beside `support` and `faults`, as
//! faults.rs is.
#![allow(dead_code)]

use crate::faults::{Fault, Match, Rule};
use crate::support::{World, repo_root, venv};
use std::process::Command;

/// Runs tests/support/replication_admin.py inside `account` (moto itself, never the proxy).
pub fn registry_admin(w: &World, command: &str, account: &str, args: &[&str]) -> serde_json::Value {
    for f in ["no-aws-config", "no-aws-credentials"] {
        if !w.path(f).exists() {
            std::fs::write(w.path(f), "").expect("write an empty AWS config file");
        }
    }
    let mut cmd = Command::new(venv().join("bin/python"));
    cmd.arg(repo_root().join("tests/support/replication_admin.py"))
        .arg(command)
        .arg(account)
        .args(args)
        .env("AWS_ENDPOINT_URL", format!("http://{}", w.moto_addr()))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", w.path("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", w.path("no-aws-credentials"))
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    let out = cmd.output().expect("run replication_admin.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "replication_admin.py {command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("replication_admin.py {command} printed no JSON ({e}): {stdout}")
    })
}

/// DescribeImageReplicationStatus's answer for one destination: `status` is IN_PROGRESS,
/// COMPLETE or FAILED (with `failure`).
pub fn replication_status(
    repository: &str,
    digest: &str,
    region: &str,
    registry_id: &str,
    status: &str,
    failure: Option<&str>,
) -> Rule {
    let mut entry = serde_json::json!({
        "region": region, "registryId": registry_id, "status": status,
    });
    if let Some(f) = failure {
        entry["failureCode"] = serde_json::Value::String(f.to_string());
    }
    let body = serde_json::json!({
        "repositoryName": repository,
        "imageId": { "imageDigest": digest },
        "replicationStatuses": [entry],
    });
    Rule::new(
        Match::operation("ecr", "DescribeImageReplicationStatus"),
        Fault::Json(body.to_string()),
    )
}
