//! The declarations exactly as written: serde types over TOML, with the source span of every
//! value a later check may need to point at. Unknown keys are rejected here.

use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::BTreeMap;

pub type Table<T> = BTreeMap<Spanned<String>, Spanned<T>>;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub project: Option<Spanned<Project>>,
    #[serde(default)]
    pub accounts: Table<Account>,
    #[serde(default)]
    pub account_groups: Table<AccountGroup>,
    /// `[defaults.functions]`: values every function takes unless it sets its own.
    pub defaults: Option<Spanned<Defaults>>,
    #[serde(default)]
    pub registries: Table<Registry>,
    #[serde(default)]
    pub repositories: Table<Repository>,
    #[serde(default)]
    pub images: Table<Image>,
    #[serde(default)]
    pub functions: Table<Function>,
    /// `[[moved]]` blocks, in file order.
    #[serde(default)]
    pub moved: Vec<Spanned<Moved>>,
}

/// `[[moved]]`: an address renamed in the declarations (Terraform's `moved {}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moved {
    pub from: Spanned<String>,
    pub to: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub name: Spanned<String>,
    pub default_region: Option<Spanned<String>>,
    pub assume_role: Option<Spanned<String>>,
    pub state: Option<Spanned<StateTable>>,
    /// Which ferry may apply these declarations, in Cargo's syntax (`">= 0.2"`).
    pub required_version: Option<Spanned<String>>,
    /// Request rates per account and region (Lambda's shared control plane, GetFunction, ECR).
    pub lambda_requests_per_second: Option<Spanned<i64>>,
    pub lambda_get_function_per_second: Option<Spanned<i64>>,
    pub ecr_requests_per_second: Option<Spanned<i64>>,
}

/// `[project.state]`: where the state lives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateTable {
    pub backend: Option<Spanned<String>>,
    pub bucket: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    pub account: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub id: Spanned<String>,
    pub profile: Option<Spanned<String>>,
    pub role_arn: Option<Spanned<String>>,
    pub external_id: Option<Spanned<String>>,
    pub organization_id: Option<Spanned<String>>,
    pub org_path: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub account: Spanned<String>,
    pub region: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    pub registry: Spanned<String>,
    pub name: Option<Spanned<String>>,
    pub tag_mutability: Option<Spanned<String>>,
    pub scan_on_push: Option<bool>,
    pub force_delete: Option<bool>,
    pub share_with_accounts: Option<Vec<Spanned<String>>>,
    pub share_with_organization: Option<Spanned<String>>,
    pub share_with_org_paths: Option<Vec<Spanned<String>>>,
    pub manage_policy: Option<Spanned<bool>>,
    pub extra_statements: Option<Spanned<String>>,
    pub tags: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub repository: Spanned<String>,
    pub tag: Option<Spanned<String>>,
    pub digest: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// One account: the function keeps its address `function.KEY`.
    pub account: Option<Spanned<String>>,
    /// Account keys and account-group keys: one instance `function.KEY[ACCOUNT]` per account.
    pub accounts: Option<Spanned<Vec<Spanned<String>>>>,
    pub image: Spanned<String>,
    pub role: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub architectures: Option<Spanned<Vec<Spanned<String>>>>,
    pub memory_mb: Option<Spanned<i64>>,
    pub timeout_s: Option<Spanned<i64>>,
    pub description: Option<Spanned<String>>,
    pub environment: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub sensitive_environment: Option<Vec<Spanned<String>>>,
    pub tags: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}

/// `[account_groups.KEY]`: a named set of accounts, listed or discovered beneath an OU.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountGroup {
    pub accounts: Option<Vec<Spanned<String>>>,
    pub organizational_unit: Option<Spanned<String>>,
    pub organization_account: Option<Spanned<String>>,
    pub exclude: Option<Vec<Spanned<String>>>,
}

/// `[defaults]`: only `[defaults.functions]` today.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub functions: Option<Spanned<FunctionDefaults>>,
}

/// `[defaults.functions]`: what a function takes when it does not set the key itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionDefaults {
    pub role: Option<Spanned<String>>,
    pub architectures: Option<Spanned<Vec<Spanned<String>>>>,
    pub memory_mb: Option<Spanned<i64>>,
    pub timeout_s: Option<Spanned<i64>>,
    pub description: Option<Spanned<String>>,
    pub environment: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub tags: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}
