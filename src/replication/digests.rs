//! Digests across replicas. Tags resolve at the source; a function routed to a replica is
//! deployed by that digest from the replica, so the replica must hold it. ECR replicates only
//! images pushed after the rule exists, usually within minutes but with no promise: [`check`]
//! looks each such digest up in the replica itself (one BatchGetImage per replica) and makes a
//! missing one a plan error naming the replica, its account and the digest. [`wait`]
//! (`apply --wait-for-replication SECONDS`) asks the source's DescribeImageReplicationStatus
//! instead, then the replica's own lookup, until the digest is there or the time is up.

use crate::cloud::{Cloud, ImageLookup};
use crate::model::{Address, Desired, ImageRef, Repository};
use crate::planner::{Operation, Plan, PlanError};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Every error [`check`] makes begins so; [`wait`] takes those back before it waits.
const MISSING: &str = "replica `";

/// How long [`wait`] pauses between two looks.
pub const POLL: Duration = Duration::from_secs(2);

/// A digest a function will pull from a replica.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Needed {
    /// The replica's key.
    replica: String,
    digest: String,
}

/// The image a step deploys when it changes the function's image.
fn deployed(op: &Operation) -> Option<&str> {
    match op {
        Operation::CreateFunction { config } => Some(&config.image_uri),
        Operation::UpdateFunction { before, after } if before.image_uri != after.image_uri => {
            Some(&after.image_uri)
        }
        Operation::Replace { create, .. } => deployed(create),
        _ => None,
    }
}

/// Replica digest → the functions that need it.
fn needed(plan: &Plan, desired: &Desired) -> BTreeMap<Needed, Vec<Address>> {
    let mut out: BTreeMap<Needed, Vec<Address>> = BTreeMap::new();
    for step in &plan.steps {
        let (Address::Function(k), Some(uri)) = (&step.address, deployed(&step.operation)) else {
            continue;
        };
        let Some(repo) = desired
            .functions
            .get(k)
            .and_then(|f| desired.function_repository(f))
            .filter(|r| r.replica_of.is_some())
        else {
            continue;
        };
        let Some((_, digest)) = uri.split_once('@') else {
            continue;
        };
        out.entry(Needed {
            replica: repo.key.clone(),
            digest: digest.to_string(),
        })
        .or_default()
        .push(step.address.clone());
    }
    out
}

/// The digests of `wanted` that `replica` holds (one lookup); an error is reported as absent.
async fn held(cloud: &dyn Cloud, replica: &Repository, wanted: &[&str]) -> BTreeSet<String> {
    let refs: Vec<ImageRef> = wanted
        .iter()
        .map(|d| ImageRef::Digest(d.to_string()))
        .collect();
    let Ok(found) = cloud
        .resolve_images(&replica.target, &replica.name, &refs)
        .await
    else {
        return BTreeSet::new();
    };
    wanted
        .iter()
        .zip(found)
        .filter(|(_, l)| matches!(l, ImageLookup::Found { .. }))
        .map(|(d, _)| d.to_string())
        .collect()
}

/// The digests of `needs` that their replica does not hold yet.
async fn missing(
    cloud: &dyn Cloud,
    desired: &Desired,
    needs: &BTreeMap<Needed, Vec<Address>>,
) -> BTreeSet<Needed> {
    let mut by_replica: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for n in needs.keys() {
        by_replica.entry(&n.replica).or_default().push(&n.digest);
    }
    let mut out = BTreeSet::new();
    for (key, digests) in by_replica {
        let Some(replica) = desired.repositories.get(key) else {
            continue;
        };
        let there = held(cloud, replica, &digests).await;
        for d in digests.into_iter().filter(|d| !there.contains(*d)) {
            out.insert(Needed {
                replica: key.to_string(),
                digest: d.to_string(),
            });
        }
    }
    out
}

fn error(desired: &Desired, n: &Needed, function: &Address, waited: Option<&str>) -> PlanError {
    let r = &desired.repositories[&n.replica];
    let waited = waited.map(|w| format!(" {w}")).unwrap_or_default();
    PlanError {
        address: function.clone(),
        message: format!(
            "{MISSING}{}` (repository `{}` in registry `{}`, account {}, {}) does not hold {} yet, \
             which the source resolved; replication may still be in progress{waited}",
            n.replica, r.name, r.registry, r.target.account_id, r.target.region, n.digest
        ),
        hint: "plan again in a few minutes, or apply with --wait-for-replication SECONDS; ECR \
               replicates only images pushed after the replication rule exists, so an image \
               pushed before it must be pushed again"
            .into(),
        declared_at: desired.declared_at.get(function).cloned(),
    }
}

/// Makes every digest a function would pull from a replica that does not hold it a plan error.
/// When this plan itself creates the replica or its rule, nothing can have been replicated yet:
/// the hint says to apply the replication first.
pub async fn check(plan: &mut Plan, desired: &Desired, cloud: &dyn Cloud) {
    let needs = needed(plan, desired);
    if needs.is_empty() {
        return;
    }
    for n in missing(cloud, desired, &needs).await {
        let first = first_replication(plan, desired, &n.replica);
        for f in &needs[&n] {
            let mut e = error(desired, &n, f, None);
            if let Some(rule) = &first {
                e.message = format!(
                    "{MISSING}{}` does not hold {}: this plan creates the replica or its replication rule, and ECR replicates only images pushed after the rule",
                    n.replica, n.digest
                );
                e.hint = format!(
                    "apply the replication first (`ferry apply --target {rule}`), push the image again, then apply the functions"
                );
            }
            plan.errors.push(e);
        }
    }
}

/// The replication step's address when this plan creates `replica` or the rule that fills it.
fn first_replication(plan: &Plan, desired: &Desired, replica: &str) -> Option<Address> {
    let source = crate::model::replication::source_of(desired, desired.repositories.get(replica)?)?;
    let rule = Address::Replication(source.registry.clone());
    let replica = Address::Repository(replica.to_string());
    plan.steps
        .iter()
        .any(|s| {
            s.action == crate::planner::Action::Create
                && (s.address == rule || s.address == replica)
        })
        .then_some(rule)
}

/// Waits up to `limit` for the digests [`check`] found missing: each round asks the source's
/// DescribeImageReplicationStatus, then looks in the replicas whose status is COMPLETE (or not
/// reported). A FAILED replication stops the wait for that digest. What is still missing at the
/// end stays a plan error, saying how long ferry waited.
pub async fn wait(plan: &mut Plan, desired: &Desired, cloud: &dyn Cloud, limit: Duration) {
    let mut needs = needed(plan, desired);
    // What this plan's own replication must bring cannot arrive while ferry waits.
    let first: Vec<Needed> = needs
        .keys()
        .filter(|n| first_replication(plan, desired, &n.replica).is_some())
        .cloned()
        .collect();
    needs.retain(|n, _| !first.contains(n));
    let about = |e: &PlanError, n: &Needed| {
        e.message.starts_with(&format!("{MISSING}{}`", n.replica)) && e.message.contains(&n.digest)
    };
    plan.errors
        .retain(|e| !e.message.starts_with(MISSING) || first.iter().any(|n| about(e, n)));
    let mut pending = missing(cloud, desired, &needs).await;
    let mut failed: BTreeMap<Needed, String> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + limit;
    while !pending.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL.min(limit)).await;
        let mut look = BTreeMap::new();
        for n in &pending {
            let replica = &desired.repositories[&n.replica];
            let Some(source) = crate::model::replication::source_of(desired, replica) else {
                continue;
            };
            let statuses = cloud
                .replication_status(&source.target, &source.name, &n.digest)
                .await
                .unwrap_or_default();
            let status = statuses.iter().find(|s| {
                s.region == replica.target.region && s.registry_id == replica.target.account_id
            });
            match status {
                Some(s) if s.status == "FAILED" => {
                    let why = s
                        .failure
                        .clone()
                        .unwrap_or_else(|| "no reason given".into());
                    failed.insert(n.clone(), why);
                }
                Some(s) if s.status == "IN_PROGRESS" => {}
                _ => {
                    look.insert(n.clone(), needs[n].clone());
                }
            }
        }
        pending.retain(|n| !failed.contains_key(n));
        if !look.is_empty() {
            let still = missing(cloud, desired, &look).await;
            pending.retain(|n| !look.contains_key(n) || still.contains(n));
        }
    }
    let waited = format!("(ferry waited {} s)", limit.as_secs());
    for n in &pending {
        for f in &needs[n] {
            plan.errors.push(error(desired, n, f, Some(&waited)));
        }
    }
    for (n, why) in &failed {
        for f in &needs[n] {
            let mut e = error(desired, n, f, None);
            e.message = format!(
                "{MISSING}{}` does not hold {}: ECR reports its replication FAILED ({why})",
                n.replica, n.digest
            );
            e.hint = "fix what the failure names (the destination registry's policy, a KMS \
                      key, a quota) and push the image again"
                .into();
            plan.errors.push(e);
        }
    }
}
