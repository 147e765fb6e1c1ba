//! The session every command shares: load the declarations → open the state → refresh what is
//! live → plan. It returns data and never prints; the CLI decides what to say about it (the
//! warnings of an interrupted apply, of targeting, of a stale lock holder), so end-to-end-style
//! tests can drive the same path.
//!
//! It also holds the small domain rules the commands need and the planner does not: which
//! addresses `--target` may name, the empty declarations `destroy` plans against, the records
//! `state mv` renames (a repository takes its policy along), what `state show` may reveal, and
//! which repository `ferry policy` means.

use crate::cloud::{Cloud, CloudError};
use crate::coverage;
use crate::declarations::{self, Declarations, LoadError, Source};
use crate::model::{Account, Address, Desired, Purpose, Repository, StateBackend};
use crate::planner::{self, Plan};
use crate::policy::{self, PolicyError};
use crate::refresh::{self, Observed};
pub use crate::state::s3::Mode as S3Mode;
use crate::state::s3::S3State;
use crate::state::sled_store::SledState;
use crate::state::{Interruption, Record, Snapshot, StateError, StateStore};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Why a session step refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("refreshing live state failed")]
    Refresh(#[source] CloudError),
    #[error("--target {0}: the pattern matches nothing declared or in the state")]
    NoMatch(String),
    #[error("--target {0}: no such resource is declared or in the state")]
    UnknownTarget(Address),
    #[error("{0} is not in the state")]
    NotInState(Address),
    #[error("{from} and {to} are different kinds of resource; a move keeps the kind")]
    MoveAcrossKinds { from: Address, to: Address },
    #[error("{0} is already in the state; remove it first (`ferry state rm {0}`) if it is stale")]
    MoveOnto(Address),
    #[error("repository `{key}` is not declared (declared: {declared})")]
    UndeclaredRepository { key: String, declared: String },
    #[error("repository `{0}` has manage_policy = false: ferry does not write its policy")]
    PolicyNotManaged(String),
    /// A repository's policy cannot be written (over ECR's size limit), found by `validate`.
    #[error(
        "{message}{at}\n  hint: share with an Organization or org path instead of many accounts, or trim extra_statements"
    )]
    PolicyUnwritable { message: String, at: String },
}

/// The declarations at `config`, or every `*.toml` of the current directory.
pub fn load(config: Option<&Path>) -> Result<Declarations, LoadError> {
    match config {
        Some(path) => declarations::load(path),
        None => declarations::load_current_dir(true),
    }
}

/// The declarations `destroy` reads (secrets are not required to delete).
pub fn load_for_destroy(config: Option<&Path>) -> Result<Declarations, LoadError> {
    match config {
        Some(path) => declarations::load_for_destroy(path),
        None => declarations::load_current_dir(false),
    }
}

/// Opens the state `[project.state]` names (`backend`, reached with the credentials of its
/// account among `accounts`; the local one, or S3's working copy, lives in `dir`), waiting up
/// to `lock_timeout` for another process to release its lock. A holder that ended without
/// releasing it is left in [`StateStore::stale_holder`] for the caller to report.
pub fn open_state(
    dir: &Path,
    backend: &StateBackend,
    accounts: &BTreeMap<String, Account>,
    operation: &str,
    lock_timeout: Duration,
) -> Result<Box<dyn StateStore>, StateError> {
    open_state_for(
        dir,
        backend,
        accounts,
        operation,
        lock_timeout,
        S3Mode::Open,
    )
}

/// [`open_state`], with what an S3 key that holds no state means (`state migrate` fills it).
pub fn open_state_for(
    dir: &Path,
    backend: &StateBackend,
    accounts: &BTreeMap<String, Account>,
    operation: &str,
    lock_timeout: Duration,
    mode: S3Mode,
) -> Result<Box<dyn StateStore>, StateError> {
    match backend {
        StateBackend::Local => {
            let deadline = Instant::now() + lock_timeout;
            loop {
                match SledState::open(dir, operation) {
                    Err(StateError::Locked { .. }) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(250));
                    }
                    other => return other.map(|s| Box::new(s) as Box<dyn StateStore>),
                }
            }
        }
        // The working copy lives in `dir`; the S3 store waits for the lock itself.
        StateBackend::S3(s3) => S3State::open(dir, s3, accounts, operation, lock_timeout, mode)
            .map(|s| Box::new(s) as Box<dyn StateStore>),
    }
}

/// What `destroy` plans against: the same accounts and registries, nothing else declared.
pub fn nothing_declared(decls: &Declarations) -> Declarations {
    Declarations {
        desired: Desired {
            repositories: Default::default(),
            images: Default::default(),
            functions: Default::default(),
            purpose: Purpose::Destroy,
            ..decls.desired.clone()
        },
        sources: decls.sources.clone(),
    }
}

/// The state as the planner reads it, with the calls an interrupted apply left in flight
/// (which the caller may want to warn about).
pub fn snapshot(state: &dyn StateStore) -> Result<(Snapshot, Option<Interruption>), StateError> {
    let mut snapshot = state.snapshot()?;
    let interruption = interruption(state)?;
    if let Some(i) = &interruption {
        snapshot.interrupted = i.in_flight.iter().cloned().collect();
    }
    Ok((snapshot, interruption))
}

/// What the journal says the previous apply left unfinished, if anything.
pub fn interruption(state: &dyn StateStore) -> Result<Option<Interruption>, StateError> {
    Ok(crate::state::interruption(&state.journal()?))
}

/// The addresses `--target` names: each address as given (checked by [`check_targets`]), and
/// every address, declared or in state, that a pattern or `account:KEY` matches (at least one).
pub fn resolve_targets(
    desired: &Desired,
    snapshot: &Snapshot,
    patterns: &[crate::model::TargetPattern],
) -> Result<Vec<Address>, SessionError> {
    use crate::model::TargetPattern;
    let mut known: BTreeMap<Address, Option<(String, String)>> = BTreeMap::new();
    let at = |t: &crate::model::Target| Some((t.account.clone(), t.account_id.clone()));
    for (a, r) in &snapshot.resources {
        known.insert(a.clone(), at(r.target()));
    }
    for r in desired.registries.values() {
        let account = Some((r.account.clone(), r.account_id.clone()));
        known.insert(Address::Registry(r.key.clone()), account);
    }
    for r in desired.repositories.values() {
        known.insert(Address::Repository(r.key.clone()), at(&r.target));
        known.insert(Address::RepositoryPolicy(r.key.clone()), at(&r.target));
    }
    for f in desired.functions.values() {
        known.insert(Address::Function(f.key.clone()), at(&f.target));
    }
    let mut out = Vec::new();
    for p in patterns {
        if let TargetPattern::Address(a) = p {
            out.push(a.clone());
            continue;
        }
        let before = out.len();
        for (a, account) in &known {
            let account = account.as_ref().map(|(k, i)| (k.as_str(), i.as_str()));
            if p.matches(a, account) && !out.contains(a) {
                out.push(a.clone());
            }
        }
        if out.len() == before {
            return Err(SessionError::NoMatch(p.to_string()));
        }
    }
    Ok(out)
}

/// `--target` may name what is declared or what is in the state.
pub fn check_targets(
    desired: &Desired,
    snapshot: &Snapshot,
    targets: &[Address],
) -> Result<(), SessionError> {
    for t in targets {
        let known = snapshot.resources.contains_key(t)
            || match t {
                Address::Repository(k) | Address::RepositoryPolicy(k) => {
                    desired.repositories.contains_key(k)
                }
                Address::Function(k) => desired.functions.contains_key(k),
                Address::Image(k) => desired.images.contains_key(k),
                Address::Registry(k) | Address::Replication(k) | Address::RegistryPolicy(k) => {
                    desired.registries.contains_key(k)
                }
            };
        if !known {
            return Err(SessionError::UnknownTarget(t.clone()));
        }
    }
    Ok(())
}

/// Reads what is live for `desired` and `snapshot`.
pub async fn observe(
    cloud: &dyn Cloud,
    desired: &Desired,
    snapshot: &Snapshot,
) -> Result<Observed, SessionError> {
    let mut observed = refresh::refresh(cloud, desired, snapshot)
        .await
        .map_err(SessionError::Refresh)?;
    crate::replication::observe::read(cloud, desired, snapshot, &mut observed)
        .await
        .map_err(SessionError::Refresh)?;
    Ok(observed)
}

/// Checks the targets, refreshes and plans; restricted to `targets` and what they depend on
/// when there are any. Unless the plan destroys everything on purpose, deleting what a file of
/// `sources`' project declares but this run did not read is a plan error
/// ([`coverage::refuse_unread`]).
pub async fn plan(
    desired: &Desired,
    sources: &[Source],
    snapshot: &Snapshot,
    cloud: &dyn Cloud,
    targets: &[Address],
) -> Result<Plan, SessionError> {
    check_targets(desired, snapshot, targets)?;
    let observed = observe(cloud, desired, snapshot).await?;
    let plan = planner::plan(desired, snapshot, &observed);
    let mut plan = if targets.is_empty() {
        plan
    } else {
        planner::restrict(plan, desired, targets)
    };
    if desired.purpose != Purpose::Destroy {
        coverage::refuse_unread(&mut plan, snapshot, sources);
    }
    crate::rollback_targets::check(&mut plan, desired, cloud).await;
    crate::replication::digests::check(&mut plan, desired, cloud).await;
    Ok(plan)
}

/// The live policy of every declared repository, by key, as `ferry check` judges them.
pub use crate::planner::live_policies;

/// The record moves `ferry state mv SOURCE DESTINATION` makes, or why it refuses: a move keeps
/// the kind, and a repository takes its policy along.
pub fn state_moves(
    snap: &Snapshot,
    source: &Address,
    destination: &Address,
) -> Result<Vec<(Address, Address)>, SessionError> {
    if std::mem::discriminant(source) != std::mem::discriminant(destination) {
        return Err(SessionError::MoveAcrossKinds {
            from: source.clone(),
            to: destination.clone(),
        });
    }
    let mut moves = vec![(source.clone(), destination.clone())];
    if let (Address::Repository(from), Address::Repository(to)) = (source, destination) {
        // The policy's address follows its repository's key.
        moves.push((
            Address::RepositoryPolicy(from.clone()),
            Address::RepositoryPolicy(to.clone()),
        ));
        // So do its replicas' (`FROM@REGISTRY`), with their policies.
        let prefix = format!("{from}{}", crate::model::replication::REPLICA_SEPARATOR);
        for a in snap.resources.keys() {
            let registry = match a {
                Address::Repository(k) | Address::RepositoryPolicy(k) => k.strip_prefix(&prefix),
                _ => None,
            };
            if let Some(registry) = registry {
                let new = crate::model::replication::replica_key(to, registry);
                let moved = match a {
                    Address::Repository(_) => Address::Repository(new),
                    _ => Address::RepositoryPolicy(new),
                };
                moves.push((a.clone(), moved));
            }
        }
    }
    if !snap.resources.contains_key(source) {
        return Err(SessionError::NotInState(source.clone()));
    }
    moves.retain(|(from, _)| snap.resources.contains_key(from));
    for (_, to) in &moves {
        if snap.resources.contains_key(to) {
            return Err(SessionError::MoveOnto(to.clone()));
        }
    }
    Ok(moves)
}

/// One recorded resource as `ferry state show` prints it: sensitive environment values
/// redacted.
pub fn shown_record(snap: &Snapshot, address: &Address) -> Result<serde_json::Value, SessionError> {
    let record = snap
        .resources
        .get(address)
        .ok_or_else(|| SessionError::NotInState(address.clone()))?;
    let mut shown = serde_json::to_value(record)?;
    if let Record::Function { sensitive, .. } = record {
        for key in sensitive {
            if let Some(v) = shown.pointer_mut(&format!("/config/environment/{key}")) {
                *v = serde_json::json!("(sensitive value)");
            }
        }
    }
    Ok(shown)
}

/// The repository `ferry policy` names, by key or ECR name, whose policy ferry writes.
pub fn policy_repository<'a>(
    desired: &'a Desired,
    repository: &str,
) -> Result<&'a Repository, SessionError> {
    let repo = desired
        .repositories
        .get(repository)
        .or_else(|| desired.repositories.values().find(|r| r.name == repository))
        .ok_or_else(|| SessionError::UndeclaredRepository {
            key: repository.to_string(),
            declared: desired
                .repositories
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if !repo.manage_policy {
        return Err(SessionError::PolicyNotManaged(repo.key.clone()));
    }
    Ok(repo)
}

/// `validate`'s check that every policy ferry writes can be written.
pub fn check_policies(desired: &Desired) -> Result<(), SessionError> {
    for (key, synthesized) in policy::synthesize_all(desired) {
        if let Err(e) = synthesized {
            let at = desired
                .declared_at
                .get(&Address::Repository(key))
                .map_or(String::new(), |at| format!(" (declared at {at})"));
            return Err(SessionError::PolicyUnwritable {
                message: e.to_string(),
                at,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Target;

    fn record() -> Record {
        Record::RepositoryPolicy {
            target: Target {
                account: "registry".into(),
                account_id: "111111111111".into(),
                region: "us-east-1".into(),
            },
            repository: "hello".into(),
            policy: "{}".into(),
        }
    }

    fn snapshot(addresses: &[Address]) -> Snapshot {
        Snapshot {
            resources: addresses.iter().map(|a| (a.clone(), record())).collect(),
            ..Snapshot::default()
        }
    }

    fn repo(k: &str) -> Address {
        Address::Repository(k.into())
    }

    fn policy(k: &str) -> Address {
        Address::RepositoryPolicy(k.into())
    }

    #[test]
    fn a_repository_takes_its_policy_along() {
        let snap = snapshot(&[repo("a"), policy("a")]);
        let moves = state_moves(&snap, &repo("a"), &repo("b")).unwrap();
        assert_eq!(
            moves,
            vec![(repo("a"), repo("b")), (policy("a"), policy("b"))]
        );
        // Without a recorded policy only the repository moves.
        let snap = snapshot(&[repo("a")]);
        let moves = state_moves(&snap, &repo("a"), &repo("b")).unwrap();
        assert_eq!(moves, vec![(repo("a"), repo("b"))]);
    }

    #[test]
    fn a_move_refuses_another_kind_an_absent_source_and_a_taken_destination() {
        let snap = snapshot(&[repo("a"), policy("a"), policy("b")]);
        let kind = state_moves(&snap, &repo("a"), &Address::Function("a".into())).unwrap_err();
        assert_eq!(
            kind.to_string(),
            "repository.a and function.a are different kinds of resource; a move keeps the kind"
        );
        let absent = state_moves(&snap, &repo("x"), &repo("y")).unwrap_err();
        assert_eq!(absent.to_string(), "repository.x is not in the state");
        // The policy's destination is taken even though the repository's is free.
        let taken = state_moves(&snap, &repo("a"), &repo("b")).unwrap_err();
        assert!(
            taken
                .to_string()
                .starts_with("repository_policy.b is already in the state"),
            "{taken}"
        );
    }

    #[test]
    fn a_target_must_be_declared_or_in_state() {
        let text = "[project]\nname = \"p\"\n[accounts.registry]\nid = \"111111111111\"\n\
                    [registries.central]\naccount = \"registry\"\nregion = \"us-east-1\"\n";
        let source = declarations::source_from_bytes("ferry.toml".into(), text.into()).unwrap();
        let desired = declarations::parse_sources(&[source], &|_| None).unwrap();
        let snap = snapshot(&[repo("a")]);
        let registry = Address::Registry("central".into());
        assert!(check_targets(&desired, &snap, &[repo("a"), registry]).is_ok());
        let e = check_targets(&desired, &snap, &[repo("a"), repo("z")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--target repository.z: no such resource is declared or in the state"
        );
    }

    #[test]
    fn state_show_names_an_absent_address() {
        let e = shown_record(&snapshot(&[]), &repo("a")).unwrap_err();
        assert_eq!(e.to_string(), "repository.a is not in the state");
    }
}
