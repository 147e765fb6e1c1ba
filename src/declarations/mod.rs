//! Stage: declarations. Reads one `.toml` file or a directory of them, merges them, enforces
//! every rule of the contract, and produces the [`Desired`] model.
//!
//! May read files (and, for `sensitive_environment` values not written in the file, ferry's own
//! process environment); never calls AWS. Every problem is a [`Diagnostic`] with file, line,
//! column, the offending snippet and a hint; all problems are collected before returning.

mod diagnostics;
pub mod format;
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
        "cannot read declarations at {path} (point -c at a .toml file or a directory of them, or run ferry without -c where they are)"
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no *.toml files")]
    EmptyDirectory { path: PathBuf },
    #[error(
        "the current directory holds no *.toml files: run ferry where the declarations are, or name them with -c FILE or -c DIR"
    )]
    NoDeclarationsHere,
    #[error(
        "{path} is not a ferry declarations file (its tables: {tables}), and without -c ferry reads every *.toml \
         of the current directory; move it out of the way, or name the declarations with -c FILE (or -c DIR)"
    )]
    Foreign { path: PathBuf, tables: String },
    #[error("{path} {why}; fix or remove it (ferry reads every *.toml of the directory)")]
    NotAFile { path: PathBuf, why: String },
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
    pub account_groups: BTreeMap<String, Entry<raw::AccountGroup>>,
    /// `[defaults]`, with the file it is in (one per project, like `[project]`).
    pub defaults: Option<(usize, Spanned<raw::Defaults>)>,
    pub registries: BTreeMap<String, Entry<raw::Registry>>,
    pub repositories: BTreeMap<String, Entry<raw::Repository>>,
    pub images: BTreeMap<String, Entry<raw::Image>>,
    pub functions: BTreeMap<String, Entry<raw::Function>>,
    /// `[[moved]]` blocks of every file, with the file each is in.
    pub moved: Vec<(usize, Spanned<raw::Moved>)>,
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

/// Loads the declarations when no `-c` is given: every `*.toml` of the current directory, as
/// Terraform reads its working directory. A `*.toml` there that holds none of ferry's tables
/// (a `Cargo.toml`, a `pyproject.toml`) is an error naming it, never silently part of the project.
pub fn load_current_dir(secrets_required: bool) -> Result<Declarations, LoadError> {
    let here = Path::new(".");
    let files = toml_files(here).map_err(|e| match e {
        LoadError::EmptyDirectory { .. } => LoadError::NoDeclarationsHere,
        other => other,
    })?;
    let mut sources = Vec::new();
    for f in files {
        let source = read_source(&f)?;
        if let Some(tables) = foreign_tables(&source.text) {
            return Err(LoadError::Foreign {
                path: f,
                tables: tables.join(", "),
            });
        }
        sources.push(source);
    }
    finish(sources, secrets_required)
}

fn load_with(path: &Path, secrets_required: bool) -> Result<Declarations, LoadError> {
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut sources = Vec::new();
    if meta.is_dir() {
        for f in toml_files(path)? {
            sources.push(read_source(&f)?);
        }
    } else {
        sources.push(read_source(path)?);
    }
    finish(sources, secrets_required)
}

fn finish(sources: Vec<Source>, secrets_required: bool) -> Result<Declarations, LoadError> {
    let env = |k: &str| std::env::var(k).ok();
    let desired = parse(&sources, &env, secrets_required, None)?;
    Ok(Declarations { desired, sources })
}

/// The same declarations validated again with what AWS Organizations answered: the groups
/// discovered from an OU expand into their accounts (see [`crate::model::Discovery`]).
pub fn with_discovery(
    decls: &Declarations,
    discovery: &crate::model::Discovery,
    secrets_required: bool,
) -> Result<Declarations, LoadError> {
    let env = |k: &str| std::env::var(k).ok();
    let desired = parse(&decls.sources, &env, secrets_required, Some(discovery))?;
    Ok(Declarations {
        desired,
        sources: decls.sources.clone(),
    })
}

/// The `*.toml` files of a directory, sorted. A `*.toml` entry that is not a readable regular
/// file (a dangling or looping symlink, a directory) is an error naming it: skipping it would
/// make the plan delete everything it used to declare.
pub fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let read_error = |source| LoadError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name();
        if Path::new(&name).extension().is_none_or(|e| e != "toml") {
            continue;
        }
        // `./ferry.toml` reads better as `ferry.toml`, in messages and in state.
        let path = if dir == Path::new(".") {
            PathBuf::from(&name)
        } else {
            dir.join(&name)
        };
        let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => files.push(path),
            Ok(_) => {
                return Err(LoadError::NotAFile {
                    why: if is_link {
                        "is a symlink to something that is not a file".to_string()
                    } else {
                        "is not a file".to_string()
                    },
                    path,
                });
            }
            Err(e) => {
                let why = if !is_link {
                    format!("cannot be read: {e}")
                } else if e.kind() == std::io::ErrorKind::NotFound {
                    match std::fs::read_link(&path) {
                        Ok(to) => format!("is a symlink to {}, which does not exist", to.display()),
                        Err(_) => "is a symlink whose target does not exist".to_string(),
                    }
                } else if e.raw_os_error() == Some(LOOP_ERRNO) {
                    "is a symlink that loops (too many levels of symbolic links)".to_string()
                } else {
                    format!("is a symlink that cannot be followed: {e}")
                };
                return Err(LoadError::NotAFile { path, why });
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(LoadError::EmptyDirectory {
            path: dir.to_path_buf(),
        });
    }
    Ok(files)
}

/// ELOOP on Linux and the BSDs alike is not portable as a number; both are named here.
#[cfg(target_os = "linux")]
const LOOP_ERRNO: i32 = 40;
#[cfg(not(target_os = "linux"))]
const LOOP_ERRNO: i32 = 62;

fn read_source(path: &Path) -> Result<Source, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(source_from_bytes(path.to_path_buf(), bytes)?)
}

/// A declarations file from its bytes: text, or a diagnostic at the first byte that is not
/// UTF-8 (line and column of the valid text before it).
pub fn source_from_bytes(path: PathBuf, bytes: Vec<u8>) -> Result<Source, Diagnostics> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source {
            path,
            text: Arc::new(text),
        }),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bad = e.as_bytes()[at];
            // The valid prefix is kept as it is, so the position shown is the true one; each bad
            // byte becomes U+FFFD (3 bytes) in the text shown.
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let source = Source {
                path,
                text: Arc::new(text),
            };
            Err(Diagnostics {
                sources: vec![source],
                items: vec![Diagnostic {
                    file: 0,
                    span: at..at + '\u{FFFD}'.len_utf8(),
                    message: format!("the file is not UTF-8: byte 0x{bad:02x} at offset {at}"),
                    label: "not UTF-8".to_string(),
                    hint: "TOML files are UTF-8: save the file as UTF-8 (for example \
                           `iconv -f latin1 -t utf-8`)"
                        .to_string(),
                }],
            })
        }
    }
}

/// The top-level tables of a TOML text that holds none of ferry's, or `None` when it is
/// ferry's (or not TOML at all: then the parse reports it with a position).
fn foreign_tables(text: &str) -> Option<Vec<String>> {
    const FERRY: &[&str] = &[
        "project",
        "accounts",
        "account_groups",
        "defaults",
        "registries",
        "repositories",
        "images",
        "functions",
        "moved",
    ];
    let table: toml::Table = toml::from_str(text).ok()?;
    if table.is_empty() || table.keys().any(|k| FERRY.contains(&k.as_str())) {
        return None;
    }
    Some(table.keys().map(|k| format!("[{k}]")).collect())
}

/// Parses, merges and validates sources already in memory. `env` supplies values of
/// `sensitive_environment` keys that the declarations do not set.
pub fn parse_sources(
    sources: &[Source],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Desired, Diagnostics> {
    parse(sources, env, true, None)
}

fn parse(
    sources: &[Source],
    env: &dyn Fn(&str) -> Option<String>,
    secrets_required: bool,
    discovery: Option<&crate::model::Discovery>,
) -> Result<Desired, Diagnostics> {
    let mut diags = Vec::new();
    let mut merged = Merged::default();
    let places = Places {
        sources,
        index: sources.iter().map(Source::line_index).collect(),
    };
    for (file, source) in sources.iter().enumerate() {
        match toml::from_str::<raw::File>(&source.text) {
            Ok(parsed) => merge(&mut merged, file, parsed, &places, &mut diags),
            Err(e) => diags.push(toml_error(file, &source.text, &e)),
        }
    }
    if !diags.is_empty() {
        return Err(Diagnostics {
            sources: sources.to_vec(),
            items: diags,
        });
    }
    validate::validate(merged, sources, env, secrets_required, discovery).map_err(|mut items| {
        items.sort_by_key(|d| (d.file, d.span.start));
        // A value of [defaults.functions] is checked for every function that takes it.
        items.dedup_by(|a, b| a.file == b.file && a.span == b.span && a.message == b.message);
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

/// The sources with their line indexes, for `path:line:col` of the first of two definitions.
struct Places<'a> {
    sources: &'a [Source],
    index: Vec<diagnostics::LineIndex>,
}

impl Places<'_> {
    fn location(&self, file: usize, offset: usize) -> String {
        self.sources[file].location_in(&self.index[file], offset)
    }
}

/// A table a project has once (`[project]`, `[defaults]`): the first file's is kept, a second
/// is a diagnostic naming where the first is.
fn merge_once<T>(
    slot: &mut Option<(usize, Spanned<T>)>,
    name: &str,
    file: usize,
    table: Option<Spanned<T>>,
    sources: &Places,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(table) = table else { return };
    match slot {
        Some((first_file, first)) => diags.push(Diagnostic {
            file,
            span: table.span(),
            message: format!("[{name}] is defined twice"),
            label: "defined again here".to_string(),
            hint: format!(
                "keep one [{name}] table; the first is at {}",
                sources.location(*first_file, first.span().start)
            ),
        }),
        None => *slot = Some((file, table)),
    }
}

fn merge(
    merged: &mut Merged,
    file: usize,
    parsed: raw::File,
    sources: &Places,
    diags: &mut Vec<Diagnostic>,
) {
    merge_once(
        &mut merged.project,
        "project",
        file,
        parsed.project,
        sources,
        diags,
    );
    merge_table(
        &mut merged.accounts,
        "accounts",
        file,
        parsed.accounts,
        sources,
        diags,
    );
    merge_once(
        &mut merged.defaults,
        "defaults",
        file,
        parsed.defaults,
        sources,
        diags,
    );
    merge_table(
        &mut merged.account_groups,
        "account_groups",
        file,
        parsed.account_groups,
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
    merged
        .moved
        .extend(parsed.moved.into_iter().map(|m| (file, m)));
}

fn merge_table<T>(
    into: &mut BTreeMap<String, Entry<T>>,
    table: &str,
    file: usize,
    entries: raw::Table<T>,
    sources: &Places,
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
                    sources.location(first.file, first.key_span.start)
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

/// The JSON Schema of a declarations file, derived from the serde types that parse it
/// (`ferry schema`), so that it cannot say other than the parser does.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(raw::File);
    schema.insert(
        "$id".into(),
        "https://ferry.invalid/schemas/declarations".into(),
    );
    schema.insert("title".into(), "ferry declarations (*.toml)".into());
    let mut schema = schema.to_value();
    without_null(&mut schema);
    schema
}

/// TOML has no null: an optional key is one that may be absent, so schemars' "or null" goes.
fn without_null(schema: &mut serde_json::Value) {
    use serde_json::Value;
    let null = serde_json::json!({ "type": "null" });
    if let Some(object) = schema.as_object_mut() {
        if let Some(Value::Array(types)) = object.get_mut("type") {
            types.retain(|t| t != "null");
            if let [only] = types.as_slice() {
                let only = only.clone();
                object.insert("type".into(), only);
            }
        }
        if let Some(Value::Array(any)) = object.get("anyOf")
            && let [one, other] = any.as_slice()
            && *other == null
        {
            let one = one.clone();
            object.remove("anyOf");
            if let Value::Object(inner) = one {
                object.extend(inner);
            }
        }
    }
    match schema {
        Value::Object(object) => object.values_mut().for_each(without_null),
        Value::Array(items) => items.iter_mut().for_each(without_null),
        _ => {}
    }
}
