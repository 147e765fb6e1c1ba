//! Stage: declarations. Reads one `.toml` file or a directory of them, merges them, enforces
//! every rule of the contract, and produces the [`Desired`] model.
//!
//! May read files (and, for `sensitive_environment` values not written in the file, ferry's own
//! process environment); never calls AWS. Every problem is a [`Diagnostic`] with file, line,
//! column, the offending snippet and a hint; all problems are collected before returning.

mod diagnostics;
mod profiles;
mod raw;
mod validate;

pub use diagnostics::{Diagnostic, Diagnostics, Source};
pub use profiles::check_profiles;

use crate::model::Desired;
use serde_spanned::Spanned;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Failure to load declarations: either they could not be read at all, or they were read and
/// are wrong (with diagnostics pointing into them).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "cannot read declarations at {path} (run ferry where ferry.toml is, or point -c at a file or directory of *.toml)"
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no *.toml files")]
    EmptyDirectory { path: PathBuf },
    #[error(transparent)]
    Invalid(#[from] Diagnostics),
}

/// The loaded declarations: the model plus the sources, kept for later diagnostics and for the
/// digest that saved plans carry.
#[derive(Clone, Debug)]
pub struct Declarations {
    pub desired: Desired,
    pub sources: Vec<Source>,
}

/// An entry of a merged table: which file it came from and where its key is.
pub(crate) struct Entry<T> {
    pub file: usize,
    pub key_span: Range<usize>,
    pub value: Spanned<T>,
}

/// All files merged: each key once, or a diagnostic naming both places.
#[derive(Default)]
pub(crate) struct Merged {
    pub project: Option<(usize, Spanned<raw::Project>)>,
    pub accounts: BTreeMap<String, Entry<raw::Account>>,
    pub registries: BTreeMap<String, Entry<raw::Registry>>,
    pub repositories: BTreeMap<String, Entry<raw::Repository>>,
    pub images: BTreeMap<String, Entry<raw::Image>>,
    pub functions: BTreeMap<String, Entry<raw::Function>>,
}

/// Loads a declarations path: one file, or every `*.toml` in a directory (sorted by name).
pub fn load(path: &Path) -> Result<Declarations, LoadError> {
    load_with(path, true)
}

/// Loads declarations for `ferry destroy`: it deploys nothing, so a sensitive value missing
/// from the environment is not an error (the CI job tearing down may not have the secrets).
pub fn load_for_destroy(path: &Path) -> Result<Declarations, LoadError> {
    load_with(path, false)
}

fn load_with(path: &Path, secrets_required: bool) -> Result<Declarations, LoadError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| LoadError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut sources = Vec::new();
    if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|source| LoadError::Read {
                path: path.to_path_buf(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(LoadError::EmptyDirectory {
                path: path.to_path_buf(),
            });
        }
        for f in files {
            let text = read(&f)?;
            sources.push(Source {
                path: f,
                text: Arc::new(text),
            });
        }
    } else {
        let text = read(path)?;
        sources.push(Source {
            path: path.to_path_buf(),
            text: Arc::new(text),
        });
    }
    let env = |k: &str| std::env::var(k).ok();
    let desired = parse(&sources, &env, secrets_required)?;
    Ok(Declarations { desired, sources })
}

/// Parses, merges and validates sources already in memory. `env` supplies values of
/// `sensitive_environment` keys that the declarations do not set.
pub fn parse_sources(
    sources: &[Source],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Desired, Diagnostics> {
    parse(sources, env, true)
}

fn parse(
    sources: &[Source],
    env: &dyn Fn(&str) -> Option<String>,
    secrets_required: bool,
) -> Result<Desired, Diagnostics> {
    let mut diags = Vec::new();
    let mut merged = Merged::default();
    for (file, source) in sources.iter().enumerate() {
        match toml::from_str::<raw::File>(&source.text) {
            Ok(parsed) => merge(&mut merged, file, parsed, sources, &mut diags),
            Err(e) => diags.push(toml_error(file, &source.text, &e)),
        }
    }
    if !diags.is_empty() {
        return Err(Diagnostics {
            sources: sources.to_vec(),
            items: diags,
        });
    }
    validate::validate(merged, sources, env, secrets_required).map_err(|mut items| {
        items.sort_by_key(|d| (d.file, d.span.start));
        Diagnostics {
            sources: sources.to_vec(),
            items,
        }
    })
}

fn toml_error(file: usize, text: &str, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    // serde says "field"; the contract and TOML say "key".
    let message = e
        .message()
        .trim()
        .replacen("unknown field", "unknown key", 1)
        .replacen("missing field", "missing key", 1);
    let (label, hint) = if message.starts_with("unknown key") {
        (
            "unknown key".to_string(),
            "remove the key or fix its spelling: the keys this table accepts are listed above"
                .to_string(),
        )
    } else if let Some(rest) = message.strip_prefix("missing key ") {
        (
            format!("this table needs {rest}"),
            format!(
                "add {} = ... to this table (see CONTRACT.md for its meaning)",
                rest.trim_matches('`')
            ),
        )
    } else if message.starts_with("invalid type") {
        (
            "wrong type".to_string(),
            "write the value with the type the key expects (a quoted string, a number, \
             true/false, or a [list])"
                .to_string(),
        )
    } else if message.contains("duplicate key") {
        (
            "defined again here".to_string(),
            "each key may be defined once; remove or rename one of them".to_string(),
        )
    } else {
        (
            "here".to_string(),
            "this is not valid TOML; see https://toml.io for the syntax".to_string(),
        )
    };
    let end = span.end.min(text.len());
    Diagnostic {
        file,
        span: span.start.min(end)..end,
        message,
        label,
        hint,
    }
}

fn merge(
    merged: &mut Merged,
    file: usize,
    parsed: raw::File,
    sources: &[Source],
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(project) = parsed.project {
        match &merged.project {
            Some((first_file, first)) => diags.push(Diagnostic {
                file,
                span: project.span(),
                message: "[project] is defined twice".to_string(),
                label: "defined again here".to_string(),
                hint: format!(
                    "keep one [project] table; the first is at {}",
                    sources[*first_file].location(first.span().start)
                ),
            }),
            None => merged.project = Some((file, project)),
        }
    }
    merge_table(
        &mut merged.accounts,
        "accounts",
        file,
        parsed.accounts,
        sources,
        diags,
    );
    merge_table(
        &mut merged.registries,
        "registries",
        file,
        parsed.registries,
        sources,
        diags,
    );
    merge_table(
        &mut merged.repositories,
        "repositories",
        file,
        parsed.repositories,
        sources,
        diags,
    );
    merge_table(
        &mut merged.images,
        "images",
        file,
        parsed.images,
        sources,
        diags,
    );
    merge_table(
        &mut merged.functions,
        "functions",
        file,
        parsed.functions,
        sources,
        diags,
    );
}

fn merge_table<T>(
    into: &mut BTreeMap<String, Entry<T>>,
    table: &str,
    file: usize,
    entries: raw::Table<T>,
    sources: &[Source],
    diags: &mut Vec<Diagnostic>,
) {
    for (key, value) in entries {
        let key_span = key.span();
        let key = key.into_inner();
        if let Some(first) = into.get(&key) {
            diags.push(Diagnostic {
                file,
                span: key_span,
                message: format!("[{table}.{key}] is defined in two places"),
                label: "defined again here".to_string(),
                hint: format!(
                    "it is first defined at {}; keep one of the two or give this one another key",
                    sources[first.file].location(first.key_span.start)
                ),
            });
            continue;
        }
        into.insert(
            key,
            Entry {
                file,
                key_span,
                value,
            },
        );
    }
}
