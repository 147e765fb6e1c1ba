//! The managed attributes of a repository and a function as ferry writes them: the payload of
//! state records and plan steps, and what the cloud reads back. (They lived in `cloud`, which
//! still re-exports them.)

use super::TagMutability;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The managed attributes of an ECR repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryConfig {
    pub name: String,
    pub tag_mutability: TagMutability,
    pub scan_on_push: bool,
    pub tags: BTreeMap<String, String>,
}

/// The managed attributes of a container-image Lambda function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionConfig {
    pub name: String,
    /// `<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:...`
    pub image_uri: String,
    pub role: String,
    pub architecture: String,
    pub memory_mb: i32,
    pub timeout_s: i32,
    pub description: String,
    pub environment: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// A function as read from Lambda.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveFunction {
    pub config: FunctionConfig,
    pub arn: String,
}
