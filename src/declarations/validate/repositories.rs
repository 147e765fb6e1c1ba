//! The `[repositories.*]` tables and their extra policy statements.

use super::grammar::{is_account_id, is_org_path, is_repository_name};
use super::values::{check_org_id, check_tags, claim, declared_name, keys, reference};
use super::{Checker, Entry, Merged};
use crate::model::{Account, Registry, Repository, TagMutability, Target};
use crate::policy::MANAGED_SIDS;
use serde_spanned::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

pub(super) fn check_repositories(
    c: &mut Checker,
    merged: &Merged,
    accounts: &BTreeMap<String, Account>,
    registries: &BTreeMap<String, Registry>,
) -> BTreeMap<String, Repository> {
    let mut out = BTreeMap::new();
    let mut names: BTreeMap<(String, String), (usize, Range<usize>)> = BTreeMap::new();
    for (
        key,
        Entry {
            file,
            value,
            key_span,
        },
    ) in &merged.repositories
    {
        let file = *file;
        let r = value.get_ref();
        let registry = reference(c, file, &r.registry, registries, "registry", "registries");
        let (name, name_span) = declared_name(key, key_span, r.name.as_ref());
        if !is_repository_name(&name) {
            c.err(
                file,
                name_span.clone(),
                format!("`{name}` is not a valid ECR repository name"),
                "invalid repository name",
                "use 2 to 256 lowercase letters, digits and . _ - / (each part between slashes starts \
                 and ends with a letter or digit, and never has two of . _ - in a row); set `name` \
                 if the key cannot be the name",
            );
        }
        let tag_mutability = match &r.tag_mutability {
            None => TagMutability::Mutable,
            Some(t) => match t.get_ref().to_ascii_lowercase().as_str() {
                "mutable" => TagMutability::Mutable,
                "immutable" => TagMutability::Immutable,
                _ => {
                    c.at(
                        file,
                        t,
                        &format!("tag_mutability `{}` is not known", t.get_ref()),
                        "expected \"mutable\" or \"immutable\"",
                        "write tag_mutability = \"immutable\" (tags never move) or \"mutable\"",
                    );
                    TagMutability::Mutable
                }
            },
        };
        let manage_policy = r.manage_policy.as_ref().is_none_or(|m| *m.get_ref());
        let mut share_with_accounts = BTreeSet::new();
        for s in r.share_with_accounts.iter().flatten() {
            if let Some(a) = accounts.get(s.get_ref()) {
                share_with_accounts.insert(a.id.clone());
            } else if is_account_id(s.get_ref()) {
                share_with_accounts.insert(s.get_ref().clone());
            } else {
                c.at(
                    file,
                    s,
                    &format!(
                        "`{}` is neither a declared account nor a 12-digit id",
                        s.get_ref()
                    ),
                    "unknown account",
                    &format!(
                        "use one of the account keys ({}) or a 12-digit id",
                        keys(accounts)
                    ),
                );
            }
        }
        if let Some(o) = &r.share_with_organization {
            check_org_id(c, file, o);
        }
        let mut share_with_org_paths = BTreeSet::new();
        for p in r.share_with_org_paths.iter().flatten() {
            if !is_org_path(p.get_ref().trim_end_matches('*')) {
                c.at(
                    file,
                    p,
                    "not an Organizations path",
                    "expected o-…/r-…/ou-…/ (optionally ending in *)",
                    "for example \"o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*\"",
                );
            }
            share_with_org_paths.insert(p.get_ref().clone());
        }
        let extra_statements = r
            .extra_statements
            .as_ref()
            .map(|s| check_extra_statements(c, file, s))
            .unwrap_or_default();
        if !manage_policy {
            let span = r.manage_policy.as_ref().map(|m| m.span()).unwrap_or(0..0);
            let shares = !share_with_accounts.is_empty()
                || r.share_with_organization.is_some()
                || !share_with_org_paths.is_empty()
                || !extra_statements.is_empty();
            if shares {
                c.err(
                    file,
                    span,
                    format!(
                        "repository `{key}` shares or adds statements but does not let ferry manage its policy"
                    ),
                    "manage_policy = false",
                    "with manage_policy = false ferry only reads the policy: remove the share_with_* \
                     and extra_statements keys, or let ferry manage the policy",
                );
            }
        }
        let tags = check_tags(c, file, r.tags.as_ref());
        if let Some(reg) = registry {
            let target = Target {
                account: reg.account.clone(),
                account_id: reg.account_id.clone(),
                region: reg.region.clone(),
            };
            let place = (reg.key.clone(), name.clone());
            let message = format!(
                "repository name `{name}` is declared twice in registry `{}`",
                reg.key
            );
            claim(
                c,
                &mut names,
                place,
                (file, name_span),
                message,
                "same name as another repository",
            );
            out.insert(
                key.clone(),
                Repository {
                    key: key.clone(),
                    name,
                    registry: reg.key.clone(),
                    target,
                    tag_mutability,
                    scan_on_push: r.scan_on_push.unwrap_or(false),
                    force_delete: r.force_delete.unwrap_or(false),
                    manage_policy,
                    share_with_accounts,
                    share_with_organization: r
                        .share_with_organization
                        .as_ref()
                        .map(|o| o.get_ref().clone()),
                    share_with_org_paths,
                    extra_statements,
                    tags,
                    replicate_to: Vec::new(),
                    replica_of: None,
                },
            );
        }
    }
    out
}

pub(super) fn check_extra_statements(
    c: &mut Checker,
    file: usize,
    s: &Spanned<String>,
) -> Vec<serde_json::Value> {
    let parsed: Result<serde_json::Value, _> = serde_json::from_str(s.get_ref());
    let statements = match parsed {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(serde_json::Value::Object(o)) => vec![serde_json::Value::Object(o)],
        Ok(_) => {
            c.at(
                file,
                s,
                "extra_statements must be a JSON list of policy statements",
                "not a list of statements",
                "write extra_statements = '''[ { \"Sid\": \"CiPush\", \"Effect\": \"Allow\", ... } ]'''",
            );
            return Vec::new();
        }
        Err(e) => {
            c.at(
                file,
                s,
                &format!(
                    "extra_statements is not valid JSON: {e} (line {} of the JSON)",
                    e.line()
                ),
                "invalid JSON",
                "write the statements as a JSON list inside a '''multi-line literal string'''",
            );
            return Vec::new();
        }
    };
    let mut seen = BTreeSet::new();
    for st in &statements {
        if !st.is_object() {
            c.at(
                file,
                s,
                "every item of extra_statements must be a JSON object (a statement)",
                "not a statement",
                "each statement is { \"Sid\": ..., \"Effect\": ..., \"Principal\": ..., \"Action\": ... }",
            );
            continue;
        }
        if let Some(sid) = st.get("Sid").and_then(|v| v.as_str()) {
            if MANAGED_SIDS.contains(&sid) {
                c.at(
                    file,
                    s,
                    &format!("extra statement Sid `{sid}` clashes with a statement ferry manages"),
                    "Sid reserved by ferry",
                    &format!(
                        "rename the statement; ferry's own Sids are {}",
                        MANAGED_SIDS.join(", ")
                    ),
                );
            }
            if !seen.insert(sid.to_string()) {
                c.at(
                    file,
                    s,
                    &format!("Sid `{sid}` appears twice in extra_statements"),
                    "duplicate Sid",
                    "give every statement its own Sid",
                );
            }
        }
    }
    statements
}
