//! [`Desired`]: everything the declarations ask for, and the `[[moved]]` blocks.

use super::{
    Account, AccountGroup, Address, Function, Image, Project, Registry, Repository, TAG_ADDRESS,
    TAG_PROJECT,
};
use std::collections::BTreeMap;

/// Everything the declarations ask for, validated and cross-referenced.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub project: Project,
    pub accounts: BTreeMap<String, Account>,
    /// `[account_groups.*]`, by key.
    pub account_groups: BTreeMap<String, AccountGroup>,
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

    /// The repository a function pulls its image from: its image's repository, or the replica
    /// of it in the function's region ([`super::replication::route`]).
    pub fn function_repository(&self, function: &Function) -> Option<&Repository> {
        super::replication::route(self, function).map(|r| r.repository)
    }
}
