//! Attribute display: a resource's attributes, their changes, a step's before and after.

use super::plan::*;
use crate::cloud::{FunctionConfig, RepositoryConfig};
use crate::model::{Address, Desired};
use crate::policy;
use crate::state::{Record, Snapshot};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The whole resource before and after a step, display-safe (sensitive values redacted with the
/// step's sensitive keys), as objects of attributes; `None` where it does not exist. For
/// `plan --json`, which also lists only the changed attributes.
pub fn step_values(step: &Step) -> (Option<Value>, Option<Value>) {
    let object = |attrs: Vec<(String, Value)>| Some(Value::Object(attrs.into_iter().collect()));
    let policy = |text: &str| Some(json!({ "policy": policy::parse(text) }));
    let replication = |text: &str| {
        let value = serde_json::from_str(text).unwrap_or(Value::String(text.to_string()));
        Some(json!({ "replication_configuration": value }))
    };
    let sensitive = &step.sensitive;
    match &step.operation {
        Operation::CreateRepository { config } => (None, object(repository_attrs(Some(config)))),
        Operation::UpdateRepository { before, after } => (
            object(repository_attrs(Some(before))),
            object(repository_attrs(Some(after))),
        ),
        Operation::PutPolicy {
            before, policy: p, ..
        } => (before.as_deref().and_then(policy), policy(p)),
        Operation::DeletePolicy { before, .. } => (policy(before), None),
        Operation::PutRegistryPolicy { before, policy: p } => {
            (before.as_deref().and_then(policy), policy(p))
        }
        Operation::DeleteRegistryPolicy { before } => (policy(before), None),
        Operation::PutReplication {
            before,
            configuration,
        } => (
            before.as_deref().and_then(replication),
            replication(configuration),
        ),
        Operation::DeleteReplication { before } => (replication(before), None),
        Operation::CreateFunction { config } => {
            (None, object(function_attrs(Some(config), None, sensitive)))
        }
        Operation::UpdateFunction { before, after } => (
            object(function_attrs(Some(before), None, sensitive)),
            object(function_attrs(Some(after), Some(before), sensitive)),
        ),
        Operation::DeleteFunction { before, .. } => {
            (object(function_attrs(Some(before), None, sensitive)), None)
        }
        Operation::Replace { delete, create, .. } => {
            let before = match delete.as_ref() {
                Operation::DeleteFunction { before, .. } => {
                    object(function_attrs(Some(before), None, sensitive))
                }
                _ => None,
            };
            let after = match create.as_ref() {
                Operation::CreateFunction { config } => object(function_attrs(
                    Some(config),
                    match delete.as_ref() {
                        Operation::DeleteFunction { before, .. } => Some(before),
                        _ => None,
                    },
                    sensitive,
                )),
                _ => None,
            };
            (before, after)
        }
        // Deleting a repository names it only: its attributes are in the step's changes.
        Operation::DeleteRepository { .. } | Operation::Record | Operation::Move { .. } => {
            let mut before = serde_json::Map::new();
            let mut after = serde_json::Map::new();
            for c in &step.changes {
                if let Some(v) = &c.before {
                    before.insert(c.attribute.clone(), v.clone());
                }
                if let Some(v) = &c.after {
                    after.insert(c.attribute.clone(), v.clone());
                }
            }
            (
                (!before.is_empty()).then_some(Value::Object(before)),
                (!after.is_empty()).then_some(Value::Object(after)),
            )
        }
    }
}

/// The environment keys of a function whose values are secret: declared so now, or when last
/// applied (a key dropped from `sensitive_environment` or from the function keeps its old value
/// hidden).
pub(super) fn sensitive_keys(
    desired: &Desired,
    state: &Snapshot,
    address: &Address,
) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = match address {
        Address::Function(k) => desired
            .functions
            .get(k)
            .map(|f| f.sensitive_environment.clone())
            .unwrap_or_default(),
        _ => return BTreeSet::new(),
    };
    if let Some(Record::Function { sensitive, .. }) = state.resources.get(address) {
        keys.extend(sensitive.iter().cloned());
    }
    keys
}

pub(super) fn repository_attrs(c: Option<&RepositoryConfig>) -> Vec<(String, Value)> {
    let Some(c) = c else { return vec![] };
    vec![
        ("name".into(), json!(c.name)),
        ("tag_mutability".into(), json!(c.tag_mutability.as_aws())),
        ("scan_on_push".into(), json!(c.scan_on_push)),
        ("tags".into(), json!(c.tags)),
    ]
}

/// A function's attributes for display. Sensitive environment values are replaced; when
/// `compare_to` is given, a sensitive value that differs from it says so.
pub(super) fn function_attrs(
    c: Option<&FunctionConfig>,
    compare_to: Option<&FunctionConfig>,
    sensitive: &BTreeSet<String>,
) -> Vec<(String, Value)> {
    let Some(c) = c else { return vec![] };
    let env: serde_json::Map<String, Value> = c
        .environment
        .iter()
        .map(|(k, v)| {
            let shown = if sensitive.contains(k) {
                match compare_to.map(|o| o.environment.get(k)) {
                    Some(Some(old)) if old != v => json!("(sensitive value changed)"),
                    _ => json!("(sensitive value)"),
                }
            } else {
                json!(v)
            };
            (k.clone(), shown)
        })
        .collect();
    vec![
        ("image_uri".into(), json!(c.image_uri)),
        ("role".into(), json!(c.role)),
        ("architectures".into(), json!([c.architecture])),
        ("memory_mb".into(), json!(c.memory_mb)),
        ("timeout_s".into(), json!(c.timeout_s)),
        ("description".into(), json!(c.description)),
        ("environment".into(), Value::Object(env)),
        ("tags".into(), json!(c.tags)),
    ]
}

/// One attribute's name and display value.
pub(super) type Attr = (String, Value);

/// Attribute-level changes between two attribute lists (same names, same order).
pub(super) fn diff(before: &[(String, Value)], after: &[(String, Value)]) -> Vec<Change> {
    let names: Vec<&String> = if after.is_empty() {
        before.iter().map(|(k, _)| k).collect()
    } else {
        after.iter().map(|(k, _)| k).collect()
    };
    let get = |list: &[(String, Value)], k: &str| {
        list.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    names
        .into_iter()
        .filter_map(|k| {
            let b = get(before, k);
            let a = get(after, k);
            (b != a).then(|| Change {
                attribute: k.clone(),
                before: b,
                after: a,
            })
        })
        .collect()
}
