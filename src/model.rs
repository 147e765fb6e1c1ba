//! Stage: model. The validated, desired world: addresses and the specs of every declared
//! resource, built by [`crate::declarations`] and read by every later stage.
//!
//! Plain data only: no I/O, no AWS types. Maps are ordered so that everything derived from a
//! `Desired` (policies, plans, renders) is deterministic.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The tag keys every managed resource carries, so that ownership survives a lost state and an
/// interrupted apply can be recognised.
pub const TAG_PROJECT: &str = "ferry:project";
pub const TAG_ADDRESS: &str = "ferry:address";

/// The address of a resource, as users type it: `repository.hello`, `function.hello-world`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Address {
    Registry(String),
    Repository(String),
    RepositoryPolicy(String),
    Image(String),
    Function(String),
}

impl Address {
    pub fn kind(&self) -> &'static str {
        match self {
            Address::Registry(_) => "registry",
            Address::Repository(_) => "repository",
            Address::RepositoryPolicy(_) => "repository_policy",
            Address::Image(_) => "image",
            Address::Function(_) => "function",
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Address::Registry(k)
            | Address::Repository(k)
            | Address::RepositoryPolicy(k)
            | Address::Image(k)
            | Address::Function(k) => k,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind(), self.key())
    }
}

impl std::str::FromStr for Address {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, key) = s.split_once('.').ok_or_else(|| {
            format!("`{s}` is not an address: expected KIND.KEY, such as repository.hello")
        })?;
        if key.is_empty() {
            return Err(format!("`{s}` has no key after the dot"));
        }
        let key = key.to_string();
        Ok(match kind {
            "registry" => Address::Registry(key),
            "repository" => Address::Repository(key),
            "repository_policy" => Address::RepositoryPolicy(key),
            "image" => Address::Image(key),
            "function" => Address::Function(key),
            other => {
                return Err(format!(
                    "`{other}` is not a resource kind: use registry, repository, \
                     repository_policy, image or function"
                ));
            }
        })
    }
}

impl TryFrom<String> for Address {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

/// Where an API call goes: an account (by its declared key, which carries the credentials) and
/// a region.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    pub account: String,
    pub account_id: String,
    pub region: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.account, self.account_id, self.region)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub name: String,
    pub default_region: Option<String>,
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

/// Everything the declarations ask for, validated and cross-referenced.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub project: Project,
    pub accounts: BTreeMap<String, Account>,
    pub registries: BTreeMap<String, Registry>,
    pub repositories: BTreeMap<String, Repository>,
    pub images: BTreeMap<String, Image>,
    pub functions: BTreeMap<String, Function>,
    /// Where each declared address is written (`ferry.toml:12:1`), for plan errors.
    pub declared_at: BTreeMap<Address, String>,
    /// `[[moved]]` blocks: addresses renamed in the declarations, whose state records follow.
    pub moves: Vec<Move>,
    /// What the plan is for: reconciling the declarations, or `ferry destroy`.
    pub purpose: Purpose,
    /// The file that declares each repository, policy and function (its path as read), which
    /// state keeps so that a plan that did not read it never deletes what it declares.
    pub declared_in: BTreeMap<Address, String>,
}

/// A `[[moved]]` block, validated: `from` and `to` are of one kind (function or repository),
/// `from` is no longer declared, `to` is, and no move starts where another ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub from: Address,
    pub to: Address,
    /// Where the block is written (`ferry.toml:30:1`).
    pub declared_at: String,
}

/// Why a plan is made: to make live match the declarations, or to remove everything ferry
/// manages (`ferry destroy`, planned against declarations with no resources). The planner
/// words its reasons and hints after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Purpose {
    #[default]
    Reconcile,
    Destroy,
}

impl Desired {
    /// The tags ferry puts on a managed resource: the user's, plus ownership.
    pub fn ownership_tags(
        &self,
        address: &Address,
        user: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut tags = user.clone();
        tags.insert(TAG_PROJECT.to_string(), self.project.name.clone());
        tags.insert(TAG_ADDRESS.to_string(), address.to_string());
        tags
    }

    /// The repository a function's image lives in.
    pub fn function_repository(&self, function: &Function) -> Option<&Repository> {
        let image = self.images.get(&function.image)?;
        self.repositories.get(&image.repository)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_reject_unknown_kinds() {
        for text in [
            "registry.central",
            "repository.hello",
            "repository_policy.hello",
            "image.hello",
            "function.hello-world",
        ] {
            let a: Address = text.parse().unwrap();
            assert_eq!(a.to_string(), text);
        }
        assert!(
            "lambda.x"
                .parse::<Address>()
                .unwrap_err()
                .contains("not a resource kind")
        );
        assert!("repository".parse::<Address>().is_err());
        assert!("repository.".parse::<Address>().is_err());
    }
}
