//! Replicas and routing: which repository each function pulls from.
//!
//! A repository with `replicate_to` has one replica per destination registry, a [`Repository`]
//! of its own (same name and settings, `replica_of` set) keyed `SOURCE@REGISTRY`. Lambda pulls
//! only from its own region, so a function is routed to a repository in its region: one in its
//! own account first (no cross-account grant needed), then the source, then a replica of
//! another account (the first by key). Plain data; no I/O.

use super::{Desired, Function, Repository};

/// What separates a replica's key from its source's: `hello@eu`. Not valid in an ECR name.
pub const REPLICA_SEPARATOR: char = '@';

/// The key of `source`'s replica in registry `registry`.
pub fn replica_key(source: &str, registry: &str) -> String {
    format!("{source}{REPLICA_SEPARATOR}{registry}")
}

/// Why a function pulls from the repository it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteWhy {
    /// The source is the only repository of the image in the function's region.
    Source,
    /// The source is in the function's own account and region.
    SourceOwnAccount,
    /// A replica in the function's own account and region.
    ReplicaOwnAccount,
    /// No repository of the image is in the function's account there: the source, in its
    /// region, is preferred to a replica.
    SourceInRegion,
    /// The only repositories in the function's region are replicas in other accounts.
    ReplicaInRegion,
}

/// The repository a function pulls from and why.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Route<'a> {
    pub repository: &'a Repository,
    pub why: RouteWhy,
}

impl Route<'_> {
    /// The plan's words for the choice ("pulls from replica `hello@eu` in its own account").
    pub fn describe(&self) -> String {
        let r = self.repository;
        let place = format!(
            "`{}` (registry `{}`, account {}, {})",
            r.key, r.registry, r.target.account_id, r.target.region
        );
        match self.why {
            RouteWhy::Source => format!("pulls from {place}, the only copy in its region"),
            RouteWhy::SourceOwnAccount => {
                format!("pulls from {place}, the source, in its own account and region")
            }
            RouteWhy::ReplicaOwnAccount => {
                format!("pulls from replica {place}, in its own account and region")
            }
            RouteWhy::SourceInRegion => format!(
                "pulls from {place}, the source in its region (no copy in its own account there)"
            ),
            RouteWhy::ReplicaInRegion => {
                format!("pulls from replica {place}, the only copy in its region (another account)")
            }
        }
    }
}

/// The repository a replica copies; `None` for a repository that is no replica.
pub fn source_of<'a>(desired: &'a Desired, replica: &Repository) -> Option<&'a Repository> {
    desired.repositories.get(replica.replica_of.as_ref()?)
}

/// The replicas of `source` that `desired` holds, in `replicate_to` order.
pub fn replicas<'a>(
    desired: &'a Desired,
    source: &'a Repository,
) -> impl Iterator<Item = &'a Repository> + 'a {
    source
        .replicate_to
        .iter()
        .filter_map(|reg| desired.repositories.get(&replica_key(&source.key, reg)))
}

/// Chooses among `source` and its `replicas` for a function at `account_id` in `region`.
/// `None` when no repository of the image is in that region (validation refuses that).
pub fn choose<'a>(
    source: &'a Repository,
    replicas: impl IntoIterator<Item = &'a Repository>,
    account_id: &str,
    region: &str,
) -> Option<Route<'a>> {
    let mut in_region: Vec<&Repository> = replicas
        .into_iter()
        .filter(|r| r.target.region == region)
        .collect();
    in_region.sort_by(|a, b| a.key.cmp(&b.key));
    let source_here = source.target.region == region;
    let own = |r: &Repository| r.target.account_id == account_id;
    let route = |repository, why| Some(Route { repository, why });
    if source_here && own(source) {
        return route(source, RouteWhy::SourceOwnAccount);
    }
    if let Some(r) = in_region.iter().find(|r| own(r)) {
        return route(r, RouteWhy::ReplicaOwnAccount);
    }
    match (source_here, in_region.first()) {
        (true, None) => route(source, RouteWhy::Source),
        (true, Some(_)) => route(source, RouteWhy::SourceInRegion),
        (false, Some(r)) => route(r, RouteWhy::ReplicaInRegion),
        (false, None) => None,
    }
}

/// The repository `function` pulls from in `desired`, and why. A function whose image's
/// repository has no copy in its region is routed to the source (validation has refused it).
pub fn route<'a>(desired: &'a Desired, function: &Function) -> Option<Route<'a>> {
    let image = desired.images.get(&function.image)?;
    let source = desired.repositories.get(&image.repository)?;
    if source.replicate_to.is_empty() {
        return Some(Route {
            repository: source,
            why: RouteWhy::Source,
        });
    }
    choose(
        source,
        replicas(desired, source),
        &function.target.account_id,
        &function.target.region,
    )
    .or(Some(Route {
        repository: source,
        why: RouteWhy::Source,
    }))
}
