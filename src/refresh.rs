//! Stage: refresh. Reads what is live for everything declared or recorded in state, through the
//! [`Cloud`] trait, batched per registry (one repository listing per account and region, one
//! image resolution per repository) and run concurrently: every account and region at once,
//! each place's reads as soon as what they need is read (a function read needs only the
//! verified identity), so a refresh takes one round trip per dependency level when the
//! buckets allow it.
//!
//! Produces [`Observed`], plain data keyed by where a resource lives, which the pure planner
//! takes as input. Every account is verified (STS GetCallerIdentity) before anything is read.

use crate::cloud::{Cloud, CloudError, ImageLookup, LiveFunction, RepositoryConfig};
use crate::model::{Desired, ImageRef, Place, Target};
use crate::state::{Record, Snapshot};
use futures::future;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use tokio::sync::Semaphore;

/// Reads of one account and region in flight at once. A paced cloud caps calls per place (and
/// in all) itself, under its buckets; this cap keeps a bare `AwsCloud` (check, graph, import)
/// from opening one connection per function. No cap spans places: accounts read side by side.
const READS_PER_PLACE: usize = 10;

/// What is live, as read by one refresh.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub repositories: BTreeMap<Place, Option<RepositoryConfig>>,
    /// Policies of repositories that exist (keyed like the repository).
    pub policies: BTreeMap<Place, Option<String>>,
    /// For repositories that may be deleted: whether they still hold images.
    pub has_images: BTreeMap<Place, bool>,
    /// Declared images, by image key.
    pub images: BTreeMap<String, ImageLookup>,
    pub functions: BTreeMap<Place, Option<LiveFunction>>,
    /// Replication configurations of registries (`crate::replication::observe`): `None` when
    /// the registry replicates nothing.
    pub replication: BTreeMap<Target, Option<String>>,
    /// Registry policies (`crate::replication::observe`).
    pub registry_policies: BTreeMap<Target, Option<String>>,
}

/// Reads everything the planner needs to compare `desired` and `state` with reality.
pub async fn refresh(
    cloud: &dyn Cloud,
    desired: &Desired,
    state: &Snapshot,
) -> Result<Observed, CloudError> {
    let mut repo_places: BTreeSet<Place> = desired
        .repositories
        .values()
        .map(|r| Place::new(&r.target, &r.name))
        .collect();
    let mut deletable: BTreeSet<Place> = BTreeSet::new();
    let mut function_places: BTreeSet<Place> = desired
        .functions
        .values()
        .map(|f| Place::new(&f.target, &f.name))
        .collect();
    for record in state.resources.values() {
        // A record made in another account than its key now declares: the key's credentials
        // belong to the new id, so reading the record's place with them would read another
        // account's resource under this name. The planner reports it (`account_changes`).
        if crate::planner::account_changed(desired, record.target()).is_some() {
            continue;
        }
        match record {
            Record::Repository { target, config, .. } => {
                let place = Place::new(target, &config.name);
                if !repo_places.contains(&place) {
                    deletable.insert(place.clone());
                }
                repo_places.insert(place);
            }
            Record::RepositoryPolicy {
                target, repository, ..
            } => {
                repo_places.insert(Place::new(target, repository));
            }
            Record::Function { target, config, .. } => {
                function_places.insert(Place::new(target, &config.name));
            }
            // Registry-wide documents: `crate::replication::observe` reads them.
            Record::Replication { .. } | Record::RegistryPolicy { .. } => {}
        }
    }

    // Verify every account id and region before reading anything from it: each target, not
    // one per account key, so that a key's credentials are checked against every id read.
    let mut places: BTreeMap<Target, Reads> = BTreeMap::new();
    for p in &repo_places {
        let reads = places.entry(p.location.clone()).or_default();
        reads.repositories.push(p.name.clone());
        if deletable.contains(p) {
            reads.deletable.insert(p.name.clone());
        }
    }
    for image in desired.images.values() {
        if let Some(repo) = desired.repositories.get(&image.repository) {
            let reads = places.entry(repo.target.clone()).or_default();
            reads
                .images
                .entry(repo.name.clone())
                .or_default()
                .push((image.key.clone(), image.reference.clone()));
        }
    }
    for p in function_places {
        places.entry(p.location).or_default().functions.push(p.name);
    }
    future::try_join_all(places.keys().map(|t| cloud.verify_account(t))).await?;

    // Then every account and region at once, each at most READS_PER_PLACE reads in flight.
    let read: Vec<Observed> =
        future::try_join_all(places.iter().map(|(t, reads)| read_place(cloud, t, reads))).await?;
    let mut observed = Observed::default();
    for o in read {
        observed.repositories.extend(o.repositories);
        observed.policies.extend(o.policies);
        observed.has_images.extend(o.has_images);
        observed.images.extend(o.images);
        observed.functions.extend(o.functions);
    }
    Ok(observed)
}

/// What one account and region is read for.
#[derive(Default)]
struct Reads {
    repositories: Vec<String>,
    /// Repositories that may be deleted (recorded, no longer declared): asked for images.
    deletable: BTreeSet<String>,
    /// Declared images by repository name: (image key, reference).
    images: BTreeMap<String, Vec<(String, ImageRef)>>,
    functions: Vec<String>,
}

/// Runs `read` once one of the place's read slots is free.
async fn limited<T>(slots: &Semaphore, read: impl Future<Output = T>) -> T {
    let _slot = slots.acquire().await.expect("never closed");
    read.await
}

/// Reads one account and region: the repository listing, then each existing repository's
/// policy, image lookup and (when it may be deleted) whether it holds images; the functions
/// alongside, since they need only the verified identity. No level waits for another place.
async fn read_place(cloud: &dyn Cloud, t: &Target, reads: &Reads) -> Result<Observed, CloudError> {
    let slots = &Semaphore::new(READS_PER_PLACE);
    let repositories = async {
        let mut out = Observed::default();
        if reads.repositories.is_empty() && reads.images.is_empty() {
            return Ok(out);
        }
        let found = limited(slots, cloud.read_repositories(t, &reads.repositories)).await?;
        for name in &reads.repositories {
            let live = found.get(name).cloned();
            if live.is_none() {
                out.policies.insert(Place::new(t, name), None);
            }
            out.repositories.insert(Place::new(t, name), live);
        }
        let existing = |name: &String| found.contains_key(name);
        let policies = future::try_join_all(reads.repositories.iter().filter(|n| existing(n)).map(
            |name| async move {
                let text = limited(slots, cloud.read_repository_policy(t, name)).await?;
                Ok::<_, CloudError>((Place::new(t, name), text))
            },
        ));
        let with_images = future::try_join_all(reads.deletable.iter().filter(|n| existing(n)).map(
            |name| async move {
                let any = limited(slots, cloud.repository_has_images(t, name)).await?;
                Ok::<_, CloudError>((Place::new(t, name), any))
            },
        ));
        let images = future::try_join_all(reads.images.iter().map(|(repo, images)| async move {
            if !existing(repo) {
                return Ok::<_, CloudError>(
                    images
                        .iter()
                        .map(|(k, _)| (k.clone(), ImageLookup::RepositoryNotFound))
                        .collect::<Vec<_>>(),
                );
            }
            let refs: Vec<ImageRef> = images.iter().map(|(_, r)| r.clone()).collect();
            let lookups = limited(slots, cloud.resolve_images(t, repo, &refs)).await?;
            Ok(images.iter().map(|(k, _)| k.clone()).zip(lookups).collect())
        }));
        let (policies, with_images, images) = futures::try_join!(policies, with_images, images)?;
        out.policies.extend(policies);
        out.has_images.extend(with_images);
        out.images.extend(images.into_iter().flatten());
        Ok(out)
    };
    let functions = future::try_join_all(reads.functions.iter().map(|name| async move {
        let live = limited(slots, cloud.read_function(t, name)).await?;
        Ok::<_, CloudError>((Place::new(t, name), live))
    }));
    let (mut out, functions) = futures::try_join!(repositories, functions)?;
    out.functions.extend(functions);
    Ok(out)
}
