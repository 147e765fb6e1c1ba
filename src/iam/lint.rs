//! Lint of repository policies that ferry does not write itself (`extra_statements`, and the
//! live policies of `manage_policy = false` repositories): the patterns that make a registry
//! readable or writable by more than intended.

use super::{Effect, PolicyError, PrincipalSpec, StatementId, parse, wildcard};
use serde_json::Value;

/// Condition keys that limit who can use a statement to known accounts or organizations.
const RESTRICTING_KEYS: &[&str] = &[
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
];

/// Condition keys that tie a service principal to the resources acting on someone's behalf.
const SOURCE_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
];

/// ECR actions that only read; anything else in `ecr:` writes.
const READ_ACTIONS: &[&str] = &[
    "ecr:batchgetimage",
    "ecr:getdownloadurlforlayer",
    "ecr:batchchecklayeravailability",
    "ecr:describeimages",
    "ecr:describerepositories",
    "ecr:getrepositorypolicy",
    "ecr:listimages",
    "ecr:getauthorizationtoken",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintKind {
    /// Allow to everyone with no restricting condition.
    OpenToEveryone,
    /// A service principal without aws:SourceArn / aws:SourceAccount (the confused deputy).
    ConfusedDeputy,
    /// Write actions granted to a service or another account.
    WriteAccess,
    /// `ecr:*` or `*`.
    AllActions,
    /// Neither Principal nor NotPrincipal: AWS rejects the policy.
    NoPrincipal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lint {
    pub statement: StatementId,
    pub kind: LintKind,
    pub message: String,
    pub hint: String,
}

/// Lints a policy of a repository in `registry_account`.
pub fn lint(policy: &Value, registry_account: &str) -> Result<Vec<Lint>, PolicyError> {
    let parsed = parse(policy)?;
    let mut out = Vec::new();
    for st in &parsed.statements {
        if st.principal.is_none() && st.not_principal.is_none() {
            out.push(Lint {
                statement: st.id.clone(),
                kind: LintKind::NoPrincipal,
                message: format!(
                    "{}: statement has no Principal; it is not valid in a repository policy",
                    st.id
                ),
                hint:
                    "a repository policy says who it is about: add \"Principal\" (identity-policy \
                       statements, with Resource and no Principal, belong on an IAM role or user)"
                        .into(),
            });
            continue;
        }
        if st.effect != Effect::Allow {
            continue;
        }
        // Only conditions a request must meet by carrying the key count: StringNotEquals,
        // ...IfExists or a "*" value is met by requests from anyone.
        let keys: Vec<String> = st
            .conditions
            .iter()
            .filter(|c| c.restricts())
            .map(|c| c.key_lowercase())
            .collect();
        let restricted = keys.iter().any(|k| RESTRICTING_KEYS.contains(&k.as_str()));
        let (everyone, services, foreign) = match (&st.principal, &st.not_principal) {
            // Allow with NotPrincipal allows everyone but the few it names.
            (_, Some(_)) | (Some(PrincipalSpec::Any), _) => (true, false, true),
            (Some(PrincipalSpec::Listed { aws, service, .. }), None) => (
                false,
                !service.is_empty(),
                aws.iter().any(|a| !a.contains(registry_account)),
            ),
            (None, None) => (false, false, false),
        };
        let who = if st.not_principal.is_some() {
            "everyone but its NotPrincipal (Allow with NotPrincipal)"
        } else {
            "everyone (Principal \"*\")"
        };
        let mut push = |kind, message: String, hint: &str| {
            out.push(Lint {
                statement: st.id.clone(),
                kind,
                message: format!("{}: {message}", st.id),
                hint: hint.to_string(),
            })
        };
        if everyone && !restricted {
            push(
                LintKind::OpenToEveryone,
                format!("allows {who} with no condition that limits who"),
                "add a condition on aws:PrincipalOrgID, aws:PrincipalAccount or aws:SourceAccount, \
                 or name the accounts",
            );
        }
        if services && !keys.iter().any(|k| SOURCE_KEYS.contains(&k.as_str())) {
            push(
                LintKind::ConfusedDeputy,
                "allows a service principal without aws:SourceArn or aws:SourceAccount, so the \
                 service may act for any account (the confused-deputy problem)"
                    .into(),
                "limit it with StringLike aws:sourceArn arn:aws:lambda:<region>:<account>:function:*",
            );
        }
        let actions = st.action.clone().unwrap_or_default();
        if actions
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case("ecr:*"))
            || st.not_action.is_some()
        {
            push(
                LintKind::AllActions,
                "allows every ECR action (ecr:*, * or NotAction)".into(),
                "list the actions needed; pulling needs ecr:BatchGetImage and ecr:GetDownloadUrlForLayer",
            );
        } else if services || foreign || everyone {
            let writes: Vec<&String> = actions
                .iter()
                .filter(|a| {
                    a.to_ascii_lowercase().starts_with("ecr:")
                        && !READ_ACTIONS
                            .iter()
                            .any(|r| wildcard(a, r, true) && !a.contains('*'))
                })
                .collect();
            if !writes.is_empty() {
                push(
                    LintKind::WriteAccess,
                    format!(
                        "grants {} to a service or another account",
                        writes
                            .iter()
                            .map(|w| w.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "Lambda needs only ecr:BatchGetImage and ecr:GetDownloadUrlForLayer; do not \
                     let other principals change the repository or its policy",
                );
            }
        }
    }
    Ok(out)
}
