//! The `[account_groups.*]` tables: accounts listed by key, or an organizational unit whose
//! ACTIVE accounts are discovered at plan time.

use super::raw;
use super::values::*;
use super::{Checker, Entry, Merged};
use crate::model::{Account, AccountGroup, Discovery, GroupMembers};
use std::collections::{BTreeMap, BTreeSet};

/// The groups, and with `discovery` (what the session read from AWS Organizations) the
/// accounts found beneath each OU: added to `accounts` under their id when not declared,
/// reached through the project's `assume_role`.
pub(super) fn check_account_groups(
    c: &mut Checker,
    merged: &Merged,
    accounts: &mut BTreeMap<String, Account>,
    project: &raw::Project,
    discovery: Option<&Discovery>,
) -> BTreeMap<String, AccountGroup> {
    let groups = check_groups(c, merged, accounts, project);
    match (discovery, &project.assume_role) {
        (Some(found), Some(template)) => discover(groups, accounts, found, template.get_ref()),
        _ => groups,
    }
}

fn check_groups(
    c: &mut Checker,
    merged: &Merged,
    accounts: &BTreeMap<String, Account>,
    project: &raw::Project,
) -> BTreeMap<String, AccountGroup> {
    let mut out = BTreeMap::new();
    for (
        key,
        Entry {
            file,
            value,
            key_span,
        },
    ) in &merged.account_groups
    {
        let file = *file;
        let g = value.get_ref();
        if accounts.contains_key(key) {
            c.err(
                file,
                key_span.clone(),
                format!("`{key}` is both an account and an account group"),
                "same key as an account",
                "`accounts = [...]` takes account keys and group keys alike: give the group \
                 another key",
            );
        }
        let members = match (&g.accounts, &g.organizational_unit) {
            (Some(list), None) => {
                if g.organization_account.is_some() || g.exclude.is_some() {
                    let at = g.organization_account.as_ref().map(|s| s.span());
                    let at =
                        at.or_else(|| g.exclude.as_ref().and_then(|e| e.first()).map(|s| s.span()));
                    c.err(
                        file,
                        at.unwrap_or(key_span.clone()),
                        "organization_account and exclude belong to a group discovered from an \
                         organizational_unit",
                        "not with accounts = [...]",
                        "list the accounts you want in `accounts`, or discover them with \
                         organizational_unit = \"ou-...\" and organization_account = \"KEY\"",
                    );
                }
                let mut keys = Vec::new();
                for a in list {
                    if reference(c, file, a, accounts, "account", "accounts").is_some()
                        && !keys.contains(a.get_ref())
                    {
                        keys.push(a.get_ref().clone());
                    }
                }
                GroupMembers::Listed(keys)
            }
            (None, Some(ou)) => {
                if !is_ou_id(ou.get_ref()) {
                    c.at(
                        file,
                        ou,
                        &format!("`{}` is not an organizational unit id", ou.get_ref()),
                        "not an OU id",
                        "an OU id looks like ou-ab12-11111111 (or r-ab12 for the root); \
                         `aws organizations list-organizational-units-for-parent` lists them",
                    );
                }
                let org_account = match &g.organization_account {
                    Some(o) => reference(c, file, o, accounts, "account", "accounts")
                        .map(|a| a.key.clone()),
                    None => {
                        c.err(
                            file,
                            key_span.clone(),
                            format!(
                                "account group `{key}` discovers its accounts but names no \
                                 organization_account"
                            ),
                            "needs organization_account",
                            "add organization_account = \"KEY\": the declared account whose \
                             credentials may read AWS Organizations (the management account or \
                             a delegated administrator)",
                        );
                        None
                    }
                };
                if project.assume_role.is_none() {
                    c.at(
                        file,
                        ou,
                        &format!(
                            "account group `{key}` discovers its accounts, but [project] has no \
                             assume_role to reach them with"
                        ),
                        "discovered accounts need a role to assume",
                        "add assume_role = \"arn:aws:iam::{account_id}:role/NAME\" to [project]: a \
                         role of that name in every account beneath the OU",
                    );
                }
                let mut exclude = BTreeSet::new();
                for e in g.exclude.iter().flatten() {
                    match accounts.get(e.get_ref()) {
                        Some(a) => {
                            exclude.insert(a.id.clone());
                        }
                        None if super::grammar::is_account_id(e.get_ref()) => {
                            exclude.insert(e.get_ref().clone());
                        }
                        None => c.at(
                            file,
                            e,
                            &format!(
                                "`{}` is neither an account key nor an account id",
                                e.get_ref()
                            ),
                            "not an account",
                            "exclude takes declared account keys or 12-digit account ids",
                        ),
                    }
                }
                GroupMembers::OrganizationalUnit {
                    organizational_unit: ou.get_ref().clone(),
                    organization_account: org_account.unwrap_or_default(),
                    exclude,
                    discovered: None,
                }
            }
            (Some(_), Some(ou)) => {
                c.at(
                    file,
                    ou,
                    "an account group takes either accounts = [...] or organizational_unit, not both",
                    "second source of accounts",
                    "keep one: list the accounts, or discover them beneath the OU",
                );
                continue;
            }
            (None, None) => {
                c.err(
                    file,
                    key_span.clone(),
                    format!("account group `{key}` has no accounts"),
                    "no accounts and no organizational_unit",
                    "add accounts = [\"KEY\", ...], or organizational_unit = \"ou-...\" with \
                     organization_account = \"KEY\"",
                );
                continue;
            }
        };
        out.insert(
            key.clone(),
            AccountGroup {
                key: key.clone(),
                members,
            },
        );
    }
    out
}

/// The groups with what was discovered beneath their OUs, and `accounts` with every account
/// found (or departed) that is not declared, keyed by its id.
fn discover(
    mut groups: BTreeMap<String, AccountGroup>,
    accounts: &mut BTreeMap<String, Account>,
    found: &Discovery,
    template: &str,
) -> BTreeMap<String, AccountGroup> {
    let by_id: BTreeMap<String, String> = accounts
        .values()
        .map(|a| (a.id.clone(), a.key.clone()))
        .collect();
    let add = |id: &String, accounts: &mut BTreeMap<String, Account>| -> String {
        if let Some(key) = by_id.get(id) {
            return key.clone();
        }
        accounts.entry(id.clone()).or_insert_with(|| Account {
            key: id.clone(),
            id: id.clone(),
            profile: None,
            role_arn: Some(template.replace("{account_id}", id)),
            external_id: None,
            organization_id: None,
            org_path: None,
        });
        id.clone()
    };
    for (key, group) in groups.iter_mut() {
        if let GroupMembers::OrganizationalUnit {
            exclude,
            discovered,
            ..
        } = &mut group.members
        {
            let ids = found.groups.get(key).map(Vec::as_slice).unwrap_or_default();
            let keys = ids
                .iter()
                .filter(|id| !exclude.contains(*id))
                .map(|id| add(id, accounts))
                .collect();
            *discovered = Some(keys);
        }
    }
    for id in &found.departed {
        add(id, accounts);
    }
    groups
}

/// `ou-` then 4 to 32 lowercase letters or digits, `-`, 8 to 32 more; or a root `r-...`.
fn is_ou_id(s: &str) -> bool {
    let alnum = |p: &str, min: usize| {
        p.len() >= min
            && p.len() <= 32
            && p.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
    };
    if let Some(root) = s.strip_prefix("r-") {
        return alnum(root, 4);
    }
    match s.strip_prefix("ou-").and_then(|r| r.split_once('-')) {
        Some((a, b)) => alnum(a, 4) && alnum(b, 8),
        None => false,
    }
}
