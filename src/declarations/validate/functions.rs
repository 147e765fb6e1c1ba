//! The `[functions.*]` tables. A function with `accounts = [...]` (account keys and group
//! keys) becomes one instance per account, `function.KEY[ACCOUNT]`; `account = "KEY"` keeps the
//! address `function.KEY`. `[defaults.functions]` fills what a table leaves out, and each
//! diagnostic points at the file and line that set the value. `role`, `name`, `description`
//! and environment values may use `{account_id}`, `{account}` and `{region}`.

use super::function_values::{
    architecture, check_description, check_function_name, check_role, claim_name, environment,
    function_region, range,
};
use super::values::{check_tags, declared_name, reference};
use super::{Checker, Entry, Merged, raw};
use crate::model::{
    Account, AccountGroup, Address, Function, GroupMembers, Image, Repository, Target,
};
use serde_spanned::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

/// Where a function's name is taken, so that a second function of the same name in the same
/// account and region is reported at its declaration, pointing at the first.
pub(super) type Names = BTreeMap<(String, String, String), (usize, Range<usize>)>;

/// A value and the file it is written in: the function's own table or `[defaults.functions]`.
pub(super) type Set<'a, T> = Option<(usize, &'a Spanned<T>)>;

/// What `[defaults.functions]` gives, with its file.
pub(super) struct Defaults<'a> {
    pub(super) file: usize,
    pub(super) d: Option<&'a raw::FunctionDefaults>,
}

impl<'a> Defaults<'a> {
    pub(super) fn pick<T>(
        &self,
        file: usize,
        own: &'a Option<Spanned<T>>,
        default: impl Fn(&'a raw::FunctionDefaults) -> &'a Option<Spanned<T>>,
    ) -> Set<'a, T> {
        own.as_ref().map(|v| (file, v)).or_else(|| {
            self.d
                .and_then(|d| default(d).as_ref())
                .map(|v| (self.file, v))
        })
    }
}

pub(super) fn check_functions(
    c: &mut Checker,
    merged: &Merged,
    accounts: &BTreeMap<String, Account>,
    groups: &BTreeMap<String, AccountGroup>,
    repositories: &BTreeMap<String, Repository>,
    images: &BTreeMap<String, Image>,
    env: &dyn Fn(&str) -> Option<String>,
) -> (BTreeMap<String, Function>, BTreeMap<String, String>) {
    let defaults = match &merged.defaults {
        Some((file, d)) => Defaults {
            file: *file,
            d: d.get_ref().functions.as_ref().map(|f| f.get_ref()),
        },
        None => Defaults { file: 0, d: None },
    };
    let scope = Scope {
        accounts,
        groups,
        repositories,
        images,
        env,
        defaults,
    };
    let mut out = BTreeMap::new();
    let mut declared_by = BTreeMap::new();
    let mut names = Names::new();
    for (key, entry) in &merged.functions {
        for function in check_function(c, key, entry, &scope, &mut names) {
            declared_by.insert(function.key.clone(), key.clone());
            out.insert(function.key.clone(), function);
        }
    }
    (out, declared_by)
}

/// What every function is checked against.
struct Scope<'a> {
    accounts: &'a BTreeMap<String, Account>,
    groups: &'a BTreeMap<String, AccountGroup>,
    repositories: &'a BTreeMap<String, Repository>,
    images: &'a BTreeMap<String, Image>,
    env: &'a dyn Fn(&str) -> Option<String>,
    defaults: Defaults<'a>,
}

/// The accounts of one declaration: `(instance key, account, real)`, in declaration order. An
/// instance that is not real stands in for a group whose accounts are not discovered yet
/// (`ferry validate` never asks AWS): its values are checked, and it is no function.
fn instances<'s>(
    c: &mut Checker,
    key: &str,
    file: usize,
    f: &raw::Function,
    whole: Range<usize>,
    s: &'s Scope,
) -> Vec<(String, &'s Account, bool)> {
    match (&f.account, &f.accounts) {
        (Some(_), Some(list)) => {
            c.at(
                file,
                list,
                "a function takes either account = \"KEY\" or accounts = [...], not both",
                "second list of accounts",
                "keep `accounts` (one instance per account, function.KEY[ACCOUNT]) or `account` \
                 (one function, function.KEY)",
            );
            Vec::new()
        }
        (Some(a), None) => reference(c, file, a, s.accounts, "account", "accounts")
            .map(|a| vec![(key.to_string(), a, true)])
            .unwrap_or_default(),
        (None, Some(list)) => {
            let mut out: Vec<(String, &Account, bool)> = Vec::new();
            if list.get_ref().is_empty() {
                c.at(
                    file,
                    list,
                    "accounts = [] names no account",
                    "empty list",
                    "list account keys or account-group keys, for example accounts = [\"prod\"]",
                );
            }
            for r in list.get_ref() {
                let members = group_members(c, file, r, s);
                for (a, real) in members {
                    if !out.iter().any(|(_, o, r)| o.key == a.key && (*r || !real)) {
                        out.push((Address::instance_key(key, &a.key), a, real));
                    }
                }
            }
            // A stand-in is only there for the checks; a real instance in its account wins.
            let real: Vec<String> = out
                .iter()
                .filter(|(_, _, r)| *r)
                .map(|(_, a, _)| a.key.clone())
                .collect();
            out.retain(|(_, a, r)| *r || !real.contains(&a.key));
            out
        }
        (None, None) => {
            c.err(
                file,
                whole,
                "missing key `account`",
                "this table needs `account`",
                "add account = \"KEY\" (one account) or accounts = [\"KEY\", ...] (an instance \
                 per account or account group) to this table",
            );
            Vec::new()
        }
    }
}

/// The accounts `r` (an account key or an account-group key) stands for, each with whether it
/// is real (see [`instances`]).
fn group_members<'s>(
    c: &mut Checker,
    file: usize,
    r: &Spanned<String>,
    s: &'s Scope,
) -> Vec<(&'s Account, bool)> {
    if let Some(a) = s.accounts.get(r.get_ref()) {
        return vec![(a, true)];
    }
    if let Some(g) = s.groups.get(r.get_ref()) {
        return match &g.members {
            GroupMembers::Listed(keys) => keys
                .iter()
                .filter_map(|k| s.accounts.get(k))
                .map(|a| (a, true))
                .collect(),
            GroupMembers::OrganizationalUnit {
                discovered: Some(keys),
                ..
            } => keys
                .iter()
                .filter_map(|k| s.accounts.get(k))
                .map(|a| (a, true))
                .collect(),
            GroupMembers::OrganizationalUnit {
                discovered: None,
                organization_account,
                ..
            } => s
                .accounts
                .get(organization_account)
                .map(|a| vec![(a, false)])
                .unwrap_or_default(),
        };
    }
    let mut known: Vec<&String> = s.accounts.keys().chain(s.groups.keys()).collect();
    known.sort();
    let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    c.at(
        file,
        r,
        &format!("account or account group `{}` is not declared", r.get_ref()),
        "no such account or account group",
        &format!(
            "declare [accounts.{0}] or [account_groups.{0}], or use one of: {1}",
            r.get_ref(),
            known.join(", ")
        ),
    );
    Vec::new()
}

/// `{account_id}`, `{account}` and `{region}` replaced by the instance's.
fn fill(template: &str, account: &Account, region: &str) -> String {
    template
        .replace("{account_id}", &account.id)
        .replace("{account}", &account.key)
        .replace("{region}", region)
}

/// One `[functions.KEY]` table, into one function per account. The checks run in a fixed
/// order (it is the order of the diagnostics): references, name, role, region, architecture,
/// limits, description, environment, tags, then the name's uniqueness in its account and
/// region. Checks of templated values run for each instance.
fn check_function(
    c: &mut Checker,
    key: &str,
    Entry {
        file,
        value,
        key_span,
    }: &Entry<raw::Function>,
    s: &Scope,
    names: &mut Names,
) -> Vec<Function> {
    let file = *file;
    let f = value.get_ref();
    let d = &s.defaults;
    let many = f.accounts.is_some();
    let instances = instances(c, key, file, f, value.span(), s);
    let image = reference(c, file, &f.image, s.images, "image", "images");
    let repo = image.and_then(|i| s.repositories.get(&i.repository));
    let region = function_region(c, file, key, f.region.as_ref(), repo, s.repositories);
    let role = d.pick(file, &f.role, |d| &d.role);
    if role.is_none() {
        c.err(
            file,
            value.span(),
            "missing key `role`",
            "this table needs `role`",
            "add role = ... to this table (see CONTRACT.md for its meaning)",
        );
    }
    let (arch_file, arch) = match d.pick(file, &f.architectures, |d| &d.architectures) {
        Some((af, a)) => (af, Some(a)),
        None => (file, None),
    };
    let architecture = architecture(c, arch_file, arch);
    let (mf, m) = split(d.pick(file, &f.memory_mb, |d| &d.memory_mb), file);
    let memory_mb = range(c, mf, m, 128, 10240, 128, "memory_mb", "MB");
    let (tf, t) = split(d.pick(file, &f.timeout_s, |d| &d.timeout_s), file);
    let timeout_s = range(c, tf, t, 1, 900, 3, "timeout_s", "seconds");
    let description = d.pick(file, &f.description, |d| &d.description);
    let environment = environment(c, file, f, d, s.env);
    let mut tags =
        d.d.map(|dd| check_tags(c, d.file, dd.tags.as_ref()))
            .unwrap_or_default();
    tags.extend(check_tags(c, file, f.tags.as_ref()));
    let (Some(image), Some(region), Some((role_file, role))) = (image, region, role) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (instance, account, real) in instances {
        let (name, name_span) = declared_name(key, key_span, f.name.as_ref());
        let name = fill(&name, account, &region);
        check_function_name(c, file, &name, &name_span);
        let role_arn = fill(role.get_ref(), account, &region);
        check_role(c, role_file, &instance, role, &role_arn, account, many);
        let description = match description {
            Some((df, text)) => {
                let filled = fill(text.get_ref(), account, &region);
                check_description(c, df, text, &filled);
                filled
            }
            None => String::new(),
        };
        let environment = environment
            .iter()
            .map(|(k, (v, templated))| {
                let v = if *templated {
                    fill(v, account, &region)
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect();
        let target = Target {
            account: account.key.clone(),
            account_id: account.id.clone(),
            region: region.clone(),
        };
        if !real {
            continue;
        }
        claim_name(c, names, file, &target, &name, name_span);
        out.push(Function {
            key: instance,
            name,
            target,
            image: image.key.clone(),
            role: role_arn,
            architecture: architecture.clone(),
            memory_mb,
            timeout_s,
            description,
            environment,
            sensitive_environment: environment_sensitive(f),
            tags: tags.clone(),
        });
    }
    out
}

fn split<'a, T>(v: Set<'a, T>, file: usize) -> (usize, Option<&'a Spanned<T>>) {
    match v {
        Some((f, v)) => (f, Some(v)),
        None => (file, None),
    }
}

fn environment_sensitive(f: &raw::Function) -> BTreeSet<String> {
    f.sensitive_environment
        .iter()
        .flatten()
        .map(|k| k.get_ref().clone())
        .collect()
}
