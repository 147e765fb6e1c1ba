//! Stage: refresh. Reads what is live for everything declared or recorded in state, through the
//! [`Cloud`] trait, batched per registry (one repository listing per account and region, one
//! image resolution per repository) and run concurrently.
//!
//! Produces [`Observed`], plain data keyed by where a resource lives, which the pure planner
//! takes as input. Every account is verified (STS GetCallerIdentity) before anything is read.

use crate::cloud::{Cloud, CloudError, ImageLookup, LiveFunction, RepositoryConfig};
use crate::model::{Desired, ImageRef, Place, Target};
use crate::state::{Record, Snapshot};
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::{BTreeMap, BTreeSet};

/// How many reads run at once.
const READ_CONCURRENCY: usize = 16;

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
    let targets: BTreeSet<&Target> = repo_places
        .iter()
        .chain(function_places.iter())
        .map(|p| &p.location)
        .collect();
    stream::iter(targets)
        .map(|t| cloud.verify_account(t))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;

    // One listing per registry.
    let mut by_registry: BTreeMap<Target, Vec<String>> = BTreeMap::new();
    for p in &repo_places {
        by_registry
            .entry(p.location.clone())
            .or_default()
            .push(p.name.clone());
    }
    let listings: Vec<(Target, Vec<String>, BTreeMap<String, RepositoryConfig>)> =
        stream::iter(by_registry)
            .map(|(t, names)| async move {
                let found = cloud.read_repositories(&t, &names).await?;
                Ok::<_, CloudError>((t, names, found))
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
    let mut observed = Observed::default();
    for (t, names, mut found) in listings {
        for name in names {
            let live = found.remove(&name);
            observed.repositories.insert(Place::new(&t, &name), live);
        }
    }
    let existing: BTreeSet<Place> = observed
        .repositories
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(p, _)| p.clone())
        .collect();

    let policies: Vec<(Place, Option<String>)> = stream::iter(existing.iter())
        .map(|p| async move {
            let text = cloud.read_repository_policy(&p.location, &p.name).await?;
            Ok::<_, CloudError>((p.clone(), text))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    for (p, text) in policies {
        observed.policies.insert(p, text);
    }
    for p in repo_places.iter().filter(|p| !existing.contains(p)) {
        observed.policies.insert(p.clone(), None);
    }

    let with_images: Vec<(Place, bool)> =
        stream::iter(deletable.iter().filter(|p| existing.contains(p)))
            .map(|p| async move {
                let any = cloud.repository_has_images(&p.location, &p.name).await?;
                Ok::<_, CloudError>((p.clone(), any))
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
    observed.has_images.extend(with_images);

    // One image resolution per repository.
    let mut by_repo: BTreeMap<Place, Vec<(String, ImageRef)>> = BTreeMap::new();
    for image in desired.images.values() {
        if let Some(repo) = desired.repositories.get(&image.repository) {
            by_repo
                .entry(Place::new(&repo.target, &repo.name))
                .or_default()
                .push((image.key.clone(), image.reference.clone()));
        }
    }
    let resolved: Vec<Vec<(String, ImageLookup)>> = stream::iter(by_repo)
        .map(|(place, images)| {
            let exists = existing.contains(&place);
            async move {
                if !exists {
                    return Ok::<_, CloudError>(
                        images
                            .into_iter()
                            .map(|(k, _)| (k, ImageLookup::RepositoryNotFound))
                            .collect(),
                    );
                }
                let refs: Vec<ImageRef> = images.iter().map(|(_, r)| r.clone()).collect();
                let lookups = cloud
                    .resolve_images(&place.location, &place.name, &refs)
                    .await?;
                Ok(images.into_iter().map(|(k, _)| k).zip(lookups).collect())
            }
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    observed.images.extend(resolved.into_iter().flatten());

    let functions: Vec<(Place, Option<LiveFunction>)> = stream::iter(function_places)
        .map(|p| async move {
            let live = cloud.read_function(&p.location, &p.name).await?;
            Ok::<_, CloudError>((p, live))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    observed.functions.extend(functions);
    Ok(observed)
}
