//! The declared resources, validated: what each `[table.KEY]` becomes.

use super::Target;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub name: String,
    pub default_region: Option<String>,
    /// Where the state lives (`[project.state]`).
    pub state: StateBackend,
    /// Request rates per account and region; unset ones keep ferry's defaults.
    pub rates: Rates,
}

/// `[project]`'s `lambda_requests_per_second`, `lambda_get_function_per_second` and
/// `ecr_requests_per_second`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    pub lambda: Option<u32>,
    pub get_function: Option<u32>,
    pub ecr: Option<u32>,
}

/// `[project.state]`: the local sled directory (`--state DIR`, the default) or an S3 object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StateBackend {
    #[default]
    Local,
    S3(S3Backend),
}

/// `backend = "s3"`: the state object `s3://bucket/key` (with `key.lock`, `key.journal` and
/// `key.secret` beside it), read and written with the credentials of the account `account`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Backend {
    pub bucket: String,
    pub key: String,
    /// The account key whose credentials are used.
    pub account: String,
    pub region: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub key: String,
    pub id: String,
    pub profile: Option<String>,
    /// The role to assume, after `{account_id}` substitution of the project's template.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub organization_id: Option<String>,
    pub org_path: Option<String>,
}

/// `[account_groups.KEY]`: accounts listed by key, or every ACTIVE account beneath an OU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountGroup {
    pub key: String,
    pub members: GroupMembers,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupMembers {
    /// Declared account keys.
    Listed(Vec<String>),
    /// Discovered at plan time through AWS Organizations, read with `organization_account`'s
    /// credentials; `exclude` holds account ids (keys resolved). `discovered` holds the keys of
    /// the accounts found (declared keys, or the account id for an account not declared) once
    /// the session has asked; `None` before (`ferry validate` never asks AWS).
    OrganizationalUnit {
        organizational_unit: String,
        organization_account: String,
        exclude: std::collections::BTreeSet<String>,
        discovered: Option<Vec<String>>,
    },
}

/// What AWS Organizations answered for the groups discovered from an OU, fed back into
/// validation so that their functions expand into one instance per account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Group key → the ids of the ACTIVE accounts beneath its OU (before `exclude`).
    pub groups: BTreeMap<String, Vec<String>>,
    /// Account ids that state has resources in, neither declared nor discovered any more (they
    /// left the OU): reachable through the project's `assume_role`, so that their instances are
    /// planned as removals like any undeclared resource.
    pub departed: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registry {
    pub key: String,
    pub account: String,
    pub account_id: String,
    pub region: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TagMutability {
    Mutable,
    Immutable,
}

impl TagMutability {
    pub fn as_aws(self) -> &'static str {
        match self {
            TagMutability::Mutable => "MUTABLE",
            TagMutability::Immutable => "IMMUTABLE",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Repository {
    pub key: String,
    /// The ECR repository name.
    pub name: String,
    pub registry: String,
    pub target: Target,
    pub tag_mutability: TagMutability,
    pub scan_on_push: bool,
    pub force_delete: bool,
    pub manage_policy: bool,
    /// 12-digit ids, from `share_with_accounts` (keys resolved).
    pub share_with_accounts: BTreeSet<String>,
    pub share_with_organization: Option<String>,
    pub share_with_org_paths: BTreeSet<String>,
    /// Statements merged verbatim after the managed ones.
    pub extra_statements: Vec<serde_json::Value>,
    pub tags: BTreeMap<String, String>,
    /// Registry keys the images are replicated to (`replicate_to`), sorted; empty for a replica.
    pub replicate_to: Vec<String>,
    /// For a replica ferry manages in another registry: the key of the repository it copies.
    pub replica_of: Option<String>,
}

impl Repository {
    /// `<account>.dkr.ecr.<region>.amazonaws.com/<name>`
    pub fn uri(&self) -> String {
        format!(
            "{}.dkr.ecr.{}.amazonaws.com/{}",
            self.target.account_id, self.target.region, self.name
        )
    }

    pub fn arn(&self) -> String {
        format!(
            "arn:aws:ecr:{}:{}:repository/{}",
            self.target.region, self.target.account_id, self.name
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageRef {
    Tag(String),
    Digest(String),
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Tag(t) => write!(f, "tag `{t}`"),
            ImageRef::Digest(d) => write!(f, "digest `{d}`"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub key: String,
    pub repository: String,
    pub reference: ImageRef,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub key: String,
    /// The Lambda function name.
    pub name: String,
    pub target: Target,
    pub image: String,
    pub role: String,
    pub architecture: String,
    pub memory_mb: i32,
    pub timeout_s: i32,
    pub description: String,
    pub environment: BTreeMap<String, String>,
    /// Keys of `environment` whose values are never printed or stored in clear.
    pub sensitive_environment: BTreeSet<String>,
    pub tags: BTreeMap<String, String>,
}

impl Function {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.target.region, self.target.account_id, self.name
        )
    }
}
