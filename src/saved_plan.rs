//! Saved plans: `ferry plan --out FILE` and `ferry apply FILE`.
//!
//! The file holds the plan exactly as the executor will run it, the state's lineage and serial
//! it was made against, and a digest of the declarations; `apply FILE` refuses when either
//! changed. Sensitive environment values never reach the file: they are replaced by keyed
//! hashes and restored at apply time from the current declarations, which must still hash the
//! same.

use crate::cloud::FunctionConfig;
use crate::declarations::Source;
use crate::model::{Address, Desired};
use crate::planner::{Operation, Plan};
use crate::state::{Record, sensitive_hash};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;

const FORMAT: &str = "ferry-saved-plan";

/// What stands in a saved plan for a sensitive value the plan only read from AWS (the `before`
/// of an update or delete). The executor reads the live value again before it needs it for an
/// undo (`apply::restore_unsaved`).
pub const UNSAVED: &str = "(sensitive value not saved)";
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SavedPlan {
    format: String,
    format_version: u32,
    ferry_version: String,
    declarations_digest: String,
    plan: Plan,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read the saved plan {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write the saved plan {path}: {message}")]
    Write { path: String, message: String },
    #[error("{path} is not a ferry saved plan (or was written by an incompatible version)")]
    Format { path: String },
    #[error("the declarations changed since the plan was saved; run `ferry plan --out FILE` again")]
    DeclarationsChanged,
    #[error(
        "the state changed since the plan was saved (it was lineage {plan_lineage} serial {plan_serial}, \
         it is now lineage {lineage} serial {serial}): another apply ran in between. \
         Run `ferry plan --out FILE` again"
    )]
    StateChanged {
        plan_lineage: String,
        plan_serial: u64,
        lineage: String,
        serial: u64,
    },
    #[error(
        "the value of sensitive variable {key} of {address} changed since the plan was saved; run `ferry plan --out FILE` again"
    )]
    SecretChanged { address: Address, key: String },
}

/// A digest of the declarations' text, independent of where the files are.
pub fn declarations_digest(sources: &[Source]) -> String {
    let mut h = Sha256::new();
    for s in sources {
        h.update(s.text.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `plan` to `path`, with sensitive values replaced by their HMAC under the state's
/// secret key (which is not in the file).
pub fn save(
    path: &Path,
    plan: &Plan,
    desired: &Desired,
    sources: &[Source],
    secret_key: &[u8],
) -> Result<(), SavedPlanError> {
    let mut plan = plan.clone();
    map_secrets(&mut plan, desired, &mut |_, name, value| {
        *value = sensitive_hash(secret_key, name, value);
        Ok(())
    })?;
    let saved = SavedPlan {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        ferry_version: env!("CARGO_PKG_VERSION").to_string(),
        declarations_digest: declarations_digest(sources),
        plan,
    };
    let text = serde_json::to_string_pretty(&saved).map_err(|e| SavedPlanError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|e| SavedPlanError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Reads a saved plan and checks it still applies to these declarations and this state.
pub fn load(
    path: &Path,
    desired: &Desired,
    sources: &[Source],
    state: &crate::state::Snapshot,
) -> Result<Plan, SavedPlanError> {
    let (lineage, serial) = (state.lineage.as_str(), state.serial);
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SavedPlanError::Read {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let saved: SavedPlan = serde_json::from_str(&text).map_err(|_| SavedPlanError::Format {
        path: shown.clone(),
    })?;
    if saved.format != FORMAT || saved.format_version != FORMAT_VERSION {
        return Err(SavedPlanError::Format { path: shown });
    }
    if saved.declarations_digest != declarations_digest(sources) {
        return Err(SavedPlanError::DeclarationsChanged);
    }
    let mut plan = saved.plan;
    // A plan made against an empty state has no lineage yet; the state created since has one.
    let same_lineage = plan.lineage == lineage || (plan.lineage.is_empty() && plan.serial == 0);
    if !same_lineage || plan.serial != serial {
        return Err(SavedPlanError::StateChanged {
            plan_lineage: plan.lineage.clone(),
            plan_serial: plan.serial,
            lineage: lineage.to_string(),
            serial,
        });
    }
    map_secrets(&mut plan, desired, &mut |address, key, value| {
        let current = desired
            .functions
            .get(address.key())
            .and_then(|f| f.environment.get(key));
        match current {
            Some(v) if sensitive_hash(&state.secret_key, key, v) == *value => {
                *value = v.clone();
                Ok(())
            }
            _ => Err(SavedPlanError::SecretChanged {
                address: address.clone(),
                key: key.to_string(),
            }),
        }
    })?;
    Ok(plan)
}

type SecretFn<'a> = dyn FnMut(&Address, &str, &mut String) -> Result<(), SavedPlanError> + 'a;

/// Calls `f` on every sensitive environment value that a plan carries towards AWS or state.
/// Values the plan only read from AWS (`before` of an update or delete) are dropped instead: the
/// executor needs them only to tell whether the environment changes, and it does.
fn map_secrets(plan: &mut Plan, desired: &Desired, f: &mut SecretFn) -> Result<(), SavedPlanError> {
    for step in &mut plan.steps {
        let mut sensitive: BTreeSet<String> = desired
            .functions
            .get(step.address.key())
            .filter(|_| matches!(step.address, Address::Function(_)))
            .map(|f| f.sensitive_environment.clone())
            .unwrap_or_default();
        sensitive.extend(step.sensitive.iter().cloned());
        if let Some(Record::Function { sensitive: s, .. }) = &step.record {
            sensitive.extend(s.iter().cloned());
        }
        if sensitive.is_empty() {
            continue;
        }
        let address = step.address.clone();
        map_operation(&mut step.operation, &address, &sensitive, f)?;
        if let Some(Record::Function { config, .. }) = &mut step.record {
            map_config(config, &address, &sensitive, f)?;
        }
    }
    Ok(())
}

fn map_operation(
    op: &mut Operation,
    address: &Address,
    sensitive: &BTreeSet<String>,
    f: &mut SecretFn,
) -> Result<(), SavedPlanError> {
    match op {
        Operation::CreateFunction { config } => map_config(config, address, sensitive, f),
        Operation::UpdateFunction { before, after } => {
            drop_secrets(before, sensitive);
            map_config(after, address, sensitive, f)
        }
        Operation::DeleteFunction { before, .. } => {
            drop_secrets(before, sensitive);
            Ok(())
        }
        Operation::Replace { delete, create, .. } => {
            map_operation(delete, address, sensitive, f)?;
            map_operation(create, address, sensitive, f)
        }
        _ => Ok(()),
    }
}

fn map_config(
    config: &mut FunctionConfig,
    address: &Address,
    sensitive: &BTreeSet<String>,
    f: &mut SecretFn,
) -> Result<(), SavedPlanError> {
    for (k, v) in config.environment.iter_mut() {
        if sensitive.contains(k) {
            f(address, k, v)?;
        }
    }
    Ok(())
}

fn drop_secrets(config: &mut FunctionConfig, sensitive: &BTreeSet<String>) {
    for (k, v) in config.environment.iter_mut() {
        if sensitive.contains(k) {
            *v = UNSAVED.to_string();
        }
    }
}
