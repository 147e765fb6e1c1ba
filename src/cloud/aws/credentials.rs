//! Credentials per account and region: aws-config's standard chain, the account's `profile`,
//! its `role_arn` (or the project's `assume_role` template) with `external_id`, and the STS
//! GetCallerIdentity check before the first call into an account id and region.

use super::retry::{retry_config, timeout_config};
use super::{AwsCloud, errors};
use crate::cloud::CloudError;
use crate::model::Target;
use aws_config::{BehaviorVersion, Region, SdkConfig};

impl AwsCloud {
    pub(super) async fn config(&self, target: &Target) -> Result<SdkConfig, CloudError> {
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
            let profiles = crate::cloud::profiles::Profiles::load()
                .await
                .map_err(|message| CloudError::Credentials {
                    account: target.account.clone(),
                    account_id: target.account_id.clone(),
                    message,
                    hint: Some(
                        "fix the file's syntax (`aws configure list` reports it too)".into(),
                    ),
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
    pub(super) async fn verified(&self, target: &Target) -> Result<SdkConfig, CloudError> {
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
    pub(super) async fn identity_error(
        &self,
        target: &Target,
        e: aws_sdk_sts::error::SdkError<
            aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError,
        >,
    ) -> CloudError {
        let account = self.accounts.get(&target.account);
        let sso = match account.and_then(|a| a.profile.as_deref()) {
            Some(p) => crate::cloud::profiles::Profiles::load()
                .await
                .is_ok_and(|profiles| profiles.is_sso(p)),
            None => false,
        };
        errors::identity(target, account, sso, e)
    }
}
