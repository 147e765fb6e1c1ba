//! Plans as Terraform-like text, for a terminal: `+ ~ - -/+` per step, attribute-level
//! changes, policies and environments as unified diffs of pretty JSON; and the plan's warnings
//! and errors, for stderr.

use super::Painter;
use super::style;
use crate::planner::{Action, Change, Plan, PlanError, Step};
use serde_json::Value;
use std::fmt::Write;

/// The whole plan as text.
pub fn plan_text(plan: &Plan, p: Painter) -> String {
    let mut out = String::new();
    if !plan.images.is_empty() {
        let _ = writeln!(out, "{}", p.bold("Images resolved:"));
        for i in &plan.images {
            let reference = match &i.reference {
                crate::model::ImageRef::Tag(t) => format!(":{t}"),
                crate::model::ImageRef::Digest(d) => format!("@{d}"),
            };
            let digest = i.digest.as_deref().unwrap_or("(not found)");
            let _ = writeln!(
                out,
                "  image.{}  {}{} -> {}",
                i.key, i.repository_uri, reference, digest
            );
        }
        out.push('\n');
    }
    if !plan.drift.is_empty() {
        drift_text(&mut out, plan, p);
    }
    if !plan.targets.is_empty() {
        let _ = writeln!(
            out,
            "{} the plan is restricted to {} and what they depend on; it may be partial.\n",
            p.paint(style::WARNING, "Warning: resource targeting is in effect:"),
            plan.targets
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if plan.steps.is_empty() {
        if plan.errors.is_empty() {
            let _ = writeln!(
                out,
                "{} Your infrastructure matches the declarations.",
                p.bold("No changes.")
            );
        }
        return out;
    }
    let _ = writeln!(
        out,
        "ferry will perform the following actions, in this order (steps of one level run in parallel):\n"
    );
    let mut current_level = usize::MAX;
    for s in &plan.steps {
        if s.level != current_level {
            current_level = s.level;
            let _ = writeln!(out, "  {}", p.bold(&format!("-- level {} --", s.level + 1)));
        }
        step_text(&mut out, s, p);
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary(plan, p));
    out
}

fn drift_text(out: &mut String, plan: &Plan, p: Painter) {
    let _ = writeln!(
        out,
        "{}\n",
        p.bold("Changes outside ferry since the last apply:")
    );
    for d in &plan.drift {
        if d.deleted {
            let _ = writeln!(
                out,
                "  # {} was deleted outside ferry\n",
                p.bold(&d.address.to_string())
            );
            continue;
        }
        let _ = writeln!(
            out,
            "  # {} was changed outside ferry",
            p.bold(&d.address.to_string())
        );
        let _ = writeln!(
            out,
            "  {} {} \"{}\" {{",
            p.action(Action::Update, "~"),
            d.address.kind(),
            d.address.key()
        );
        changes_text(out, &d.changes, p);
        let _ = writeln!(out, "    }}\n");
    }
    let _ = writeln!(
        out,
        "Unless the declarations change to match, the actions below restore the declared values.\n"
    );
}

/// `Plan: 2 to add, 1 to change, 0 to destroy.`
pub fn summary(plan: &Plan, p: Painter) -> String {
    let (add, change, destroy) = plan.counts();
    let count = |action: Action| plan.steps.iter().filter(|s| s.action == action).count();
    let (adopt, moved) = (count(Action::Adopt), count(Action::Move));
    let mut line = format!(
        "{} {add} to add, {change} to change, {destroy} to destroy.",
        p.bold("Plan:")
    );
    if adopt > 0 {
        let _ = write!(line, " {adopt} to adopt into state.");
    }
    if moved > 0 {
        let _ = write!(line, " {moved} to move.");
    }
    line
}

fn step_text(out: &mut String, s: &Step, p: Painter) {
    let deps = if s.depends_on.is_empty() {
        String::new()
    } else {
        format!(
            ", after {}",
            s.depends_on
                .iter()
                .map(|d| format!("[{}]", d + 1))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let where_ = format!(
        "{} in account {} ({}, {}){deps}: {}",
        s.resource(),
        s.target.account,
        s.target.account_id,
        s.target.region,
        s.reason
    );
    if let Some(to) = s.moved_to() {
        // A move changes nothing in AWS: no resource block.
        let _ = writeln!(
            out,
            "  # [{}] {} has moved to {}",
            s.id + 1,
            p.bold(&s.address.to_string()),
            p.bold(&to.to_string())
        );
        let _ = writeln!(out, "  #     {where_}");
        return;
    }
    let _ = writeln!(
        out,
        "  # [{}] {} will be {}",
        s.id + 1,
        p.bold(&s.address.to_string()),
        s.action.verb()
    );
    let _ = writeln!(out, "  #     {where_}");
    let _ = writeln!(
        out,
        "  {} {} \"{}\" {{",
        p.action(s.action, s.action.symbol()),
        s.address.kind(),
        s.address.key()
    );
    changes_text(out, &s.changes, p);
    let _ = writeln!(out, "    }}");
}

/// The attribute lines of a resource block, names aligned.
fn changes_text(out: &mut String, changes: &[Change], p: Painter) {
    let width = changes
        .iter()
        .filter(|c| !is_block(c))
        .map(|c| c.attribute.len())
        .max()
        .unwrap_or(0);
    for c in changes {
        change_text(out, c, width, p);
    }
}

/// Policies, environments and replication configurations are shown as JSON diffs rather than
/// inline values.
fn is_block(c: &Change) -> bool {
    c.attribute == "policy"
        || c.attribute == "environment"
        || c.attribute == "replication_configuration"
}

/// A block attribute worth a diff: an empty environment on both sides is shown inline as `{}`.
pub(super) fn is_diff_block(c: &Change) -> bool {
    let empty = |v: &Option<Value>| {
        v.as_ref()
            .is_none_or(|v| v.as_object().is_some_and(|o| o.is_empty()))
    };
    is_block(c) && !(empty(&c.before) && empty(&c.after))
}

pub(super) fn change_text(out: &mut String, c: &Change, width: usize, p: Painter) {
    let (action, symbol) = match (&c.before, &c.after) {
        (None, Some(_)) => (Action::Create, "+"),
        (Some(_), None) => (Action::Delete, "-"),
        _ => (Action::Update, "~"),
    };
    let sym = p.action(action, symbol);
    let empty = |v: &Option<Value>| {
        v.as_ref()
            .is_none_or(|v| v.as_object().is_some_and(|o| o.is_empty()))
    };
    if is_block(c) && !(empty(&c.before) && empty(&c.after)) {
        let _ = writeln!(out, "      {sym} {} = <<-JSON", c.attribute);
        let before = c.before.as_ref().map(pretty).unwrap_or_default();
        let after = c.after.as_ref().map(pretty).unwrap_or_default();
        json_diff(out, &before, &after, p);
        let _ = writeln!(out, "        JSON");
        return;
    }
    if c.attribute == "tags" {
        map_text(out, c, sym, p);
        return;
    }
    let value = match (&c.before, &c.after) {
        (Some(b), Some(a)) => format!("{} -> {}", inline(b), inline(a)),
        (None, Some(a)) => inline(a),
        (Some(b), None) => format!("{} -> null", inline(b)),
        (None, None) => "null".to_string(),
    };
    let _ = writeln!(out, "      {sym} {:<width$} = {value}", c.attribute);
}

fn map_text(out: &mut String, c: &Change, sym: String, p: Painter) {
    let empty = serde_json::Map::new();
    let before = c
        .before
        .as_ref()
        .and_then(|v| v.as_object())
        .unwrap_or(&empty);
    let after = c
        .after
        .as_ref()
        .and_then(|v| v.as_object())
        .unwrap_or(&empty);
    let _ = writeln!(out, "      {sym} {} = {{", c.attribute);
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let width = keys.iter().map(|k| k.len() + 2).max().unwrap_or(0);
    for k in keys {
        let quoted = format!("\"{k}\"");
        let line = match (before.get(k), after.get(k)) {
            (Some(b), Some(a)) if b == a => continue,
            (Some(b), Some(a)) => format!(
                "{} {quoted:<width$} = {} -> {}",
                p.action(Action::Update, "~"),
                inline(b),
                inline(a)
            ),
            (None, Some(a)) => format!(
                "{} {quoted:<width$} = {}",
                p.action(Action::Create, "+"),
                inline(a)
            ),
            (Some(b), None) => format!(
                "{} {quoted:<width$} = {}",
                p.action(Action::Delete, "-"),
                inline(b)
            ),
            (None, None) => continue,
        };
        let _ = writeln!(out, "          {line}");
    }
    let _ = writeln!(out, "        }}");
}

fn inline(v: &Value) -> String {
    v.to_string()
}

pub(super) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// A unified diff of two pretty JSON texts (all lines when one side is empty).
fn json_diff(out: &mut String, before: &str, after: &str, p: Painter) {
    let diff = similar::TextDiff::from_lines(before, after);
    for (n, group) in diff.grouped_ops(3).into_iter().enumerate() {
        if n > 0 {
            let _ = writeln!(out, "          ...");
        }
        for op in group {
            for change in diff.iter_changes(&op) {
                let (sign, action) = match change.tag() {
                    similar::ChangeTag::Delete => ("-", Some(Action::Delete)),
                    similar::ChangeTag::Insert => ("+", Some(Action::Create)),
                    similar::ChangeTag::Equal => (" ", None),
                };
                let text = change.value().trim_end_matches('\n');
                let line = format!("{sign} {text}");
                let line = match action {
                    Some(a) => p.action(a, &line),
                    None => line,
                };
                let _ = writeln!(out, "          {line}");
            }
        }
    }
}

/// Plan warnings, for stderr.
pub fn warnings_text(warnings: &[PlanError], p: Painter) -> String {
    let mut out = String::new();
    for w in warnings {
        let _ = writeln!(
            out,
            "{} {}: {}",
            p.paint(style::WARNING, "warning:"),
            w.address,
            w.message
        );
        let _ = writeln!(out, "  {} {}", p.paint(style::BOLD, "hint:"), w.hint);
    }
    out
}

/// Plan errors, for stderr.
pub fn errors_text(errors: &[PlanError], p: Painter) -> String {
    let mut out = String::new();
    for e in errors {
        let _ = writeln!(
            out,
            "{} {}: {}",
            p.paint(style::ERROR, "error:"),
            e.address,
            e.message
        );
        if let Some(at) = &e.declared_at {
            let _ = writeln!(out, "  {} {at}", p.paint(style::BOLD, "declared at:"));
        }
        let _ = writeln!(out, "  {} {}", p.paint(style::BOLD, "hint:"), e.hint);
    }
    out
}
