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

/// Claims an AWS name where it must be unique (`key`: the account and region, or the
/// registry, and the name); a second claim is an error at its declaration pointing at the first.
pub(super) fn claim<K: Ord>(
    c: &mut Checker,
    names: &mut BTreeMap<K, (usize, Range<usize>)>,
    key: K,
    (file, name_span): (usize, Range<usize>),
    message: String,
    label: &str,
) {
    if let Some((first_file, first_span)) = names.get(&key) {
        let first = c.location(*first_file, first_span.start);
        c.err(
            file,
            name_span.clone(),
            message,
            label,
            format!("the other is at {first}; give one of them another `name`"),
        );
    }
    names.insert(key, (file, name_span));
}

#[cfg(test)]
mod tests {
    //! A name claimed twice, for both kinds that claim names.
    use crate::declarations::{Source, parse_sources};
    use std::path::PathBuf;
    use std::sync::Arc;

    const GOOD: &str = include_str!("../../../tests/fixtures/two-accounts.toml");

    fn errors(text: &str) -> String {
        let sources = [Source {
            path: PathBuf::from("ferry.toml"),
            text: Arc::new(text.to_string()),
        }];
        match parse_sources(&sources, &|_| None) {
            Ok(_) => panic!("declarations with a name claimed twice were accepted"),
            Err(d) => d.render(false),
        }
    }

    #[test]
    fn a_function_name_claimed_twice_points_at_the_first() {
        let text = format!(
            "{GOOD}\n[functions.again]\naccount = \"prod\"\nimage = \"hello\"\nrole = \
             \"arn:aws:iam::222222222222:role/LambdaRole\"\nname = \"hello-world\"\n"
        );
        let shown = errors(&text);
        // Tables are checked in key order: `again` claims the name first.
        assert!(shown.contains("╭─[ferry.toml:21:12]"), "{shown}");
        assert!(
            shown.contains(
                "function name `hello-world` is declared twice in account 222222222222 (us-east-1)"
            ),
            "{shown}"
        );
        assert!(
            shown.contains("the other is at ferry.toml:31:8; give one of them another `name`"),
            "{shown}"
        );
    }

    #[test]
    fn a_repository_name_claimed_twice_points_at_the_first() {
        let text =
            format!("{GOOD}\n[repositories.again]\nregistry = \"central\"\nname = \"hello\"\n");
        let shown = errors(&text);
        assert!(
            shown.contains("repository name `hello` is declared twice in registry `central`"),
            "{shown}"
        );
        // Tables are checked in key order: `again` claims the name first.
        assert!(shown.contains("╭─[ferry.toml:14:15]"), "{shown}");
        assert!(shown.contains("the other is at ferry.toml:29:8"), "{shown}");
    }
}
