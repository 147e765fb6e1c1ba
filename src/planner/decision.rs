//! What the deciders share: the verdict on a declared resource that exists live, as data.
//!
//! Each decider (`repository.rs`, `policy.rs`, `function.rs`, `images.rs`, `orphans.rs`) returns
//! a small typed decision and builds nothing; `build.rs` turns decisions into steps. Why nothing
//! happens (unchanged, kept, covered by another error) is a variant like any other, as omicron's
//! planner reports each step, so tests assert decisions as tables.

use super::Planner;
use super::attrs::diff;
use super::drift::drifted_outside;
use super::ownership::Cause;
use super::plan::Change;
use crate::model::Address;
use crate::state::Record;
use serde_json::Value;

/// Why a live, declared resource is updated.
#[derive(Debug, PartialEq)]
pub(super) enum UpdateWhy {
    /// It carries this project's ownership tags but state lacks it (an interrupted apply).
    Adopting,
    /// Imported, moved, or its tag resolves to a new digest.
    Cause(Cause),
    /// Live differs from what ferry last applied.
    ChangedOutside,
    DeclarationChanged,
}

impl UpdateWhy {
    /// The step's reason, given its attribute changes.
    pub(super) fn reason(&self, changes: &[Change]) -> String {
        match self {
            UpdateWhy::Adopting => {
                "it carries this project's ownership tags but is missing from state (an interrupted \
                 apply); it will be adopted and updated"
                    .to_string()
            }
            UpdateWhy::Cause(cause) => cause.reason(changes),
            UpdateWhy::ChangedOutside => {
                "it was changed outside ferry; the declared values will be restored".to_string()
            }
            UpdateWhy::DeclarationChanged => "the declaration changed".to_string(),
        }
    }
}

/// What happens to a declared resource that exists live and is ferry's (recorded, or its own
/// unrecorded work).
#[derive(Debug, PartialEq)]
pub(super) enum Verdict {
    /// Live, recorded and declared agree: nothing to do.
    Unchanged,
    /// Live already matches the declaration, state is behind: record it, call nothing.
    Adopt,
    Update(UpdateWhy),
}

impl Planner<'_> {
    /// The verdict from a resource's live and declared attributes (display values, sensitive
    /// ones redacted), whether state lacks it (`adopting`), the record state should hold and the
    /// cause of an update beyond the declaration.
    pub(super) fn verdict(
        &self,
        address: &Address,
        live: &[(String, Value)],
        desired: &[(String, Value)],
        adopting: bool,
        record: &Record,
        cause: Option<Cause>,
    ) -> Verdict {
        let drifted = self.state.resources.get(address).is_some_and(|r| {
            r.redacted(&self.state.secret_key) != record.redacted(&self.state.secret_key)
        });
        if diff(live, desired).is_empty() {
            return if adopting || drifted {
                Verdict::Adopt
            } else {
                Verdict::Unchanged
            };
        }
        Verdict::Update(if adopting {
            UpdateWhy::Adopting
        } else if let Some(cause) = cause {
            UpdateWhy::Cause(cause)
        } else if drifted_outside(self.state, address, live) {
            UpdateWhy::ChangedOutside
        } else {
            UpdateWhy::DeclarationChanged
        })
    }
}
