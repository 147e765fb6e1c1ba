//! Stage: model. The validated, desired world: addresses and the specs of every declared
//! resource, built by [`crate::declarations`] and read by every later stage.
//!
//! Plain data only: no I/O, no AWS types. Maps are ordered so that everything derived from a
//! `Desired` (policies, plans, renders) is deterministic.
//!
//! `address` (addresses and their parsing), `place` (locations and places), `resources` (the
//! declared resources), `desired` (the whole validated declaration), `config` (the managed
//! attributes recorded in state and plans).

mod address;
mod config;
mod desired;
mod place;
pub mod replication;
mod resources;

pub use address::{Address, TargetPattern};
pub use config::{FunctionConfig, LiveFunction, RepositoryConfig};
pub use desired::{Desired, Move, Purpose};
pub use place::{Location, Place, Target};
pub use resources::{
    Account, AccountGroup, Discovery, Function, GroupMembers, Image, ImageRef, Project, Rates,
    Registry, Repository, S3Backend, StateBackend, TagMutability,
};

/// The tag keys every managed resource carries, so that ownership survives a lost state and an
/// interrupted apply can be recognised.
pub const TAG_PROJECT: &str = "ferry:project";
pub const TAG_ADDRESS: &str = "ferry:address";
