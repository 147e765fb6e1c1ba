//! The real cloud: the AWS SDK for Rust. Credentials per account come from aws-config's
//! standard chain, the account's `profile`, and its `role_arn` (or the project's `assume_role`
//! template) with `external_id`; clients are cached per account and region. `AWS_ENDPOINT_URL`
//! points every client at an emulator such as moto.
//!
//! Every account id and region is checked with STS GetCallerIdentity before the first call into
//! it: applying into the wrong account is the worst thing this tool could do.

use super::{
    Cloud, CloudError, FunctionConfig, ImageLookup, LiveFunction, RepositoryConfig, tag_delta,
};
use crate::model::{Account, ImageRef, TagMutability, Target};
use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig};
use aws_sdk_lambda::client::Waiters;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::sync::Mutex;

mod errors;
use errors::{api, waited};

/// How long to wait for a function to become Active or finish an update.
const FUNCTION_WAIT: Duration = Duration::from_secs(300);

/// Media types ferry accepts when resolving an image (Lambda takes Docker v2 and OCI).
const MANIFEST_TYPES: [&str; 3] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

pub struct AwsCloud {
    accounts: BTreeMap<String, Account>,
    configs: Mutex<HashMap<(String, String), SdkConfig>>,
    /// Targets (account key, account id, region) whose credentials GetCallerIdentity showed to
    /// be that account id's. Keyed by the id and region actually called, never by the key alone:
    /// a record of 592444418872 read with the credentials of a key now declared as
    /// 777777777777 must be refused, not answered from the other account.
    verified: Mutex<HashMap<Target, String>>,
}

impl AwsCloud {
    pub fn new(accounts: BTreeMap<String, Account>) -> Self {
        AwsCloud {
            accounts,
            configs: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
        }
    }

    async fn config(&self, target: &Target) -> Result<SdkConfig, CloudError> {
        let key = (target.account.clone(), target.region.clone());
        if let Some(c) = self.configs.lock().await.get(&key) {
            return Ok(c.clone());
        }
        let account =
            self.accounts
                .get(&target.account)
                .ok_or_else(|| CloudError::UnknownAccount {
                    account: target.account.clone(),
                })?;
        let region = Region::new(target.region.clone());
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region.clone())
            .timeout_config(timeout_config());
        if let Some(retry) = retry_config(&|k| std::env::var(k).ok()) {
            loader = loader.retry_config(retry);
        }
        if let Some(p) = &account.profile {
            // The declared profile, and only it: never the environment's keys or another
            // profile, which may be another account's.
            let profiles = super::profiles::Profiles::load().await.map_err(|message| {
                CloudError::Credentials {
                    account: target.account.clone(),
                    account_id: target.account_id.clone(),
                    message,
                    hint: Some(
                        "fix the file's syntax (`aws configure list` reports it too)".into(),
                    ),
                }
            })?;
            if !profiles.contains(p) {
                return Err(CloudError::NoSuchProfile {
                    account: target.account.clone(),
                    profile: p.clone(),
                    files: profiles.files.clone(),
                    known: profiles.names(),
                });
            }
            let from_profile = aws_config::profile::ProfileFileCredentialsProvider::builder()
                .configure(
                    &aws_config::provider_config::ProviderConfig::default()
                        .with_region(Some(region.clone())),
                )
                .profile_name(p)
                .build();
            loader = loader.profile_name(p).credentials_provider(from_profile);
        }
        let base = loader.load().await;
        let config = match &account.role_arn {
            Some(role) => {
                let mut builder = aws_config::sts::AssumeRoleProvider::builder(role)
                    .session_name("ferry")
                    .region(region)
                    .configure(&base);
                if let Some(ext) = &account.external_id {
                    builder = builder.external_id(ext);
                }
                let provider = builder.build().await;
                base.into_builder()
                    .credentials_provider(
                        aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                    )
                    .build()
            }
            None => base,
        };
        self.configs.lock().await.insert(key, config.clone());
        Ok(config)
    }

    /// A verified config: the first call to an account id and region checks who the
    /// credentials belong to.
    async fn verified(&self, target: &Target) -> Result<SdkConfig, CloudError> {
        let config = self.config(target).await?;
        if self.verified.lock().await.contains_key(target) {
            return Ok(config);
        }
        let sts = aws_sdk_sts::Client::new(&config);
        let call = sts.get_caller_identity().send();
        let what = format!("the credentials of account `{}`", target.account);
        let at = errors::endpoint("sts", &target.region);
        let identity = match errors::telling_when_slow(&what, &at, call).await {
            Ok(identity) => identity,
            Err(e) => return Err(self.identity_error(target, e).await),
        };
        let actual = identity.account().unwrap_or_default().to_string();
        if actual != target.account_id {
            return Err(CloudError::WrongAccount {
                account: target.account.clone(),
                expected: target.account_id.clone(),
                actual,
            });
        }
        self.verified.lock().await.insert(target.clone(), actual);
        Ok(config)
    }

    /// An account's first call failed: in ferry's words, with what to do (an SSO profile is
    /// told to sign in again).
    async fn identity_error(
        &self,
        target: &Target,
        e: aws_sdk_sts::error::SdkError<
            aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError,
        >,
    ) -> CloudError {
        let account = self.accounts.get(&target.account);
        let sso = match account.and_then(|a| a.profile.as_deref()) {
            Some(p) => super::profiles::Profiles::load()
                .await
                .is_ok_and(|profiles| profiles.is_sso(p)),
            None => false,
        };
        errors::identity(target, account, sso, e)
    }

    async fn ecr(&self, target: &Target) -> Result<aws_sdk_ecr::Client, CloudError> {
        let config = aws_sdk_ecr::config::Builder::from(&self.verified(target).await?)
            .interceptor(errors::RetryNotice)
            .build();
        Ok(aws_sdk_ecr::Client::from_conf(config))
    }

    async fn lambda(&self, target: &Target) -> Result<aws_sdk_lambda::Client, CloudError> {
        let config = aws_sdk_lambda::config::Builder::from(&self.verified(target).await?)
            .interceptor(errors::RetryNotice)
            .build();
        Ok(aws_sdk_lambda::Client::from_conf(config))
    }
}

/// Bounds on one call: a connection that never answers is abandoned and retried rather than
/// hanging the apply (the waiters for Active and Successful have their own limit). An endpoint
/// that accepts and never answers is given up after the read timeout (`FERRY_READ_TIMEOUT`),
/// retried, and bounded in all by the operation timeout.
pub fn timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(errors::CONNECT_TIMEOUT)
        .read_timeout(errors::read_timeout())
        .operation_attempt_timeout(errors::ATTEMPT_TIMEOUT)
        .operation_timeout(errors::OPERATION_TIMEOUT)
        .build()
}

/// Attempts per call (the first try included) unless AWS_MAX_ATTEMPTS says otherwise.
const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// The one place ferry's retry policy is set: the SDK's standard mode (exponential backoff with
/// jitter; throttling and 5xx are retried) with more attempts than the SDK's default of 3,
/// because one apply makes many calls across accounts and a throttling burst must not fail it.
/// `AWS_RETRY_MODE` (standard | adaptive) and `AWS_MAX_ATTEMPTS` override the mode and the
/// attempts, as for every AWS tool; each keeps ferry's value for the other (choosing adaptive
/// mode must not silently drop to the SDK's 3 attempts). `None` for a value aws-config should
/// judge itself (an unknown mode, a malformed count), so its own error reaches the user.
pub fn retry_config(env: &dyn Fn(&str) -> Option<String>) -> Option<RetryConfig> {
    let base = match env("AWS_RETRY_MODE").as_deref().map(str::trim) {
        None | Some("") | Some("standard") => RetryConfig::standard(),
        Some("adaptive") => RetryConfig::adaptive(),
        Some(_) => return None,
    };
    let attempts = match env("AWS_MAX_ATTEMPTS") {
        None => DEFAULT_MAX_ATTEMPTS,
        Some(n) => match n.trim().parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => return None,
        },
    };
    Some(
        base.with_max_attempts(attempts)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(20)),
    )
}

/// Tags AWS sets itself (`aws:cloudformation:stack-name`, ...): nobody may change or remove
/// them, so they are not part of what ferry compares or manages.
fn is_aws_tag(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

fn is_code(e: &CloudError, codes: &[&str]) -> bool {
    e.code().is_some_and(|c| codes.contains(&c))
}

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

fn function_arn(target: &Target, name: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:function:{}",
        target.region, target.account_id, name
    )
}

fn repository_arn(target: &Target, name: &str) -> String {
    format!(
        "arn:aws:ecr:{}:{}:repository/{}",
        target.region, target.account_id, name
    )
}

impl AwsCloud {
    async fn set_repository_settings(
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

    async fn wait_updated(
        &self,
        target: &Target,
        lambda: &aws_sdk_lambda::Client,
        name: &str,
    ) -> Result<(), CloudError> {
        lambda
            .wait_until_function_updated_v2()
            .function_name(name)
            .wait(FUNCTION_WAIT)
            .await
            .map_err(|e| waited("GetFunction (waiting for the update to finish)", target, e))?;
        Ok(())
    }
}

#[async_trait]
impl Cloud for AwsCloud {
    async fn verify_account(&self, target: &Target) -> Result<(), CloudError> {
        self.verified(target).await.map(|_| ())
    }

    async fn read_repositories(
        &self,
        target: &Target,
        names: &[String],
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
                if names.contains(&name) {
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

    async fn read_repository_policy(
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

    async fn repository_has_images(
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

    async fn resolve_images(
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

    async fn read_function(
        &self,
        target: &Target,
        name: &str,
    ) -> Result<Option<LiveFunction>, CloudError> {
        let lambda = self.lambda(target).await?;
        let out = match lambda.get_function().function_name(name).send().await {
            Ok(out) => out,
            Err(e) => {
                let e = api("GetFunction", target, e);
                if is_code(&e, &["ResourceNotFoundException"]) {
                    return Ok(None);
                }
                return Err(e);
            }
        };
        let Some(c) = out.configuration() else {
            return Ok(None);
        };
        let config = FunctionConfig {
            name: c.function_name().unwrap_or(name).to_string(),
            // Code.ImageUri is what was deployed; ResolvedImageUri is AWS's resolution of it.
            image_uri: out
                .code()
                .and_then(|code| code.image_uri())
                .unwrap_or_default()
                .to_string(),
            role: c.role().unwrap_or_default().to_string(),
            architecture: c
                .architectures()
                .first()
                .map(|a| a.as_str().to_string())
                .unwrap_or_else(|| "x86_64".to_string()),
            memory_mb: c.memory_size().unwrap_or(128),
            timeout_s: c.timeout().unwrap_or(3),
            description: c.description().unwrap_or_default().to_string(),
            environment: c
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            tags: out
                .tags()
                .map(|t| {
                    t.iter()
                        .filter(|(k, _)| !is_aws_tag(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        };
        Ok(Some(LiveFunction {
            arn: c
                .function_arn()
                .map(str::to_string)
                .unwrap_or_else(|| function_arn(target, name)),
            config,
        }))
    }

    async fn create_repository(
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
                if !super::same_owner(&live, &config.tags) {
                    return Err(CloudError::created_elsewhere(
                        &super::REPOSITORY_EXISTS,
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

    async fn update_repository(
        &self,
        target: &Target,
        before: &RepositoryConfig,
        after: &RepositoryConfig,
    ) -> Result<(), CloudError> {
        let ecr = self.ecr(target).await?;
        self.set_repository_settings(target, &ecr, Some(before), after)
            .await
    }

    async fn delete_repository(
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

    async fn put_repository_policy(
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

    async fn delete_repository_policy(
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

    async fn create_function(
        &self,
        target: &Target,
        config: &FunctionConfig,
    ) -> Result<(), CloudError> {
        let lambda = self.lambda(target).await?;
        let created = lambda
            .create_function()
            .function_name(&config.name)
            .package_type(aws_sdk_lambda::types::PackageType::Image)
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .image_uri(&config.image_uri)
                    .build(),
            )
            .role(&config.role)
            .architectures(config.architecture.as_str().into())
            .memory_size(config.memory_mb)
            .timeout(config.timeout_s)
            .description(&config.description)
            .environment(
                aws_sdk_lambda::types::Environment::builder()
                    .set_variables(Some(config.environment.clone().into_iter().collect()))
                    .build(),
            )
            .set_tags(Some(config.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| api("CreateFunction", target, e));
        if let Err(e) = created {
            // The SDK retries a call whose answer was lost; the retry then finds the function
            // the first attempt created. That one, carrying this address's ownership tags, is ours.
            if !is_code(&e, &["ResourceConflictException"]) {
                return Err(e);
            }
            match self.read_function(target, &config.name).await? {
                Some(l) if super::same_owner(&l.config.tags, &config.tags) => {}
                // Someone else's function, made since the plan: not touched.
                Some(_) => {
                    return Err(CloudError::created_elsewhere(
                        &super::FUNCTION_EXISTS,
                        target,
                        &config.name,
                        &config.tags,
                    ));
                }
                None => return Err(e),
            }
        }
        if let Err(waited) = lambda
            .wait_until_function_active_v2()
            .function_name(&config.name)
            .wait(FUNCTION_WAIT)
            .await
        {
            // A function that went to State=Failed says why (ImageAccessDenied, ...).
            let state = lambda
                .get_function_configuration()
                .function_name(&config.name)
                .send()
                .await
                .ok();
            return Err(match state {
                Some(c) if c.state() == Some(&aws_sdk_lambda::types::State::Failed) => {
                    CloudError::Api {
                        operation: "CreateFunction (the function did not become Active)".into(),
                        account_id: target.account_id.clone(),
                        region: target.region.clone(),
                        code: c
                            .state_reason_code()
                            .map(|r| r.as_str().to_string())
                            .unwrap_or_else(|| "Failed".into()),
                        message: c.state_reason().unwrap_or_default().to_string(),
                    }
                }
                _ => errors::waited(
                    "GetFunction (waiting for the function to be Active)",
                    target,
                    waited,
                ),
            });
        }
        Ok(())
    }

    async fn update_function(
        &self,
        target: &Target,
        before: &FunctionConfig,
        after: &FunctionConfig,
    ) -> Result<(), CloudError> {
        let lambda = self.lambda(target).await?;
        if before.image_uri != after.image_uri || before.architecture != after.architecture {
            lambda
                .update_function_code()
                .function_name(&after.name)
                .image_uri(&after.image_uri)
                .architectures(after.architecture.as_str().into())
                .send()
                .await
                .map_err(|e| api("UpdateFunctionCode", target, e))?;
            self.wait_updated(target, &lambda, &after.name).await?;
        }
        if before.role != after.role
            || before.memory_mb != after.memory_mb
            || before.timeout_s != after.timeout_s
            || before.description != after.description
            || before.environment != after.environment
        {
            lambda
                .update_function_configuration()
                .function_name(&after.name)
                .role(&after.role)
                .memory_size(after.memory_mb)
                .timeout(after.timeout_s)
                .description(&after.description)
                .environment(
                    aws_sdk_lambda::types::Environment::builder()
                        .set_variables(Some(after.environment.clone().into_iter().collect()))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| api("UpdateFunctionConfiguration", target, e))?;
            self.wait_updated(target, &lambda, &after.name).await?;
        }
        let (set, remove) = tag_delta(&before.tags, &after.tags);
        let arn = function_arn(target, &after.name);
        if !set.is_empty() {
            lambda
                .tag_resource()
                .resource(&arn)
                .set_tags(Some(set.into_iter().collect()))
                .send()
                .await
                .map_err(|e| api("TagResource", target, e))?;
        }
        if !remove.is_empty() {
            lambda
                .untag_resource()
                .resource(&arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| api("UntagResource", target, e))?;
        }
        Ok(())
    }

    async fn delete_function(&self, target: &Target, name: &str) -> Result<(), CloudError> {
        let lambda = self.lambda(target).await?;
        match lambda.delete_function().function_name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = api("DeleteFunction", target, e);
                if is_code(&e, &["ResourceNotFoundException"]) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_aws_sets_itself_are_not_managed() {
        assert!(is_aws_tag("aws:cloudformation:stack-name"));
        assert!(is_aws_tag("AWS:x"));
        assert!(!is_aws_tag("team"));
        assert!(!is_aws_tag("aws"));
        assert!(!is_aws_tag("é:aws"));
        assert!(!is_aws_tag("ferry:address"));
    }

    #[test]
    fn the_standard_aws_variables_override_ferry_s_retry_policy() {
        let none = |_: &str| None;
        let ours = retry_config(&none).expect("ferry's policy when nothing is set");
        assert_eq!(ours.max_attempts(), DEFAULT_MAX_ATTEMPTS);
        assert_eq!(ours.mode(), aws_config::retry::RetryMode::Standard);
        // Each variable overrides its own part and keeps ferry's value for the other.
        let adaptive = |k: &str| (k == "AWS_RETRY_MODE").then(|| "adaptive".to_string());
        let a = retry_config(&adaptive).expect("adaptive");
        assert_eq!(a.mode(), aws_config::retry::RetryMode::Adaptive);
        assert_eq!(a.max_attempts(), DEFAULT_MAX_ATTEMPTS);
        let attempts = |k: &str| (k == "AWS_MAX_ATTEMPTS").then(|| "20".to_string());
        let n = retry_config(&attempts).expect("20 attempts");
        assert_eq!(n.max_attempts(), 20);
        assert_eq!(n.mode(), aws_config::retry::RetryMode::Standard);
        // Values ferry does not understand are left to aws-config, which reports them.
        let bad = |k: &str| (k == "AWS_RETRY_MODE").then(|| "legacy-ish".to_string());
        assert!(retry_config(&bad).is_none());
    }
}
