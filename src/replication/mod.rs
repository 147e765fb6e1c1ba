//! Stage: replication, derived. Pure: from the declarations' `replicate_to`, each source
//! registry's replication configuration and each cross-account destination registry's policy,
//! deterministic and compared semantically.
//!
//! ECR's replication configuration is registry-wide: ferry owns it whole, one rule per set of
//! destinations, with one `PREFIX_MATCH` filter per repository name (validation refuses a
//! filter that would also match another declared repository). A destination in another account
//! needs that registry's policy to let the source account `ecr:ReplicateImage` and
//! `ecr:CreateRepository` on the replica repositories. `observe` reads both live;
//! `digests` checks that the replica a function pulls from holds its digest.
//!
//! What ferry relies on: ECR replication copies an image manifest byte for byte, so the digest
//! resolved at the source is the digest in every replica (and the tag moves with it).

pub mod digests;
pub mod observe;

use crate::model::{Desired, Repository, Target};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The actions a destination registry's policy grants each source account.
pub const REPLICATION_ACTIONS: [&str; 2] = ["ecr:CreateRepository", "ecr:ReplicateImage"];

/// The Sid of the statement for one source account.
pub fn sid_for(source_account: &str) -> String {
    format!("FerryReplicationFrom{source_account}")
}

/// What ferry writes to one registry: the target it is written with and the document.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub target: Target,
    pub value: Value,
}

fn target_of(desired: &Desired, registry: &str) -> Option<Target> {
    desired.registries.get(registry).map(|r| Target {
        account: r.account.clone(),
        account_id: r.account_id.clone(),
        region: r.region.clone(),
    })
}

/// `value` as the document of registry `registry`, keyed by it.
fn document(desired: &Desired, registry: &str, value: Value) -> Option<(String, Document)> {
    let target = target_of(desired, registry)?;
    Some((registry.to_string(), Document { target, value }))
}

fn sources(desired: &Desired) -> impl Iterator<Item = &Repository> {
    desired
        .repositories
        .values()
        .filter(|r| r.replica_of.is_none() && !r.replicate_to.is_empty())
}

/// Each source registry's replication configuration, by registry key: one rule per set of
/// destinations (in key order), destinations and filters sorted.
pub fn configurations(desired: &Desired) -> BTreeMap<String, Document> {
    let mut rules: BTreeMap<&str, BTreeMap<&[String], BTreeSet<&str>>> = BTreeMap::new();
    for r in sources(desired) {
        rules
            .entry(r.registry.as_str())
            .or_default()
            .entry(r.replicate_to.as_slice())
            .or_default()
            .insert(r.name.as_str());
    }
    rules
        .into_iter()
        .filter_map(|(registry, sets)| {
            let rules: Vec<Value> = sets
                .into_iter()
                .map(|(dests, names)| {
                    let destinations: Vec<Value> = dests
                        .iter()
                        .filter_map(|d| target_of(desired, d))
                        .map(|t| json!({ "region": t.region, "registryId": t.account_id }))
                        .collect();
                    let filters: Vec<Value> = names
                        .into_iter()
                        .map(|n| json!({ "filter": n, "filterType": "PREFIX_MATCH" }))
                        .collect();
                    json!({ "destinations": destinations, "repositoryFilters": filters })
                })
                .collect();
            document(desired, registry, normalize(&json!({ "rules": rules })))
        })
        .collect()
}

/// Each destination registry that a source in another account replicates into, by registry
/// key: one statement per source account, on the replica repositories it may write.
pub fn registry_policies(desired: &Desired) -> BTreeMap<String, Document> {
    let mut grants: BTreeMap<&str, BTreeMap<&str, BTreeSet<String>>> = BTreeMap::new();
    for replica in desired.repositories.values() {
        let Some(source) = crate::model::replication::source_of(desired, replica) else {
            continue;
        };
        if source.target.account_id != replica.target.account_id {
            grants
                .entry(replica.registry.as_str())
                .or_default()
                .entry(source.target.account_id.as_str())
                .or_default()
                .insert(replica.arn());
        }
    }
    grants
        .into_iter()
        .filter_map(|(registry, by_source)| {
            let statements: Vec<Value> = by_source
                .into_iter()
                .map(|(account, arns)| {
                    json!({
                        "Sid": sid_for(account),
                        "Effect": "Allow",
                        "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
                        "Action": REPLICATION_ACTIONS,
                        "Resource": arns.into_iter().collect::<Vec<_>>(),
                    })
                })
                .collect();
            let value = json!({ "Version": "2012-10-17", "Statement": statements });
            document(desired, registry, value)
        })
        .collect()
}

/// A replication configuration with its rules, destinations and filters sorted, and empty
/// parts dropped: two configurations are the same when their normal forms are equal.
pub fn normalize(configuration: &Value) -> Value {
    let mut rules: Vec<Value> = configuration
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|rule| {
            let sorted = |key: &str| {
                let mut items: Vec<Value> = rule
                    .get(key)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                items.sort_by_key(|v| v.to_string());
                items.dedup();
                Value::Array(items)
            };
            let mut out = serde_json::Map::new();
            out.insert("destinations".into(), sorted("destinations"));
            let filters = sorted("repositoryFilters");
            if filters.as_array().is_some_and(|f| !f.is_empty()) {
                out.insert("repositoryFilters".into(), filters);
            }
            Value::Object(out)
        })
        .collect();
    rules.sort_by_key(|v| v.to_string());
    json!({ "rules": rules })
}

/// Whether two replication configurations (as text) mean the same; unreadable text means
/// nothing ferry wrote.
pub fn same_configuration(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => normalize(&a) == normalize(&b),
        _ => false,
    }
}

/// A configuration with no rule replicates nothing: what ECR answers for a registry never
/// configured, and what a delete writes.
pub fn is_empty(configuration: &str) -> bool {
    serde_json::from_str::<Value>(configuration).is_ok_and(|v| {
        normalize(&v)["rules"]
            .as_array()
            .is_none_or(|r| r.is_empty())
    })
}
