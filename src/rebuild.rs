//! `ferry state rebuild`: the state found again from ownership tags, for a lost or deleted state.
//! Every declared account and region is searched (one repository listing per registry, one
//! function listing per account and region, then GetFunction per function) for resources whose
//! `ferry:project` is this project's; each one whose `ferry:address` is declared is read as
//! `ferry import` reads it (so the record is the one ferry would have written), a repository's
//! policy along with its repository. A tagged resource whose address is not declared is listed,
//! never recorded.

use crate::cloud::Cloud;
use crate::import::{self, ImportError};
use crate::model::{Address, Desired, TAG_ADDRESS, TAG_PROJECT, Target, TargetPattern};
use crate::state::{Record, Snapshot};
use std::collections::{BTreeMap, BTreeSet};

/// What a rebuild found.
#[derive(Debug, Default)]
pub struct Found {
    /// Declared addresses with their resource, and the record to write.
    pub records: Vec<(Address, String, Record)>,
    /// Declared addresses the state already holds: left as they are.
    pub already: Vec<Address>,
    /// Resources tagged for this project at an address that is not declared: `(address, name,
    /// where)`.
    pub undeclared: Vec<(String, String, Target)>,
    /// Declared addresses nothing live carries the tags of.
    pub missing: Vec<Address>,
}

/// Searches the declared accounts and regions. `patterns` (when not empty) restricts the
/// addresses recorded, as `ferry import --all-tagged PATTERN` does.
pub async fn scan(
    desired: &Desired,
    state: &Snapshot,
    cloud: &dyn Cloud,
    patterns: &[TargetPattern],
) -> Result<Found, ImportError> {
    let project = desired.project.name.as_str();
    let mut found = Found::default();
    let wanted = |a: &Address| {
        let target = match a {
            Address::Function(k) => desired.functions.get(k).map(|f| &f.target),
            Address::Repository(k) | Address::RepositoryPolicy(k) => {
                desired.repositories.get(k).map(|r| &r.target)
            }
            _ => None,
        };
        let account = target.map(|t| (t.account.as_str(), t.account_id.as_str()));
        patterns.is_empty() || patterns.iter().any(|p| p.matches(a, account))
    };
    // Where to look: each declared repository's registry, each declared function's account
    // and region (and the accounts' other regions are not searched: nothing declares them).
    let mut repo_places: BTreeSet<Target> = BTreeSet::new();
    for r in desired.repositories.values() {
        repo_places.insert(r.target.clone());
    }
    let mut fn_places: BTreeSet<Target> = BTreeSet::new();
    for f in desired.functions.values() {
        fn_places.insert(f.target.clone());
    }
    let ours = |tags: &BTreeMap<String, String>| {
        (tags.get(TAG_PROJECT).map(String::as_str) == Some(project))
            .then(|| tags.get(TAG_ADDRESS).cloned())
            .flatten()
    };
    let mut tagged: BTreeMap<String, (String, Target)> = BTreeMap::new();
    for place in &repo_places {
        for (name, config) in cloud.list_repositories(place).await? {
            if let Some(address) = ours(&config.tags) {
                tagged.insert(address, (name, place.clone()));
            }
        }
    }
    for place in &fn_places {
        for name in cloud.list_functions(place).await? {
            let Some(live) = cloud.read_function(place, &name).await? else {
                continue;
            };
            if let Some(address) = ours(&live.config.tags) {
                tagged.insert(address, (name, place.clone()));
            }
        }
    }
    for (address, (name, place)) in tagged {
        let parsed: Option<Address> = address.parse().ok();
        let declared = parsed.as_ref().is_some_and(|a| is_declared(desired, a));
        match parsed {
            Some(a) if declared => {
                if !wanted(&a) {
                    continue;
                }
                record(desired, state, cloud, &mut found, a.clone(), &name).await?;
                if let Address::Repository(key) = &a
                    && desired.repositories[key].manage_policy
                {
                    let policy = Address::RepositoryPolicy(key.clone());
                    if cloud.read_repository_policy(&place, &name).await?.is_some() {
                        record(desired, state, cloud, &mut found, policy, &name).await?;
                    }
                }
            }
            _ => found.undeclared.push((address, name, place)),
        }
    }
    let recorded: BTreeSet<&Address> = found
        .records
        .iter()
        .map(|(a, _, _)| a)
        .chain(found.already.iter())
        .collect();
    let mut missing = Vec::new();
    for key in desired.repositories.keys() {
        missing.push(Address::Repository(key.clone()));
    }
    for key in desired.functions.keys() {
        missing.push(Address::Function(key.clone()));
    }
    found.missing = missing
        .into_iter()
        .filter(|a| wanted(a) && !recorded.contains(a))
        .collect();
    Ok(found)
}

fn is_declared(desired: &Desired, a: &Address) -> bool {
    match a {
        Address::Repository(k) => desired.repositories.contains_key(k),
        Address::Function(k) => desired.functions.contains_key(k),
        _ => false,
    }
}

async fn record(
    desired: &Desired,
    state: &Snapshot,
    cloud: &dyn Cloud,
    found: &mut Found,
    address: Address,
    name: &str,
) -> Result<(), ImportError> {
    match import::read(desired, state, cloud, &address, name).await {
        Ok(r) => found.records.push((address, name.to_string(), r)),
        Err(ImportError::AlreadyManaged(a)) => found.already.push(a),
        Err(e) => return Err(e),
    }
    Ok(())
}
