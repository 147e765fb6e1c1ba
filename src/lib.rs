//! ferry: a declarative reconciler for container-image AWS Lambda functions and the Amazon ECR
//! repositories they pull from, in one account or across many.
//!
//! The modules read as the pipeline of one `ferry apply` (see ARCHITECTURE.md):
//! [`declarations`] (TOML with source spans) → [`model`] (addresses, desired specs) →
//! [`state`] (last applied) → [`cloud`] + [`refresh`] (what is live, read through a trait) →
//! [`policy`] (repository policies derived from consumers) → [`planner`] (pure: ordered steps) →
//! [`render`] (text) → [`apply`] (executor) → [`cli`] (clap only, the one place `anyhow` lives).

pub mod apply;
pub mod check;
pub mod cli;
pub mod cloud;
pub mod coverage;
pub mod declarations;
pub mod discovery;
pub mod iam;
pub mod import;
pub mod model;
pub mod planner;
pub mod policy;
pub mod rebuild;
pub mod refresh;
pub mod render;
pub mod replication;
pub mod rollback_targets;
pub mod saved_plan;
pub mod session;
pub mod state;
pub mod version;
