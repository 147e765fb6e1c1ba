//! Stage: planner. Pure: desired + state (last applied) + observed (live) in, a [`Plan`] out.
//!
//! No AWS client, no clock, no randomness: the same inputs give the same plan, byte for byte.
//! The plan leaves the executor nothing to decide: every step carries its exact operation, the
//! state record to write when it succeeds, its dependencies and its level (steps of one level are
//! independent and may run in parallel).

use crate::cloud::{FunctionConfig, ImageLookup, LiveFunction, RepositoryConfig};
use crate::model::{Address, Desired, Function, ImageRef, Purpose, Repository, Target};
use crate::policy;
use crate::refresh::Observed;
use crate::state::{Record, Snapshot};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// What a step does to its resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Delete, then create (an identity attribute changed).
    Replace,
    Delete,
    /// Record in state a resource that already matches (left by an interrupted apply).
    Adopt,
    /// Give a recorded resource a new address (a `[[moved]]` block); nothing changes in AWS.
    Move,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Adopt => "=",
            Action::Move => "->",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated in-place",
            Action::Replace => "replaced",
            Action::Delete => "destroyed",
            Action::Adopt => "adopted into state",
            Action::Move => "moved",
        }
    }
}

/// One attribute's change. Values are display-safe: sensitive environment values never appear.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub attribute: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Exactly what the executor does for a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    CreateRepository {
        config: RepositoryConfig,
    },
    UpdateRepository {
        before: RepositoryConfig,
        after: RepositoryConfig,
    },
    DeleteRepository {
        name: String,
        force: bool,
    },
    PutPolicy {
        repository: String,
        before: Option<String>,
        policy: String,
    },
    DeletePolicy {
        repository: String,
        before: String,
    },
    CreateFunction {
        config: FunctionConfig,
    },
    UpdateFunction {
        before: FunctionConfig,
        after: FunctionConfig,
    },
    DeleteFunction {
        name: String,
        before: FunctionConfig,
    },
    /// Delete at `old_target`, then create.
    Replace {
        old_target: Target,
        delete: Box<Operation>,
        create: Box<Operation>,
    },
    /// Nothing to call: only record in state.
    Record,
    /// Nothing to call: state records move from each first address to the second, all or none
    /// (`StateStore::rename`), as `ferry state mv` moves them.
    Move {
        moves: Vec<(Address, Address)>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: usize,
    pub address: Address,
    /// The AWS name of the resource (function or repository name; a policy's repository).
    #[serde(default)]
    pub name: String,
    pub action: Action,
    pub reason: String,
    pub target: Target,
    pub changes: Vec<Change>,
    pub depends_on: Vec<usize>,
    pub level: usize,
    pub operation: Operation,
    /// What state holds for the address once the step succeeded; `None` forgets it.
    pub record: Option<Record>,
    /// Environment keys of a function whose values are secret, as declared now or when last
    /// applied: their values never leave the process (display, saved plans, logs).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive: BTreeSet<String>,
}

/// A declared image and what it resolved to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedImage {
    pub key: String,
    pub repository_uri: String,
    pub reference: ImageRef,
    pub digest: Option<String>,
}

/// A difference between what ferry last applied (state) and what is live: a change made
/// outside ferry. Kept apart from the steps, as Terraform keeps prev-run and prior state apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub address: Address,
    /// The resource is gone.
    pub deleted: bool,
    /// Last applied (before) against live (after); sensitive values redacted.
    pub changes: Vec<Change>,
}

/// A reason the plan cannot be applied, with how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanError {
    pub address: Address,
    pub message: String,
    pub hint: String,
    /// Where the address is declared (`ferry.toml:12:1`), when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub project: String,
    /// The state the plan was made against.
    pub lineage: String,
    pub serial: u64,
    pub images: Vec<ResolvedImage>,
    /// Changes made outside ferry since the last apply.
    pub drift: Vec<Drift>,
    pub steps: Vec<Step>,
    pub errors: Vec<PlanError>,
    /// Problems that do not stop the plan: lint of policies ferry does not write itself.
    #[serde(default)]
    pub warnings: Vec<PlanError>,
    /// Managed resources that are already as declared.
    pub unchanged: Vec<Address>,
    /// When not empty, the plan was restricted to these addresses and what they depend on.
    #[serde(default)]
    pub targets: Vec<Address>,
}

impl Step {
    /// Where a move step takes its resource.
    pub fn moved_to(&self) -> Option<&Address> {
        match &self.operation {
            Operation::Move { moves } => moves.first().map(|(_, to)| to),
            _ => None,
        }
    }

    /// What the resource is in AWS, in words: "Lambda function `x`", "ECR repository `x`".
    pub fn resource(&self) -> String {
        let kind = match self.address {
            Address::Function(_) => "Lambda function",
            Address::RepositoryPolicy(_) => "policy of ECR repository",
            _ => "ECR repository",
        };
        format!("{kind} `{}`", self.name)
    }
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.steps.is_empty()
    }

    /// Steps grouped by level, in order.
    pub fn levels(&self) -> Vec<Vec<&Step>> {
        let mut levels: Vec<Vec<&Step>> = Vec::new();
        for s in &self.steps {
            if levels.len() <= s.level {
                levels.resize(s.level + 1, Vec::new());
            }
            levels[s.level].push(s);
        }
        levels
    }

    /// (to add, to change, to destroy), counted as Terraform does: a replace is one add and one
    /// destroy.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for s in &self.steps {
            match s.action {
                Action::Create => c.0 += 1,
                Action::Update => c.1 += 1,
                Action::Replace => {
                    c.0 += 1;
                    c.2 += 1
                }
                Action::Delete => c.2 += 1,
                Action::Adopt | Action::Move => {}
            }
        }
        c
    }
}

/// A step as the planner first makes it: no id, level or dependencies yet (`order` sets them).
fn step(
    address: Address,
    action: Action,
    reason: impl Into<String>,
    target: Target,
    changes: Vec<Change>,
    operation: Operation,
    record: Option<Record>,
) -> Step {
    Step {
        id: 0,
        address,
        name: String::new(),
        action,
        reason: reason.into(),
        target,
        changes,
        depends_on: vec![],
        level: 0,
        operation,
        record,
        sensitive: BTreeSet::new(),
    }
}

/// A step before ordering: dependencies by address.
struct Draft {
    step: Step,
    after: BTreeSet<Address>,
}

/// Computes the plan.
pub fn plan(desired: &Desired, state: &Snapshot, observed: &Observed) -> Plan {
    // `[[moved]]` blocks first: the rest of the plan sees each record at its new address.
    let (moved_state, moves, move_errors) = apply_moves(desired, state);
    let state = &moved_state;
    let moved_into = moves
        .iter()
        .flat_map(|(m, pairs)| pairs.iter().map(|(_, to)| (to.clone(), m.from.clone())))
        .collect();
    let mut p = Planner {
        desired,
        state,
        observed,
        drafts: Vec::new(),
        errors: move_errors,
        unchanged: Vec::new(),
        renames: renames(desired, state),
        moved_into,
    };
    for (m, pairs) in &moves {
        p.move_step(m, pairs);
    }
    let images = p.images();
    let digests: BTreeMap<String, String> = images
        .iter()
        .filter_map(|i| i.digest.clone().map(|d| (i.key.clone(), d)))
        .collect();
    for repo in desired.repositories.values() {
        p.repository(repo);
        if repo.manage_policy {
            p.policy(repo);
        }
    }
    for f in desired.functions.values() {
        p.function(f, &digests);
    }
    p.undeclared();
    let Planner {
        mut drafts,
        mut errors,
        mut unchanged,
        ..
    } = p;
    // A record whose account key now names another account is not planned at all: no step may
    // read or write the other account's resources in its name.
    let repointed = account_changes(desired, state);
    drafts.retain(|d| !repointed.iter().any(|e| e.address == d.step.address));
    unchanged.retain(|a| !repointed.iter().any(|e| &e.address == a));
    errors.extend(repointed);
    let steps = order(drafts);
    errors.extend(one_step_per_resource(&steps, state));
    for e in &mut errors {
        e.declared_at = desired.declared_at.get(&e.address).cloned();
    }
    Plan {
        project: desired.project.name.clone(),
        lineage: state.lineage.clone(),
        serial: state.serial,
        images,
        drift: drift(desired, state, observed),
        steps,
        errors,
        warnings: warnings(desired, observed),
        unchanged,
        targets: Vec::new(),
    }
}

/// The record moves `[[moved]]` blocks ask for: the state as the rest of the planner sees it
/// (each moved record at its new address), each block that still has something to move with its
/// pairs (a repository takes its policy along), and the blocks that cannot apply.
/// A block whose `from` is not in state has already been applied (or never had anything to
/// move): it stays in the files and is a no-op.
#[allow(clippy::type_complexity)]
fn apply_moves(
    desired: &Desired,
    state: &Snapshot,
) -> (
    Snapshot,
    Vec<(crate::model::Move, Vec<(Address, Address)>)>,
    Vec<PlanError>,
) {
    let mut moved = state.clone();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    if desired.purpose == Purpose::Destroy {
        return (moved, out, errors);
    }
    for m in &desired.moves {
        let mut pairs = vec![(m.from.clone(), m.to.clone())];
        if let (Address::Repository(from), Address::Repository(to)) = (&m.from, &m.to) {
            pairs.push((
                Address::RepositoryPolicy(from.clone()),
                Address::RepositoryPolicy(to.clone()),
            ));
        }
        pairs.retain(|(from, _)| moved.resources.contains_key(from));
        if !pairs.iter().any(|(from, _)| from == &m.from) {
            continue;
        }
        if let Some((_, taken)) = pairs
            .iter()
            .find(|(_, to)| moved.resources.contains_key(to))
        {
            errors.push(PlanError {
                declared_at: None,
                address: m.to.clone(),
                message: format!(
                    "the [[moved]] block at {} moves {} to {}, but the state already records {taken}, \
                     so the move cannot apply",
                    m.declared_at, m.from, m.to
                ),
                hint: format!(
                    "one of the two records is stale: forget it with `ferry state rm {taken}` (or `ferry state rm {}`) \
                     and plan again",
                    m.from
                ),
            });
            continue;
        }
        for (from, to) in &pairs {
            if let Some(r) = moved.resources.remove(from) {
                moved.resources.insert(to.clone(), r);
            }
            if moved.interrupted.remove(from) {
                moved.interrupted.insert(to.clone());
            }
        }
        out.push((m.clone(), pairs));
    }
    (moved, out, errors)
}

/// Declared addresses that are not in state but whose AWS resource (account, region, name) state
/// records under another address that is no longer declared: renamed keys, new address to old.
fn renames(desired: &Desired, state: &Snapshot) -> BTreeMap<Address, Address> {
    let declared = desired
        .functions
        .values()
        .map(|f| (Address::Function(f.key.clone()), &f.target, &f.name))
        .chain(
            desired
                .repositories
                .values()
                .map(|r| (Address::Repository(r.key.clone()), &r.target, &r.name)),
        );
    let is_declared = |a: &Address| match a {
        Address::Function(k) => desired.functions.contains_key(k),
        Address::Repository(k) => desired.repositories.contains_key(k),
        _ => true,
    };
    let mut out = BTreeMap::new();
    for (address, target, name) in declared {
        if state.resources.contains_key(&address) {
            continue;
        }
        let identity = (
            address.kind(),
            target.account_id.as_str(),
            target.region.as_str(),
            name.as_str(),
        );
        if let Some((old, _)) = state
            .resources
            .iter()
            .find(|(a, r)| **a != address && !is_declared(a) && r.identity() == identity)
        {
            out.insert(address, old.clone());
        }
    }
    out
}

/// The check no plan may fail: two steps acting on one AWS resource (one deleting it under an
/// old address while another updates it under a new one) would lose it. Each violation is an
/// error, so such a plan is never applied.
fn one_step_per_resource(steps: &[Step], state: &Snapshot) -> Vec<PlanError> {
    let mut seen: BTreeMap<(&str, &str, &str, &str), &Address> = BTreeMap::new();
    let mut errors = Vec::new();
    for s in steps {
        if matches!(s.operation, Operation::Move { .. }) {
            continue;
        }
        let mut identities: BTreeSet<(&str, &str, &str, &str)> = BTreeSet::new();
        identities.extend(s.record.as_ref().map(Record::identity));
        identities.extend(state.resources.get(&s.address).map(Record::identity));
        for identity in identities {
            match seen.get(&identity) {
                Some(first) if *first != &s.address => {
                    let (_, account_id, region, name) = identity;
                    errors.push(PlanError {
                        declared_at: None,
                        address: s.address.clone(),
                        message: format!(
                            "{first} and {} would both act on `{name}` in account {account_id} ({region}); \
                             ferry never plans two steps on one AWS resource (one could delete what the \
                             other manages)",
                            s.address
                        ),
                        hint: format!(
                            "if {} is {first} under a renamed key, say so with a [[moved]] block or \
                             `ferry state mv {first} {}`; otherwise give one of them another `name`",
                            s.address, s.address
                        ),
                    });
                }
                Some(_) => {}
                None => {
                    seen.insert(identity, &s.address);
                }
            }
        }
    }
    errors
}

/// The id the declarations now give `target`'s account key, when it is not the id the target
/// was recorded with.
pub fn account_changed<'a>(desired: &'a Desired, target: &Target) -> Option<&'a str> {
    desired
        .accounts
        .get(&target.account)
        .map(|a| a.id.as_str())
        .filter(|id| *id != target.account_id)
}

/// A plan error for every record made in another account than its account key now declares:
/// the account id is part of a resource's identity, so ferry neither reads the new account's
/// resource of the same name as this one nor deletes anything to "move" it.
fn account_changes(desired: &Desired, state: &Snapshot) -> Vec<PlanError> {
    state
        .resources
        .iter()
        .filter_map(|(address, record)| {
            let target = record.target();
            let declared = account_changed(desired, target)?;
            Some(PlanError {
                declared_at: None,
                address: address.clone(),
                message: format!(
                    "it was applied in account {} (account key `{}`), but the declarations now give \
                     `{}` the id {declared}; ferry does not read or change account {declared} in the \
                     name of what it made in account {}",
                    target.account_id, target.account, target.account, target.account_id
                ),
                hint: format!(
                    "if the id was changed by mistake, put `id = \"{}\"` back; to leave what is in \
                     account {} alone and manage account {declared} from now on, forget the record with \
                     `ferry state rm {address}`; to keep both, declare a new account key for \
                     {declared} and move the declarations that belong there (`ferry state mv` or a \
                     `[[moved]]` block follows a renamed address)",
                    target.account_id, target.account_id
                ),
            })
        })
        .collect()
}

/// The live policy text of each declared repository, by key.
fn live_policies(desired: &Desired, observed: &Observed) -> BTreeMap<String, Option<String>> {
    desired
        .repositories
        .values()
        .map(|r| {
            let live = observed
                .policies
                .get(&(r.target.clone(), r.name.clone()))
                .cloned()
                .flatten();
            (r.key.clone(), live)
        })
        .collect()
}

fn warnings(desired: &Desired, observed: &Observed) -> Vec<PlanError> {
    crate::check::policy_warnings(desired, &live_policies(desired, observed))
        .into_iter()
        .map(|w| PlanError {
            declared_at: None,
            address: w.repository,
            message: w.message,
            hint: w.hint,
        })
        .collect()
}

/// Restricts a plan to `targets` and the steps they depend on, as Terraform's `-target` does.
/// Errors about other resources are dropped, except those about the images that targeted
/// functions deploy.
pub fn restrict(plan: Plan, desired: &Desired, targets: &[Address]) -> Plan {
    let by_address: BTreeMap<&Address, &Step> =
        plan.steps.iter().map(|s| (&s.address, s)).collect();
    let mut keep: BTreeSet<Address> = BTreeSet::new();
    let mut queue: Vec<Address> = targets.to_vec();
    while let Some(a) = queue.pop() {
        if !keep.insert(a.clone()) {
            continue;
        }
        if let Some(step) = by_address.get(&a) {
            queue.extend(
                step.depends_on
                    .iter()
                    .map(|d| plan.steps[*d].address.clone()),
            );
        }
    }
    let mut relevant = keep.clone();
    for a in &keep {
        if let Address::Function(k) = a
            && let Some(f) = desired.functions.get(k)
        {
            relevant.insert(Address::Image(f.image.clone()));
        }
    }
    let drafts: Vec<Draft> = plan
        .steps
        .iter()
        .filter(|s| keep.contains(&s.address))
        .map(|s| Draft {
            after: s
                .depends_on
                .iter()
                .map(|d| plan.steps[*d].address.clone())
                .collect(),
            step: s.clone(),
        })
        .collect();
    Plan {
        steps: order(drafts),
        errors: plan
            .errors
            .into_iter()
            .filter(|e| relevant.contains(&e.address))
            .collect(),
        drift: plan
            .drift
            .into_iter()
            .filter(|d| keep.contains(&d.address))
            .collect(),
        unchanged: plan
            .unchanged
            .into_iter()
            .filter(|a| keep.contains(a))
            .collect(),
        images: plan
            .images
            .into_iter()
            .filter(|i| relevant.contains(&Address::Image(i.key.clone())))
            .collect(),
        targets: targets.to_vec(),
        ..plan
    }
}

/// What changed outside ferry: every recorded resource compared with its live twin.
fn drift(desired: &Desired, state: &Snapshot, observed: &Observed) -> Vec<Drift> {
    let mut out = Vec::new();
    for (address, record) in &state.resources {
        let (live_exists, changes) = match record {
            Record::Repository { target, config, .. } => {
                match observed
                    .repositories
                    .get(&(target.clone(), config.name.clone()))
                {
                    Some(Some(live)) => (
                        true,
                        diff(
                            &repository_attrs(Some(config)),
                            &repository_attrs(Some(live)),
                        ),
                    ),
                    Some(None) => (false, vec![]),
                    None => continue,
                }
            }
            Record::RepositoryPolicy {
                target,
                repository,
                policy: text,
            } => match observed.policies.get(&(target.clone(), repository.clone())) {
                Some(Some(live)) => {
                    let (before, after) = (policy::parse(text), policy::parse(live));
                    let changes = if policy::equivalent(&before, &after) {
                        vec![]
                    } else {
                        vec![Change {
                            attribute: "policy".to_string(),
                            before: Some(before),
                            after: Some(after),
                        }]
                    };
                    (true, changes)
                }
                Some(None) => (false, vec![]),
                None => continue,
            },
            Record::Function {
                target,
                config,
                sensitive,
                ..
            } => match observed
                .functions
                .get(&(target.clone(), config.name.clone()))
            {
                Some(Some(live)) => {
                    // State holds keyed hashes of sensitive values: hash the live ones alike.
                    let mut live_cmp = live.config.clone();
                    let shown = sensitive_keys(desired, state, address);
                    for k in sensitive {
                        if let Some(v) = live_cmp.environment.get_mut(k) {
                            *v = crate::state::sensitive_hash(&state.secret_key, k, v);
                        }
                    }
                    (
                        true,
                        diff(
                            &function_attrs(Some(config), None, &shown),
                            &function_attrs(Some(&live_cmp), Some(config), &shown),
                        ),
                    )
                }
                Some(None) => (false, vec![]),
                None => continue,
            },
        };
        if !live_exists || !changes.is_empty() {
            out.push(Drift {
                address: address.clone(),
                deleted: !live_exists,
                changes,
            });
        }
    }
    out
}

struct Planner<'a> {
    desired: &'a Desired,
    state: &'a Snapshot,
    observed: &'a Observed,
    drafts: Vec<Draft>,
    errors: Vec<PlanError>,
    unchanged: Vec<Address>,
    /// Renamed keys without a move: new address to the old one state records it under.
    renames: BTreeMap<Address, Address>,
    /// Addresses a `[[moved]]` block moves a record into, to the address of its move step.
    moved_into: BTreeMap<Address, Address>,
}

/// Why a recorded resource is updated, when it is more than "the declaration changed".
enum Cause {
    /// `ferry import` recorded it as it was, without ferry's ownership tags; `image` says how its
    /// image differs from the declared one.
    Imported { image: Option<String> },
    /// Its record came to this address (`[[moved]]`, `ferry state mv`) from this one.
    Moved(String),
    /// The declared tag now resolves to another digest than the one deployed.
    TagMoved(String),
}

impl Cause {
    /// The step's reason, given its attribute changes.
    fn reason(&self, changes: &[Change]) -> String {
        let (text, own): (String, &[&str]) = match self {
            Cause::Imported { image } => (
                match image {
                    Some(image) => format!(
                        "it was just imported: {image}; it also gets ferry's ownership tags"
                    ),
                    None => "it was just imported and gets ferry's ownership tags".to_string(),
                },
                &["tags", "image_uri"],
            ),
            Cause::Moved(from) => (
                format!("it moved from {from}, and its ferry:address tag follows"),
                &["tags"],
            ),
            Cause::TagMoved(text) => (text.clone(), &["image_uri"]),
        };
        if changes.iter().any(|c| !own.contains(&c.attribute.as_str())) {
            format!("{text}, and the declaration changed")
        } else {
            text
        }
    }
}

impl Planner<'_> {
    /// The reason for deleting something that is not declared.
    fn undeclared_reason(&self) -> &'static str {
        match self.desired.purpose {
            Purpose::Reconcile => "it is no longer declared",
            Purpose::Destroy => "destroy removes everything ferry manages",
        }
    }

    /// How a recorded resource came to lack this address's ownership tags, from the tags its
    /// record holds.
    fn provenance(&self, address: &Address, recorded: &BTreeMap<String, String>) -> Option<Cause> {
        match recorded.get(crate::model::TAG_ADDRESS) {
            None => Some(Cause::Imported { image: None }),
            Some(a)
                if *a != address.to_string()
                    && recorded.get(crate::model::TAG_PROJECT)
                        == Some(&self.desired.project.name) =>
            {
                Some(Cause::Moved(a.clone()))
            }
            Some(_) => None,
        }
    }

    /// Why a recorded function is updated beyond its declaration: just imported (running the
    /// image it was imported with), moved to this address, or its tag resolves to a new digest.
    fn function_cause(
        &self,
        address: &Address,
        f: &Function,
        old: &FunctionConfig,
        live: &FunctionConfig,
        config: &FunctionConfig,
        digest: &str,
    ) -> Option<Cause> {
        let tag = self
            .desired
            .images
            .get(&f.image)
            .and_then(|i| match &i.reference {
                ImageRef::Tag(t) => Some(format!("tag `{t}` of image.{}", i.key)),
                ImageRef::Digest(_) => None,
            });
        let repointed = old.image_uri != config.image_uri;
        match self.provenance(address, &old.tags) {
            Some(Cause::Imported { .. }) => Some(Cause::Imported {
                image: repointed.then(|| match &tag {
                    Some(tag) if !old.image_uri.contains("@sha256:") => format!(
                        "it runs `{}` by tag, and ferry deploys by digest ({tag} is {digest})",
                        old.image_uri
                    ),
                    _ => format!("it runs `{}`, not the declared image", old.image_uri),
                }),
            }),
            Some(cause) => Some(cause),
            None if repointed && live.image_uri == old.image_uri => {
                tag.map(|t| Cause::TagMoved(format!("{t} now resolves to a new digest")))
            }
            None => None,
        }
    }

    /// The step of a `[[moved]]` block that still has records to move.
    fn move_step(&mut self, m: &crate::model::Move, pairs: &[(Address, Address)]) {
        let Some(record) = self.state.resources.get(&m.to) else {
            return;
        };
        let policy = if pairs.len() > 1 {
            " (its policy moves along)"
        } else {
            ""
        };
        let mut s = step(
            m.from.clone(),
            Action::Move,
            format!(
                "the [[moved]] block at {} gives it the address {}{policy}; state records move, nothing \
                 changes in AWS",
                m.declared_at, m.to
            ),
            record.target().clone(),
            vec![],
            Operation::Move {
                moves: pairs.to_vec(),
            },
            None,
        );
        s.name = record.identity().3.to_string();
        self.push(s, BTreeSet::new());
    }

    /// The one error for a renamed key that no move explains.
    fn rename_error(&self, address: &Address, old: &Address, what: &str) -> PlanError {
        let along = if matches!(address, Address::Repository(_)) {
            " (a repository takes its policy along)"
        } else {
            ""
        };
        PlanError {
            declared_at: None,
            address: address.clone(),
            message: format!(
                "{what} is recorded in state as {old}, which is no longer declared, and {address} now \
                 declares it: the key was renamed. As it stands, the plan would delete it as {old}, so \
                 ferry refuses"
            ),
            hint: format!(
                "keep it and give it the new address{along}: add a [[moved]] block with \
                 from = \"{old}\" and to = \"{address}\" to the declarations (it can stay there), \
                 or run `ferry state mv {old} {address}`; do not `ferry import` it"
            ),
        }
    }

    fn images(&mut self) -> Vec<ResolvedImage> {
        let mut out = Vec::new();
        for image in self.desired.images.values() {
            let Some(repo) = self.desired.repositories.get(&image.repository) else {
                continue;
            };
            let lookup = self
                .observed
                .images
                .get(&image.key)
                .cloned()
                .unwrap_or(ImageLookup::RepositoryNotFound);
            let digest = match lookup {
                ImageLookup::Found { digest } => Some(digest),
                ImageLookup::NotFound => {
                    self.errors.push(PlanError {
                        declared_at: None,
                        address: Address::Image(image.key.clone()),
                        message: format!(
                            "image `{}`: {} not found in repository `{}` of account {} ({})",
                            image.key,
                            image.reference,
                            repo.name,
                            repo.target.account_id,
                            repo.target.region
                        ),
                        hint: format!(
                            "push it first (ferry never builds or pushes images), e.g. docker push {}{}, \
                             or fix the reference",
                            repo.uri(),
                            match &image.reference {
                                ImageRef::Tag(t) => format!(":{t}"),
                                ImageRef::Digest(d) => format!("@{d}"),
                            }
                        ),
                    });
                    None
                }
                ImageLookup::Failed { code, reason } => {
                    self.errors.push(PlanError {
                        declared_at: None,
                        address: Address::Image(image.key.clone()),
                        message: format!(
                            "image `{}`: ECR cannot serve {} from repository `{}` of account {} ({}): {code}: {reason}",
                            image.key,
                            image.reference,
                            repo.name,
                            repo.target.account_id,
                            repo.target.region
                        ),
                        hint: match code.as_str() {
                            "KmsError" => "ECR could not decrypt the image with the repository's KMS key: \
                                           check that the key is enabled and its policy lets ECR use it",
                            c if c.starts_with("Upstream") || c == "ImageInaccessible" => {
                                "ECR cannot read the image right now (a pull-through cache upstream or \
                                 access to it); try again, or check the upstream registry"
                            }
                            _ => "Lambda deploys a single-platform Docker v2 or OCI image manifest; push \
                                  such an image (for a multi-platform build, reference the platform's \
                                  digest) or fix the reference",
                        }
                        .to_string(),
                    });
                    None
                }
                ImageLookup::RepositoryNotFound => {
                    self.errors.push(PlanError {
                        declared_at: None,
                        address: Address::Image(image.key.clone()),
                        message: format!(
                            "image `{}`: repository `{}` does not exist yet in account {} ({}), so {} cannot be resolved",
                            image.key,
                            repo.name,
                            repo.target.account_id,
                            repo.target.region,
                            image.reference
                        ),
                        hint: "apply the repository first (declare it without images and functions), push \
                               the image, then declare the image and its functions"
                            .to_string(),
                    });
                    None
                }
            };
            out.push(ResolvedImage {
                key: image.key.clone(),
                repository_uri: repo.uri(),
                reference: image.reference.clone(),
                digest,
            });
        }
        out
    }

    fn push(&mut self, mut step: Step, mut after: BTreeSet<Address>) {
        if matches!(step.address, Address::Function(_)) {
            step.sensitive = sensitive_keys(self.desired, self.state, &step.address);
        }
        if step.name.is_empty()
            && let Some(r) = step
                .record
                .as_ref()
                .or(self.state.resources.get(&step.address))
        {
            step.name = r.identity().3.to_string();
        }
        // A step on a moved record runs after the move.
        if let Some(from) = self.moved_into.get(&step.address) {
            after.insert(from.clone());
        }
        self.drafts.push(Draft { step, after });
    }

    fn repository(&mut self, repo: &Repository) {
        let address = Address::Repository(repo.key.clone());
        if let Some(old) = self.renames.get(&address) {
            let what = format!(
                "repository `{}` in account {} ({})",
                repo.name, repo.target.account_id, repo.target.region
            );
            self.errors.push(self.rename_error(&address, old, &what));
            return;
        }
        let config = RepositoryConfig {
            name: repo.name.clone(),
            tag_mutability: repo.tag_mutability,
            scan_on_push: repo.scan_on_push,
            tags: self.desired.ownership_tags(&address, &repo.tags),
        };
        let record = Record::Repository {
            target: repo.target.clone(),
            config: config.clone(),
            force_delete: repo.force_delete,
        };
        let place = (repo.target.clone(), repo.name.clone());
        let live = self.observed.repositories.get(&place).cloned().flatten();
        let prior = self.state.resources.get(&address);
        // An identity change (other registry or name) replaces the repository.
        if let Some(Record::Repository {
            target: old_target,
            config: old,
            force_delete,
        }) = prior
            && (old_target != &repo.target || old.name != repo.name)
        {
            let old_place = (old_target.clone(), old.name.clone());
            let old_live = self
                .observed
                .repositories
                .get(&old_place)
                .cloned()
                .flatten();
            if old_live.is_some()
                && self.observed.has_images.get(&old_place) == Some(&true)
                && !force_delete
            {
                self.errors.push(PlanError {
                    declared_at: None,
                    address: address.clone(),
                    message: format!(
                        "repository `{}` moves from {} to {}, but the old repository still holds images",
                        repo.key,
                        describe_place(&old_place),
                        describe_place(&place)
                    ),
                    hint: "set force_delete = true (and apply) to allow deleting it with its images, \
                           or move the images first"
                        .to_string(),
                });
                return;
            }
            let changes = diff(
                &repository_attrs(Some(old)),
                &repository_attrs(Some(&config)),
            );
            self.push(
                step(
                    address,
                    Action::Replace,
                    "its name or registry changed".to_string(),
                    repo.target.clone(),
                    changes,
                    Operation::Replace {
                        old_target: old_target.clone(),
                        delete: Box::new(Operation::DeleteRepository {
                            name: old.name.clone(),
                            force: *force_delete,
                        }),
                        create: Box::new(Operation::CreateRepository { config }),
                    },
                    Some(record),
                ),
                BTreeSet::new(),
            );
            return;
        }
        match (&live, prior) {
            (None, _) => {
                let reason = if prior.is_some() {
                    "it was deleted outside ferry; it will be created again"
                } else {
                    "it is declared and does not exist"
                };
                let changes = diff(&[], &repository_attrs(Some(&config)));
                self.push(
                    step(
                        address,
                        Action::Create,
                        reason.to_string(),
                        repo.target.clone(),
                        changes,
                        Operation::CreateRepository { config },
                        Some(record),
                    ),
                    BTreeSet::new(),
                );
            }
            (Some(live), prior) => {
                if prior.is_none() && !self.owned(&live.tags, &address) {
                    self.errors.push(self.unrecorded(
                        &address,
                        &format!(
                            "repository `{}` already exists in {}",
                            repo.name,
                            describe_place(&place)
                        ),
                        &repo.name,
                        &live.tags,
                    ));
                    return;
                }
                let cause = match prior {
                    Some(Record::Repository { config: old, .. }) => {
                        self.provenance(&address, &old.tags)
                    }
                    _ => None,
                };
                self.update_or_keep(
                    address,
                    repo.target.clone(),
                    &repository_attrs(Some(live)),
                    &repository_attrs(Some(&config)),
                    prior.is_none(),
                    Operation::UpdateRepository {
                        before: live.clone(),
                        after: config,
                    },
                    record,
                    BTreeSet::new(),
                    cause,
                );
            }
        }
    }

    /// An update when attributes differ; otherwise unchanged (or adopted, when state lacks it).
    #[allow(clippy::too_many_arguments)]
    fn update_or_keep(
        &mut self,
        address: Address,
        target: Target,
        live: &[(String, Value)],
        desired: &[(String, Value)],
        adopting: bool,
        operation: Operation,
        record: Record,
        after: BTreeSet<Address>,
        cause: Option<Cause>,
    ) {
        let changes = diff(live, desired);
        let drifted = self.state.resources.get(&address).is_some_and(|r| {
            r.redacted(&self.state.secret_key) != record.redacted(&self.state.secret_key)
        });
        if changes.is_empty() {
            if adopting || drifted {
                // Live already matches; state is behind (an interrupted apply).
                self.push(
                    step(
                        address,
                        Action::Adopt,
                        "it already matches the declaration; state is brought up to date"
                            .to_string(),
                        target,
                        changes,
                        Operation::Record,
                        Some(record),
                    ),
                    after,
                );
            } else {
                self.unchanged.push(address);
            }
            return;
        }
        let reason = if adopting {
            "it carries this project's ownership tags but is missing from state (an interrupted apply); \
             it will be adopted and updated"
                .to_string()
        } else if let Some(cause) = cause {
            cause.reason(&changes)
        } else if drifted_outside(self.state, &address, live) {
            "it was changed outside ferry; the declared values will be restored".to_string()
        } else {
            "the declaration changed".to_string()
        };
        self.push(
            step(
                address,
                Action::Update,
                reason,
                target,
                changes,
                operation,
                Some(record),
            ),
            after,
        );
    }

    fn policy(&mut self, repo: &Repository) {
        let address = Address::RepositoryPolicy(repo.key.clone());
        // A renamed repository's one error covers its policy.
        if self
            .renames
            .contains_key(&Address::Repository(repo.key.clone()))
        {
            return;
        }
        let place = (repo.target.clone(), repo.name.clone());
        let desired = match policy::synthesize(self.desired, repo) {
            Ok(p) => p,
            Err(e) => {
                self.errors.push(PlanError {
                    declared_at: None,
                    address,
                    message: e.to_string(),
                    hint:
                        "share with an Organization or org path instead of many accounts, or trim \
                           extra_statements"
                            .to_string(),
                });
                return;
            }
        };
        let live = self.observed.policies.get(&place).cloned().flatten();
        let prior = self.state.resources.get(&address);
        let after: BTreeSet<Address> = [Address::Repository(repo.key.clone())]
            .into_iter()
            .chain(self.deleted_consumers_of(&repo.key))
            .collect();
        match (desired, live) {
            (Some(want), live) => {
                let text = policy::to_text(&want);
                let record = Record::RepositoryPolicy {
                    target: repo.target.clone(),
                    repository: repo.name.clone(),
                    policy: text.clone(),
                };
                let live_value = live.as_deref().map(policy::parse);
                if live_value
                    .as_ref()
                    .is_some_and(|l| policy::equivalent(l, &want))
                {
                    let same_record = prior.is_some_and(|r| match r {
                        Record::RepositoryPolicy { policy: p, .. } => {
                            policy::equivalent(&policy::parse(p), &want)
                        }
                        _ => false,
                    });
                    if same_record {
                        self.unchanged.push(address);
                    } else {
                        self.push(
                            step(
                                address,
                                Action::Adopt,
                                "the live policy already matches; state is brought up to date"
                                    .to_string(),
                                repo.target.clone(),
                                vec![],
                                Operation::Record,
                                Some(record),
                            ),
                            after,
                        );
                    }
                    return;
                }
                let (action, reason) = match (&live_value, prior) {
                    (None, Some(_)) => (
                        Action::Create,
                        "it was deleted outside ferry; it will be written again",
                    ),
                    (None, None) => (
                        Action::Create,
                        "the repository has consumers and no policy yet",
                    ),
                    (Some(_), Some(Record::RepositoryPolicy { policy: p, .. }))
                        if live_value
                            .as_ref()
                            .is_some_and(|l| !policy::equivalent(l, &policy::parse(p))) =>
                    {
                        (
                            Action::Update,
                            "it was changed outside ferry; ferry owns this policy and restores it",
                        )
                    }
                    (Some(_), Some(_)) => (Action::Update, "its consumers or shares changed"),
                    (Some(_), None) if self.state.interrupted.contains(&address) => (
                        Action::Update,
                        "an interrupted apply was writing this policy; ferry writes it again",
                    ),
                    (Some(_), None) => {
                        // Someone else's policy: never overwritten without an import.
                        let mut error = self.unmanaged(
                            &address,
                            &format!(
                                "repository `{}` already has a policy that ferry did not write, in {}",
                                repo.name,
                                describe_place(&place)
                            ),
                            &repo.name,
                        );
                        error.hint = format!(
                            "adopt it with `ferry import {address} {}` (the next plan then shows how the \
                             policy ferry derives differs from it), or set manage_policy = false to keep \
                             it as it is and let ferry only check it",
                            repo.name
                        );
                        self.errors.push(error);
                        return;
                    }
                };
                let changes = vec![Change {
                    attribute: "policy".to_string(),
                    before: live_value,
                    after: Some(want),
                }];
                self.push(
                    step(
                        address,
                        action,
                        reason.to_string(),
                        repo.target.clone(),
                        changes,
                        Operation::PutPolicy {
                            repository: repo.name.clone(),
                            before: live,
                            policy: text,
                        },
                        Some(record),
                    ),
                    after,
                );
            }
            (None, Some(live)) if prior.is_some() => {
                self.delete_policy(address, repo.target.clone(), repo.name.clone(), live, after,
                    "no consumers or statements are left, so the policy is deleted rather than written empty");
            }
            (None, _) => {
                if prior.is_some() {
                    // Gone already: only state needs to forget it.
                    self.push(
                        step(
                            address,
                            Action::Delete,
                            "no consumers are left and the policy is already gone".to_string(),
                            repo.target.clone(),
                            vec![],
                            Operation::Record,
                            None,
                        ),
                        after,
                    );
                }
            }
        }
    }

    fn delete_policy(
        &mut self,
        address: Address,
        target: Target,
        repository: String,
        live: String,
        after: BTreeSet<Address>,
        reason: &str,
    ) {
        let changes = vec![Change {
            attribute: "policy".to_string(),
            before: Some(policy::parse(&live)),
            after: None,
        }];
        self.push(
            step(
                address,
                Action::Delete,
                reason.to_string(),
                target,
                changes,
                Operation::DeletePolicy {
                    repository,
                    before: live,
                },
                None,
            ),
            after,
        );
    }

    /// Functions recorded as pulling from `repo_key` that this plan deletes or moves away.
    fn deleted_consumers_of(&self, repo_key: &str) -> Vec<Address> {
        // Function records name a repository moved by this plan by its old key.
        let moved_from = self
            .moved_into
            .get(&Address::Repository(repo_key.to_string()))
            .map(Address::key);
        self.state
            .resources
            .iter()
            .filter_map(|(addr, r)| match r {
                Record::Function { repository, .. }
                    if repository == repo_key || Some(repository.as_str()) == moved_from =>
                {
                    let still = self.desired.functions.get(addr.key()).is_some_and(|f| {
                        self.desired
                            .function_repository(f)
                            .is_some_and(|r| r.key == repo_key)
                    });
                    (!still).then(|| addr.clone())
                }
                _ => None,
            })
            .collect()
    }

    fn function(&mut self, f: &Function, digests: &BTreeMap<String, String>) {
        let address = Address::Function(f.key.clone());
        if let Some(old) = self.renames.get(&address) {
            let what = format!(
                "function `{}` in account {} ({})",
                f.name, f.target.account_id, f.target.region
            );
            self.errors.push(self.rename_error(&address, old, &what));
            return;
        }
        let Some(repo) = self.desired.function_repository(f) else {
            return;
        };
        // Without a resolved digest there is nothing to deploy; the image error says why.
        let Some(digest) = digests.get(&f.image) else {
            return;
        };
        let config = FunctionConfig {
            name: f.name.clone(),
            image_uri: format!("{}@{}", repo.uri(), digest),
            role: f.role.clone(),
            architecture: f.architecture.clone(),
            memory_mb: f.memory_mb,
            timeout_s: f.timeout_s,
            description: f.description.clone(),
            environment: f.environment.clone(),
            tags: self.desired.ownership_tags(&address, &f.tags),
        };
        let record = Record::Function {
            target: f.target.clone(),
            repository: repo.key.clone(),
            config: config.clone(),
            sensitive: f.sensitive_environment.clone(),
        };
        let after: BTreeSet<Address> = [
            Address::Repository(repo.key.clone()),
            Address::RepositoryPolicy(repo.key.clone()),
        ]
        .into_iter()
        .collect();
        let place = (f.target.clone(), f.name.clone());
        let live = self.observed.functions.get(&place).cloned().flatten();
        let prior = self.state.resources.get(&address);
        let sensitive = &sensitive_keys(self.desired, self.state, &address);
        // Refuse to create or repoint a function Lambda would not be allowed to pull for.
        let repoints = live
            .as_ref()
            .is_none_or(|l| l.config.image_uri != config.image_uri);
        if repoints {
            let live_policy = self
                .observed
                .policies
                .get(&(repo.target.clone(), repo.name.clone()))
                .cloned()
                .flatten();
            let (policy, source) =
                crate::check::policy_in_effect(self.desired, repo, live_policy.as_deref());
            let access =
                crate::check::function_access(self.desired, f, repo, policy.as_ref(), source);
            if !access.allowed {
                let why: Vec<String> = access
                    .checks
                    .iter()
                    .filter(|c| !c.allowed)
                    .map(|c| format!("{}: {}", c.requester, c.explanation))
                    .collect();
                self.errors.push(PlanError {
                    declared_at: None,
                    address,
                    message: format!(
                        "Lambda would not be allowed to pull the image of function `{}` from repository `{}` \
                         ({}), so CreateFunction would fail with AccessDeniedException: {}",
                        f.name,
                        repo.name,
                        match source {
                            crate::check::PolicySource::Live => "its live policy, which ferry does not manage",
                            crate::check::PolicySource::AfterPlan => "the policy this plan writes",
                            crate::check::PolicySource::None => "it has no policy",
                        },
                        why.join("; ")
                    ),
                    hint: access.hint.unwrap_or_default(),
                });
                return;
            }
        }
        if let Some(Record::Function {
            target: old_target,
            config: old,
            ..
        }) = prior
            && (old_target != &f.target || old.name != f.name)
        {
            let old_place = (old_target.clone(), old.name.clone());
            let old_live = self.observed.functions.get(&old_place).cloned().flatten();
            let changes = diff(
                &function_attrs(Some(old), None, sensitive),
                &function_attrs(Some(&config), Some(old), sensitive),
            );
            let create = Box::new(Operation::CreateFunction { config });
            let operation = match old_live {
                Some(LiveFunction { config: before, .. }) => Operation::Replace {
                    old_target: old_target.clone(),
                    delete: Box::new(Operation::DeleteFunction {
                        name: old.name.clone(),
                        before,
                    }),
                    create,
                },
                None => *create,
            };
            self.push(
                step(
                    address,
                    Action::Replace,
                    "its name, account or region changed".to_string(),
                    f.target.clone(),
                    changes,
                    operation,
                    Some(record),
                ),
                after,
            );
            return;
        }
        match live {
            None => {
                let reason = if prior.is_some() {
                    "it was deleted outside ferry; it will be created again"
                } else {
                    "it is declared and does not exist"
                };
                let changes = diff(&[], &function_attrs(Some(&config), None, sensitive));
                self.push(
                    step(
                        address,
                        Action::Create,
                        reason.to_string(),
                        f.target.clone(),
                        changes,
                        Operation::CreateFunction { config },
                        Some(record),
                    ),
                    after,
                );
            }
            Some(live) => {
                if prior.is_none() && !self.owned(&live.config.tags, &address) {
                    self.errors.push(self.unrecorded(
                        &address,
                        &format!(
                            "function `{}` already exists in {}",
                            f.name,
                            describe_place(&place)
                        ),
                        &f.name,
                        &live.config.tags,
                    ));
                    return;
                }
                let before = function_attrs(Some(&live.config), None, sensitive);
                let want = function_attrs(Some(&config), Some(&live.config), sensitive);
                // Compare real values (sensitive ones included), display redacted ones.
                let differs = live.config != config;
                let (before, want) = if differs || prior.is_none() {
                    (before, want)
                } else {
                    (want.clone(), want)
                };
                let cause = match prior {
                    Some(Record::Function { config: old, .. }) => {
                        self.function_cause(&address, f, old, &live.config, &config, digest)
                    }
                    _ => None,
                };
                self.update_or_keep(
                    address,
                    f.target.clone(),
                    &before,
                    &want,
                    prior.is_none(),
                    Operation::UpdateFunction {
                        before: live.config,
                        after: config,
                    },
                    record,
                    after,
                    cause,
                );
            }
        }
    }

    /// Delete steps for everything in state that is no longer declared.
    fn undeclared(&mut self) {
        for (address, record) in &self.state.resources {
            let declared = match address {
                Address::Repository(k) => self.desired.repositories.contains_key(k),
                Address::RepositoryPolicy(k) => self
                    .desired
                    .repositories
                    .get(k)
                    .is_some_and(|r| r.manage_policy),
                Address::Function(k) => self.desired.functions.contains_key(k),
                Address::Registry(_) | Address::Image(_) => true,
            };
            // A renamed key's one error covers the old address (and a repository's policy).
            let renamed = |a: &Address| self.renames.values().any(|old| old == a);
            if declared
                || renamed(address)
                || renamed(&Address::Repository(address.key().to_string()))
                    && matches!(address, Address::RepositoryPolicy(_))
            {
                continue;
            }
            let reason = self.undeclared_reason();
            match record {
                Record::Function { target, config, .. } => {
                    let place = (target.clone(), config.name.clone());
                    let live = self.observed.functions.get(&place).cloned().flatten();
                    let sensitive = sensitive_keys(self.desired, self.state, address);
                    let (operation, changes) = match live {
                        Some(l) => (
                            Operation::DeleteFunction {
                                name: config.name.clone(),
                                before: l.config.clone(),
                            },
                            diff(&function_attrs(Some(&l.config), None, &sensitive), &[]),
                        ),
                        None => (Operation::Record, vec![]),
                    };
                    self.push(
                        step(
                            address.clone(),
                            Action::Delete,
                            reason,
                            target.clone(),
                            changes,
                            operation,
                            None,
                        ),
                        BTreeSet::new(),
                    );
                }
                Record::RepositoryPolicy {
                    target, repository, ..
                } => {
                    let place = (target.clone(), repository.clone());
                    let after: BTreeSet<Address> = self
                        .deleted_consumers_of(address.key())
                        .into_iter()
                        .collect();
                    match self.observed.policies.get(&place).cloned().flatten() {
                        Some(live) => self.delete_policy(
                            address.clone(),
                            target.clone(),
                            repository.clone(),
                            live,
                            after,
                            if self.desired.repositories.contains_key(address.key()) {
                                "the repository no longer lets ferry manage its policy (manage_policy = false); \
                                 ferry removes the policy it wrote"
                            } else {
                                reason
                            },
                        ),
                        None => self.push(
                            step(address.clone(), Action::Delete, format!("{reason}, and it is already gone"), target.clone(), vec![], Operation::Record, None),
                            after,
                        ),
                    }
                }
                Record::Repository {
                    target,
                    config,
                    force_delete,
                } => {
                    let place = (target.clone(), config.name.clone());
                    let live = self.observed.repositories.get(&place).cloned().flatten();
                    if live.is_some()
                        && self.observed.has_images.get(&place) == Some(&true)
                        && !force_delete
                    {
                        let (message, hint) = match self.desired.purpose {
                            Purpose::Reconcile => (
                                format!(
                                    "repository `{}` is no longer declared but still holds images, so it is not deleted",
                                    config.name
                                ),
                                "delete its images first, or declare it again with force_delete = true, \
                                 apply, and then remove it"
                                    .to_string(),
                            ),
                            Purpose::Destroy => (
                                format!(
                                    "repository `{}` still holds images, so destroy does not delete it",
                                    config.name
                                ),
                                format!(
                                    "delete its images first, or set force_delete = true in \
                                     [repositories.{}] and run `ferry apply` before `ferry destroy` \
                                     (ferry deletes images only with force_delete)",
                                    address.key()
                                ),
                            ),
                        };
                        self.errors.push(PlanError {
                            declared_at: None,
                            address: address.clone(),
                            message,
                            hint,
                        });
                        continue;
                    }
                    let after: BTreeSet<Address> =
                        [Address::RepositoryPolicy(address.key().to_string())]
                            .into_iter()
                            .chain(self.deleted_consumers_of(address.key()))
                            .collect();
                    let (operation, changes) = match live {
                        Some(l) => (
                            Operation::DeleteRepository {
                                name: config.name.clone(),
                                force: *force_delete,
                            },
                            diff(&repository_attrs(Some(&l)), &[]),
                        ),
                        None => (Operation::Record, vec![]),
                    };
                    self.push(
                        step(
                            address.clone(),
                            Action::Delete,
                            reason,
                            target.clone(),
                            changes,
                            operation,
                            None,
                        ),
                        after,
                    );
                }
            }
        }
    }

    /// Whether a live resource state has no record of is this project's own unrecorded work:
    /// it carries the ownership tags for this address and the journal shows that an interrupted
    /// apply was making it. Tags alone are not enough (another state of the same project, or a
    /// resource forgotten with `ferry state rm`).
    fn owned(&self, tags: &BTreeMap<String, String>, address: &Address) -> bool {
        self.tagged_as(tags, address) && self.state.interrupted.contains(address)
    }

    fn tagged_as(&self, tags: &BTreeMap<String, String>, address: &Address) -> bool {
        tags.get(crate::model::TAG_PROJECT) == Some(&self.desired.project.name)
            && tags.get(crate::model::TAG_ADDRESS) == Some(&address.to_string())
    }

    /// A live resource state has no record of, as a plan error; `tags` when it has some.
    fn unrecorded(
        &self,
        address: &Address,
        what: &str,
        id: &str,
        tags: &BTreeMap<String, String>,
    ) -> PlanError {
        let mut error = self.unmanaged(address, what, id);
        if self.tagged_as(tags, address) {
            error.message = format!(
                "{what} and carries this project's tags for {address}, but this state has no record of it \
                 (it was forgotten with `ferry state rm`, or another state of project `{}` manages it); \
                 ferry never adopts it silently",
                self.desired.project.name
            );
        }
        error
    }

    fn unmanaged(&self, address: &Address, what: &str, id: &str) -> PlanError {
        PlanError {
            declared_at: None,
            address: address.clone(),
            message: format!(
                "{what} and is not managed by this project; ferry never overwrites or adopts it silently"
            ),
            hint: format!(
                "adopt it with `ferry import {address} {id}`, delete it by hand, or give the declaration \
                 another `name`"
            ),
        }
    }
}

fn describe_place(p: &(Target, String)) -> String {
    format!("account {} ({})", p.0.account_id, p.0.region)
}

/// Whether the live attributes differ from what state says ferry last applied.
fn drifted_outside(state: &Snapshot, address: &Address, live: &[(String, Value)]) -> bool {
    let Some(record) = state.resources.get(address) else {
        return false;
    };
    let recorded = match record {
        Record::Repository { config, .. } => repository_attrs(Some(config)),
        Record::Function {
            config, sensitive, ..
        } => function_attrs(Some(config), None, sensitive),
        Record::RepositoryPolicy { .. } => return false,
    };
    // Sensitive values are hashed in state, so compare only what can be compared.
    recorded
        .iter()
        .filter(|(k, _)| k != "environment")
        .ne(live.iter().filter(|(k, _)| k != "environment"))
}

/// The whole resource before and after a step, display-safe (sensitive values redacted with the
/// step's sensitive keys), as objects of attributes; `None` where it does not exist. For
/// `plan --json`, which also lists only the changed attributes.
pub fn step_values(step: &Step) -> (Option<Value>, Option<Value>) {
    let object = |attrs: Vec<(String, Value)>| Some(Value::Object(attrs.into_iter().collect()));
    let policy = |text: &str| Some(json!({ "policy": policy::parse(text) }));
    let sensitive = &step.sensitive;
    match &step.operation {
        Operation::CreateRepository { config } => (None, object(repository_attrs(Some(config)))),
        Operation::UpdateRepository { before, after } => (
            object(repository_attrs(Some(before))),
            object(repository_attrs(Some(after))),
        ),
        Operation::PutPolicy {
            before, policy: p, ..
        } => (before.as_deref().and_then(policy), policy(p)),
        Operation::DeletePolicy { before, .. } => (policy(before), None),
        Operation::CreateFunction { config } => {
            (None, object(function_attrs(Some(config), None, sensitive)))
        }
        Operation::UpdateFunction { before, after } => (
            object(function_attrs(Some(before), None, sensitive)),
            object(function_attrs(Some(after), Some(before), sensitive)),
        ),
        Operation::DeleteFunction { before, .. } => {
            (object(function_attrs(Some(before), None, sensitive)), None)
        }
        Operation::Replace { delete, create, .. } => {
            let before = match delete.as_ref() {
                Operation::DeleteFunction { before, .. } => {
                    object(function_attrs(Some(before), None, sensitive))
                }
                _ => None,
            };
            let after = match create.as_ref() {
                Operation::CreateFunction { config } => object(function_attrs(
                    Some(config),
                    match delete.as_ref() {
                        Operation::DeleteFunction { before, .. } => Some(before),
                        _ => None,
                    },
                    sensitive,
                )),
                _ => None,
            };
            (before, after)
        }
        // Deleting a repository names it only: its attributes are in the step's changes.
        Operation::DeleteRepository { .. } | Operation::Record | Operation::Move { .. } => {
            let mut before = serde_json::Map::new();
            let mut after = serde_json::Map::new();
            for c in &step.changes {
                if let Some(v) = &c.before {
                    before.insert(c.attribute.clone(), v.clone());
                }
                if let Some(v) = &c.after {
                    after.insert(c.attribute.clone(), v.clone());
                }
            }
            (
                (!before.is_empty()).then_some(Value::Object(before)),
                (!after.is_empty()).then_some(Value::Object(after)),
            )
        }
    }
}

/// The environment keys of a function whose values are secret: declared so now, or when last
/// applied (a key dropped from `sensitive_environment` or from the function keeps its old value
/// hidden).
fn sensitive_keys(desired: &Desired, state: &Snapshot, address: &Address) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = match address {
        Address::Function(k) => desired
            .functions
            .get(k)
            .map(|f| f.sensitive_environment.clone())
            .unwrap_or_default(),
        _ => return BTreeSet::new(),
    };
    if let Some(Record::Function { sensitive, .. }) = state.resources.get(address) {
        keys.extend(sensitive.iter().cloned());
    }
    keys
}

fn repository_attrs(c: Option<&RepositoryConfig>) -> Vec<(String, Value)> {
    let Some(c) = c else { return vec![] };
    vec![
        ("name".into(), json!(c.name)),
        ("tag_mutability".into(), json!(c.tag_mutability.as_aws())),
        ("scan_on_push".into(), json!(c.scan_on_push)),
        ("tags".into(), json!(c.tags)),
    ]
}

/// A function's attributes for display. Sensitive environment values are replaced; when
/// `compare_to` is given, a sensitive value that differs from it says so.
fn function_attrs(
    c: Option<&FunctionConfig>,
    compare_to: Option<&FunctionConfig>,
    sensitive: &BTreeSet<String>,
) -> Vec<(String, Value)> {
    let Some(c) = c else { return vec![] };
    let env: serde_json::Map<String, Value> = c
        .environment
        .iter()
        .map(|(k, v)| {
            let shown = if sensitive.contains(k) {
                match compare_to.map(|o| o.environment.get(k)) {
                    Some(Some(old)) if old != v => json!("(sensitive value changed)"),
                    _ => json!("(sensitive value)"),
                }
            } else {
                json!(v)
            };
            (k.clone(), shown)
        })
        .collect();
    vec![
        ("image_uri".into(), json!(c.image_uri)),
        ("role".into(), json!(c.role)),
        ("architectures".into(), json!([c.architecture])),
        ("memory_mb".into(), json!(c.memory_mb)),
        ("timeout_s".into(), json!(c.timeout_s)),
        ("description".into(), json!(c.description)),
        ("environment".into(), Value::Object(env)),
        ("tags".into(), json!(c.tags)),
    ]
}

/// Attribute-level changes between two attribute lists (same names, same order).
fn diff(before: &[(String, Value)], after: &[(String, Value)]) -> Vec<Change> {
    let names: Vec<&String> = if after.is_empty() {
        before.iter().map(|(k, _)| k).collect()
    } else {
        after.iter().map(|(k, _)| k).collect()
    };
    let get = |list: &[(String, Value)], k: &str| {
        list.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    names
        .into_iter()
        .filter_map(|k| {
            let b = get(before, k);
            let a = get(after, k);
            (b != a).then(|| Change {
                attribute: k.clone(),
                before: b,
                after: a,
            })
        })
        .collect()
}

/// Orders drafts: dependencies by address become edges between steps; levels are longest
/// paths from the roots; within a level, steps sort by address. Ids follow that order.
fn order(drafts: Vec<Draft>) -> Vec<Step> {
    let index: BTreeMap<Address, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.step.address.clone(), i))
        .collect();
    // Deletes of repositories/policies wait for function deletes (set above); creates and
    // updates of functions wait for their repository and policy.
    let deps: Vec<Vec<usize>> = drafts
        .iter()
        .map(|d| {
            d.after
                .iter()
                .filter_map(|a| index.get(a).copied())
                .filter(|&j| {
                    // A function step never waits for a policy delete (that would invert the
                    // order of a teardown).
                    !(drafts[j].step.action == Action::Delete
                        && matches!(d.step.address, Address::Function(_))
                        && d.step.action != Action::Delete)
                })
                .collect()
        })
        .collect();
    let mut level = vec![usize::MAX; drafts.len()];
    fn depth(
        i: usize,
        deps: &[Vec<usize>],
        level: &mut [usize],
        visiting: &mut Vec<bool>,
    ) -> usize {
        if level[i] != usize::MAX {
            return level[i];
        }
        if visiting[i] {
            // A cycle cannot arise from the rules above; break it rather than loop.
            return 0;
        }
        visiting[i] = true;
        let l = deps[i]
            .iter()
            .map(|&j| depth(j, deps, level, visiting) + 1)
            .max()
            .unwrap_or(0);
        visiting[i] = false;
        level[i] = l;
        l
    }
    let mut visiting = vec![false; drafts.len()];
    for i in 0..drafts.len() {
        depth(i, &deps, &mut level, &mut visiting);
    }
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by(|&a, &b| {
        (level[a], &drafts[a].step.address).cmp(&(level[b], &drafts[b].step.address))
    });
    let new_id: BTreeMap<usize, usize> = order.iter().enumerate().map(|(n, &i)| (i, n)).collect();
    let mut steps: Vec<Option<Draft>> = drafts.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&i| {
            let mut d = steps[i].take()?;
            d.step.id = new_id[&i];
            d.step.level = level[i];
            let mut dep_ids: Vec<usize> = deps[i].iter().map(|j| new_id[j]).collect();
            dep_ids.sort();
            d.step.depends_on = dep_ids;
            Some(d.step)
        })
        .collect()
}
