//! `replicate_to` on `[repositories.*]`: each destination a declared registry other than the
//! source's, no repository replicated onto another declared one (which would be a clash, or a
//! cycle when that one replicates back), ECR's limits on a registry's replication rules, and no
//! rule whose prefix filter would also copy another declared repository. Each destination
//! becomes a replica: a repository of its own in that registry (same name and settings).

use super::{Checker, Entry, Merged};
use crate::model::replication::replica_key;
use crate::model::{Registry, Repository, Target};
use std::collections::{BTreeMap, BTreeSet};

/// ECR's limits on one registry's replication configuration.
pub const MAX_RULES: usize = 10;
pub const MAX_DESTINATIONS: usize = 25;
pub const MAX_FILTERS_PER_RULE: usize = 100;

pub(super) fn check_replication(
    c: &mut Checker,
    merged: &Merged,
    registries: &BTreeMap<String, Registry>,
    repositories: &mut BTreeMap<String, Repository>,
) {
    let mut replicas = Vec::new();
    for (key, Entry { file, value, .. }) in &merged.repositories {
        let file = *file;
        let Some(list) = value.get_ref().replicate_to.as_ref() else {
            continue;
        };
        let Some(source) = repositories.get_mut(key) else {
            continue;
        };
        let mut seen = BTreeSet::new();
        for dest in list.get_ref() {
            let Some(reg) =
                super::values::reference(c, file, dest, registries, "registry", "registries")
            else {
                continue;
            };
            if reg.key == source.registry {
                c.at(
                    file,
                    dest,
                    &format!(
                        "repository `{key}` replicates to its own registry `{}`",
                        reg.key
                    ),
                    "the source registry",
                    "a destination is another registry (another region, another account, or \
                     both): remove this one",
                );
                continue;
            }
            if !seen.insert(reg.key.clone()) {
                c.at(
                    file,
                    dest,
                    &format!("registry `{}` is listed twice in replicate_to", reg.key),
                    "listed twice",
                    "list each destination registry once",
                );
                continue;
            }
            let mut replica = source.clone();
            replica.key = replica_key(key, &reg.key);
            replica.registry = reg.key.clone();
            replica.target = Target {
                account: reg.account.clone(),
                account_id: reg.account_id.clone(),
                region: reg.region.clone(),
            };
            replica.replica_of = Some(key.clone());
            replica.replicate_to = Vec::new();
            replicas.push((file, dest.span(), replica));
        }
        source.replicate_to = seen.into_iter().collect();
    }
    check_places(c, merged, repositories, &replicas);
    check_limits(c, merged, registries, repositories);
    for (_, _, replica) in replicas {
        repositories.insert(replica.key.clone(), replica);
    }
}

/// A replica lands on its registry under its source's name: that may be neither a declared
/// repository (a cycle when that one replicates back to the source, a clash otherwise) nor
/// another source's replica.
fn check_places(
    c: &mut Checker,
    merged: &Merged,
    repositories: &BTreeMap<String, Repository>,
    replicas: &[(usize, std::ops::Range<usize>, Repository)],
) {
    let mut taken: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for r in repositories.values() {
        taken.insert((r.registry.as_str(), r.name.as_str()), r.key.as_str());
    }
    let mut landed: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for (file, span, replica) in replicas {
        let source = replica.replica_of.as_deref().unwrap_or_default();
        let place = (replica.registry.as_str(), replica.name.as_str());
        if let Some(other) = taken.get(&place) {
            let back = repositories.get(*other).is_some_and(|o| {
                repositories
                    .get(source)
                    .is_some_and(|s| o.replicate_to.contains(&s.registry))
            });
            let at = merged
                .repositories
                .get(*other)
                .map(|e| c.location(e.file, e.key_span.start))
                .unwrap_or_default();
            let (message, label) = if back {
                (
                    format!(
                        "replicate_to forms a cycle: repository `{source}` replicates to registry \
                         `{}`, whose repository `{other}` (same name `{}`) replicates back",
                        replica.registry, replica.name
                    ),
                    "a replication cycle",
                )
            } else {
                (
                    format!(
                        "repository `{source}` would be replicated onto repository `{other}`, \
                         declared in registry `{}` with the same name `{}`",
                        replica.registry, replica.name
                    ),
                    "onto a declared repository",
                )
            };
            c.err(
                *file,
                span.clone(),
                message,
                label,
                format!(
                    "a replica is a repository ferry creates under the source's name: remove this \
                     destination, or the declaration at {at}"
                ),
            );
        } else if let Some(first) = landed.insert(place, source) {
            c.err(
                *file,
                span.clone(),
                format!(
                    "repositories `{first}` and `{source}` would both be replicated to `{}` in \
                     registry `{}`",
                    replica.name, replica.registry
                ),
                "a second copy onto one replica",
                "replicate only one of the repositories of that name to this registry",
            );
        }
    }
}

/// ECR's limits per source registry (one rule per set of destinations), and the prefix filters:
/// a rule's filter `hello` also copies `hello-world`, which must then have the same
/// destinations.
fn check_limits(
    c: &mut Checker,
    merged: &Merged,
    registries: &BTreeMap<String, Registry>,
    repositories: &BTreeMap<String, Repository>,
) {
    let span = |key: &str| {
        merged.repositories.get(key).map(|e| {
            let r = e.value.get_ref();
            let s = r.replicate_to.as_ref().map(|l| l.span());
            (e.file, s.unwrap_or(e.key_span.clone()))
        })
    };
    for registry in registries.keys() {
        let sources: Vec<&Repository> = repositories
            .values()
            .filter(|r| &r.registry == registry && r.replica_of.is_none())
            .collect();
        let mut rules: BTreeMap<&[String], Vec<&Repository>> = BTreeMap::new();
        for r in sources.iter().filter(|r| !r.replicate_to.is_empty()) {
            rules.entry(r.replicate_to.as_slice()).or_default().push(r);
        }
        let destinations: BTreeSet<&String> = rules.keys().flat_map(|d| d.iter()).collect();
        let last = rules.values().flatten().map(|r| r.key.as_str()).next_back();
        if let Some((file, at)) = last.and_then(span) {
            if rules.len() > MAX_RULES {
                c.err(
                    file,
                    at.clone(),
                    format!(
                        "registry `{registry}` would need {} replication rules (one per set of \
                         destinations), over ECR's limit of {MAX_RULES}",
                        rules.len()
                    ),
                    "too many replication rules",
                    "give more repositories the same replicate_to list: repositories with one \
                     set of destinations share a rule",
                );
            }
            if destinations.len() > MAX_DESTINATIONS {
                c.err(
                    file,
                    at.clone(),
                    format!(
                        "registry `{registry}` would replicate to {} registries, over ECR's \
                         limit of {MAX_DESTINATIONS}",
                        destinations.len()
                    ),
                    "too many destinations",
                    "replicate to fewer registries",
                );
            }
        }
        for members in rules.values() {
            if members.len() > MAX_FILTERS_PER_RULE
                && let Some((file, at)) = span(&members[MAX_FILTERS_PER_RULE].key)
            {
                c.err(
                    file,
                    at,
                    format!(
                        "{} repositories of registry `{registry}` share this replicate_to, over \
                         ECR's limit of {MAX_FILTERS_PER_RULE} filters per rule",
                        members.len()
                    ),
                    "too many repositories in one rule",
                    "split them over two sets of destinations",
                );
            }
            for m in members {
                for other in &sources {
                    if other.key != m.key
                        && other.name.starts_with(&m.name)
                        && !m
                            .replicate_to
                            .iter()
                            .all(|d| other.replicate_to.contains(d))
                        && let Some((file, at)) = span(&m.key)
                    {
                        c.err(
                            file,
                            at,
                            format!(
                                "the replication filter `{}` (ECR matches it as a prefix) would \
                                 also replicate repository `{}` to registries {}",
                                m.name,
                                other.key,
                                m.replicate_to.join(", ")
                            ),
                            "the prefix filter matches another repository",
                            format!(
                                "give `{}` the same replicate_to, or rename one of them",
                                other.key
                            ),
                        );
                    }
                }
            }
        }
    }
}
