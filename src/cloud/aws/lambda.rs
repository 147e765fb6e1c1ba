//! Lambda: reading, creating, updating and deleting container-image functions, and waiting
//! for them to settle. Inherent methods of [`AwsCloud`]; the `Cloud` impl in `mod.rs`
//! delegates here.

use super::errors::{api, waited};
use super::{AwsCloud, is_aws_tag, is_code};
use crate::cloud::{CloudError, FunctionConfig, LiveFunction, tag_delta};
use crate::model::Target;
use aws_sdk_lambda::client::Waiters;
use std::time::Duration;

/// How long to wait for a function to become Active or finish an update.
const FUNCTION_WAIT: Duration = Duration::from_secs(300);

fn function_arn(target: &Target, name: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:function:{}",
        target.region, target.account_id, name
    )
}

impl AwsCloud {
    pub(super) async fn wait_updated(
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

    /// The names of every function in the account and region (`ferry state rebuild`); ListFunctions
    /// carries no tags, so the caller reads each one it wants.
    pub(super) async fn list_functions(&self, target: &Target) -> Result<Vec<String>, CloudError> {
        let lambda = self.lambda(target).await?;
        let mut pages = lambda.list_functions().into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| api("ListFunctions", target, e))?;
            names.extend(
                page.functions()
                    .iter()
                    .filter_map(|f| f.function_name().map(str::to_string)),
            );
        }
        Ok(names)
    }

    pub(super) async fn read_function(
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

    pub(super) async fn create_function(
        &self,
        target: &Target,
        config: &FunctionConfig,
    ) -> Result<(), CloudError> {
        self.start_create_function(target, config).await?;
        let lambda = self.lambda(target).await?;
        self.wait_active(target, &lambda, &config.name).await
    }

    /// CreateFunction alone (a pacing wrapper waits for Active itself, holding no slot).
    pub(super) async fn start_create_function(
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
                Some(l) if crate::cloud::same_owner(&l.config.tags, &config.tags) => {}
                // Someone else's function, made since the plan: not touched.
                Some(_) => {
                    return Err(CloudError::created_elsewhere(
                        &crate::cloud::FUNCTION_EXISTS,
                        target,
                        &config.name,
                        &config.tags,
                    ));
                }
                None => return Err(e),
            }
        }
        Ok(())
    }

    /// One look at a function: `true` once it is Active and no update is in progress; an
    /// error when it went to State=Failed or its last update failed.
    pub(super) async fn function_settled(
        &self,
        target: &Target,
        name: &str,
    ) -> Result<bool, CloudError> {
        use aws_sdk_lambda::types::{LastUpdateStatus, State};
        let lambda = self.lambda(target).await?;
        // GetFunction, as the SDK's waiter looks (and within its own, larger quota).
        let out = lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .map_err(|e| api("GetFunction", target, e))?;
        let Some(c) = out.configuration() else {
            return Ok(false);
        };
        let failed = |operation: &str, code: Option<&str>, message: Option<&str>| {
            Err(CloudError::Api {
                operation: operation.into(),
                account_id: target.account_id.clone(),
                region: target.region.clone(),
                code: code.unwrap_or("Failed").to_string(),
                message: message.unwrap_or_default().to_string(),
            })
        };
        if c.state() == Some(&State::Failed) {
            return failed(
                "CreateFunction (the function did not become Active)",
                c.state_reason_code().map(|r| r.as_str()),
                c.state_reason(),
            );
        }
        if c.last_update_status() == Some(&LastUpdateStatus::Failed) {
            return failed(
                "UpdateFunctionConfiguration (the update did not finish)",
                c.last_update_status_reason_code().map(|r| r.as_str()),
                c.last_update_status_reason(),
            );
        }
        Ok(c.state().is_none_or(|s| *s == State::Active)
            && c.last_update_status() != Some(&LastUpdateStatus::InProgress))
    }

    async fn wait_active(
        &self,
        target: &Target,
        lambda: &aws_sdk_lambda::Client,
        name: &str,
    ) -> Result<(), CloudError> {
        if let Err(waited) = lambda
            .wait_until_function_active_v2()
            .function_name(name)
            .wait(FUNCTION_WAIT)
            .await
        {
            // A function that went to State=Failed says why (ImageAccessDenied, ...).
            let state = lambda
                .get_function_configuration()
                .function_name(name)
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
                _ => super::errors::waited(
                    "GetFunction (waiting for the function to be Active)",
                    target,
                    waited,
                ),
            });
        }
        Ok(())
    }

    pub(super) async fn update_function(
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

    pub(super) async fn delete_function(
        &self,
        target: &Target,
        name: &str,
    ) -> Result<(), CloudError> {
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
