//! Cross-checks the merged declarations and builds the model. Every rule of the contract lives
//! here; each failure is a diagnostic pointing at the offending value.
//!
//! One file per table (`project`, `accounts`, `registries`, `repositories`, `images`,
//! `functions`, `moves` for `[[moved]]`, `keys` for table keys); `values` holds the checks
//! several tables share and `grammar` AWS's name and id grammars. The tables are checked in
//! the order below, which is the order of the diagnostics.

mod accounts;
mod function_values;
mod functions;
mod grammar;
mod groups;
mod images;
mod keys;
mod moves;
mod project;
mod registries;
mod replication;
mod repositories;
mod values;

use super::diagnostics::LineIndex;
use super::raw;
use super::{Diagnostic, Entry, Merged, Source};
use crate::model::Desired;
use accounts::check_accounts;
use functions::check_functions;
use groups::check_account_groups;
use images::check_images;
use keys::check_table_keys;
use moves::check_moves;
use project::check_project;
use registries::check_registries;
use repositories::check_repositories;
use serde_spanned::Spanned;
use std::collections::BTreeMap;
use std::ops::Range;

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
    discovery: Option<&crate::model::Discovery>,
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
    let mut project_model = check_project(&mut c, *pfile, project.get_ref());
    let mut accounts = check_accounts(&mut c, &merged, project.get_ref(), *pfile);
    project_model.state = project::check_state(&mut c, *pfile, project.get_ref(), &accounts);
    let account_groups =
        check_account_groups(&mut c, &merged, &mut accounts, project.get_ref(), discovery);
    // As for every AWS tool, AWS_REGION (then AWS_DEFAULT_REGION) is the last default.
    let env_region = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION"));
    let registries = check_registries(
        &mut c,
        &merged,
        &accounts,
        &project_model,
        env_region.as_deref(),
    );
    let mut repositories = check_repositories(&mut c, &merged, &accounts, &registries);
    replication::check_replication(&mut c, &merged, &registries, &mut repositories);
    let images = check_images(&mut c, &merged, &repositories);
    let (functions, declared_by) = check_functions(
        &mut c,
        &merged,
        &accounts,
        &account_groups,
        &repositories,
        &images,
        env,
    );
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
    for r in repositories.values() {
        if let Some(e) = r
            .replica_of
            .as_ref()
            .and_then(|s| merged.repositories.get(s))
        {
            declared_at.insert(Address::Repository(r.key.clone()), at(e.file, &e.key_span));
            declared_at.insert(
                Address::RepositoryPolicy(r.key.clone()),
                at(e.file, &e.key_span),
            );
        }
    }
    for (key, e) in &merged.images {
        declared_at.insert(Address::Image(key.clone()), at(e.file, &e.key_span));
    }
    for (instance, key) in &declared_by {
        let e = &merged.functions[key];
        declared_at.insert(Address::Function(instance.clone()), at(e.file, &e.key_span));
    }
    let mut declared_in = declared_in(&merged, &declared_by, c.sources);
    for r in repositories.values() {
        let source = r
            .replica_of
            .as_ref()
            .map(|s| Address::Repository(s.clone()));
        let Some(file) = source.and_then(|s| declared_in.get(&s).cloned()) else {
            continue;
        };
        declared_in.insert(Address::Repository(r.key.clone()), file.clone());
        declared_in.insert(Address::RepositoryPolicy(r.key.clone()), file.clone());
        // The registry-wide documents a replica needs: the file of (the first) source that
        // replicates there, so that a plan that did not read it never deletes them.
        if let Some(s) = r.replica_of.as_ref().and_then(|s| repositories.get(s)) {
            let documents = [
                Address::Replication(s.registry.clone()),
                Address::RegistryPolicy(r.registry.clone()),
            ];
            for a in documents {
                declared_in.entry(a).or_insert_with(|| file.clone());
            }
        }
    }
    Ok(Desired {
        project: project_model,
        accounts,
        account_groups,
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

/// The file that declares each address (its path as read, without a leading `./`), for state:
/// a later plan that does not read that file must not delete what it declares.
fn declared_in(
    merged: &Merged,
    declared_by: &BTreeMap<String, String>,
    sources: &[Source],
) -> BTreeMap<crate::model::Address, String> {
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
    for (instance, key) in declared_by {
        out.insert(
            Address::Function(instance.clone()),
            path(merged.functions[key].file),
        );
    }
    out
}
