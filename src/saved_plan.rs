//! Saved plans: `ferry plan --out FILE` and `ferry apply FILE`.
//!
//! The file holds the plan exactly as the executor will run it, the state's lineage and serial
//! it was made against, and a digest of the declarations; `apply FILE` refuses when either
//! changed. Its last line is an HMAC-SHA256 of everything before it under the state's own
//! secret key (`secret.key`, never in the file): a plan file travels between pipeline jobs, and
//! any edit of it is refused before a byte of it is interpreted. After the MAC, the plan's
//! structure is checked (ids, levels, dependencies, operations against addresses and actions,
//! sizes), so that even a plan this MAC accepts cannot make the executor panic or allocate
//! without bound. Sensitive environment values never reach the file: they are replaced by keyed
//! hashes and restored at apply time from the current declarations, which must still hash the
//! same.

use crate::cloud::FunctionConfig;
use crate::declarations::Source;
use crate::model::{Address, Desired};
use crate::planner::{Action, Operation, Plan};
use crate::state::{Record, sensitive_hash};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

const FORMAT: &str = "ferry-saved-plan";

/// What stands in a saved plan for a sensitive value the plan only read from AWS (the `before`
/// of an update or delete). The executor reads the live value again before it needs it for an
/// undo (`apply::restore_unsaved`).
pub const UNSAVED: &str = "(sensitive value not saved)";
const FORMAT_VERSION: u32 = 1;
/// How the MAC line starts.
const MAC_PREFIX: &str = "hmac-sha256:";
/// Keeps the plan MAC apart from every other use of the state's key.
const MAC_DOMAIN: &[u8] = b"ferry saved plan\0";
/// Bounds on what a saved plan may hold, far above any real plan.
const MAX_FILE_BYTES: u64 = 64 << 20;
const MAX_STEPS: usize = 100_000;

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
    #[error(
        "{path} was changed after ferry saved it, or saved against another state (its MAC does not \
         match this state's key); nothing was applied. Run `ferry plan --out FILE` again"
    )]
    Tampered { path: String },
    #[error("{path} is not a plan ferry could have made ({problem}); nothing was applied")]
    Malformed { path: String, problem: String },
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
    let mut text = serde_json::to_string_pretty(&saved).map_err(|e| SavedPlanError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    text.push('\n');
    let mac = hex(&mac(secret_key, text.as_bytes()).finalize().into_bytes());
    text.push_str(&format!("{MAC_PREFIX}{mac}\n"));
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
    let saved = read_verified(path, &state.secret_key)?;
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

/// Reads a saved plan for display (`ferry show FILE`): its MAC under the state's key, format and
/// structure are checked as `load` checks them, but not whether it still applies. Sensitive
/// values stay keyed hashes, which the renderers never show.
pub fn read(path: &Path, secret_key: &[u8]) -> Result<Plan, SavedPlanError> {
    let mut plan = read_verified(path, secret_key)?.plan;
    for step in &mut plan.steps {
        unsaved_as_planned(step);
    }
    Ok(plan)
}

/// The file does not hold the secrets a step only read (its `before`): each stands there as
/// [`UNSAVED`], which would render as changed. The plan's changes say which did change; for
/// display, every other one takes the value of its `after`, so the plan reads as it did.
fn unsaved_as_planned(step: &mut crate::planner::Step) {
    let changed: BTreeSet<String> = step
        .changes
        .iter()
        .filter(|c| c.attribute == "environment")
        .filter_map(|c| c.after.as_ref()?.as_object())
        .flatten()
        .filter(|(_, v)| v.as_str() == Some("(sensitive value changed)"))
        .map(|(k, _)| k.clone())
        .collect();
    let (before, after) = match &mut step.operation {
        Operation::UpdateFunction { before, after } => (before, &*after),
        Operation::Replace { delete, create, .. } => match (&mut **delete, &**create) {
            (Operation::DeleteFunction { before, .. }, Operation::CreateFunction { config }) => {
                (before, config)
            }
            _ => return,
        },
        _ => return,
    };
    for (k, v) in before.environment.iter_mut() {
        if v == UNSAVED
            && !changed.contains(k)
            && let Some(now) = after.environment.get(k)
        {
            v.clone_from(now);
        }
    }
}

/// The file's saved plan, once its MAC, format and structure are checked.
fn read_verified(path: &Path, secret_key: &[u8]) -> Result<SavedPlan, SavedPlanError> {
    let shown = path.display().to_string();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| SavedPlanError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(SavedPlanError::Malformed {
            path: shown,
            problem: format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
        });
    }
    // Nothing of the file is interpreted before its MAC is checked.
    let body = verified_body(&bytes, secret_key).ok_or(SavedPlanError::Tampered {
        path: shown.clone(),
    })?;
    let saved: SavedPlan = serde_json::from_slice(body).map_err(|_| SavedPlanError::Format {
        path: shown.clone(),
    })?;
    check_structure(&saved.plan).map_err(|problem| SavedPlanError::Malformed {
        path: shown.clone(),
        problem,
    })?;
    if saved.format != FORMAT || saved.format_version != FORMAT_VERSION {
        return Err(SavedPlanError::Format { path: shown });
    }
    Ok(saved)
}

fn mac(key: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(MAC_DOMAIN);
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file without its MAC line, if that line is exactly the MAC (lowercase hex, one final
/// line break) of everything before it under `key`.
fn verified_body<'a>(file: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let without_break = file.strip_suffix(b"\n")?;
    let split = without_break.iter().rposition(|&b| b == b'\n')? + 1;
    let (body, line) = without_break.split_at(split);
    let digits = line.strip_prefix(MAC_PREFIX.as_bytes())?;
    if digits.len() != 64 {
        return None;
    }
    let mut tag = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        let nibble = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        tag[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    mac(key, body).verify_slice(&tag).ok()?;
    Some(body)
}

/// What the planner guarantees of every plan, checked again on a plan read from a file: ids are
/// positions, every dependency points to an earlier step of a lower level, levels are bounded by
/// the number of steps, and each step's operation and record fit its address and action.
pub fn check_structure(plan: &Plan) -> Result<(), String> {
    if plan.steps.len() > MAX_STEPS {
        return Err(format!("more than {MAX_STEPS} steps"));
    }
    let mut addresses = BTreeSet::new();
    for (n, step) in plan.steps.iter().enumerate() {
        let at = |problem: String| format!("step {} ({}): {problem}", n + 1, step.address);
        if step.id != n {
            return Err(at(format!("its id is {}", step.id)));
        }
        if step.level > n {
            return Err(at(format!(
                "level {} is beyond the steps before it",
                step.level
            )));
        }
        if !addresses.insert(&step.address) {
            return Err(at("a second step for the same address".to_string()));
        }
        let mut seen = BTreeSet::new();
        for &d in &step.depends_on {
            if d >= n || !seen.insert(d) {
                return Err(at(format!("a dependency on step {d}")));
            }
            if plan.steps[d].level >= step.level {
                return Err(at(format!(
                    "it depends on step {} of level {}, not below its own level {}",
                    d + 1,
                    plan.steps[d].level,
                    step.level
                )));
            }
        }
        check_operation(step).map_err(at)?;
    }
    Ok(())
}

fn check_operation(step: &crate::planner::Step) -> Result<(), String> {
    use Operation as O;
    let record = step.record.as_ref();
    if let Some(r) = record
        && r.target() != &step.target
    {
        return Err("its record is for another account or region".to_string());
    }
    let op = &step.operation;
    if step.action == Action::Move || matches!(op, O::Move { .. }) {
        // A move names its own address first (a repository's policy may follow), keeps the
        // kind of each address, and records nothing itself.
        let fits = match op {
            O::Move { moves } if step.action == Action::Move && record.is_none() => {
                !moves.is_empty()
                    && moves.len() <= 2
                    && moves[0].0 == step.address
                    && matches!(step.address, Address::Function(_) | Address::Repository(_))
                    && moves.iter().all(|(from, to)| {
                        from != to && std::mem::discriminant(from) == std::mem::discriminant(to)
                    })
            }
            _ => false,
        };
        return if fits {
            Ok(())
        } else {
            Err("a move step must carry exactly its own move and no record".to_string())
        };
    }
    let fits = match (&step.address, step.action) {
        (Address::Repository(_), action) => {
            let name = match record {
                Some(Record::Repository { config, .. }) => Some(config.name.as_str()),
                Some(_) => return Err("its record is not a repository's".to_string()),
                None => None,
            };
            match (action, op, name) {
                (Action::Create | Action::Replace, O::CreateRepository { config }, Some(n)) => {
                    config.name == n
                }
                (Action::Update, O::UpdateRepository { before, after }, Some(n)) => {
                    after.name == n && before.name == n
                }
                (Action::Replace, O::Replace { delete, create, .. }, Some(n)) => {
                    matches!(**delete, O::DeleteRepository { .. })
                        && matches!(&**create, O::CreateRepository { config } if config.name == n)
                }
                (Action::Delete, O::DeleteRepository { .. } | O::Record, None) => true,
                (Action::Adopt, O::Record, Some(_)) => true,
                _ => false,
            }
        }
        (Address::RepositoryPolicy(_), action) => {
            let repository = match record {
                Some(Record::RepositoryPolicy { repository, .. }) => Some(repository.as_str()),
                Some(_) => return Err("its record is not a repository policy's".to_string()),
                None => None,
            };
            match (action, op, repository) {
                (Action::Create | Action::Update, O::PutPolicy { repository, .. }, Some(r)) => {
                    repository == r
                }
                (Action::Delete, O::DeletePolicy { .. } | O::Record, None) => true,
                (Action::Adopt, O::Record, Some(_)) => true,
                _ => false,
            }
        }
        (Address::Function(_), action) => {
            let name = match record {
                Some(Record::Function { config, .. }) => Some(config.name.as_str()),
                Some(_) => return Err("its record is not a function's".to_string()),
                None => None,
            };
            match (action, op, name) {
                // A replace whose old function is already gone only creates.
                (Action::Create | Action::Replace, O::CreateFunction { config }, Some(n)) => {
                    config.name == n
                }
                (Action::Update, O::UpdateFunction { before, after }, Some(n)) => {
                    after.name == n && before.name == n
                }
                (Action::Replace, O::Replace { delete, create, .. }, Some(n)) => {
                    matches!(**delete, O::DeleteFunction { .. })
                        && matches!(&**create, O::CreateFunction { config } if config.name == n)
                }
                (Action::Delete, O::DeleteFunction { .. } | O::Record, None) => true,
                (Action::Adopt, O::Record, Some(_)) => true,
                _ => false,
            }
        }
        (Address::Replication(_), action) => matches!(
            (action, op, record),
            (
                Action::Create | Action::Update,
                O::PutReplication { .. },
                Some(Record::Replication { .. })
            ) | (
                Action::Delete,
                O::DeleteReplication { .. } | O::Record,
                None
            ) | (Action::Adopt, O::Record, Some(Record::Replication { .. }))
        ),
        (Address::RegistryPolicy(_), action) => matches!(
            (action, op, record),
            (
                Action::Create | Action::Update,
                O::PutRegistryPolicy { .. },
                Some(Record::RegistryPolicy { .. })
            ) | (
                Action::Delete,
                O::DeleteRegistryPolicy { .. } | O::Record,
                None
            ) | (
                Action::Adopt,
                O::Record,
                Some(Record::RegistryPolicy { .. })
            )
        ),
        (Address::Registry(_) | Address::Image(_), _) => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "a {:?} step cannot carry this operation and record",
            step.action
        ))
    }
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
