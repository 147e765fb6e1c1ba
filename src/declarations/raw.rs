//! The declarations exactly as written: serde types over TOML, with the source span of every
//! value a later check may need to point at. Unknown keys are rejected here. `ferry schema`
//! derives the declarations' JSON Schema from these same types (`Spanned<T>` is `T` there).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::BTreeMap;

pub type Table<T> = BTreeMap<Spanned<String>, Spanned<T>>;

#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[schemars(with = "Option<Project>")]
    pub project: Option<Spanned<Project>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Account>")]
    pub accounts: Table<Account>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, AccountGroup>")]
    pub account_groups: Table<AccountGroup>,
    /// `[defaults.functions]`: values every function takes unless it sets its own.
    #[schemars(with = "Option<Defaults>")]
    pub defaults: Option<Spanned<Defaults>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Registry>")]
    pub registries: Table<Registry>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Repository>")]
    pub repositories: Table<Repository>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Image>")]
    pub images: Table<Image>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Function>")]
    pub functions: Table<Function>,
    /// `[[moved]]` blocks, in file order.
    #[serde(default)]
    #[schemars(with = "Vec<Moved>")]
    pub moved: Vec<Spanned<Moved>>,
}

/// `[[moved]]`: an address renamed in the declarations (Terraform's `moved {}`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Moved {
    #[schemars(with = "String")]
    pub from: Spanned<String>,
    #[schemars(with = "String")]
    pub to: Spanned<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub default_region: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub assume_role: Option<Spanned<String>>,
    #[schemars(with = "Option<StateTable>")]
    pub state: Option<Spanned<StateTable>>,
    /// Which ferry may apply these declarations, in Cargo's syntax (`">= 0.2"`).
    #[schemars(with = "Option<String>")]
    pub required_version: Option<Spanned<String>>,
    /// Request rates per account and region (Lambda's shared control plane, GetFunction, ECR).
    #[schemars(with = "Option<i64>")]
    pub lambda_requests_per_second: Option<Spanned<i64>>,
    #[schemars(with = "Option<i64>")]
    pub lambda_get_function_per_second: Option<Spanned<i64>>,
    #[schemars(with = "Option<i64>")]
    pub ecr_requests_per_second: Option<Spanned<i64>>,
}

/// `[project.state]`: where the state lives.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateTable {
    #[schemars(with = "Option<String>")]
    pub backend: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub bucket: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub key: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub account: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Account {
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub role_arn: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub external_id: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub organization_id: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub org_path: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    #[schemars(with = "String")]
    pub account: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    #[schemars(with = "String")]
    pub registry: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub tag_mutability: Option<Spanned<String>>,
    pub scan_on_push: Option<bool>,
    pub force_delete: Option<bool>,
    #[schemars(with = "Option<Vec<String>>")]
    pub share_with_accounts: Option<Vec<Spanned<String>>>,
    #[schemars(with = "Option<String>")]
    pub share_with_organization: Option<Spanned<String>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub share_with_org_paths: Option<Vec<Spanned<String>>>,
    #[schemars(with = "Option<bool>")]
    pub manage_policy: Option<Spanned<bool>>,
    #[schemars(with = "Option<String>")]
    pub extra_statements: Option<Spanned<String>>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    /// Registry keys this repository's images are replicated to (ECR private replication).
    #[schemars(with = "Option<Vec<String>>")]
    pub replicate_to: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    #[schemars(with = "String")]
    pub repository: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub tag: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub digest: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// One account: the function keeps its address `function.KEY`.
    #[schemars(with = "Option<String>")]
    pub account: Option<Spanned<String>>,
    /// Account keys and account-group keys: one instance `function.KEY[ACCOUNT]` per account.
    #[schemars(with = "Option<Vec<String>>")]
    pub accounts: Option<Spanned<Vec<Spanned<String>>>>,
    #[schemars(with = "String")]
    pub image: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub role: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub architectures: Option<Spanned<Vec<Spanned<String>>>>,
    #[schemars(with = "Option<i64>")]
    pub memory_mb: Option<Spanned<i64>>,
    #[schemars(with = "Option<i64>")]
    pub timeout_s: Option<Spanned<i64>>,
    #[schemars(with = "Option<String>")]
    pub description: Option<Spanned<String>>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub environment: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub sensitive_environment: Option<Vec<Spanned<String>>>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}

/// `[account_groups.KEY]`: a named set of accounts, listed or discovered beneath an OU.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountGroup {
    #[schemars(with = "Option<Vec<String>>")]
    pub accounts: Option<Vec<Spanned<String>>>,
    #[schemars(with = "Option<String>")]
    pub organizational_unit: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub organization_account: Option<Spanned<String>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub exclude: Option<Vec<Spanned<String>>>,
}

/// `[defaults]`: only `[defaults.functions]` today.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[schemars(with = "Option<FunctionDefaults>")]
    pub functions: Option<Spanned<FunctionDefaults>>,
}

/// `[defaults.functions]`: what a function takes when it does not set the key itself.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionDefaults {
    #[schemars(with = "Option<String>")]
    pub role: Option<Spanned<String>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub architectures: Option<Spanned<Vec<Spanned<String>>>>,
    #[schemars(with = "Option<i64>")]
    pub memory_mb: Option<Spanned<i64>>,
    #[schemars(with = "Option<i64>")]
    pub timeout_s: Option<Spanned<i64>>,
    #[schemars(with = "Option<String>")]
    pub description: Option<Spanned<String>>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub environment: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}
