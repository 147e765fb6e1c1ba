//! The decider and builder for the two registry-wide documents replication needs: a source
//! registry's replication configuration (`replication.REGISTRY`) and a destination registry's
//! policy (`registry_policy.REGISTRY`). Both are owned whole, like a repository policy: what
//! ferry did not write is refused, a live document equal to the derived one is adopted, drift
//! is restored, and a document no longer derived is deleted.

use super::Planner;
use super::plan::*;
use crate::model::{Address, Target};
use crate::policy;
use crate::refresh::Observed;
use crate::replication::{self, Document};
use crate::state::Record;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Which of the two documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Replication,
    RegistryPolicy,
}

impl Kind {
    fn of(address: &Address) -> Option<Kind> {
        match address {
            Address::Replication(_) => Some(Kind::Replication),
            Address::RegistryPolicy(_) => Some(Kind::RegistryPolicy),
            _ => None,
        }
    }

    fn attribute(self) -> &'static str {
        match self {
            Kind::Replication => "replication_configuration",
            Kind::RegistryPolicy => "policy",
        }
    }

    fn same(self, a: &str, b: &str) -> bool {
        match self {
            Kind::Replication => replication::same_configuration(a, b),
            Kind::RegistryPolicy => policy::equivalent(&policy::parse(a), &policy::parse(b)),
        }
    }

    fn live<'o>(self, observed: &'o Observed, target: &Target) -> Option<&'o str> {
        let map = match self {
            Kind::Replication => &observed.replication,
            Kind::RegistryPolicy => &observed.registry_policies,
        };
        map.get(target).and_then(|t| t.as_deref())
    }

    fn record(self, target: Target, text: String) -> Record {
        match self {
            Kind::Replication => Record::Replication {
                target,
                configuration: text,
            },
            Kind::RegistryPolicy => Record::RegistryPolicy {
                target,
                policy: text,
            },
        }
    }

    fn put(self, before: Option<String>, text: String) -> Operation {
        match self {
            Kind::Replication => Operation::PutReplication {
                before,
                configuration: text,
            },
            Kind::RegistryPolicy => Operation::PutRegistryPolicy {
                before,
                policy: text,
            },
        }
    }

    fn delete(self, before: String) -> Operation {
        match self {
            Kind::Replication => Operation::DeleteReplication { before },
            Kind::RegistryPolicy => Operation::DeleteRegistryPolicy { before },
        }
    }
}

/// The recorded text of a document record.
fn recorded(record: &Record) -> Option<&str> {
    match record {
        Record::Replication { configuration, .. } => Some(configuration),
        Record::RegistryPolicy { policy, .. } => Some(policy),
        _ => None,
    }
}

/// Why a document is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WriteWhy {
    /// Nothing there yet.
    First,
    /// The declarations changed what it holds.
    Declared,
    /// Changed outside ferry since the last apply: ferry writes it back.
    Restore,
    /// Deleted outside ferry since the last apply.
    Recreate,
    /// An interrupted apply of ferry's left it half written.
    Interrupted,
}

impl WriteWhy {
    fn reason(self, kind: Kind) -> &'static str {
        match (self, kind) {
            (WriteWhy::First, Kind::Replication) => {
                "the declarations replicate repositories of this registry (replicate_to)"
            }
            (WriteWhy::First, Kind::RegistryPolicy) => {
                "another account's registry replicates into this one: it must allow \
                 ecr:ReplicateImage and ecr:CreateRepository"
            }
            (WriteWhy::Declared, _) => "replicate_to changed",
            (WriteWhy::Restore, _) => "it was changed outside ferry; ferry writes its own back",
            (WriteWhy::Recreate, _) => "it was deleted outside ferry",
            (WriteWhy::Interrupted, _) => "an interrupted apply left it as it was",
        }
    }
}

/// What the planner decided for one document.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum DocumentDecision {
    Unchanged,
    /// Live already holds what ferry would write: record it.
    Adopt,
    Write {
        before: Option<String>,
        why: WriteWhy,
    },
    /// No longer derived; `before` `None`: gone already, state forgets it.
    Delete {
        before: Option<String>,
    },
    Refused(PlanError),
}

/// The decision for one document from what is wanted, recorded and live (text each).
pub(super) fn decide(
    kind: Kind,
    want: Option<&str>,
    record: Option<&str>,
    live: Option<&str>,
    interrupted: bool,
) -> Result<DocumentDecision, ()> {
    let same = |a: &str, b: &str| kind.same(a, b);
    Ok(match (want, record, live) {
        (None, None, _) => DocumentDecision::Unchanged,
        (None, Some(_), live) => DocumentDecision::Delete {
            before: live.map(str::to_string),
        },
        (Some(w), rec, Some(l)) if same(w, l) => match rec {
            Some(r) if same(r, w) => DocumentDecision::Unchanged,
            _ => DocumentDecision::Adopt,
        },
        (Some(_), None, None) => DocumentDecision::Write {
            before: None,
            why: if interrupted {
                WriteWhy::Interrupted
            } else {
                WriteWhy::First
            },
        },
        (Some(_), Some(_), None) => DocumentDecision::Write {
            before: None,
            why: WriteWhy::Recreate,
        },
        (Some(_), Some(r), Some(l)) => DocumentDecision::Write {
            before: Some(l.to_string()),
            why: if same(r, l) {
                WriteWhy::Declared
            } else {
                WriteWhy::Restore
            },
        },
        (Some(_), None, Some(l)) if interrupted => DocumentDecision::Write {
            before: Some(l.to_string()),
            why: WriteWhy::Interrupted,
        },
        (Some(_), None, Some(_)) => return Err(()),
    })
}

/// The message and hint for a live document ferry did not write.
fn unmanaged(kind: Kind, address: &Address, account_id: &str) -> (String, String) {
    let import = format!("`ferry import {address} {account_id}` to manage it as it is");
    match kind {
        Kind::Replication => (
            "the registry has a replication configuration that ferry did not write, and ferry \
             owns the whole configuration (ECR keeps one per registry)"
                .into(),
            format!(
                "{import} (the plan then shows ferry's rules replacing it), declare replicate_to \
                 so that ferry derives the same rules (an equal configuration is adopted), or \
                 remove it (`aws ecr put-replication-configuration --replication-configuration \
                 '{{\"rules\":[]}}'`) and plan again"
            ),
        ),
        Kind::RegistryPolicy => (
            "the registry has a policy that ferry did not write, and replicating into it needs \
             ferry to own that policy"
                .into(),
            format!(
                "{import} (the plan then shows ferry's policy replacing it), or delete it (`aws \
                 ecr delete-registry-policy`) and plan again"
            ),
        ),
    }
}

fn text(kind: Kind, value: &Value) -> String {
    match kind {
        Kind::Replication => value.to_string(),
        Kind::RegistryPolicy => policy::to_text(value),
    }
}

fn pretty(kind: Kind, text: &str) -> Value {
    match kind {
        Kind::Replication => serde_json::from_str(text).unwrap_or(Value::String(text.into())),
        Kind::RegistryPolicy => policy::parse(text),
    }
}

/// Drift of a document record: (live exists, changes); `None` when it was not read.
pub(super) fn drift_of(record: &Record, observed: &Observed) -> Option<(bool, Vec<Change>)> {
    let kind = match record {
        Record::Replication { .. } => Kind::Replication,
        Record::RegistryPolicy { .. } => Kind::RegistryPolicy,
        _ => return None,
    };
    let map = match kind {
        Kind::Replication => &observed.replication,
        Kind::RegistryPolicy => &observed.registry_policies,
    };
    let live = map.get(record.target())?;
    let before = recorded(record)?;
    Some(match live {
        None => (false, vec![]),
        Some(l) if kind.same(before, l) => (true, vec![]),
        Some(l) => (
            true,
            vec![Change {
                attribute: kind.attribute().into(),
                before: Some(pretty(kind, before)),
                after: Some(pretty(kind, l)),
            }],
        ),
    })
}

/// Adds to the reason of each function step whose image is replicated which copy it pulls
/// from and why.
pub(super) fn say_routes(desired: &crate::model::Desired, drafts: &mut [super::graph::Draft]) {
    for d in drafts.iter_mut() {
        let Address::Function(k) = &d.step.address else {
            continue;
        };
        if d.step.action == Action::Delete {
            continue;
        }
        let Some(route) = desired
            .functions
            .get(k)
            .and_then(|f| crate::model::replication::route(desired, f))
        else {
            continue;
        };
        let r = route.repository;
        let replicated = r.replica_of.is_some() || !r.replicate_to.is_empty();
        if replicated {
            d.step.reason = format!("{}; {}", d.step.reason, route.describe());
        }
    }
}

impl Planner<'_> {
    /// Plans every replication configuration and registry policy derived or recorded.
    pub(super) fn build_registry_documents(&mut self) {
        let wanted: [(Kind, BTreeMap<String, Document>); 2] = [
            (Kind::Replication, replication::configurations(self.desired)),
            (
                Kind::RegistryPolicy,
                replication::registry_policies(self.desired),
            ),
        ];
        for (kind, want) in wanted {
            let address = |k: &str| match kind {
                Kind::Replication => Address::Replication(k.to_string()),
                Kind::RegistryPolicy => Address::RegistryPolicy(k.to_string()),
            };
            let mut keys: BTreeSet<String> = want.keys().cloned().collect();
            keys.extend(
                self.state
                    .resources
                    .keys()
                    .filter(|a| Kind::of(a) == Some(kind))
                    .map(|a| a.key().to_string()),
            );
            for key in keys {
                self.build_document(kind, address(&key), want.get(&key));
            }
        }
    }

    fn build_document(&mut self, kind: Kind, address: Address, want: Option<&Document>) {
        let record = self.state.resources.get(&address);
        let Some(target) = want
            .map(|d| d.target.clone())
            .or_else(|| record.map(|r| r.target().clone()))
        else {
            return;
        };
        let want_text = want.map(|d| text(kind, &d.value));
        let live = kind.live(self.observed, &target).map(str::to_string);
        let decision = match decide(
            kind,
            want_text.as_deref(),
            record.and_then(recorded),
            live.as_deref(),
            self.state.interrupted.contains(&address),
        ) {
            Ok(d) => d,
            Err(()) => {
                let (message, hint) = unmanaged(kind, &address, &target.account_id);
                DocumentDecision::Refused(PlanError {
                    address: address.clone(),
                    message: format!(
                        "registry {} ({}): {message}",
                        target.account_id, target.region
                    ),
                    hint,
                    declared_at: None,
                })
            }
        };
        let change = |before: Option<&str>, after: Option<&str>| {
            vec![Change {
                attribute: kind.attribute().into(),
                before: before.map(|t| pretty(kind, t)),
                after: after.map(|t| pretty(kind, t)),
            }]
        };
        let name = address.key().to_string();
        let mut s = match (decision, want_text) {
            (DocumentDecision::Unchanged, _) => {
                if want.is_some() {
                    self.unchanged.push(address);
                }
                return;
            }
            (DocumentDecision::Refused(e), _) => return self.errors.push(e),
            (DocumentDecision::Adopt, Some(w)) => step(
                address,
                Action::Adopt,
                "it already holds what ferry would write",
                target.clone(),
                vec![],
                Operation::Record,
                Some(kind.record(target, w)),
            ),
            (DocumentDecision::Write { before, why }, Some(w)) => step(
                address,
                if before.is_none() {
                    Action::Create
                } else {
                    Action::Update
                },
                why.reason(kind),
                target.clone(),
                change(before.as_deref(), Some(&w)),
                kind.put(before, w.clone()),
                Some(kind.record(target, w)),
            ),
            (DocumentDecision::Delete { before: Some(b) }, _) => step(
                address,
                Action::Delete,
                super::orphans::DeleteWhy::Undeclared.reason(self.desired.purpose),
                target,
                change(Some(&b), None),
                kind.delete(b),
                None,
            ),
            (DocumentDecision::Delete { before: None }, _) => step(
                address,
                Action::Delete,
                super::orphans::DeleteWhy::UndeclaredAndGone.reason(self.desired.purpose),
                target,
                vec![],
                Operation::Record,
                None,
            ),
            (DocumentDecision::Adopt | DocumentDecision::Write { .. }, None) => return,
        };
        s.name = name;
        self.push(s);
    }
}
