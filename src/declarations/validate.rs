//! Cross-checks the merged declarations and builds the model. Every rule of the contract lives
//! here; each failure is a diagnostic pointing at the offending value.

use super::diagnostics::LineIndex;
use super::raw;
use super::{Diagnostic, Entry, Merged, Source};
use crate::model::{
    Account, Desired, Function, Image, ImageRef, Move, Project, Registry, Repository,
    TagMutability, Target,
};
use crate::policy::MANAGED_SIDS;
use serde_spanned::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

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

struct Checker<'a> {
    sources: &'a [Source],
    /// Line starts of each source, so that locations cost the line, not the file.
    index: Vec<LineIndex>,
    diags: Vec<Diagnostic>,
    /// Whether every sensitive value must be found (not for a destroy, which deploys nothing).
    secrets_required: bool,
}

impl Checker<'_> {
    fn err(
        &mut self,
        file: usize,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags.push(Diagnostic {
            file,
            span,
            message: message.into(),
            label: label.into(),
            hint: hint.into(),
        });
    }

    fn at<T>(&mut self, file: usize, v: &Spanned<T>, message: &str, label: &str, hint: &str) {
        self.err(file, v.span(), message, label, hint);
    }

    /// `path:line:col` of an offset in one of the sources.
    fn location(&self, file: usize, offset: usize) -> String {
        self.sources[file].location_in(&self.index[file], offset)
    }
}

pub(super) fn validate(
    merged: Merged,
    sources: &[Source],
    env: &dyn Fn(&str) -> Option<String>,
    secrets_required: bool,
) -> Result<Desired, Vec<Diagnostic>> {
    let mut c = Checker {
        sources,
        index: sources.iter().map(Source::line_index).collect(),
        diags: Vec::new(),
        secrets_required,
    };
    let Some((pfile, project)) = &merged.project else {
        c.err(
            0,
            0..0,
            "the declarations have no [project] table",
            "expected [project] with a name",
            "add\n[project]\nname = \"payments\"\nto one of the files: the name tags every managed \
             resource and names the state",
        );
        return Err(c.diags);
    };
    check_table_keys(&mut c, &merged);
    let project_model = check_project(&mut c, *pfile, project.get_ref());
    let accounts = check_accounts(&mut c, &merged, project.get_ref(), *pfile);
    // As for every AWS tool, AWS_REGION (then AWS_DEFAULT_REGION) is the last default.
    let env_region = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION"));
    let registries = check_registries(
        &mut c,
        &merged,
        &accounts,
        &project_model,
        env_region.as_deref(),
    );
    let repositories = check_repositories(&mut c, &merged, &accounts, &registries);
    let images = check_images(&mut c, &merged, &repositories);
    let functions = check_functions(&mut c, &merged, &accounts, &repositories, &images, env);
    let moves = check_moves(&mut c, &merged);
    if !c.diags.is_empty() {
        return Err(c.diags);
    }
    use crate::model::Address;
    let at = |file: usize, span: &std::ops::Range<usize>| c.location(file, span.start);
    let mut declared_at = BTreeMap::new();
    for (key, e) in &merged.registries {
        declared_at.insert(Address::Registry(key.clone()), at(e.file, &e.key_span));
    }
    for (key, e) in &merged.repositories {
        declared_at.insert(Address::Repository(key.clone()), at(e.file, &e.key_span));
        declared_at.insert(
            Address::RepositoryPolicy(key.clone()),
            at(e.file, &e.key_span),
        );
    }
    for (key, e) in &merged.images {
        declared_at.insert(Address::Image(key.clone()), at(e.file, &e.key_span));
    }
    for (key, e) in &merged.functions {
        declared_at.insert(Address::Function(key.clone()), at(e.file, &e.key_span));
    }
    let declared_in = declared_in(&merged, c.sources);
    Ok(Desired {
        project: project_model,
        accounts,
        registries,
        repositories,
        images,
        functions,
        declared_at,
        moves,
        purpose: crate::model::Purpose::Reconcile,
        declared_in,
    })
}

/// `[[moved]]` blocks: each renames a function or a repository key, once, in one step.
fn check_moves(c: &mut Checker, merged: &Merged) -> Vec<Move> {
    use crate::model::Address;
    // The blocks that parse, with their addresses; the rest get a diagnostic here.
    let mut parsed: Vec<(usize, &Spanned<raw::Moved>, Address, Address)> = Vec::new();
    for (file, m) in &merged.moved {
        let block = m.get_ref();
        let address = |c: &mut Checker, v: &Spanned<String>, key: &str| match v
            .get_ref()
            .parse::<Address>()
        {
            Ok(a @ (Address::Function(_) | Address::Repository(_))) => Some(a),
            Ok(other) => {
                c.at(
                    *file,
                    v,
                    &format!("a [[moved]] block cannot move {other}"),
                    "not a function or repository",
                    "only functions and repositories move: a repository takes its \
                     repository_policy along, and images and registries have no state to move",
                );
                None
            }
            Err(e) => {
                c.at(
                    *file,
                    v,
                    &e,
                    "not an address",
                    &format!("write {key} = \"KIND.KEY\", for example {key} = \"function.worker\""),
                );
                None
            }
        };
        let from = address(c, &block.from, "from");
        let to = address(c, &block.to, "to");
        let (Some(from), Some(to)) = (from, to) else {
            continue;
        };
        if from.kind() != to.kind() {
            c.at(
                *file,
                &block.to,
                &format!("{from} cannot move to {to}: a move keeps the kind"),
                &format!("a {}, not a {}", to.kind(), from.kind()),
                &format!(
                    "a [[moved]] block renames a key; to turn a {} into a {}, remove one and declare the other",
                    from.kind(),
                    to.kind()
                ),
            );
            continue;
        }
        if from == to {
            c.at(
                *file,
                &block.to,
                &format!("{from} is moved to itself"),
                "the same address as `from`",
                "remove this [[moved]] block, or set `to` to the new address",
            );
            continue;
        }
        parsed.push((*file, m, from, to));
    }
    let location =
        |c: &Checker, file: usize, v: &Spanned<String>| c.sources[file].location(v.span().start);
    let mut out = Vec::new();
    for (i, (file, m, from, to)) in parsed.iter().enumerate() {
        let block = m.get_ref();
        if let Some((f, other, ..)) = parsed[..i].iter().find(|p| &p.2 == from) {
            let first = location(c, *f, &other.get_ref().from);
            c.at(
                *file,
                &block.from,
                &format!("{from} is moved twice"),
                "moved again here",
                &format!("the other [[moved]] block is at {first}; an address moves to one place: keep one"),
            );
            continue;
        }
        if let Some((f, other, ..)) = parsed[..i].iter().find(|p| &p.3 == to) {
            let first = location(c, *f, &other.get_ref().to);
            c.at(
                *file,
                &block.to,
                &format!("two [[moved]] blocks move to {to}"),
                "moved into again here",
                &format!(
                    "the other is at {first}; one address can take over only one record: keep one"
                ),
            );
            continue;
        }
        // A chain (a -> b, b -> c) or a cycle (a -> b, b -> a).
        if let Some(next) = parsed.iter().position(|p| &p.2 == to) {
            let mut path = vec![from.clone(), to.clone()];
            let mut j = next;
            let cycle = loop {
                let step = &parsed[j].3;
                if step == from {
                    break true;
                }
                if path.contains(step) {
                    break false;
                }
                path.push(step.clone());
                match parsed.iter().position(|p| &p.2 == step) {
                    Some(k) => j = k,
                    None => break false,
                }
            };
            let at = location(c, parsed[next].0, &parsed[next].1.get_ref().from);
            if cycle {
                // One diagnostic per cycle, at its first block.
                let first = parsed.iter().position(|p| path.contains(&p.2)).unwrap_or(i);
                if first == i {
                    path.push(from.clone());
                    c.at(
                        *file,
                        &block.to,
                        &format!(
                            "the [[moved]] blocks form a cycle: {}",
                            path.iter()
                                .map(|a| a.to_string())
                                .collect::<Vec<_>>()
                                .join(" -> ")
                        ),
                        "moves back to where it started",
                        "a cycle moves nothing: remove these [[moved]] blocks",
                    );
                }
            } else {
                let last = path.last().cloned().unwrap_or_else(|| to.clone());
                c.at(
                    *file,
                    &block.to,
                    &format!(
                        "{from} moves to {to}, which another [[moved]] block (at {at}) moves on: a chain of moves"
                    ),
                    "moved on by another block",
                    &format!(
                        "move in one step: from = \"{from}\", to = \"{last}\", and remove the block that moves {to}"
                    ),
                );
            }
            continue;
        }
        let declared = |a: &Address| match a {
            Address::Function(k) => merged
                .functions
                .get(k)
                .map(|e| (e.file, e.key_span.clone())),
            Address::Repository(k) => merged
                .repositories
                .get(k)
                .map(|e| (e.file, e.key_span.clone())),
            _ => None,
        };
        let table = |a: &Address| match a {
            Address::Function(k) => format!("[functions.{k}]"),
            _ => format!("[repositories.{}]", a.key()),
        };
        let mut ok = true;
        if let Some((f, span)) = declared(from) {
            let place = c.sources[f].location(span.start);
            c.at(
                *file,
                &block.from,
                &format!("{from} is still declared (at {place}), so there is nothing to move"),
                "still declared",
                &format!(
                    "if {} was renamed to {}, remove the old table; otherwise remove this [[moved]] block",
                    table(from),
                    table(to)
                ),
            );
            ok = false;
        }
        if declared(to).is_none() {
            c.at(
                *file,
                &block.to,
                &format!("{to} is not declared"),
                "no such declaration",
                &format!("declare {} (the renamed table), or fix `to`", table(to)),
            );
            ok = false;
        }
        if ok {
            out.push(Move {
                from: from.clone(),
                to: to.clone(),
                declared_at: c.sources[*file].location(m.span().start),
            });
        }
    }
    out
}

/// The file that declares each address (its path as read, without a leading `./`), for state:
/// a later plan that does not read that file must not delete what it declares.
fn declared_in(merged: &Merged, sources: &[Source]) -> BTreeMap<crate::model::Address, String> {
    use crate::model::Address;
    let path = |file: usize| {
        let p = sources[file].path.display().to_string();
        p.strip_prefix("./").map(str::to_string).unwrap_or(p)
    };
    let mut out = BTreeMap::new();
    for (key, e) in &merged.repositories {
        out.insert(Address::Repository(key.clone()), path(e.file));
        out.insert(Address::RepositoryPolicy(key.clone()), path(e.file));
    }
    for (key, e) in &merged.functions {
        out.insert(Address::Function(key.clone()), path(e.file));
    }
    out
}

/// Table keys become addresses (`repository.KEY`): an empty or blank key would make an address
/// nothing can name again (`state rm repository.` is not an address).
fn check_table_keys(c: &mut Checker, merged: &Merged) {
    fn blank<T>(c: &mut Checker, table: &str, entries: &BTreeMap<String, Entry<T>>) {
        for (key, e) in entries {
            if key.trim().is_empty() {
                c.err(
                    e.file,
                    e.key_span.clone(),
                    format!("[{table}.\"{}\"] has an empty key", key.escape_default()),
                    "empty key",
                    format!(
                        "the key names the resource in plans and state (`{}.KEY`): give it a name, \
                         for example [{table}.hello]",
                        match table {
                            "accounts" => "account",
                            "registries" => "registry",
                            "repositories" => "repository",
                            "images" => "image",
                            _ => "function",
                        }
                    ),
                );
            }
        }
    }
    blank(c, "accounts", &merged.accounts);
    blank(c, "registries", &merged.registries);
    blank(c, "repositories", &merged.repositories);
    blank(c, "images", &merged.images);
    blank(c, "functions", &merged.functions);
}

fn check_project(c: &mut Checker, file: usize, p: &raw::Project) -> Project {
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
    Project {
        name: name.clone(),
        default_region: p.default_region.as_ref().map(|r| r.get_ref().clone()),
    }
}

fn check_accounts(
    c: &mut Checker,
    merged: &Merged,
    project: &raw::Project,
    project_file: usize,
) -> BTreeMap<String, Account> {
    let mut out = BTreeMap::new();
    let mut ids: BTreeMap<String, (usize, Range<usize>, String)> = BTreeMap::new();
    for (key, Entry { file, value, .. }) in &merged.accounts {
        let a = value.get_ref();
        let id = a.id.get_ref();
        if !is_account_id(id) {
            c.at(
                *file,
                &a.id,
                &format!("account id `{id}` is not 12 digits"),
                "not an AWS account id",
                "write the 12-digit account id as a quoted string, for example id = \"111111111111\"",
            );
        } else if let Some((first_file, first_span, first_key)) = ids.get(id) {
            let place = c.location(*first_file, first_span.start);
            c.at(
                *file,
                &a.id,
                &format!("accounts `{first_key}` and `{key}` have the same id {id}"),
                "duplicate account id",
                &format!(
                    "declare each account once (the other is at {place}) and refer to it by key"
                ),
            );
        } else {
            ids.insert(id.clone(), (*file, a.id.span(), key.clone()));
        }
        let role_arn = match (&a.role_arn, &project.assume_role) {
            (Some(r), _) => {
                if !is_role_arn(r.get_ref()) {
                    c.at(
                        *file,
                        r,
                        &format!("`{}` is not an IAM role ARN", r.get_ref()),
                        "not a role ARN",
                        "write arn:aws:iam::<12-digit account>:role/<name>",
                    );
                } else if let Some(other) = role_account(r.get_ref()).filter(|o| *o != id.as_str())
                {
                    c.at(
                        *file,
                        r,
                        &format!(
                            "role_arn is a role of account {other}, but account `{key}` is {id}: its \
                             credentials would act in {other}"
                        ),
                        "a role in another account",
                        &format!("use the deployer role of account {id}: arn:aws:iam::{id}:role/<name>"),
                    );
                }
                Some(r.get_ref().clone())
            }
            (None, Some(t)) => {
                let arn = t.get_ref().replace("{account_id}", id);
                if !is_role_arn(&arn) {
                    c.at(
                        project_file,
                        t,
                        &format!("assume_role gives `{arn}` for account `{key}`, not a role ARN"),
                        "not a role ARN template",
                        "write arn:aws:iam::{account_id}:role/<name>",
                    );
                } else if let Some(other) = role_account(&arn).filter(|o| *o != id.as_str()) {
                    c.at(
                        project_file,
                        t,
                        &format!(
                            "assume_role gives a role of account {other} for account `{key}` ({id}): \
                             its credentials would act in {other}"
                        ),
                        "names one account for every account",
                        "write the account as {account_id}: arn:aws:iam::{account_id}:role/<name>",
                    );
                }
                Some(arn)
            }
            (None, None) => None,
        };
        if let Some(o) = &a.organization_id {
            check_org_id(c, *file, o);
        }
        if let Some(p) = &a.org_path
            && !is_org_path(p.get_ref())
        {
            c.at(
                *file,
                p,
                "org_path must be an Organizations path such as o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/",
                "not an org path",
                "find it in the Organizations console or with `aws organizations list-parents`",
            );
        }
        out.insert(
            key.clone(),
            Account {
                key: key.clone(),
                id: id.clone(),
                profile: a.profile.as_ref().map(|p| p.get_ref().clone()),
                role_arn,
                external_id: a.external_id.as_ref().map(|p| p.get_ref().clone()),
                organization_id: a.organization_id.as_ref().map(|p| p.get_ref().clone()),
                org_path: a.org_path.as_ref().map(|p| p.get_ref().clone()),
            },
        );
    }
    out
}

fn check_registries(
    c: &mut Checker,
    merged: &Merged,
    accounts: &BTreeMap<String, Account>,
    project: &Project,
    env_region: Option<&str>,
) -> BTreeMap<String, Registry> {
    let mut out = BTreeMap::new();
    for (key, Entry { file, value, .. }) in &merged.registries {
        let r = value.get_ref();
        let account = reference(c, *file, &r.account, accounts, "account", "accounts");
        let region = match &r.region {
            Some(region) => {
                check_region(c, *file, region);
                Some(region.get_ref().clone())
            }
            None => {
                let region = project
                    .default_region
                    .clone()
                    .or_else(|| env_region.map(str::to_string));
                if region.is_none() {
                    c.err(
                        *file,
                        value.span(),
                        format!("registry `{key}` has no region"),
                        "no region here, no default_region in [project], and AWS_REGION is not set",
                        "add region = \"us-east-1\" (the region of the ECR registry) here, or \
                         default_region to [project]",
                    );
                }
                region
            }
        };
        if let (Some(account), Some(region)) = (account, region) {
            // An account has one ECR registry per region: two keys for it would let the same
            // repository name be declared twice, and its policy be written by two declarations.
            if let Some(first) = out
                .values()
                .find(|g: &&Registry| g.account == account.key && g.region == region)
            {
                let (first_file, first_span) = merged
                    .registries
                    .get(&first.key)
                    .map(|e| (e.file, e.value.span()))
                    .expect("declared");
                let place = c.location(first_file, first_span.start);
                c.err(
                    *file,
                    r.account.span(),
                    format!(
                        "registries `{}` and `{key}` are the same ECR registry (account {}, region {region})",
                        first.key, account.id
                    ),
                    "the same account and region as another registry",
                    format!("declare the registry once (the other is at {place}) and refer to it by key"),
                );
            }
            out.insert(
                key.clone(),
                Registry {
                    key: key.clone(),
                    account: account.key.clone(),
                    account_id: account.id.clone(),
                    region,
                },
            );
        }
    }
    out
}

fn check_repositories(
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
            if let Some((first_file, first_span)) = names.get(&place) {
                let first = c.location(*first_file, first_span.start);
                c.err(
                    file,
                    name_span.clone(),
                    format!(
                        "repository name `{name}` is declared twice in registry `{}`",
                        reg.key
                    ),
                    "same name as another repository",
                    format!("the other is at {first}; give one of them another `name`"),
                );
            }
            names.insert(place, (file, name_span));
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
                },
            );
        }
    }
    out
}

fn check_extra_statements(
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

fn check_images(
    c: &mut Checker,
    merged: &Merged,
    repositories: &BTreeMap<String, Repository>,
) -> BTreeMap<String, Image> {
    let mut out = BTreeMap::new();
    for (key, Entry { file, value, .. }) in &merged.images {
        let file = *file;
        let i = value.get_ref();
        let repo = reference(
            c,
            file,
            &i.repository,
            repositories,
            "repository",
            "repositories",
        );
        let reference = match (&i.tag, &i.digest) {
            (Some(t), None) => {
                if !is_image_tag(t.get_ref()) {
                    c.at(
                        file,
                        t,
                        &format!("`{}` is not a valid image tag", t.get_ref()),
                        "invalid tag",
                        "tags are 1 to 128 letters, digits, _ . - and start with a letter, digit or _",
                    );
                }
                Some(ImageRef::Tag(t.get_ref().clone()))
            }
            (None, Some(d)) => {
                if !is_digest(d.get_ref()) {
                    c.at(
                        file,
                        d,
                        &format!("`{}` is not an image digest", d.get_ref()),
                        "expected sha256:<64 lowercase hex digits>",
                        "copy the digest from `docker push` or `aws ecr describe-images`",
                    );
                }
                Some(ImageRef::Digest(d.get_ref().clone()))
            }
            (Some(_), Some(d)) => {
                c.at(
                    file,
                    d,
                    &format!("image `{key}` sets both tag and digest"),
                    "tag and digest together",
                    "keep exactly one: a tag (resolved to its digest at plan time) or a digest",
                );
                None
            }
            (None, None) => {
                c.err(
                    file,
                    value.span(),
                    format!("image `{key}` sets neither tag nor digest"),
                    "no tag or digest",
                    "add tag = \"...\" or digest = \"sha256:...\"",
                );
                None
            }
        };
        if let (Some(repo), Some(reference)) = (repo, reference) {
            out.insert(
                key.clone(),
                Image {
                    key: key.clone(),
                    repository: repo.key.clone(),
                    reference,
                },
            );
        }
    }
    out
}

fn check_functions(
    c: &mut Checker,
    merged: &Merged,
    accounts: &BTreeMap<String, Account>,
    repositories: &BTreeMap<String, Repository>,
    images: &BTreeMap<String, Image>,
    env: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, Function> {
    let mut out = BTreeMap::new();
    let mut names: BTreeMap<(String, String, String), (usize, Range<usize>)> = BTreeMap::new();
    for (
        key,
        Entry {
            file,
            value,
            key_span,
        },
    ) in &merged.functions
    {
        let file = *file;
        let f = value.get_ref();
        let account = reference(c, file, &f.account, accounts, "account", "accounts");
        let image = reference(c, file, &f.image, images, "image", "images");
        let (name, name_span) = declared_name(key, key_span, f.name.as_ref());
        if !is_function_name(&name) {
            c.err(
                file,
                name_span.clone(),
                format!("`{name}` is not a valid Lambda function name"),
                "invalid function name",
                "use 1 to 64 letters, digits, - or _; set `name` if the key cannot be the name",
            );
        }
        let role = f.role.get_ref();
        if !is_role_arn(role) {
            c.at(
                file,
                &f.role,
                &format!("`{role}` is not an IAM role ARN"),
                "not a role ARN",
                "the execution role is arn:aws:iam::<function's account>:role/<name>",
            );
        } else if let Some(a) = account
            && role_account(role) != Some(a.id.as_str())
        {
            c.at(
                file,
                &f.role,
                &format!(
                    "the execution role is in account {}, but function `{key}` runs in account {} (`{}`)",
                    role_account(role).unwrap_or("?"),
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
        let repo = image.and_then(|i| repositories.get(&i.repository));
        let region = match (&f.region, repo) {
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
        };
        let architecture = match &f.architectures {
            None => "x86_64".to_string(),
            Some(list) => {
                let items = list.get_ref();
                match items.as_slice() {
                    [one] if one.get_ref() == "x86_64" || one.get_ref() == "arm64" => {
                        one.get_ref().clone()
                    }
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
        };
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
        let description = f
            .description
            .as_ref()
            .map(|d| d.get_ref().clone())
            .unwrap_or_default();
        if let Some(d) = &f.description
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
        let tags = check_tags(c, file, f.tags.as_ref());
        if let (Some(account), Some(image), Some(region)) = (account, image, region) {
            let target = Target {
                account: account.key.clone(),
                account_id: account.id.clone(),
                region,
            };
            let place = (
                target.account_id.clone(),
                target.region.clone(),
                name.clone(),
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
            out.insert(
                key.clone(),
                Function {
                    key: key.clone(),
                    name,
                    target,
                    image: image.key.clone(),
                    role: role.clone(),
                    architecture,
                    memory_mb,
                    timeout_s,
                    description,
                    environment,
                    sensitive_environment,
                    tags,
                },
            );
        }
    }
    out
}

/// The AWS name of a resource: `name` when set, else its key (with the span to point at).
fn declared_name(
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
fn reference<'m, T>(
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

#[allow(clippy::too_many_arguments)]
fn range(
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

fn check_tags(
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

fn check_env_key(c: &mut Checker, file: usize, k: &Spanned<String>) {
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

fn check_region(c: &mut Checker, file: usize, r: &Spanned<String>) {
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

fn check_org_id(c: &mut Checker, file: usize, o: &Spanned<String>) {
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

fn keys<T>(table: &BTreeMap<String, T>) -> String {
    table
        .keys()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_role_arn(s: &str) -> bool {
    role_account(s).is_some()
}

/// The account of `arn:aws:iam::<account>:role/<path/name>`.
fn role_account(s: &str) -> Option<&str> {
    let rest = s
        .strip_prefix("arn:aws:iam::")
        .or_else(|| s.strip_prefix("arn:aws-cn:iam::"))
        .or_else(|| s.strip_prefix("arn:aws-us-gov:iam::"))?;
    let (account, role) = rest.split_once(":role/")?;
    (is_account_id(account) && !role.is_empty() && !role.ends_with('/')).then_some(account)
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1]
            .parse::<u8>()
            .is_ok_and(|n| n > 0 && n < 20)
}

fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

fn is_org_path(s: &str) -> bool {
    s.starts_with("o-")
        && s.contains('/')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'/')
}

/// ECR's grammar: `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`, 2 to 256
/// characters. Each part between slashes is runs of lowercase letters and digits joined by
/// single separators: `a--b`, `a..b` and `a._b` are refused by ECR.
pub(crate) fn is_repository_name(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (2..=256).contains(&s.len())
        && s.split('/').all(|part| {
            part.split(['.', '_', '-'])
                .all(|run| !run.is_empty() && run.bytes().all(alnum))
        })
}

fn is_function_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_image_tag(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && (s.as_bytes()[0].is_ascii_alphanumeric() || s.as_bytes()[0] == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::is_repository_name;

    #[test]
    fn repository_names_follow_ecrs_grammar() {
        for ok in [
            "ab",
            "hello",
            "team/hello-world",
            "a.b_c-d",
            "a/b/c",
            "0x",
            &"a".repeat(256),
        ] {
            assert!(is_repository_name(ok), "{ok} is valid");
        }
        for bad in [
            "a",
            "a--b",
            "a..b",
            "a._b",
            "a_-b",
            "-ab",
            "ab-",
            "a//b",
            "/ab",
            "ab/",
            "Hello",
            "a b",
            "",
            &"a".repeat(257),
        ] {
            assert!(!is_repository_name(bad), "{bad} is refused");
        }
    }
}
