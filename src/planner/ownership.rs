//! Whose a resource is: renamed keys, ownership tags, records in another account, one step per
//! AWS resource.

use super::Planner;
use super::plan::*;
use crate::model::{Address, Desired, Target};
use crate::state::{Record, Snapshot};
use std::collections::{BTreeMap, BTreeSet};

/// Declared addresses that are not in state but whose AWS resource (account, region, name) state
/// records under another address that is no longer declared: renamed keys, new address to old.
pub(super) fn renames(desired: &Desired, state: &Snapshot) -> BTreeMap<Address, Address> {
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
    // Undeclared records by what they name, the first address of each (state's order).
    let mut undeclared: BTreeMap<(&str, &str, &str, &str), &Address> = BTreeMap::new();
    for (a, r) in &state.resources {
        if !is_declared(a) {
            undeclared.entry(r.identity()).or_insert(a);
        }
    }
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
        // A declared address is never undeclared, so the old one is another address.
        if let Some(old) = undeclared.get(&identity) {
            out.insert(address, (*old).clone());
        }
    }
    out
}

/// The check no plan may fail: two steps acting on one AWS resource (one deleting it under an
/// old address while another updates it under a new one) would lose it. Each violation is an
/// error, so such a plan is never applied.
pub(super) fn one_step_per_resource(steps: &[Step], state: &Snapshot) -> Vec<PlanError> {
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
pub(super) fn account_changes(desired: &Desired, state: &Snapshot) -> Vec<PlanError> {
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

/// Why a recorded resource is updated, when it is more than "the declaration changed".
#[derive(Debug, PartialEq)]
pub(super) enum Cause {
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
    pub(super) fn reason(&self, changes: &[Change]) -> String {
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
    /// How a recorded resource came to lack this address's ownership tags, from the tags its
    /// record holds.
    pub(super) fn provenance(
        &self,
        address: &Address,
        recorded: &BTreeMap<String, String>,
    ) -> Option<Cause> {
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

    /// The one error for a renamed key that no move explains.
    pub(super) fn rename_error(&self, address: &Address, old: &Address, what: &str) -> PlanError {
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

    /// Whether a live resource state has no record of is this project's own unrecorded work:
    /// it carries the ownership tags for this address and the journal shows that an interrupted
    /// apply was making it. Tags alone are not enough (another state of the same project, or a
    /// resource forgotten with `ferry state rm`).
    pub(super) fn owned(&self, tags: &BTreeMap<String, String>, address: &Address) -> bool {
        self.tagged_as(tags, address) && self.state.interrupted.contains(address)
    }

    pub(super) fn tagged_as(&self, tags: &BTreeMap<String, String>, address: &Address) -> bool {
        tags.get(crate::model::TAG_PROJECT) == Some(&self.desired.project.name)
            && tags.get(crate::model::TAG_ADDRESS) == Some(&address.to_string())
    }

    /// A live resource state has no record of, as a plan error; `tags` when it has some.
    pub(super) fn unrecorded(
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

    pub(super) fn unmanaged(&self, address: &Address, what: &str, id: &str) -> PlanError {
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
