//! Checks shared by several tables: references between tables, names, tags, regions.

use super::Checker;
use super::grammar::{is_org_id, is_region};
use serde_spanned::Spanned;
use std::collections::BTreeMap;
use std::ops::Range;

/// The AWS name of a resource: `name` when set, else its key (with the span to point at).
pub(super) fn declared_name(
    key: &str,
    key_span: &Range<usize>,
    name: Option<&Spanned<String>>,
) -> (String, Range<usize>) {
    match name {
        Some(n) => (n.get_ref().clone(), n.span()),
        None => (key.to_string(), key_span.clone()),
    }
}

/// Resolves a reference to another table's key, or says which keys exist.
pub(super) fn reference<'m, T>(
    c: &mut Checker,
    file: usize,
    r: &Spanned<String>,
    table: &'m BTreeMap<String, T>,
    what: &str,
    table_name: &str,
) -> Option<&'m T> {
    let found = table.get(r.get_ref());
    if found.is_none() {
        let hint = if table.is_empty() {
            format!("declare it as [{table_name}.{}]", r.get_ref())
        } else {
            format!(
                "declare [{table_name}.{}] or use one of: {}",
                r.get_ref(),
                keys(table)
            )
        };
        c.at(
            file,
            r,
            &format!("{what} `{}` is not declared", r.get_ref()),
            &format!("no such {what}"),
            &hint,
        );
    }
    found
}

pub(super) fn check_tags(
    c: &mut Checker,
    file: usize,
    tags: Option<&BTreeMap<Spanned<String>, Spanned<String>>>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in tags.into_iter().flatten() {
        let key = k.get_ref();
        if key.to_ascii_lowercase().starts_with("aws:") || key.starts_with("ferry:") {
            c.at(
                file,
                k,
                &format!("tag key `{key}` uses a reserved prefix"),
                "reserved tag key",
                "aws: belongs to AWS and ferry: to ferry's ownership tags; choose another key",
            );
        } else if key.is_empty() || key.chars().count() > 128 {
            c.at(
                file,
                k,
                "tag keys are 1 to 128 characters",
                "bad tag key",
                "shorten the key",
            );
        }
        if v.get_ref().chars().count() > 256 {
            c.at(
                file,
                v,
                "tag values are at most 256 characters",
                "too long",
                "shorten the value",
            );
        }
        out.insert(key.clone(), v.get_ref().clone());
    }
    out
}

pub(super) fn check_region(c: &mut Checker, file: usize, r: &Spanned<String>) {
    if !is_region(r.get_ref()) {
        c.at(
            file,
            r,
            &format!("`{}` is not an AWS region", r.get_ref()),
            "not a region",
            "write a region code such as us-east-1 or eu-central-1",
        );
    }
}

pub(super) fn check_org_id(c: &mut Checker, file: usize, o: &Spanned<String>) {
    if !is_org_id(o.get_ref()) {
        c.at(
            file,
            o,
            &format!("`{}` is not an AWS Organizations id", o.get_ref()),
            "expected o- and 10 to 32 lowercase letters or digits",
            "find it with `aws organizations describe-organization`, for example o-a1b2c3d4e5",
        );
    }
}

pub(super) fn keys<T>(table: &BTreeMap<String, T>) -> String {
    table
        .keys()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
