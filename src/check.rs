//! Stage: access analysis, applied. Pure: for every declared function, the requests that must
//! be allowed for Lambda to pull its image, evaluated with [`crate::iam`] against the policy
//! that will be in place after the plan (or the live one, for repositories ferry only reads).
//!
//! A function F in account C and region R, pulling from repository P in account A, needs:
//! Lambda's own pull (principal `lambda.amazonaws.com`, `aws:SourceArn` F's ARN,
//! `aws:SourceAccount` C, and `aws:SourceOrgID`/`aws:SourceOrgPaths` when C declares its
//! organization), and, when C ≠ A, the pull of C's principal (`arn:aws:iam::C:root`, with
//! `aws:PrincipalAccount` and the principal org keys); each for `ecr:BatchGetImage` and
//! `ecr:GetDownloadUrlForLayer`; and R must be the registry's region.

use crate::iam::{self, Context, Principal, Request, Verdict};
use crate::model::{Address, Desired, Function, Repository};
use crate::policy::{self, Consumers, PULL_ACTIONS};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// What else AWS evaluates when Lambda pulls an image, which a verdict of `ferry check` does not
/// see: it judges the repository policy and the region rule only.
pub const NOT_CHECKED: [&str; 4] = [
    "the consumer account's SCPs and permissions boundaries",
    "the repository's KMS key policy",
    "that the image still exists when the function is created",
    "the function's execution role",
];

/// Which policy a function was judged against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    /// The policy ferry will write (manage_policy = true).
    AfterPlan,
    /// The live policy of a repository ferry only reads.
    Live,
    /// The repository has no policy.
    None,
}

/// One requester's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct RequestCheck {
    /// Who asks, in words.
    pub requester: String,
    pub allowed: bool,
    /// The explanation (for each action that was denied, or the allowing statements).
    pub explanation: String,
}

/// Whether Lambda will be able to pull one function's image.
#[derive(Clone, Debug, Serialize)]
pub struct FunctionAccess {
    pub function: Address,
    pub repository: Address,
    pub account_id: String,
    pub region: String,
    pub policy: PolicySource,
    pub allowed: bool,
    pub checks: Vec<RequestCheck>,
    /// What to add to the repository policy when denied.
    pub hint: Option<String>,
}

/// The policy in effect for `repo` after the plan: ferry's own (from `synthesized`, every
/// managed repository's derived policy, made once per plan), or the live one.
pub fn policy_in_effect(
    synthesized: &policy::Synthesized,
    repo: &Repository,
    live: Option<&str>,
) -> (Option<Value>, PolicySource) {
    if repo.manage_policy {
        match synthesized.get(&repo.key) {
            Some(Ok(Some(p))) => (Some(p.clone()), PolicySource::AfterPlan),
            // An oversized policy is a plan error of its own; judge as if nothing were written.
            _ => (None, PolicySource::None),
        }
    } else {
        match live {
            Some(text) => (Some(policy::parse(text)), PolicySource::Live),
            None => (None, PolicySource::None),
        }
    }
}

/// The requests to evaluate for `f`, with who makes them.
pub fn requests(desired: &Desired, f: &Function, repo: &Repository) -> Vec<(String, Request)> {
    let account = desired.accounts.get(&f.target.account);
    let resource = repo.arn();
    let mut lambda_ctx = Context::new()
        .with("aws:SourceArn", &f.arn())
        .with("aws:SourceAccount", &f.target.account_id);
    let mut principal_ctx = Context::new().with("aws:PrincipalAccount", &f.target.account_id);
    if let Some(org) = account.and_then(|a| a.organization_id.as_deref()) {
        lambda_ctx = lambda_ctx.with("aws:SourceOrgID", org);
        principal_ctx = principal_ctx.with("aws:PrincipalOrgID", org);
    }
    if let Some(path) = account.and_then(|a| a.org_path.as_deref()) {
        lambda_ctx = lambda_ctx.with_multi("aws:SourceOrgPaths", vec![path.to_string()]);
        principal_ctx = principal_ctx.with_multi("aws:PrincipalOrgPaths", vec![path.to_string()]);
    }
    let mut out = Vec::new();
    for action in PULL_ACTIONS {
        out.push((
            format!("Lambda (lambda.amazonaws.com) for {}", f.arn()),
            Request {
                principal: Principal::Service("lambda.amazonaws.com".into()),
                action: action.to_string(),
                resource: resource.clone(),
                context: lambda_ctx.clone(),
            },
        ));
        if f.target.account_id != repo.target.account_id {
            let root = format!("arn:aws:iam::{}:root", f.target.account_id);
            out.push((
                format!("account {} ({root})", f.target.account_id),
                Request {
                    principal: Principal::Aws(root),
                    action: action.to_string(),
                    resource: resource.clone(),
                    context: principal_ctx.clone(),
                },
            ));
        }
    }
    out
}

/// Judges one function against `policy`.
pub fn function_access(
    desired: &Desired,
    f: &Function,
    repo: &Repository,
    policy: Option<&Value>,
    source: PolicySource,
) -> FunctionAccess {
    let mut by_requester: BTreeMap<String, (bool, Vec<(String, String)>)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (who, request) in requests(desired, f, repo) {
        let verdict: Result<Verdict, String> = match policy {
            None => {
                Err("the repository has no policy, so nothing outside its account may pull".into())
            }
            Some(p) => iam::evaluate(p, &request)
                .map_err(|e| format!("the policy cannot be evaluated: {e}")),
        };
        let (ok, text) = match verdict {
            Ok(v) => (v.allowed(), v.to_string()),
            Err(e) => (false, e),
        };
        if !by_requester.contains_key(&who) {
            order.push(who.clone());
        }
        let entry = by_requester.entry(who).or_insert((true, Vec::new()));
        entry.0 &= ok;
        entry.1.push((request.action, text));
    }
    let mut checks: Vec<RequestCheck> = order
        .into_iter()
        .map(|who| {
            let (allowed, texts) = by_requester.remove(&who).unwrap_or((false, vec![]));
            // Actions with the same explanation are said once.
            let mut grouped: Vec<(Vec<String>, String)> = Vec::new();
            for (action, text) in texts {
                match grouped.iter_mut().find(|(_, t)| *t == text) {
                    Some((actions, _)) => actions.push(action),
                    None => grouped.push((vec![action], text)),
                }
            }
            RequestCheck {
                requester: who,
                allowed,
                explanation: grouped
                    .into_iter()
                    .map(|(actions, text)| format!("{}: {text}", actions.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        })
        .collect();
    if f.target.region != repo.target.region {
        checks.push(RequestCheck {
            requester: "the region rule".into(),
            allowed: false,
            explanation: format!(
                "the function is in {} but the registry is in {}: Lambda only pulls from a registry in its own region",
                f.target.region, repo.target.region
            ),
        });
    }
    let allowed = checks.iter().all(|c| c.allowed);
    let hint = (!allowed).then(|| {
        let needed = Consumers {
            same_account: f.target.account_id == repo.target.account_id,
            accounts: if f.target.account_id == repo.target.account_id {
                Default::default()
            } else {
                [f.target.account_id.clone()].into_iter().collect()
            },
            ..Consumers::default()
        };
        let statements = policy::managed_statements(repo, &needed);
        format!(
            "the repository policy of `{}` needs {}:\n{}",
            repo.name,
            if statements.len() == 1 {
                "this statement"
            } else {
                "these statements"
            },
            policy::pretty(&Value::Array(statements))
        )
    });
    FunctionAccess {
        function: Address::Function(f.key.clone()),
        repository: Address::Repository(repo.key.clone()),
        account_id: f.target.account_id.clone(),
        region: f.target.region.clone(),
        policy: source,
        allowed,
        checks,
        hint,
    }
}

/// Every declared function judged; `live` gives the live policy text per repository key.
pub fn check_all(
    desired: &Desired,
    live: &BTreeMap<String, Option<String>>,
) -> Vec<FunctionAccess> {
    let synthesized = policy::synthesize_all(desired);
    desired
        .functions
        .values()
        .filter_map(|f| {
            let repo = desired.function_repository(f)?;
            let (policy, source) = policy_in_effect(
                &synthesized,
                repo,
                live.get(&repo.key).and_then(|p| p.as_deref()),
            );
            Some(function_access(desired, f, repo, policy.as_ref(), source))
        })
        .collect()
}

/// A lint finding about one repository's policy.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyWarning {
    pub repository: Address,
    pub message: String,
    pub hint: String,
}

/// Lint of what ferry does not write itself: `extra_statements`, and the live policies of
/// repositories with `manage_policy = false`.
pub fn policy_warnings(
    desired: &Desired,
    live: &BTreeMap<String, Option<String>>,
) -> Vec<PolicyWarning> {
    let mut out = Vec::new();
    for repo in desired.repositories.values() {
        let (doc, what) = if repo.manage_policy {
            if repo.extra_statements.is_empty() {
                continue;
            }
            (
                serde_json::json!({ "Statement": repo.extra_statements }),
                "extra_statements",
            )
        } else {
            match live.get(&repo.key).and_then(|p| p.as_deref()) {
                Some(text) => (policy::parse(text), "live policy"),
                None => continue,
            }
        };
        match iam::lint::lint(&doc, &repo.target.account_id) {
            Ok(lints) => out.extend(lints.into_iter().map(|l| PolicyWarning {
                repository: Address::Repository(repo.key.clone()),
                message: format!("{what}: {}", l.message),
                hint: l.hint,
            })),
            Err(e) => out.push(PolicyWarning {
                repository: Address::Repository(repo.key.clone()),
                message: format!("{what} cannot be read as a policy: {e}"),
                hint: "fix the JSON so that it is a policy with a Statement list".into(),
            }),
        }
    }
    out
}
