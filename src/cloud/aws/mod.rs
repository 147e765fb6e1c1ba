//! The real cloud: the AWS SDK for Rust. Credentials per account come from aws-config's
//! standard chain, the account's `profile`, and its `role_arn` (or the project's `assume_role`
//! template) with `external_id`; clients are cached per account and region. `AWS_ENDPOINT_URL`
//! points every client at an emulator such as moto.
//!
//! Every account id and region is checked with STS GetCallerIdentity before the first call into
//! it: applying into the wrong account is the worst thing this tool could do.
//!
//! One file per concern: `credentials` (config per account and region, GetCallerIdentity),
//! `retry` (retry and timeout policy), `ecr`, `lambda`, `errors` (AWS's errors in ferry's
//! words). The `Cloud` impl below is the table of which service answers which call.

mod credentials;
mod ecr;
mod errors;
mod lambda;
pub mod objects;
mod organizations;
mod replication;
mod retry;

use retry::DEFAULT_MAX_ATTEMPTS;
pub use retry::{retry_config, timeout_config};

use super::{
    Cloud, CloudError, FunctionConfig, ImageLookup, LiveFunction, OrgAccount, ReplicaStatus,
    RepositoryConfig,
};
use crate::model::{Account, ImageRef, Target};
use async_trait::async_trait;
use aws_config::SdkConfig;
use std::collections::{BTreeMap, HashMap};
use tokio::sync::Mutex;

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

/// Tags AWS sets itself (`aws:cloudformation:stack-name`, ...): nobody may change or remove
/// them, so they are not part of what ferry compares or manages.
fn is_aws_tag(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

fn is_code(e: &CloudError, codes: &[&str]) -> bool {
    e.code().is_some_and(|c| codes.contains(&c))
}

/// Each call but `verify_account` is an inherent method of the same name in `ecr.rs` or
/// `lambda.rs`: `AwsCloud::name(self, ..)` names the inherent one, which Rust resolves before
/// the trait's.
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
        AwsCloud::read_repositories(self, target, names).await
    }

    async fn list_repositories(
        &self,
        target: &Target,
    ) -> Result<BTreeMap<String, RepositoryConfig>, CloudError> {
        AwsCloud::list_repositories(self, target).await
    }

    async fn organization_accounts(
        &self,
        via: &Target,
        parent: &str,
    ) -> Result<Vec<OrgAccount>, CloudError> {
        AwsCloud::organization_accounts(self, via, parent).await
    }

    async fn read_replication(&self, target: &Target) -> Result<Option<String>, CloudError> {
        AwsCloud::read_replication(self, target).await
    }

    async fn put_replication(
        &self,
        target: &Target,
        configuration: Option<&str>,
    ) -> Result<(), CloudError> {
        AwsCloud::put_replication(self, target, configuration).await
    }

    async fn read_registry_policy(&self, target: &Target) -> Result<Option<String>, CloudError> {
        AwsCloud::read_registry_policy(self, target).await
    }

    async fn put_registry_policy(&self, target: &Target, policy: &str) -> Result<(), CloudError> {
        AwsCloud::put_registry_policy(self, target, policy).await
    }

    async fn delete_registry_policy(&self, target: &Target) -> Result<(), CloudError> {
        AwsCloud::delete_registry_policy(self, target).await
    }

    async fn replication_status(
        &self,
        target: &Target,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<ReplicaStatus>, CloudError> {
        AwsCloud::replication_status(self, target, repository, digest).await
    }

    async fn list_functions(&self, target: &Target) -> Result<Vec<String>, CloudError> {
        AwsCloud::list_functions(self, target).await
    }

    async fn read_repository_policy(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<Option<String>, CloudError> {
        AwsCloud::read_repository_policy(self, target, repository).await
    }

    async fn repository_has_images(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<bool, CloudError> {
        AwsCloud::repository_has_images(self, target, repository).await
    }

    async fn resolve_images(
        &self,
        target: &Target,
        repository: &str,
        refs: &[ImageRef],
    ) -> Result<Vec<ImageLookup>, CloudError> {
        AwsCloud::resolve_images(self, target, repository, refs).await
    }

    async fn read_function(
        &self,
        target: &Target,
        name: &str,
    ) -> Result<Option<LiveFunction>, CloudError> {
        AwsCloud::read_function(self, target, name).await
    }

    async fn create_repository(
        &self,
        target: &Target,
        config: &RepositoryConfig,
    ) -> Result<(), CloudError> {
        AwsCloud::create_repository(self, target, config).await
    }

    async fn update_repository(
        &self,
        target: &Target,
        before: &RepositoryConfig,
        after: &RepositoryConfig,
    ) -> Result<(), CloudError> {
        AwsCloud::update_repository(self, target, before, after).await
    }

    async fn delete_repository(
        &self,
        target: &Target,
        name: &str,
        force: bool,
    ) -> Result<(), CloudError> {
        AwsCloud::delete_repository(self, target, name, force).await
    }

    async fn put_repository_policy(
        &self,
        target: &Target,
        repository: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        AwsCloud::put_repository_policy(self, target, repository, policy).await
    }

    async fn delete_repository_policy(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<(), CloudError> {
        AwsCloud::delete_repository_policy(self, target, repository).await
    }

    async fn create_function(
        &self,
        target: &Target,
        config: &FunctionConfig,
    ) -> Result<(), CloudError> {
        AwsCloud::create_function(self, target, config).await
    }

    async fn update_function(
        &self,
        target: &Target,
        before: &FunctionConfig,
        after: &FunctionConfig,
    ) -> Result<(), CloudError> {
        AwsCloud::update_function(self, target, before, after).await
    }

    async fn start_create_function(
        &self,
        target: &Target,
        config: &FunctionConfig,
    ) -> Result<(), CloudError> {
        AwsCloud::start_create_function(self, target, config).await
    }

    async fn function_settled(&self, target: &Target, name: &str) -> Result<bool, CloudError> {
        AwsCloud::function_settled(self, target, name).await
    }

    async fn delete_function(&self, target: &Target, name: &str) -> Result<(), CloudError> {
        AwsCloud::delete_function(self, target, name).await
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
}
