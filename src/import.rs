//! `ferry import ADDR ID`: reads one existing resource through the [`Cloud`] trait and turns it
//! into the state record ferry would have written, so that the next plan shows how it differs
//! from its declaration (ownership tags included) instead of refusing it.
//!
//! The address must be declared: the declaration says which account and region to look in.

use crate::cloud::{Cloud, CloudError};
use crate::model::{Address, Desired};
use crate::state::{Record, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0} is already in the state; `ferry state rm {0}` first to import it again")]
    AlreadyManaged(Address),
    #[error(
        "{resource} is already in the state as {other}: importing it as {address} too would let a \
         plan delete it as {other} while it manages it as {address}. If the key was renamed, run \
         `ferry state mv {other} {address}` (or add a [[moved]] block with from = \"{other}\" and \
         to = \"{address}\") instead"
    )]
    RecordedElsewhere {
        address: Address,
        other: Address,
        /// "function `x` in account 222222222222 (us-east-1)"
        resource: String,
    },
    #[error("{0} is not declared: declare it first, so ferry knows its account and region")]
    NotDeclared(Address),
    #[error("{address} is declared with the name `{declared}`, not `{id}`: {hint}")]
    NameMismatch {
        address: Address,
        declared: String,
        id: String,
        hint: &'static str,
    },
    #[error("{what} `{id}` does not exist in account {account_id} ({region})")]
    Missing {
        what: &'static str,
        id: String,
        account_id: String,
        region: String,
    },
    #[error(
        "{0} cannot be imported: only function, repository and repository_policy addresses are resources"
    )]
    NotAResource(Address),
    #[error(transparent)]
    Cloud(#[from] CloudError),
}

/// Reads the resource `id` for `address` and returns the record to store.
pub async fn read(
    desired: &Desired,
    state: &Snapshot,
    cloud: &dyn Cloud,
    address: &Address,
    id: &str,
) -> Result<Record, ImportError> {
    if state.resources.contains_key(address) {
        return Err(ImportError::AlreadyManaged(address.clone()));
    }
    let not_declared = || ImportError::NotDeclared(address.clone());
    let check_name = |declared: &str| {
        if declared == id {
            Ok(())
        } else {
            Err(ImportError::NameMismatch {
                address: address.clone(),
                declared: declared.to_string(),
                id: id.to_string(),
                hint: "set `name` in the declaration to the existing resource's name",
            })
        }
    };
    // One AWS resource has one address: a resource state records elsewhere is not imported again.
    let recorded_elsewhere = |what: &'static str, target: &crate::model::Target| {
        let identity = (
            address.kind(),
            &target.account_id[..],
            &target.region[..],
            id,
        );
        match state
            .resources
            .iter()
            .find(|(_, r)| r.identity() == identity)
        {
            Some((other, _)) => Err(ImportError::RecordedElsewhere {
                address: address.clone(),
                other: other.clone(),
                resource: format!(
                    "{what} `{id}` in account {} ({})",
                    target.account_id, target.region
                ),
            }),
            None => Ok(()),
        }
    };
    match address {
        Address::Function(key) => {
            let f = desired.functions.get(key).ok_or_else(not_declared)?;
            check_name(&f.name)?;
            recorded_elsewhere("function", &f.target)?;
            let live =
                cloud
                    .read_function(&f.target, id)
                    .await?
                    .ok_or_else(|| ImportError::Missing {
                        what: "function",
                        id: id.to_string(),
                        account_id: f.target.account_id.clone(),
                        region: f.target.region.clone(),
                    })?;
            let repository = desired
                .function_repository(f)
                .map(|r| r.key.clone())
                .unwrap_or_default();
            Ok(Record::Function {
                target: f.target.clone(),
                repository,
                config: live.config,
                sensitive: f.sensitive_environment.clone(),
            })
        }
        Address::Repository(key) => {
            let r = desired.repositories.get(key).ok_or_else(not_declared)?;
            check_name(&r.name)?;
            recorded_elsewhere("repository", &r.target)?;
            let mut found = cloud
                .read_repositories(&r.target, &[id.to_string()])
                .await?;
            let config = found.remove(id).ok_or_else(|| ImportError::Missing {
                what: "repository",
                id: id.to_string(),
                account_id: r.target.account_id.clone(),
                region: r.target.region.clone(),
            })?;
            Ok(Record::Repository {
                target: r.target.clone(),
                config,
                force_delete: r.force_delete,
            })
        }
        Address::RepositoryPolicy(key) => {
            let r = desired.repositories.get(key).ok_or_else(not_declared)?;
            check_name(&r.name)?;
            recorded_elsewhere("the policy of repository", &r.target)?;
            let policy = cloud
                .read_repository_policy(&r.target, id)
                .await?
                .ok_or_else(|| ImportError::Missing {
                    what: "repository policy of",
                    id: id.to_string(),
                    account_id: r.target.account_id.clone(),
                    region: r.target.region.clone(),
                })?;
            Ok(Record::RepositoryPolicy {
                target: r.target.clone(),
                repository: id.to_string(),
                policy,
            })
        }
        Address::Replication(key) | Address::RegistryPolicy(key) => {
            let g = desired.registries.get(key).ok_or_else(not_declared)?;
            let target = crate::model::Target {
                account: g.account.clone(),
                account_id: g.account_id.clone(),
                region: g.region.clone(),
            };
            let replication = matches!(address, Address::Replication(_));
            let what = if replication {
                "replication configuration of registry"
            } else {
                "policy of registry"
            };
            let missing = || ImportError::Missing {
                what,
                id: id.to_string(),
                account_id: target.account_id.clone(),
                region: target.region.clone(),
            };
            if id != target.account_id {
                return Err(missing());
            }
            if replication {
                let live = cloud.read_replication(&target).await?.ok_or_else(missing)?;
                Ok(Record::Replication {
                    target,
                    configuration: live,
                })
            } else {
                let live = cloud
                    .read_registry_policy(&target)
                    .await?
                    .ok_or_else(missing)?;
                Ok(Record::RegistryPolicy {
                    target,
                    policy: live,
                })
            }
        }
        Address::Registry(_) | Address::Image(_) => Err(ImportError::NotAResource(address.clone())),
    }
}
