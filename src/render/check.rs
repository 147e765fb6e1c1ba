//! `ferry check`'s report: one verdict per function (for stdout) and the policy warnings (for
//! stderr, shared with `ferry validate`).

use super::{Painter, style};
use crate::check::{FunctionAccess, NOT_CHECKED, PolicySource, PolicyWarning};
use std::fmt::Write;

/// The verdicts as text, for stdout.
pub fn verdicts_text(verdicts: &[FunctionAccess], p: Painter) -> String {
    let mut out = String::new();
    for v in verdicts {
        let source = match v.policy {
            PolicySource::AfterPlan => "the policy ferry will write",
            PolicySource::Live => "the live policy (manage_policy = false)",
            PolicySource::None => "no policy",
        };
        let _ = writeln!(
            out,
            "{} {} ({}, {}) pulling from {}, judged against {source}",
            if v.allowed {
                p.paint(style::SUCCESS, "allowed")
            } else {
                p.paint(style::ERROR, "DENIED ")
            },
            p.paint(style::BOLD, &v.function.to_string()),
            v.account_id,
            v.region,
            v.repository
        );
        if v.allowed {
            let _ = writeln!(
                out,
                "    allowed by the repository policy; not checked: {}",
                NOT_CHECKED.join(", ")
            );
        }
        for c in &v.checks {
            let _ = writeln!(
                out,
                "    {} {}: {}",
                if c.allowed { "ok  " } else { "NO  " },
                c.requester,
                c.explanation
            );
        }
        if let Some(hint) = &v.hint {
            let _ = writeln!(out, "    hint: {}", hint.replace('\n', "\n          "));
        }
    }
    if verdicts.is_empty() {
        let _ = writeln!(out, "No functions are declared.");
    }
    out
}

/// Warnings about a repository's policy, for stderr.
pub fn policy_warnings_text(warnings: &[PolicyWarning]) -> String {
    let mut out = String::new();
    for w in warnings {
        let _ = writeln!(
            out,
            "warning: {}: {}\n  hint: {}",
            w.repository, w.message, w.hint
        );
    }
    out
}
