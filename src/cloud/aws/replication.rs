//! ECR's registry-wide calls for replication: the replication configuration (DescribeRegistry,
//! PutReplicationConfiguration), the registry policy (Get/Put/DeleteRegistryPolicy) and where an
//! image stands in each destination (DescribeImageReplicationStatus). Inherent methods of
//! [`AwsCloud`]; the `Cloud` impl in `mod.rs` delegates here. A configuration travels as
//! `crate::replication`'s JSON, the shape of the API's own (`rules`, `destinations`,
//! `repositoryFilters`).

use super::errors::api;
use super::{AwsCloud, is_code};
use crate::cloud::{CloudError, ReplicaStatus};
use crate::model::Target;
use aws_sdk_ecr::types::{
    ImageIdentifier, ReplicationConfiguration, ReplicationDestination, ReplicationRule,
    RepositoryFilter, RepositoryFilterType,
};
use serde_json::{Value, json};

fn to_json(config: &ReplicationConfiguration) -> Value {
    let rules: Vec<Value> = config
        .rules()
        .iter()
        .map(|r| {
            let destinations: Vec<Value> = r
                .destinations()
                .iter()
                .map(|d| json!({ "region": d.region(), "registryId": d.registry_id() }))
                .collect();
            let filters: Vec<Value> = r
                .repository_filters()
                .iter()
                .map(|f| json!({ "filter": f.filter(), "filterType": f.filter_type().as_str() }))
                .collect();
            json!({ "destinations": destinations, "repositoryFilters": filters })
        })
        .collect();
    crate::replication::normalize(&json!({ "rules": rules }))
}

/// The SDK's configuration for ferry's JSON; `None` text is no rule.
fn from_json(target: &Target, text: Option<&str>) -> Result<ReplicationConfiguration, CloudError> {
    let bad = |what: String| CloudError::Api {
        operation: "PutReplicationConfiguration".into(),
        account_id: target.account_id.clone(),
        region: target.region.clone(),
        code: "InvalidConfiguration".into(),
        message: what,
    };
    let value: Value = match text {
        Some(t) => serde_json::from_str(t).map_err(|e| bad(e.to_string()))?,
        None => json!({ "rules": [] }),
    };
    let mut rules = Vec::new();
    for rule in value["rules"].as_array().into_iter().flatten() {
        let mut b = ReplicationRule::builder();
        for d in rule["destinations"].as_array().into_iter().flatten() {
            let dest = ReplicationDestination::builder()
                .region(d["region"].as_str().unwrap_or_default())
                .registry_id(d["registryId"].as_str().unwrap_or_default())
                .build()
                .map_err(|e| bad(e.to_string()))?;
            b = b.destinations(dest);
        }
        for f in rule["repositoryFilters"].as_array().into_iter().flatten() {
            let filter = RepositoryFilter::builder()
                .filter(f["filter"].as_str().unwrap_or_default())
                .filter_type(RepositoryFilterType::from(
                    f["filterType"].as_str().unwrap_or("PREFIX_MATCH"),
                ))
                .build()
                .map_err(|e| bad(e.to_string()))?;
            b = b.repository_filters(filter);
        }
        rules.push(b.build().map_err(|e| bad(e.to_string()))?);
    }
    ReplicationConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|e| bad(e.to_string()))
}

impl AwsCloud {
    pub(super) async fn read_replication(
        &self,
        target: &Target,
    ) -> Result<Option<String>, CloudError> {
        let ecr = self.ecr(target).await?;
        let out = ecr
            .describe_registry()
            .send()
            .await
            .map_err(|e| api("DescribeRegistry", target, e))?;
        let text = out
            .replication_configuration()
            .map(|c| to_json(c).to_string())
            .filter(|t| !crate::replication::is_empty(t));
        Ok(text)
    }

    pub(super) async fn put_replication(
        &self,
        target: &Target,
        configuration: Option<&str>,
    ) -> Result<(), CloudError> {
        let config = from_json(target, configuration)?;
        let ecr = self.ecr(target).await?;
        ecr.put_replication_configuration()
            .replication_configuration(config)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api("PutReplicationConfiguration", target, e))
    }

    pub(super) async fn read_registry_policy(
        &self,
        target: &Target,
    ) -> Result<Option<String>, CloudError> {
        let ecr = self.ecr(target).await?;
        match ecr.get_registry_policy().send().await {
            Ok(out) => Ok(out.policy_text().map(str::to_string)),
            Err(e) => {
                let e = api("GetRegistryPolicy", target, e);
                if is_code(&e, &["RegistryPolicyNotFoundException"]) {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    pub(super) async fn put_registry_policy(
        &self,
        target: &Target,
        policy: &str,
    ) -> Result<(), CloudError> {
        let ecr = self.ecr(target).await?;
        ecr.put_registry_policy()
            .policy_text(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api("PutRegistryPolicy", target, e))
    }

    pub(super) async fn delete_registry_policy(&self, target: &Target) -> Result<(), CloudError> {
        let ecr = self.ecr(target).await?;
        match ecr.delete_registry_policy().send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = api("DeleteRegistryPolicy", target, e);
                if is_code(&e, &["RegistryPolicyNotFoundException"]) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    pub(super) async fn replication_status(
        &self,
        target: &Target,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<ReplicaStatus>, CloudError> {
        let ecr = self.ecr(target).await?;
        let out = ecr
            .describe_image_replication_status()
            .registry_id(&target.account_id)
            .repository_name(repository)
            .image_id(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await
            .map_err(|e| api("DescribeImageReplicationStatus", target, e))?;
        Ok(out
            .replication_statuses()
            .iter()
            .map(|s| ReplicaStatus {
                region: s.region().unwrap_or_default().to_string(),
                registry_id: s.registry_id().unwrap_or_default().to_string(),
                status: s
                    .status()
                    .map(|s| s.as_str())
                    .unwrap_or_default()
                    .to_string(),
                failure: s.failure_code().map(str::to_string),
            })
            .collect())
    }
}
