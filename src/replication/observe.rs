//! Reads the live replication configurations and registry policies the planner compares: of
//! every registry the declarations derive one for, and of every one state records. One
//! DescribeRegistry or GetRegistryPolicy per registry, after its account is verified.

use crate::cloud::{Cloud, CloudError};
use crate::model::{Desired, Target};
use crate::refresh::Observed;
use crate::state::{Record, Snapshot};
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::BTreeSet;

/// Reads at once, as refresh does.
const READ_CONCURRENCY: usize = 16;

/// Fills `observed.replication` and `observed.registry_policies`.
pub async fn read(
    cloud: &dyn Cloud,
    desired: &Desired,
    state: &Snapshot,
    observed: &mut Observed,
) -> Result<(), CloudError> {
    let mut sources: BTreeSet<Target> = super::configurations(desired)
        .into_values()
        .map(|d| d.target)
        .collect();
    let mut destinations: BTreeSet<Target> = super::registry_policies(desired)
        .into_values()
        .map(|d| d.target)
        .collect();
    for record in state.resources.values() {
        if crate::planner::account_changed(desired, record.target()).is_some() {
            continue;
        }
        match record {
            Record::Replication { target, .. } => sources.insert(target.clone()),
            Record::RegistryPolicy { target, .. } => destinations.insert(target.clone()),
            _ => false,
        };
    }
    stream::iter(sources.iter().chain(destinations.iter()))
        .map(|t| cloud.verify_account(t))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    let configurations: Vec<(Target, Option<String>)> = stream::iter(sources)
        .map(|t| async move {
            let live = cloud.read_replication(&t).await?;
            Ok::<_, CloudError>((t, live))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    observed.replication.extend(configurations);
    let policies: Vec<(Target, Option<String>)> = stream::iter(destinations)
        .map(|t| async move {
            let live = cloud.read_registry_policy(&t).await?;
            Ok::<_, CloudError>((t, live))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    observed.registry_policies.extend(policies);
    Ok(())
}
