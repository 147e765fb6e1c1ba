//! The values of one `[functions.*]` table, checked one by one: the Lambda name and who else
//! claims it, the execution role, the region, the architecture, the description, the
//! environment, and the numeric ranges.

use super::functions::{Defaults, Names};
use super::grammar::{is_function_name, is_role_arn, role_account};
use super::values::{check_region, claim};
use super::{Checker, raw};
use crate::model::replication::replica_key;
use crate::model::{Account, Repository, Target};
use serde_spanned::Spanned;
use std::collections::BTreeMap;
use std::ops::Range;

pub(super) fn check_function_name(
    c: &mut Checker,
    file: usize,
    name: &str,
    name_span: &Range<usize>,
) {
    if !is_function_name(name) {
        c.err(
            file,
            name_span.clone(),
            format!("`{name}` is not a valid Lambda function name"),
            "invalid function name",
            "use 1 to 64 letters, digits, - or _; set `name` if the key cannot be the name",
        );
    }
}

/// The execution role (its template filled for the instance): an IAM role ARN in the
/// function's own account.
pub(super) fn check_role(
    c: &mut Checker,
    file: usize,
    key: &str,
    role: &Spanned<String>,
    arn: &str,
    a: &Account,
    many: bool,
) {
    if !is_role_arn(arn) {
        c.at(
            file,
            role,
            &format!("`{arn}` is not an IAM role ARN"),
            "not a role ARN",
            "the execution role is arn:aws:iam::<function's account>:role/<name>",
        );
    } else if role_account(arn) != Some(a.id.as_str()) {
        let hint = if many {
            "Lambda only accepts an execution role from the function's own account: write the \
             account as {account_id}, for example arn:aws:iam::{account_id}:role/<name>"
                .to_string()
        } else {
            format!(
                "Lambda only accepts an execution role from the function's own account: create \
                 the role in {} and use arn:aws:iam::{}:role/<name>",
                a.id, a.id
            )
        };
        c.at(
            file,
            role,
            &format!(
                "the execution role is in account {}, but function `{key}` runs in account {} (`{}`)",
                role_account(arn).unwrap_or("?"),
                a.id,
                a.key
            ),
            "role in another account",
            &hint,
        );
    }
}

/// The function's region: `region` when set (it must be the region of the image's registry or
/// of one of its replicas), else the image's registry's region. `None` when neither is known
/// (a diagnostic is already out).
pub(super) fn function_region(
    c: &mut Checker,
    file: usize,
    key: &str,
    region: Option<&Spanned<String>>,
    repo: Option<&Repository>,
    repositories: &BTreeMap<String, Repository>,
) -> Option<String> {
    match (region, repo) {
        (Some(r), Some(repo)) => {
            check_region(c, file, r);
            let replicas = repo
                .replicate_to
                .iter()
                .filter_map(|g| repositories.get(&replica_key(&repo.key, g)));
            let covered = std::iter::once(repo).chain(replicas);
            if !covered.into_iter().any(|x| &x.target.region == r.get_ref()) {
                c.at(
                    file,
                    r,
                    &format!(
                        "function `{key}` is in {} but its image is in registry `{}` in {}",
                        r.get_ref(),
                        repo.registry,
                        repo.target.region
                    ),
                    "region differs from the image's registry",
                    &format!(
                        "Lambda only pulls images from an ECR registry in its own region: put the \
                         function in {} (or drop `region`), or replicate the repository to {}: add \
                         replicate_to = [\"REGISTRY\"] to [repositories.{}], naming a registry \
                         declared in that region",
                        repo.target.region,
                        r.get_ref(),
                        repo.key
                    ),
                );
            }
            Some(r.get_ref().clone())
        }
        (None, Some(repo)) => Some(repo.target.region.clone()),
        (Some(r), None) => Some(r.get_ref().clone()),
        (None, None) => None,
    }
}

pub(super) fn architecture(
    c: &mut Checker,
    file: usize,
    list: Option<&Spanned<Vec<Spanned<String>>>>,
) -> String {
    let Some(list) = list else {
        return "x86_64".to_string();
    };
    match list.get_ref().as_slice() {
        [one] if one.get_ref() == "x86_64" || one.get_ref() == "arm64" => one.get_ref().clone(),
        _ => {
            c.at(
                file,
                list,
                "architectures must be [\"x86_64\"] or [\"arm64\"]",
                "unsupported architectures",
                "Lambda takes exactly one architecture, matching the image: \
                 architectures = [\"x86_64\"] or [\"arm64\"]",
            );
            "x86_64".to_string()
        }
    }
}

pub(super) fn check_description(c: &mut Checker, file: usize, d: &Spanned<String>, filled: &str) {
    if filled.chars().count() > 256 {
        c.at(
            file,
            d,
            "the description is longer than 256 characters",
            "too long",
            "shorten it to at most 256 characters",
        );
    }
}

/// `environment` (the defaults' first, the function's own over them) and
/// `sensitive_environment`: a sensitive variable not set in the file takes its value from
/// ferry's own environment (required unless nothing is deployed). Each value says whether it
/// is a template (written in a file) or verbatim (a secret from the environment).
pub(super) fn environment(
    c: &mut Checker,
    file: usize,
    f: &raw::Function,
    d: &Defaults,
    env: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, (String, bool)> {
    let mut environment = BTreeMap::new();
    let defaults = d.d.and_then(|d| d.environment.as_ref());
    for (vfile, (k, v)) in defaults
        .into_iter()
        .flatten()
        .map(|e| (d.file, e))
        .chain(f.environment.iter().flatten().map(|e| (file, e)))
    {
        check_env_key(c, vfile, k);
        environment.insert(k.get_ref().clone(), (v.get_ref().clone(), true));
    }
    for k in f.sensitive_environment.iter().flatten() {
        if !environment.contains_key(k.get_ref()) {
            check_env_key(c, file, k);
            match env(k.get_ref()) {
                Some(v) => {
                    environment.insert(k.get_ref().clone(), (v, false));
                }
                None if !c.secrets_required => {}
                None => c.at(
                    file,
                    k,
                    &format!(
                        "sensitive variable `{}` has no value: it is not in `environment` and not \
                         set in ferry's own environment",
                        k.get_ref()
                    ),
                    "no value",
                    &format!(
                        "export {}=... before running ferry (keeps the secret out of the file), \
                         or set it in `environment`",
                        k.get_ref()
                    ),
                ),
            }
        }
    }
    environment
}

/// Lambda names are unique per account and region: the second declaration is refused.
pub(super) fn claim_name(
    c: &mut Checker,
    names: &mut Names,
    file: usize,
    target: &Target,
    name: &str,
    name_span: Range<usize>,
) {
    let place = (
        target.account_id.clone(),
        target.region.clone(),
        name.to_string(),
    );
    let message = format!(
        "function name `{name}` is declared twice in account {} ({})",
        target.account_id, target.region
    );
    claim(
        c,
        names,
        place,
        (file, name_span),
        message,
        "same name as another function",
    );
}

/// Environment variables Lambda reserves; setting them fails at CreateFunction.
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

#[allow(clippy::too_many_arguments)]
pub(super) fn range(
    c: &mut Checker,
    file: usize,
    v: Option<&Spanned<i64>>,
    min: i64,
    max: i64,
    default: i32,
    key: &str,
    unit: &str,
) -> i32 {
    match v {
        None => default,
        Some(v) => {
            let n = *v.get_ref();
            if n < min || n > max {
                c.at(
                    file,
                    v,
                    &format!("{key} = {n} is out of range"),
                    &format!("must be {min}..={max}"),
                    &format!("Lambda accepts {min} to {max} {unit}"),
                );
                default
            } else {
                n as i32
            }
        }
    }
}

pub(super) fn check_env_key(c: &mut Checker, file: usize, k: &Spanned<String>) {
    let key = k.get_ref();
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|ch| ch.is_ascii_alphabetic())
        && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
    if !valid {
        c.at(
            file,
            k,
            &format!("`{key}` is not a valid environment variable name"),
            "invalid name",
            "names start with a letter and contain letters, digits and _",
        );
    } else if RESERVED_ENV.contains(&key.as_str()) {
        c.at(
            file,
            k,
            &format!("`{key}` is reserved by Lambda"),
            "reserved variable",
            "Lambda sets this variable itself; choose another name",
        );
    }
}
