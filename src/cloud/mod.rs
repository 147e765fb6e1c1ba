//! Stage: cloud. Everything ferry reads from or writes to AWS goes through the [`Cloud`] trait.
//!
//! Two implementations live here: [`aws::AwsCloud`] (the real AWS SDK for Rust; also what talks
//! to moto through `AWS_ENDPOINT_URL`) and [`fake::FakeCloud`] (in memory, with injectable
//! faults, for fast planner and executor tests). Every mutating method is idempotent: deleting
//! something already gone succeeds, so a retried or resumed step is safe.

pub mod aws;
pub mod fake;
pub mod paced;
pub mod profiles;

use crate::model::{ImageRef, Target};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::model::TagMutability;
// The state record's and the plan's payload live in the model; these paths stay for callers.
pub use crate::model::{FunctionConfig, LiveFunction, RepositoryConfig};

/// The result of resolving one image reference in its repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ImageLookup {
    Found {
        digest: String,
    },
    NotFound,
    RepositoryNotFound,
    /// ECR found no usable image for the reference, for another reason than its absence
    /// (BatchGetImage's per-image failure: a manifest type it cannot serve, a KMS error, ...).
    Failed {
        code: String,
        reason: String,
    },
}

/// An account beneath an organizational unit, as AWS Organizations lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`, ...: only ACTIVE accounts are deployed to.
    pub state: String,
    /// The OU (or root) the account sits in directly.
    pub parent: String,
}

/// One destination's replication of one image, as DescribeImageReplicationStatus answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaStatus {
    pub region: String,
    pub registry_id: String,
    /// `IN_PROGRESS`, `COMPLETE` or `FAILED`.
    pub status: String,
    pub failure: Option<String>,
}

/// An AWS API failure, with what a user needs to act on it: the operation, where it went, and
/// AWS's own error code and message.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CloudError {
    #[error("{operation} in account {account_id} ({region}) failed: {code}: {message}")]
    Api {
        operation: String,
        account_id: String,
        region: String,
        code: String,
        message: String,
    },
    #[error(
        "the credentials for account `{account}` belong to account {actual}, not {expected}; \
         ferry refuses to touch an account other than the one declared"
    )]
    WrongAccount {
        account: String,
        expected: String,
        actual: String,
    },
    /// A create answered that the resource already exists, and the live one does not carry
    /// this address's ownership tags: not ferry's own retried create, but someone else's
    /// resource made since the plan. Nothing of it was touched.
    #[error(
        "{} `{name}` in {place} was created by someone else since the plan: {} answered {}, and \
         the {} does not carry ferry's ownership tags for {address}; ferry left it untouched. Run \
         `ferry plan` again: it shows the {} as not managed by this project, with how to import it \
         or give the declaration another `name`",
        .conflict.0, .conflict.1, .conflict.2, .conflict.0, .conflict.0
    )]
    CreatedElsewhere {
        /// (kind, operation, AWS's code): [`REPOSITORY_EXISTS`] or [`FUNCTION_EXISTS`].
        conflict: &'static Conflict,
        name: String,
        address: String,
        /// `account 111111111111 (us-east-1)`
        place: String,
    },
    #[error("cannot get credentials for account `{account}` ({account_id}): {message}")]
    Credentials {
        account: String,
        account_id: String,
        message: String,
        /// What to do about it, when ferry can tell (`aws sso login --profile NAME`, ...).
        hint: Option<String>,
    },
    /// The account's `profile` is in none of the AWS config files: never fall back to other
    /// credentials, which may be another account's.
    #[error("account `{account}` uses the profile `{profile}`, which is not defined in {files}")]
    NoSuchProfile {
        account: String,
        profile: String,
        /// The files looked in, as the user would name them.
        files: String,
        /// The profiles those files define.
        known: Vec<String>,
    },
    /// The endpoint refused, dropped or never answered the call, after the SDK's retries.
    #[error(
        "{operation} for account {account_id} ({region}) could not get an answer from {endpoint}: {problem}"
    )]
    Endpoint {
        operation: String,
        account_id: String,
        region: String,
        /// (Boxed strings keep the error small enough to return everywhere.)
        endpoint: Box<str>,
        /// What happened and what was tried.
        problem: Box<str>,
    },
    /// An answer arrived but could not be read (cut short, not what the API returns). Its body
    /// is never shown: it may hold the function's environment.
    #[error(
        "{operation} in account {account_id} ({region}): the answer was damaged or cut short and could \
         not be read ({what}); ferry did not use it"
    )]
    Unreadable {
        operation: String,
        account_id: String,
        region: String,
        what: String,
    },
    /// A permission error that ferry retried while a policy or role propagated, still there
    /// at the end of `--propagation-timeout`.
    #[error(
        "{error} (still refused after retrying for {retried_s}s, {attempts} attempts, while permissions propagate)"
    )]
    StillRefused {
        error: Box<CloudError>,
        retried_s: u64,
        attempts: u32,
    },
    #[error(
        "account `{account}` is not declared, but state has resources in it; declare it again (with its \
         id and credentials) until ferry has deleted them, or forget them with `ferry state rm ADDR`"
    )]
    UnknownAccount { account: String },
}

impl CloudError {
    /// AWS's error code, when the failure came from an AWS API.
    pub fn code(&self) -> Option<&str> {
        match self {
            CloudError::Api { code, .. } => Some(code),
            CloudError::StillRefused { error, .. } => error.code(),
            _ => None,
        }
    }

    /// What the user can do about it, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            CloudError::Credentials { hint, .. } => hint.clone(),
            // Credentials that expire in the middle of a run (an SSO session, a short-lived
            // AWS_SESSION_TOKEN).
            CloudError::Api { code, .. }
                if matches!(
                    code.as_str(),
                    "ExpiredToken" | "ExpiredTokenException" | "RequestExpired"
                ) =>
            {
                Some(
                    "the session token has expired: get new credentials (`aws sso login --profile NAME` \
                     for an SSO profile) and run ferry again"
                        .into(),
                )
            }
            CloudError::NoSuchProfile { profile, known, .. } => Some(format!(
                "fix the spelling of `profile` in the declarations{}, or add [profile {profile}] to the \
                 AWS config file (`aws configure --profile {profile}` writes one)",
                if known.is_empty() {
                    " (those files define no profile at all)".to_string()
                } else {
                    format!(" (defined: {})", known.join(", "))
                }
            )),
            CloudError::Endpoint { .. } => Some(
                "check that the endpoint is the right one (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>, the \
                 profile's endpoint_url) and reachable from here (network, proxy, VPN); FERRY_READ_TIMEOUT \
                 raises the wait for an answer"
                    .into(),
            ),
            CloudError::Unreadable { .. } => Some(
                "a proxy or the network between ferry and AWS cut the answer short; nothing was decided from \
                 it. Run the command again"
                    .into(),
            ),
            CloudError::StillRefused { error, .. } => {
                let message = match error.as_ref() {
                    CloudError::Api { message, .. } => message.as_str(),
                    _ => "",
                };
                if message.contains("access the ECR image") {
                    Some(ECR_DENIED_HINT.into())
                } else if message.contains("cannot be assumed by Lambda") {
                    Some(
                        "the execution role's trust policy must let the service principal lambda.amazonaws.com \
                         call sts:AssumeRole (and the role must exist in the function's account); \
                         `ferry check` does not read roles"
                            .into(),
                    )
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// The answer to a create whose resource exists and is not `ours` (see [`same_owner`]).
    pub fn created_elsewhere(
        conflict: &'static Conflict,
        target: &Target,
        name: &str,
        ours: &BTreeMap<String, String>,
    ) -> CloudError {
        CloudError::CreatedElsewhere {
            conflict,
            name: name.to_string(),
            address: ours
                .get(crate::model::TAG_ADDRESS)
                .cloned()
                .unwrap_or_default(),
            place: format!("account {} ({})", target.account_id, target.region),
        }
    }
}

/// After a CreateFunction denied "Lambda does not have permission to access the ECR image":
/// what else AWS evaluates besides the repository policy, and what `ferry check` sees of it.
pub const ECR_DENIED_HINT: &str = "the repository policy is not all AWS evaluates; also check:
  - the consumer account's service control policies (SCPs) and permissions boundaries
  - the repository's KMS key policy, if it uses a customer managed key (Lambda needs kms:Decrypt)
  - that the image still exists (it may have been deleted since the plan) and is in the function's region
  - the function's execution role
  `ferry check` judges the repository policy and the region rule (and `ferry plan` found the image); it \
cannot see SCPs, permissions boundaries, KMS key policies or the execution role";

/// The cloud as ferry sees it. Reads return `None`/absent for things that do not exist: absence
/// is data, not an error.
#[async_trait]
pub trait Cloud: Send + Sync {
    /// Checks that the credentials used for `target.account` really are `target.account_id`.
    async fn verify_account(&self, target: &Target) -> Result<(), CloudError>;

    /// The repositories of one registry (account + region) whose names are in `names`: one
    /// listing per registry, whatever the count.
    async fn read_repositories(
        &self,
        target: &Target,
        names: &[String],
    ) -> Result<BTreeMap<String, RepositoryConfig>, CloudError>;
    /// Every repository of one registry (account + region), with its settings and tags: what
    /// `ferry state rebuild` searches for this project's ownership tags.
    async fn list_repositories(
        &self,
        target: &Target,
    ) -> Result<BTreeMap<String, RepositoryConfig>, CloudError>;
    /// The names of every function in one account and region (read each with
    /// [`Cloud::read_function`] for its tags).
    async fn list_functions(&self, target: &Target) -> Result<Vec<String>, CloudError>;
    async fn read_repository_policy(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<Option<String>, CloudError>;
    /// Whether a repository holds at least one image.
    async fn repository_has_images(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<bool, CloudError>;
    /// Resolves several references in one repository at once (one call per repository).
    async fn resolve_images(
        &self,
        target: &Target,
        repository: &str,
        refs: &[ImageRef],
    ) -> Result<Vec<ImageLookup>, CloudError>;
    async fn read_function(
        &self,
        target: &Target,
        name: &str,
    ) -> Result<Option<LiveFunction>, CloudError>;

    async fn create_repository(
        &self,
        target: &Target,
        config: &RepositoryConfig,
    ) -> Result<(), CloudError>;
    async fn update_repository(
        &self,
        target: &Target,
        before: &RepositoryConfig,
        after: &RepositoryConfig,
    ) -> Result<(), CloudError>;
    async fn delete_repository(
        &self,
        target: &Target,
        name: &str,
        force: bool,
    ) -> Result<(), CloudError>;
    async fn put_repository_policy(
        &self,
        target: &Target,
        repository: &str,
        policy: &str,
    ) -> Result<(), CloudError>;
    async fn delete_repository_policy(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<(), CloudError>;
    /// Creates the function and waits until it is Active.
    async fn create_function(
        &self,
        target: &Target,
        config: &FunctionConfig,
    ) -> Result<(), CloudError>;
    /// Brings a function from `before` to `after`: code, then configuration, then tags, waiting
    /// for each update to finish before the next (Lambda refuses overlapping updates).
    async fn update_function(
        &self,
        target: &Target,
        before: &FunctionConfig,
        after: &FunctionConfig,
    ) -> Result<(), CloudError>;
    async fn delete_function(&self, target: &Target, name: &str) -> Result<(), CloudError>;

    /// CreateFunction alone, without waiting for Active, so that a pacing wrapper
    /// ([`paced::Paced`]) waits itself, holding no slot. The default creates and waits.
    async fn start_create_function(
        &self,
        target: &Target,
        config: &FunctionConfig,
    ) -> Result<(), CloudError> {
        self.create_function(target, config).await
    }

    /// One look at a function just created or updated: `true` once it is Active and its last
    /// update finished, an error when it failed. The default (for a cloud whose
    /// [`Cloud::start_create_function`] already waited): settled.
    async fn function_settled(&self, _target: &Target, _name: &str) -> Result<bool, CloudError> {
        Ok(true)
    }

    /// A registry's replication configuration as `crate::replication`'s JSON
    /// (`{"rules":[…]}`), `None` when it has no rule (DescribeRegistry).
    async fn read_replication(&self, target: &Target) -> Result<Option<String>, CloudError>;
    /// Writes a registry's replication configuration; `None` writes no rule, which is how a
    /// configuration is removed (PutReplicationConfiguration; ECR has no delete).
    async fn put_replication(
        &self,
        target: &Target,
        configuration: Option<&str>,
    ) -> Result<(), CloudError>;
    /// A registry's policy, `None` when it has none (GetRegistryPolicy).
    async fn read_registry_policy(&self, target: &Target) -> Result<Option<String>, CloudError>;
    async fn put_registry_policy(&self, target: &Target, policy: &str) -> Result<(), CloudError>;
    /// Deletes a registry's policy; one already gone is success.
    async fn delete_registry_policy(&self, target: &Target) -> Result<(), CloudError>;
    /// Where an image of a source repository stands in each replication destination
    /// (DescribeImageReplicationStatus).
    async fn replication_status(
        &self,
        target: &Target,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<ReplicaStatus>, CloudError>;

    /// Every account beneath the OU (or root) `parent`, nested OUs included, whatever its
    /// state, read with `via`'s credentials (the organization account's).
    async fn organization_accounts(
        &self,
        via: &Target,
        parent: &str,
    ) -> Result<Vec<OrgAccount>, CloudError>;
}

/// Tag changes between two tag maps: (to set, to remove).
pub fn tag_delta(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .cloned()
        .collect();
    (set, remove)
}

/// A resource kind, the create that can find its name taken, and AWS's code for that.
pub type Conflict = (&'static str, &'static str, &'static str);

/// What CreateRepository and CreateFunction answer for a name that is taken.
pub const REPOSITORY_EXISTS: Conflict = (
    "repository",
    "CreateRepository",
    "RepositoryAlreadyExistsException",
);
pub const FUNCTION_EXISTS: Conflict = ("function", "CreateFunction", "ResourceConflictException");

/// Whether a live resource's tags name the same ferry project and address as `ours`.
pub fn same_owner(live: &BTreeMap<String, String>, ours: &BTreeMap<String, String>) -> bool {
    use crate::model::{TAG_ADDRESS, TAG_PROJECT};
    ours.contains_key(TAG_ADDRESS)
        && live.get(TAG_ADDRESS) == ours.get(TAG_ADDRESS)
        && live.get(TAG_PROJECT) == ours.get(TAG_PROJECT)
}

/// A small function configuration with one secret, for unit tests.
#[cfg(test)]
pub(crate) fn test_config(secret: &str) -> FunctionConfig {
    FunctionConfig {
        name: "f".into(),
        image_uri: "u".into(),
        role: "r".into(),
        architecture: "x86_64".into(),
        memory_mb: 128,
        timeout_s: 3,
        description: String::new(),
        environment: [("DB_PASSWORD".to_string(), secret.to_string())].into(),
        tags: Default::default(),
    }
}
