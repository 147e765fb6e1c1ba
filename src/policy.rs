//! Stage: policy. Derives each repository's policy from its consumers, exactly as CONTRACT.md's
//! table says, and compares policies semantically.
//!
//! Pure: plain data in, `serde_json::Value` out. Output is deterministic (sorted principals and
//! ARNs, fixed statement order and key order), so an unchanged declaration never shows a diff.

use crate::model::{Desired, Repository};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// ECR's limit on the size of a repository policy, in characters.
pub const MAX_POLICY_CHARS: usize = 10_240;

/// The two actions Lambda needs to pull an image.
pub const PULL_ACTIONS: [&str; 2] = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];

pub const SID_SAME_ACCOUNT: &str = "LambdaECRImageRetrievalPolicy";
pub const SID_ACCOUNTS: &str = "CrossAccountPermission";
pub const SID_ACCOUNTS_LAMBDA: &str = "LambdaECRImageCrossAccountRetrievalPolicy";
const SID_ORG: &str = "CrossAccountPermissionOrganization";
const SID_ORG_LAMBDA: &str = "LambdaECRImageOrganizationRetrievalPolicy";
const SID_PATHS: &str = "CrossAccountPermissionOrgPaths";
const SID_PATHS_LAMBDA: &str = "LambdaECRImageOrgPathsRetrievalPolicy";

/// Every Sid ferry may write; `extra_statements` may not use them.
pub const MANAGED_SIDS: &[&str] = &[
    SID_SAME_ACCOUNT,
    SID_ACCOUNTS,
    SID_ACCOUNTS_LAMBDA,
    SID_ORG,
    SID_ORG_LAMBDA,
    SID_PATHS,
    SID_PATHS_LAMBDA,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "the policy for repository `{repository}` would be {size} characters, over ECR's limit of {MAX_POLICY_CHARS}"
    )]
    TooLarge { repository: String, size: usize },
}

/// Who pulls from a repository, derived from the declarations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumers {
    /// Functions in the registry's own account.
    pub same_account: bool,
    /// Other accounts (function accounts and `share_with_accounts`), not covered by an
    /// Organization share.
    pub accounts: BTreeSet<String>,
    pub organization: Option<String>,
    pub org_paths: BTreeSet<String>,
}

/// The consumers of `repo`. An account whose declared organization (or org path) is already
/// shared with needs no statement of its own.
pub fn consumers(desired: &Desired, repo: &Repository) -> Consumers {
    let functions = desired.functions.values().filter(|f| {
        desired
            .function_repository(f)
            .is_some_and(|r| r.key == repo.key)
    });
    consumers_of(desired, repo, functions)
}

/// The consumers of `repo`, given the functions whose image is in it.
fn consumers_of<'a>(
    desired: &Desired,
    repo: &Repository,
    functions: impl Iterator<Item = &'a crate::model::Function>,
) -> Consumers {
    let mut c = Consumers {
        organization: repo.share_with_organization.clone(),
        org_paths: repo.share_with_org_paths.clone(),
        ..Consumers::default()
    };
    let mut others: BTreeSet<String> = repo.share_with_accounts.clone();
    for f in functions {
        if f.target.account_id == repo.target.account_id {
            c.same_account = true;
        } else {
            others.insert(f.target.account_id.clone());
        }
    }
    others.remove(&repo.target.account_id);
    c.accounts = others
        .into_iter()
        .filter(|id| !covered_by_org(desired, id, &c))
        .collect();
    c
}

fn covered_by_org(desired: &Desired, account_id: &str, c: &Consumers) -> bool {
    desired
        .accounts
        .values()
        .filter(|a| a.id == account_id)
        .any(|a| {
            let in_org = c.organization.is_some() && a.organization_id == c.organization;
            let in_path = a.org_path.as_ref().is_some_and(|p| {
                c.org_paths
                    .iter()
                    .any(|pattern| glob_prefix_match(pattern, p))
            });
            in_org || in_path
        })
}

/// `o-x/r-y/*` matches `o-x/r-y/ou-z/`; without `*` the path must be equal.
fn glob_prefix_match(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

/// The policy ferry would write for `repo`, or `None` when nothing would be in it.
pub fn synthesize(desired: &Desired, repo: &Repository) -> Result<Option<Value>, PolicyError> {
    synthesize_for(repo, &consumers(desired, repo))
}

/// Every managed repository's derived policy (or why it cannot be written), by repository key.
pub type Synthesized = std::collections::BTreeMap<String, Result<Option<Value>, PolicyError>>;

/// [`synthesize`] for every repository that ferry writes the policy of, by key, reading the
/// functions once (not once per repository: `ferry validate` of thousands of repositories and
/// functions stays linear).
pub fn synthesize_all(desired: &Desired) -> Synthesized {
    let mut by_repository: std::collections::BTreeMap<&str, Vec<&crate::model::Function>> =
        Default::default();
    for f in desired.functions.values() {
        if let Some(r) = desired.function_repository(f) {
            by_repository.entry(r.key.as_str()).or_default().push(f);
        }
    }
    desired
        .repositories
        .values()
        .filter(|r| r.manage_policy)
        .map(|r| {
            let functions = by_repository.get(r.key.as_str()).into_iter().flatten();
            let c = consumers_of(desired, r, functions.copied());
            (r.key.clone(), synthesize_for(r, &c))
        })
        .collect()
}

fn synthesize_for(repo: &Repository, consumers: &Consumers) -> Result<Option<Value>, PolicyError> {
    let mut statements = managed_statements(repo, consumers);
    statements.extend(repo.extra_statements.iter().cloned());
    if statements.is_empty() {
        return Ok(None);
    }
    let policy = json!({ "Version": "2012-10-17", "Statement": statements });
    let size = to_text(&policy).chars().count();
    if size > MAX_POLICY_CHARS {
        return Err(PolicyError::TooLarge {
            repository: repo.name.clone(),
            size,
        });
    }
    Ok(Some(policy))
}

/// The statements ferry manages for these consumers of `repo`, in their fixed order.
pub fn managed_statements(repo: &Repository, c: &Consumers) -> Vec<Value> {
    let region = &repo.target.region;
    let lambda_arn = |account: &str| format!("arn:aws:lambda:{region}:{account}:function:*");
    let mut statements: Vec<Value> = Vec::new();
    if c.same_account {
        statements.push(statement(
            SID_SAME_ACCOUNT,
            json!({ "Service": "lambda.amazonaws.com" }),
            json!({ "StringLike": { "aws:sourceArn": lambda_arn(&repo.target.account_id) } }),
        ));
    }
    // The first kind of share takes the contract's Sids; later kinds get their own.
    let mut base_sids_used = false;
    let mut sids = |alt: (&'static str, &'static str)| {
        if base_sids_used {
            alt
        } else {
            base_sids_used = true;
            (SID_ACCOUNTS, SID_ACCOUNTS_LAMBDA)
        }
    };
    if !c.accounts.is_empty() {
        let (sid, lambda_sid) = sids((SID_ACCOUNTS, SID_ACCOUNTS_LAMBDA));
        let roots: Vec<String> = c
            .accounts
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        let arns: Vec<String> = c.accounts.iter().map(|a| lambda_arn(a)).collect();
        statements.push(statement(sid, json!({ "AWS": roots }), Value::Null));
        statements.push(statement(
            lambda_sid,
            json!({ "Service": "lambda.amazonaws.com" }),
            json!({ "StringLike": { "aws:sourceArn": arns } }),
        ));
    }
    if let Some(org) = &c.organization {
        let (sid, lambda_sid) = sids((SID_ORG, SID_ORG_LAMBDA));
        statements.push(statement(
            sid,
            json!({ "AWS": "*" }),
            json!({ "StringEquals": { "aws:PrincipalOrgID": org } }),
        ));
        statements.push(statement(
            lambda_sid,
            json!({ "Service": "lambda.amazonaws.com" }),
            json!({ "StringEquals": { "aws:SourceOrgID": org } }),
        ));
    }
    if !c.org_paths.is_empty() {
        let (sid, lambda_sid) = sids((SID_PATHS, SID_PATHS_LAMBDA));
        let paths: Vec<&String> = c.org_paths.iter().collect();
        statements.push(statement(
            sid,
            json!({ "AWS": "*" }),
            json!({ "ForAnyValue:StringLike": { "aws:PrincipalOrgPaths": paths } }),
        ));
        statements.push(statement(
            lambda_sid,
            json!({ "Service": "lambda.amazonaws.com" }),
            json!({ "ForAnyValue:StringLike": { "aws:SourceOrgPaths": paths } }),
        ));
    }
    statements
}

fn statement(sid: &str, principal: Value, condition: Value) -> Value {
    let mut s = Map::new();
    s.insert("Sid".into(), json!(sid));
    s.insert("Effect".into(), json!("Allow"));
    s.insert("Principal".into(), principal);
    s.insert("Action".into(), json!(PULL_ACTIONS));
    if !condition.is_null() {
        s.insert("Condition".into(), condition);
    }
    Value::Object(s)
}

/// The text ferry sends to ECR: compact, so more statements fit under the limit.
pub fn to_text(policy: &Value) -> String {
    policy.to_string()
}

/// Pretty JSON, for people and diffs.
pub fn pretty(policy: &Value) -> String {
    serde_json::to_string_pretty(policy).unwrap_or_else(|_| policy.to_string())
}

/// Parses a policy text as read from AWS; text that is not JSON is kept as a JSON string, so
/// that it still compares unequal and shows in diffs.
pub fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Whether two policies mean the same: key order, a string versus a one-element list, list
/// order, statement order, condition-key case, and an account id versus its root ARN do not
/// matter.
pub fn equivalent(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

fn normalize(policy: &Value) -> Value {
    let Value::Object(doc) = policy else {
        return policy.clone();
    };
    let mut out = Map::new();
    for (k, v) in doc {
        if k == "Statement" {
            let list = match v {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            let mut statements: Vec<Value> = list.iter().map(normalize_statement).collect();
            statements.sort_by_key(|s| s.to_string());
            out.insert(k.clone(), Value::Array(statements));
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(sorted(out))
}

fn normalize_statement(s: &Value) -> Value {
    let Value::Object(map) = s else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let nv = match k.as_str() {
            "Action" | "NotAction" | "Resource" | "NotResource" => string_set(v),
            "Principal" | "NotPrincipal" => match v {
                Value::Object(p) => Value::Object(sorted(
                    p.iter()
                        .map(|(pk, pv)| {
                            let set = string_set(pv);
                            let set = if pk == "AWS" { account_roots(set) } else { set };
                            (pk.clone(), set)
                        })
                        .collect(),
                )),
                other => other.clone(),
            },
            "Condition" => match v {
                Value::Object(ops) => Value::Object(sorted(
                    ops.iter()
                        .map(|(op, keys)| {
                            let keys = match keys {
                                Value::Object(km) => Value::Object(sorted(
                                    km.iter()
                                        .map(|(ck, cv)| (ck.to_ascii_lowercase(), string_set(cv)))
                                        .collect(),
                                )),
                                other => other.clone(),
                            };
                            (op.clone(), keys)
                        })
                        .collect(),
                )),
                other => other.clone(),
            },
            _ => v.clone(),
        };
        out.insert(k.clone(), nv);
    }
    Value::Object(sorted(out))
}

fn string_set(v: &Value) -> Value {
    let mut items: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    items.sort_by_key(|x| x.to_string());
    items.dedup();
    Value::Array(items)
}

fn account_roots(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items
                .into_iter()
                .map(|i| match i.as_str() {
                    Some(s) if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) => {
                        Value::String(format!("arn:aws:iam::{s}:root"))
                    }
                    _ => i,
                })
                .collect();
            items.sort_by_key(|x| x.to_string());
            items.dedup();
            Value::Array(items)
        }
        other => other,
    }
}

fn sorted(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}
