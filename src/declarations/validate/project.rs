//! The `[project]` table.

use super::grammar::is_role_arn;
use super::values::check_region;
use super::{Checker, raw};
use crate::model::{Account, Project, Rates, S3Backend, StateBackend};
use serde_spanned::Spanned;
use std::collections::BTreeMap;

pub(super) fn check_project(c: &mut Checker, file: usize, p: &raw::Project) -> Project {
    let name = p.name.get_ref();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        c.at(
            file,
            &p.name,
            "the project name must be 1 to 64 letters, digits, `-` or `_`",
            "not a valid project name",
            "the name goes into tags and state names; for example name = \"payments\"",
        );
    }
    if let Some(r) = &p.default_region {
        check_region(c, file, r);
    }
    if let Some(t) = &p.assume_role
        && !(t.get_ref().contains("{account_id}") || is_role_arn(t.get_ref()))
    {
        c.at(
            file,
            t,
            "assume_role must be a role ARN template containing {account_id}",
            "no {account_id} placeholder",
            "for example assume_role = \"arn:aws:iam::{account_id}:role/FerryDeployer\"",
        );
    }
    if let Some(r) = &p.required_version {
        check_required_version(c, file, r);
    }
    Project {
        name: name.clone(),
        default_region: p.default_region.as_ref().map(|r| r.get_ref().clone()),
        state: StateBackend::Local,
        rates: Rates {
            lambda: rate(c, file, &p.lambda_requests_per_second),
            get_function: rate(c, file, &p.lambda_get_function_per_second),
            ecr: rate(c, file, &p.ecr_requests_per_second),
        },
    }
}

/// A requests-per-second setting: 1 to 1000.
fn rate(c: &mut Checker, file: usize, v: &Option<Spanned<i64>>) -> Option<u32> {
    let v = v.as_ref()?;
    match u32::try_from(*v.get_ref()) {
        Ok(n) if (1..=1000).contains(&n) => Some(n),
        _ => {
            c.at(
                file,
                v,
                "a rate is a whole number of requests per second, 1 to 1000",
                "not a rate",
                "for example lambda_requests_per_second = 10 (AWS's quota is 15)",
            );
            None
        }
    }
}

/// `[project.state]`: `backend = "local"` (the default) takes no other key; `backend = "s3"`
/// needs `bucket`, `key` and `account` (a declared account key), and a `region` (or the
/// project's `default_region`).
pub(super) fn check_state(
    c: &mut Checker,
    file: usize,
    p: &raw::Project,
    accounts: &BTreeMap<String, Account>,
) -> StateBackend {
    let Some(table) = &p.state else {
        return StateBackend::Local;
    };
    let t = table.get_ref();
    let backend = t.backend.as_ref().map_or("local", |b| b.get_ref().as_str());
    match backend {
        "local" => {
            for v in [&t.bucket, &t.key, &t.account, &t.region]
                .into_iter()
                .flatten()
            {
                c.at(
                    file,
                    v,
                    "bucket, key, account and region belong to backend = \"s3\"",
                    "not used by the local backend",
                    "add backend = \"s3\" to keep the state in S3, or remove this key",
                );
            }
            StateBackend::Local
        }
        "s3" => check_s3(c, file, p, table, accounts).map_or(StateBackend::Local, StateBackend::S3),
        other => {
            if let Some(b) = &t.backend {
                c.at(
                    file,
                    b,
                    &format!("unknown state backend `{other}`"),
                    "not a state backend",
                    "write backend = \"local\" (the --state directory) or backend = \"s3\"",
                );
            }
            StateBackend::Local
        }
    }
}

fn check_s3(
    c: &mut Checker,
    file: usize,
    p: &raw::Project,
    table: &serde_spanned::Spanned<raw::StateTable>,
    accounts: &BTreeMap<String, Account>,
) -> Option<S3Backend> {
    let t = table.get_ref();
    let missing = |c: &mut Checker, what: &str, example: &str| {
        c.err(
            file,
            table.span(),
            format!("backend = \"s3\" needs `{what}`"),
            format!("no {what}"),
            format!("add {example} to [project.state]"),
        );
    };
    let (Some(bucket), Some(key), Some(account)) = (&t.bucket, &t.key, &t.account) else {
        if t.bucket.is_none() {
            missing(c, "bucket", "bucket = \"my-ferry-state\"");
        }
        if t.key.is_none() {
            missing(c, "key", "key = \"payments/ferry.json\"");
        }
        if t.account.is_none() {
            missing(
                c,
                "account",
                "account = \"registry\" (the account key whose credentials reach the bucket)",
            );
        }
        return None;
    };
    let mut ok = true;
    let b = bucket.get_ref();
    let bucket_ok = (3..=63).contains(&b.len())
        && b.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '.')
        && b.starts_with(|ch: char| ch.is_ascii_alphanumeric())
        && b.ends_with(|ch: char| ch.is_ascii_alphanumeric());
    if !bucket_ok {
        ok = false;
        c.at(
            file,
            bucket,
            &format!("`{b}` is not an S3 bucket name"),
            "not a bucket name",
            "3 to 63 lowercase letters, digits, `.` or `-`, starting and ending with a letter or digit",
        );
    }
    let k = key.get_ref();
    if k.is_empty() || k.starts_with('/') || k.ends_with('/') || k.len() > 1000 {
        ok = false;
        c.at(
            file,
            key,
            &format!("`{k}` is not an object key for the state"),
            "not an object key",
            "a path inside the bucket without a leading or trailing `/`, for example key = \"payments/ferry.json\"",
        );
    }
    if !accounts.contains_key(account.get_ref()) {
        ok = false;
        c.at(
            file,
            account,
            &format!("account `{}` is not declared", account.get_ref()),
            "no such account key",
            &format!(
                "name the [accounts.KEY] whose credentials reach the bucket (declared: {})",
                super::values::keys(accounts)
            ),
        );
    }
    let region = match (&t.region, &p.default_region) {
        (Some(r), _) => {
            super::values::check_region(c, file, r);
            r.get_ref().clone()
        }
        (None, Some(r)) => r.get_ref().clone(),
        (None, None) => {
            missing(
                c,
                "region",
                "region = \"us-east-1\" (or a default_region in [project])",
            );
            return None;
        }
    };
    ok.then(|| S3Backend {
        bucket: b.clone(),
        key: k.clone(),
        account: account.get_ref().clone(),
        region,
    })
}

/// `required_version`: a requirement this ferry must satisfy, so that declarations written for
/// a newer ferry are refused by an older one rather than half understood.
fn check_required_version(c: &mut Checker, file: usize, r: &Spanned<String>) {
    match crate::version::parse_requirement(r.get_ref()) {
        Err(e) => c.at(
            file,
            r,
            &format!("required_version is not a version requirement: {e}"),
            "not a version requirement",
            "use Cargo's syntax, for example required_version = \">= 0.2\" or \">= 0.2, < 0.4\"",
        ),
        Ok(req) if !crate::version::satisfies(&req) => c.at(
            file,
            r,
            &format!(
                "this project requires ferry {}, and this is ferry {}",
                r.get_ref(),
                crate::version::LINE
            ),
            &format!("not satisfied by {}", crate::version::VERSION),
            "install a ferry that satisfies the requirement (`ferry --version` says which one runs), \
             or change required_version if the project really works with this one",
        ),
        Ok(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::declarations::{parse_sources, source_from_bytes};

    fn errors(state: &str) -> String {
        let text = format!(
            "[project]\nname = \"p\"\ndefault_region = \"us-east-1\"\n{state}\n\
             [accounts.registry]\nid = \"111111111111\"\n"
        );
        let source = source_from_bytes("ferry.toml".into(), text.into_bytes()).unwrap();
        match parse_sources(&[source], &|_| None) {
            Ok(_) => String::new(),
            Err(d) => d.render(false),
        }
    }

    #[test]
    fn the_local_backend_is_the_default_and_takes_no_s3_keys() {
        assert_eq!(errors(""), "");
        assert_eq!(errors("[project.state]\nbackend = \"local\""), "");
        let e = errors("[project.state]\nbucket = \"b-state\"");
        assert!(
            e.contains("bucket, key, account and region belong to backend = \"s3\""),
            "{e}"
        );
        assert!(e.contains("ferry.toml:5:10"), "{e}");
        let e = errors("[project.state]\nbackend = \"gcs\"");
        assert!(e.contains("unknown state backend `gcs`"), "{e}");
    }

    #[test]
    fn the_s3_backend_names_what_is_missing_or_wrong_and_takes_a_valid_table() {
        let e = errors("[project.state]\nbackend = \"s3\"");
        for what in ["`bucket`", "`key`", "`account`"] {
            assert!(e.contains(&format!("backend = \"s3\" needs {what}")), "{e}");
        }
        let e = errors(
            "[project.state]\nbackend = \"s3\"\nbucket = \"Bad_Bucket\"\nkey = \"/x/\"\naccount = \"nobody\"",
        );
        assert!(e.contains("`Bad_Bucket` is not an S3 bucket name"), "{e}");
        assert!(e.contains("`/x/` is not an object key"), "{e}");
        assert!(e.contains("account `nobody` is not declared"), "{e}");
        assert!(e.contains("declared: `registry`"), "{e}");
        let e = errors(
            "[project.state]\nbackend = \"s3\"\nbucket = \"ferry-state\"\nkey = \"p/ferry.json\"\naccount = \"registry\"",
        );
        assert_eq!(e, "");
    }

    #[test]
    fn rates_are_whole_requests_per_second_and_a_bad_one_is_pointed_at() {
        assert_eq!(errors("lambda_requests_per_second = 12"), "");
        assert_eq!(errors("ecr_requests_per_second = 5"), "");
        let e = errors("lambda_get_function_per_second = 0");
        assert!(
            e.contains("a rate is a whole number of requests per second"),
            "{e}"
        );
        assert!(e.contains("ferry.toml:4:34"), "{e}");
        assert!(e.contains("lambda_requests_per_second = 10"), "{e}");
    }
}
