//! The `[functions.*]` tables. This is where `accounts = [...]` will expand one declaration
//! into a function per account.

use super::grammar::{is_function_name, is_role_arn, role_account};
use super::values::{check_region, check_tags, declared_name, reference};
use super::{Checker, Entry, Merged, raw};
use crate::model::{Account, Function, Image, Repository, Target};
use serde_spanned::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

/// Where a function's name is taken, so that a second function of the same name in the same
/// account and region is reported at its declaration, pointing at the first.
type Names = BTreeMap<(String, String, String), (usize, Range<usize>)>;

pub(super) fn check_functions(
    c: &mut Checker,
    merged: &Merged,
    accounts: &BTreeMap<String, Account>,
    repositories: &BTreeMap<String, Repository>,
    images: &BTreeMap<String, Image>,
    env: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, Function> {
    let mut out = BTreeMap::new();
    let mut names = Names::new();
    for (key, entry) in &merged.functions {
        if let Some(function) = check_function(
            c,
            key,
            entry,
            accounts,
            repositories,
            images,
            env,
            &mut names,
        ) {
            out.insert(key.clone(), function);
        }
    }
    out
}

/// One `[functions.KEY]` table. The checks run in a fixed order (it is the order of the
/// diagnostics): references, name, role, region, architecture, limits, description,
/// environment, tags, then the name's uniqueness in its account and region.
#[allow(clippy::too_many_arguments)]
fn check_function(
    c: &mut Checker,
    key: &str,
    Entry {
        file,
        value,
        key_span,
    }: &Entry<raw::Function>,
    accounts: &BTreeMap<String, Account>,
    repositories: &BTreeMap<String, Repository>,
    images: &BTreeMap<String, Image>,
    env: &dyn Fn(&str) -> Option<String>,
    names: &mut Names,
) -> Option<Function> {
    let file = *file;
    let f = value.get_ref();
    let account = reference(c, file, &f.account, accounts, "account", "accounts");
    let image = reference(c, file, &f.image, images, "image", "images");
    let (name, name_span) = declared_name(key, key_span, f.name.as_ref());
    check_function_name(c, file, &name, &name_span);
    check_role(c, file, key, &f.role, account);
    let repo = image.and_then(|i| repositories.get(&i.repository));
    let region = function_region(c, file, key, f.region.as_ref(), repo);
    let architecture = architecture(c, file, f.architectures.as_ref());
    let memory_mb = range(
        c,
        file,
        f.memory_mb.as_ref(),
        128,
        10240,
        128,
        "memory_mb",
        "MB",
    );
    let timeout_s = range(
        c,
        file,
        f.timeout_s.as_ref(),
        1,
        900,
        3,
        "timeout_s",
        "seconds",
    );
    let description = description(c, file, f.description.as_ref());
    let (environment, sensitive_environment) = environment(c, file, f, env);
    let tags = check_tags(c, file, f.tags.as_ref());
    let (account, image, region) = (account?, image?, region?);
    let target = Target {
        account: account.key.clone(),
        account_id: account.id.clone(),
        region,
    };
    claim_name(c, names, file, &target, &name, name_span);
    Some(Function {
        key: key.to_string(),
        name,
        target,
        image: image.key.clone(),
        role: f.role.get_ref().clone(),
        architecture,
        memory_mb,
        timeout_s,
        description,
        environment,
        sensitive_environment,
        tags,
    })
}

fn check_function_name(c: &mut Checker, file: usize, name: &str, name_span: &Range<usize>) {
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

/// The execution role: an IAM role ARN in the function's own account.
fn check_role(
    c: &mut Checker,
    file: usize,
    key: &str,
    role: &Spanned<String>,
    account: Option<&Account>,
) {
    let arn = role.get_ref();
    if !is_role_arn(arn) {
        c.at(
            file,
            role,
            &format!("`{arn}` is not an IAM role ARN"),
            "not a role ARN",
            "the execution role is arn:aws:iam::<function's account>:role/<name>",
        );
    } else if let Some(a) = account
        && role_account(arn) != Some(a.id.as_str())
    {
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
            &format!(
                "Lambda only accepts an execution role from the function's own account: create \
                 the role in {} and use arn:aws:iam::{}:role/<name>",
                a.id, a.id
            ),
        );
    }
}

/// The function's region: `region` when set (it must be the image's registry's), else the
/// image's registry's region. `None` when neither is known (a diagnostic is already out).
fn function_region(
    c: &mut Checker,
    file: usize,
    key: &str,
    region: Option<&Spanned<String>>,
    repo: Option<&Repository>,
) -> Option<String> {
    match (region, repo) {
        (Some(r), Some(repo)) => {
            check_region(c, file, r);
            if r.get_ref() != &repo.target.region {
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
                         function in {} (or drop `region`), or replicate the repository to {} and \
                         use that registry",
                        repo.target.region,
                        r.get_ref()
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

fn architecture(
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

fn description(c: &mut Checker, file: usize, d: Option<&Spanned<String>>) -> String {
    let description = d.map(|d| d.get_ref().clone()).unwrap_or_default();
    if let Some(d) = d
        && description.chars().count() > 256
    {
        c.at(
            file,
            d,
            "the description is longer than 256 characters",
            "too long",
            "shorten it to at most 256 characters",
        );
    }
    description
}

/// `environment` and `sensitive_environment`: a sensitive variable not set in the file takes
/// its value from ferry's own environment (required unless nothing is deployed).
fn environment(
    c: &mut Checker,
    file: usize,
    f: &raw::Function,
    env: &dyn Fn(&str) -> Option<String>,
) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let mut environment = BTreeMap::new();
    for (k, v) in f.environment.iter().flatten() {
        check_env_key(c, file, k);
        environment.insert(k.get_ref().clone(), v.get_ref().clone());
    }
    let mut sensitive_environment = BTreeSet::new();
    for k in f.sensitive_environment.iter().flatten() {
        if !environment.contains_key(k.get_ref()) {
            check_env_key(c, file, k);
            match env(k.get_ref()) {
                Some(v) => {
                    environment.insert(k.get_ref().clone(), v);
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
        sensitive_environment.insert(k.get_ref().clone());
    }
    (environment, sensitive_environment)
}

/// Lambda names are unique per account and region: the second declaration is refused.
fn claim_name(
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
    if let Some((first_file, first_span)) = names.get(&place) {
        let first = c.location(*first_file, first_span.start);
        c.err(
            file,
            name_span.clone(),
            format!(
                "function name `{name}` is declared twice in account {} ({})",
                target.account_id, target.region
            ),
            "same name as another function",
            format!("the other is at {first}; give one of them another `name`"),
        );
    }
    names.insert(place, (file, name_span));
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
