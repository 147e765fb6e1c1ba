//! Rollback targets that still exist. When an apply fails after it changed a function's image,
//! the rollback gives the function back the image it ran before; CloudFormation users know the
//! `UPDATE_ROLLBACK_FAILED: Source image … does not exist` that follows when an ECR lifecycle
//! policy expired that image in the meantime. Before a plan is shown, [`check`] looks each such
//! previous image up where it is pulled from (one lookup per repository, by digest): a gone one is
//! a plan warning on the function, and is recorded in [`Plan::gone_images`] so that the rollback
//! reports that function's undo as impossible instead of failing half way.
//!
//! Only images in a declared registry are looked up (ferry has credentials for those); a previous
//! image elsewhere is not judged.

use crate::cloud::{Cloud, ImageLookup};
use crate::model::{Address, Desired, ImageRef, Target};
use crate::planner::{Operation, Plan, PlanError};
use std::collections::BTreeMap;

/// A function's image URI taken apart: `<account>.dkr.ecr.<region>.amazonaws.com/<repo>@<digest>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageUri {
    pub account_id: String,
    pub region: String,
    pub repository: String,
    pub digest: String,
}

impl ImageUri {
    pub fn parse(uri: &str) -> Option<ImageUri> {
        let (host, rest) = uri.split_once('/')?;
        let (repository, digest) = rest.split_once('@')?;
        let mut parts = host.splitn(4, '.');
        let account_id = parts.next()?;
        if parts.next()? != "dkr" || parts.next()? != "ecr" {
            return None;
        }
        let region = parts.next()?.split('.').next()?;
        if account_id.is_empty() || region.is_empty() || repository.is_empty() {
            return None;
        }
        digest.starts_with("sha256:").then(|| ImageUri {
            account_id: account_id.to_string(),
            region: region.to_string(),
            repository: repository.to_string(),
            digest: digest.to_string(),
        })
    }
}

/// In one repository: digest → the functions that run it now, with the image URI.
type Digests = BTreeMap<String, Vec<(Address, String)>>;

/// The image a rollback of `op` would give a function back, when `op` takes it away.
pub fn previous_image(op: &Operation) -> Option<&str> {
    match op {
        Operation::UpdateFunction { before, after } if before.image_uri != after.image_uri => {
            Some(&before.image_uri)
        }
        Operation::DeleteFunction { before, .. } => Some(&before.image_uri),
        Operation::Replace { delete, .. } => previous_image(delete),
        _ => None,
    }
}

/// Looks up the previous image of every function the plan changes the image of (or deletes),
/// and warns on each whose image is gone. A lookup that fails is a warning too: the apply may
/// go on, but nobody has proven the rollback possible.
///
/// Only a failed CreateFunction starts a rollback, so a plan that creates no function is not
/// checked (and costs no call).
pub async fn check(plan: &mut Plan, desired: &Desired, cloud: &dyn Cloud) {
    if !plan
        .steps
        .iter()
        .any(|s| crate::apply::creates_function(&s.operation))
    {
        return;
    }
    // (registry target, repository) → digest → the functions that ran it.
    let mut wanted: BTreeMap<(Target, String), Digests> = BTreeMap::new();
    for step in &plan.steps {
        let Some(uri) = previous_image(&step.operation) else {
            continue;
        };
        let Some(image) = ImageUri::parse(uri) else {
            continue;
        };
        let Some(registry) = desired
            .registries
            .values()
            .find(|r| r.account_id == image.account_id && r.region == image.region)
        else {
            continue;
        };
        let target = Target {
            account: registry.account.clone(),
            account_id: registry.account_id.clone(),
            region: registry.region.clone(),
        };
        wanted
            .entry((target, image.repository.clone()))
            .or_default()
            .entry(image.digest.clone())
            .or_default()
            .push((step.address.clone(), uri.to_string()));
    }
    for ((target, repository), digests) in wanted {
        let refs: Vec<ImageRef> = digests.keys().cloned().map(ImageRef::Digest).collect();
        let found = cloud.resolve_images(&target, &repository, &refs).await;
        for (i, functions) in digests.values().enumerate() {
            let gone = match &found {
                Ok(lookups) => match lookups.get(i) {
                    Some(ImageLookup::Found { .. }) => continue,
                    Some(ImageLookup::NotFound) | None => "is gone from its repository".to_string(),
                    Some(ImageLookup::RepositoryNotFound) => {
                        "is gone: its repository no longer exists".to_string()
                    }
                    Some(ImageLookup::Failed { code, reason }) => {
                        format!("cannot be served by ECR ({code}: {reason})")
                    }
                },
                Err(e) => {
                    for (address, uri) in functions {
                        plan.warnings.push(PlanError {
                            address: address.clone(),
                            message: format!(
                                "could not check that the previous image {uri} still exists: {e}"
                            ),
                            hint: "if this apply fails, the rollback of this function may fail too"
                                .into(),
                            declared_at: desired.declared_at.get(address).cloned(),
                        });
                    }
                    continue;
                }
            };
            for (address, uri) in functions {
                plan.warnings.push(PlanError {
                    address: address.clone(),
                    message: format!(
                        "rollback would fail: the previous image {uri} {gone} (an ECR lifecycle \
                         policy may have expired it)"
                    ),
                    hint: "if this apply fails, ferry cannot give this function back what it runs \
                           now; push that image again first, or accept that its rollback is \
                           impossible"
                        .into(),
                    declared_at: desired.declared_at.get(address).cloned(),
                });
                if !plan.gone_images.contains(uri) {
                    plan.gone_images.push(uri.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_uri_is_taken_apart() {
        let uri = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/team/api@sha256:abc";
        assert_eq!(
            ImageUri::parse(uri),
            Some(ImageUri {
                account_id: "111111111111".into(),
                region: "eu-west-1".into(),
                repository: "team/api".into(),
                digest: "sha256:abc".into(),
            })
        );
        assert_eq!(
            ImageUri::parse("111111111111.dkr.ecr.eu-west-1.amazonaws.com/api:latest"),
            None
        );
        assert_eq!(ImageUri::parse("docker.io/library/api@sha256:abc"), None);
    }
}
