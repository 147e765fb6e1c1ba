//! The journal writes of a run: the intent before every mutating call, its outcome after, and
//! the apply's start and end, so that the next run can tell what an interrupted apply left in
//! flight (`state::interruption`).
//!
//! May not touch: the cloud; it writes only the journal (and, at the start, which files
//! declare what).

use super::Run;
use crate::cloud::CloudError;
use crate::planner::Step;
use crate::state::{JournalEntry, Phase, Snapshot, StateError};

impl Run<'_> {
    /// Journals best effort: a journal that cannot be written must not stop an apply whose
    /// state writes work; state writes themselves are checked.
    pub(super) fn journal(&self, phase: Phase, step: Option<&Step>, detail: impl Into<String>) {
        let entry = JournalEntry {
            apply: self.apply.clone(),
            phase,
            step: step.map(|s| s.id),
            address: step.map(|s| s.address.clone()),
            detail: detail.into(),
        };
        if let Err(e) = self.state.journal_append(&entry) {
            tracing::warn!("cannot write the apply journal: {e}");
        }
    }

    /// Journals a failed step. For an address state has no record of, the failure may hide
    /// work AWS did (an answer lost, malformed or timed out after a create), so the call stays
    /// in flight for the next applies to settle.
    pub(super) fn failed(&self, step: &Step, e: &CloudError) {
        let recorded = self
            .state
            .snapshot()
            .map(|s| s.resources.contains_key(&step.address))
            .unwrap_or(false);
        let phase = if recorded || !may_have_acted(e) {
            Phase::Failed
        } else {
            Phase::Uncertain
        };
        self.journal(phase, Some(step), e.to_string());
    }

    /// Journals the intent of a step's call, durably (an error stops the step): a create whose
    /// answer is lost is adopted later only because the journal shows it in flight.
    pub(super) fn intent(&self, step: &Step) -> Result<(), StateError> {
        self.state.journal_append(&JournalEntry {
            apply: self.apply.clone(),
            phase: Phase::Intent,
            step: Some(step.id),
            address: Some(step.address.clone()),
            detail: format!("{:?}", step.action),
        })
    }

    /// Starts the run's journal. The previous applies' journal is forgotten, except the calls
    /// still in flight for addresses state has no record of: what they made is adopted by
    /// whichever later apply plans that address.
    pub(super) fn begin(&self, prior: &Snapshot) {
        if let Err(e) = self.state.journal().and_then(|j| {
            self.state
                .journal_replace(&crate::state::unsettled(&j, prior))
        }) {
            tracing::warn!("cannot clear the previous apply journal: {e}");
        }
        // Which file declares what: a later plan that does not read a file never deletes its work.
        if let Err(e) = self.state.record_files(&self.options.declared_in) {
            tracing::warn!("cannot record the declarations files: {e}");
        }
        self.journal(
            Phase::Started,
            None,
            format!("{} steps", self.plan.steps.len()),
        );
    }
}

/// Whether a failed call may still have done its work at AWS. Refusals ferry makes itself
/// before calling, and a create that found someone else's resource, made nothing.
fn may_have_acted(e: &CloudError) -> bool {
    !matches!(
        e,
        CloudError::CreatedElsewhere { .. }
            | CloudError::WrongAccount { .. }
            | CloudError::Credentials { .. }
            | CloudError::UnknownAccount { .. }
    )
}
