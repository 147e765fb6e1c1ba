//! ECR: repositories, their settings, tags and policies, and resolving image references to
//! digests. Inherent methods of [`AwsCloud`]; the `Cloud` impl in `mod.rs` delegates here.

use super::errors::api;
use super::{AwsCloud, is_aws_tag, is_code};
use crate::cloud::{CloudError, ImageLookup, RepositoryConfig, tag_delta};
use crate::model::{ImageRef, TagMutability, Target};
use std::collections::BTreeMap;

/// Media types ferry accepts when resolving an image (Lambda takes Docker v2 and OCI).
const MANIFEST_TYPES: [&str; 3] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

fn ecr_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_ecr::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_ecr::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

/// The tags of one repository (those AWS sets itself left out).
async fn repository_tags(
    target: &Target,
    ecr: &aws_sdk_ecr::Client,
    arn: &str,
) -> Result<BTreeMap<String, String>, CloudError> {
    Ok(ecr
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| api("ListTagsForResource", target, e))?
        .tags()
        .iter()
        .filter(|t| !is_aws_tag(t.key()))
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

fn repository_arn(target: &Target, name: &str) -> String {
    format!(
        "arn:aws:ecr:{}:{}:repository/{}",
        target.region, target.account_id, name
    )
}

impl AwsCloud {
    pub(super) async fn set_repository_settings(
        &self,
        target: &Target,
        ecr: &aws_sdk_ecr::Client,
        before: Option<&RepositoryConfig>,
        after: &RepositoryConfig,
    ) -> Result<(), CloudError> {
        if before.is_none_or(|b| b.tag_mutability != after.tag_mutability) {
            ecr.put_image_tag_mutability()
                .registry_id(&target.account_id)
                .repository_name(&after.name)
                .image_tag_mutability(after.tag_mutability.as_aws().into())
                .send()
                .await
                .map_err(|e| api("PutImageTagMutability", target, e))?;
        }
        if before.is_none_or(|b| b.scan_on_push != after.scan_on_push) {
            ecr.put_image_scanning_configuration()
                .registry_id(&target.account_id)
                .repository_name(&after.name)
                .image_scanning_configuration(
                    aws_sdk_ecr::types::ImageScanningConfiguration::builder()
                        .scan_on_push(after.scan_on_push)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| api("PutImageScanningConfiguration", target, e))?;
        }
        let empty = BTreeMap::new();
        let (set, remove) = tag_delta(before.map_or(&empty, |b| &b.tags), &after.tags);
        let arn = repository_arn(target, &after.name);
        if !set.is_empty() {
            ecr.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(ecr_tags(&set)))
                .send()
                .await
                .map_err(|e| api("TagResource", target, e))?;
        }
        if !remove.is_empty() {
            ecr.untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| api("UntagResource", target, e))?;
        }
        Ok(())
    }

    pub(super) async fn read_repositories(
        &self,
        target: &Target,
        names: &[String],
    ) -> Result<BTreeMap<String, RepositoryConfig>, CloudError> {
        self.repositories_where(target, |name| names.iter().any(|n| n == name))
            .await
    }

    /// Every repository of the registry, with its settings and tags (`ferry state rebuild`).
    pub(super) async fn list_repositories(
        &self,
        target: &Target,
    ) -> Result<BTreeMap<String, RepositoryConfig>, CloudError> {
        self.repositories_where(target, |_| true).await
    }

    /// The repositories of one registry whose names `wanted` accepts: one listing, then the
    /// tags of each accepted one.
    async fn repositories_where(
        &self,
        target: &Target,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<BTreeMap<String, RepositoryConfig>, CloudError> {
        let ecr = self.ecr(target).await?;
        let mut out = BTreeMap::new();
        let mut pages = ecr
            .describe_repositories()
            .registry_id(&target.account_id)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| api("DescribeRepositories", target, e))?;
            for r in page.repositories() {
                let name = r.repository_name().unwrap_or_default().to_string();
                if wanted(&name) {
                    found.push(r.clone());
                }
            }
        }
        for r in found {
            let name = r.repository_name().unwrap_or_default().to_string();
            let arn = r
                .repository_arn()
                .map(str::to_string)
                .unwrap_or_else(|| repository_arn(target, &name));
            let tags = repository_tags(target, &ecr, &arn).await?;
            let tag_mutability = match r.image_tag_mutability().map(|m| m.as_str()) {
                Some(m) if m.starts_with("IMMUTABLE") => TagMutability::Immutable,
                _ => TagMutability::Mutable,
            };
            out.insert(
                name.clone(),
                RepositoryConfig {
                    name,
                    tag_mutability,
                    scan_on_push: r
                        .image_scanning_configuration()
                        .is_some_and(|s| s.scan_on_push()),
                    tags,
                },
            );
        }
        Ok(out)
    }

    pub(super) async fn read_repository_policy(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<Option<String>, CloudError> {
        let ecr = self.ecr(target).await?;
        match ecr
            .get_repository_policy()
            .registry_id(&target.account_id)
            .repository_name(repository)
            .send()
            .await
        {
            Ok(out) => Ok(out.policy_text().map(str::to_string)),
            Err(e) => {
                let e = api("GetRepositoryPolicy", target, e);
                if is_code(
                    &e,
                    &[
                        "RepositoryPolicyNotFoundException",
                        "RepositoryNotFoundException",
                    ],
                ) {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    pub(super) async fn repository_has_images(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<bool, CloudError> {
        let ecr = self.ecr(target).await?;
        match ecr
            .list_images()
            .registry_id(&target.account_id)
            .repository_name(repository)
            .max_results(1)
            .send()
            .await
        {
            Ok(out) => Ok(!out.image_ids().is_empty()),
            Err(e) => {
                let e = api("ListImages", target, e);
                if is_code(&e, &["RepositoryNotFoundException"]) {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    pub(super) async fn resolve_images(
        &self,
        target: &Target,
        repository: &str,
        refs: &[ImageRef],
    ) -> Result<Vec<ImageLookup>, CloudError> {
        let ecr = self.ecr(target).await?;
        let ids: Vec<aws_sdk_ecr::types::ImageIdentifier> = refs
            .iter()
            .map(|r| match r {
                ImageRef::Tag(t) => aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(t)
                    .build(),
                ImageRef::Digest(d) => aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_digest(d)
                    .build(),
            })
            .collect();
        // BatchGetImage reports a missing tag per image; DescribeImages would fail the call.
        let out = match ecr
            .batch_get_image()
            .registry_id(&target.account_id)
            .repository_name(repository)
            .set_image_ids(Some(ids))
            .set_accepted_media_types(Some(MANIFEST_TYPES.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let e = api("BatchGetImage", target, e);
                if is_code(&e, &["RepositoryNotFoundException"]) {
                    return Ok(vec![ImageLookup::RepositoryNotFound; refs.len()]);
                }
                return Err(e);
            }
        };
        Ok(refs
            .iter()
            .map(|r| {
                let found = out.images().iter().find_map(|img| {
                    let id = img.image_id()?;
                    let matches = match r {
                        ImageRef::Tag(t) => id.image_tag() == Some(t.as_str()),
                        ImageRef::Digest(d) => id.image_digest() == Some(d.as_str()),
                    };
                    if matches {
                        id.image_digest().map(str::to_string)
                    } else {
                        None
                    }
                });
                if let Some(digest) = found {
                    return ImageLookup::Found { digest };
                }
                let failure = out.failures().iter().find(|f| {
                    f.image_id().is_some_and(|id| match r {
                        ImageRef::Tag(t) => id.image_tag() == Some(t.as_str()),
                        ImageRef::Digest(d) => id.image_digest() == Some(d.as_str()),
                    })
                });
                match failure.and_then(|f| f.failure_code()) {
                    None | Some(aws_sdk_ecr::types::ImageFailureCode::ImageNotFound) => {
                        ImageLookup::NotFound
                    }
                    Some(code) => ImageLookup::Failed {
                        code: code.as_str().to_string(),
                        reason: failure
                            .and_then(|f| f.failure_reason())
                            .unwrap_or_default()
                            .to_string(),
                    },
                }
            })
            .collect())
    }

    pub(super) async fn create_repository(
        &self,
        target: &Target,
        config: &RepositoryConfig,
    ) -> Result<(), CloudError> {
        let ecr = self.ecr(target).await?;
        let created = ecr
            .create_repository()
            .registry_id(&target.account_id)
            .repository_name(&config.name)
            .image_tag_mutability(config.tag_mutability.as_aws().into())
            .image_scanning_configuration(
                aws_sdk_ecr::types::ImageScanningConfiguration::builder()
                    .scan_on_push(config.scan_on_push)
                    .build(),
            )
            .set_tags(Some(ecr_tags(&config.tags)))
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = api("CreateRepository", target, e);
                if !is_code(&e, &["RepositoryAlreadyExistsException"]) {
                    return Err(e);
                }
                // Ferry's own create, retried after its answer was lost, made a repository
                // with this address's ownership tags: bring it to the declared settings. One
                // without them was made by someone else since the plan and is not touched.
                let arn = repository_arn(target, &config.name);
                let live = repository_tags(target, &ecr, &arn).await?;
                if !crate::cloud::same_owner(&live, &config.tags) {
                    return Err(CloudError::created_elsewhere(
                        &crate::cloud::REPOSITORY_EXISTS,
                        target,
                        &config.name,
                        &config.tags,
                    ));
                }
                self.set_repository_settings(target, &ecr, None, config)
                    .await
            }
        }
    }

    pub(super) async fn update_repository(
        &self,
        target: &Target,
        before: &RepositoryConfig,
        after: &RepositoryConfig,
    ) -> Result<(), CloudError> {
        let ecr = self.ecr(target).await?;
        self.set_repository_settings(target, &ecr, Some(before), after)
            .await
    }

    pub(super) async fn delete_repository(
        &self,
        target: &Target,
        name: &str,
        force: bool,
    ) -> Result<(), CloudError> {
        let ecr = self.ecr(target).await?;
        match ecr
            .delete_repository()
            .registry_id(&target.account_id)
            .repository_name(name)
            .force(force)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = api("DeleteRepository", target, e);
                if is_code(&e, &["RepositoryNotFoundException"]) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    pub(super) async fn put_repository_policy(
        &self,
        target: &Target,
        repository: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        let ecr = self.ecr(target).await?;
        ecr.set_repository_policy()
            .registry_id(&target.account_id)
            .repository_name(repository)
            .policy_text(policy)
            .send()
            .await
            .map_err(|e| api("SetRepositoryPolicy", target, e))?;
        Ok(())
    }

    pub(super) async fn delete_repository_policy(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<(), CloudError> {
        let ecr = self.ecr(target).await?;
        match ecr
            .delete_repository_policy()
            .registry_id(&target.account_id)
            .repository_name(repository)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = api("DeleteRepositoryPolicy", target, e);
                if is_code(
                    &e,
                    &[
                        "RepositoryPolicyNotFoundException",
                        "RepositoryNotFoundException",
                    ],
                ) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }
}
