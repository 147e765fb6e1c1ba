//! Stage: render. Turns a [`Plan`] into Terraform-like text: `+ ~ - -/+` per step,
//! attribute-level changes, policies and environments as unified diffs of pretty JSON.
//!
//! Pure string building; the caller decides where it goes (data to stdout) and whether colour
//! is wanted (only on a terminal, never with `--no-color`/`NO_COLOR`).

use crate::planner::{Action, Change, Plan, PlanError, Step};
use anstyle::{AnsiColor, Style};
use serde_json::Value;
use std::fmt::Write;

/// Adds ANSI styles when colour is on.
#[derive(Clone, Copy, Debug)]
pub struct Painter {
    pub color: bool,
}

impl Painter {
    pub fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    fn action(&self, action: Action, text: &str) -> String {
        let color = match action {
            Action::Create => AnsiColor::Green,
            Action::Update => AnsiColor::Yellow,
            Action::Replace => AnsiColor::Magenta,
            Action::Delete => AnsiColor::Red,
            Action::Adopt => AnsiColor::Cyan,
            Action::Move => AnsiColor::Blue,
        };
        self.paint(Style::new().fg_color(Some(color.into())), text)
    }

    fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }
}

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
            p.paint(
                Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
                "Warning: resource targeting is in effect:"
            ),
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

/// Policies and environments are shown as JSON diffs rather than inline values.
fn is_block(c: &Change) -> bool {
    c.attribute == "policy" || c.attribute == "environment"
}

/// A block attribute worth a diff: an empty environment on both sides is shown inline as `{}`.
fn is_diff_block(c: &Change) -> bool {
    let empty = |v: &Option<Value>| {
        v.as_ref()
            .is_none_or(|v| v.as_object().is_some_and(|o| o.is_empty()))
    };
    is_block(c) && !(empty(&c.before) && empty(&c.after))
}

fn change_text(out: &mut String, c: &Change, width: usize, p: Painter) {
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

fn pretty(v: &Value) -> String {
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
            p.paint(
                Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
                "warning:"
            ),
            w.address,
            w.message
        );
        let _ = writeln!(
            out,
            "  {} {}",
            p.paint(Style::new().bold(), "hint:"),
            w.hint
        );
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
            p.paint(
                Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
                "error:"
            ),
            e.address,
            e.message
        );
        if let Some(at) = &e.declared_at {
            let _ = writeln!(
                out,
                "  {} {at}",
                p.paint(Style::new().bold(), "declared at:")
            );
        }
        let _ = writeln!(
            out,
            "  {} {}",
            p.paint(Style::new().bold(), "hint:"),
            e.hint
        );
    }
    out
}

/// The version of `plan --json`'s format; see docs/plan.schema.json.
pub const JSON_FORMAT_VERSION: &str = "1.1";

/// The plan as JSON for pipelines (`plan --json`), documented in docs/plan.schema.json.
/// Sensitive values are already redacted in the plan's changes.
pub fn plan_json(plan: &Plan) -> Value {
    let changes_object = |changes: &[Change], before: bool| -> Value {
        let mut m = serde_json::Map::new();
        for c in changes {
            let v = if before { &c.before } else { &c.after };
            m.insert(c.attribute.clone(), v.clone().unwrap_or(Value::Null));
        }
        Value::Object(m)
    };
    let (add, change, destroy) = plan.counts();
    serde_json::json!({
        "format_version": JSON_FORMAT_VERSION,
        "project": plan.project,
        "state": { "lineage": plan.lineage, "serial": plan.serial },
        "partial": !plan.targets.is_empty(),
        "targets": plan.targets.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "images": plan.images.iter().map(|i| serde_json::json!({
            "address": format!("image.{}", i.key),
            "repository_uri": i.repository_uri,
            "reference": i.reference,
            "digest": i.digest,
        })).collect::<Vec<_>>(),
        "resource_drift": plan.drift.iter().map(|d| serde_json::json!({
            "address": d.address.to_string(),
            "deleted": d.deleted,
            "before": changes_object(&d.changes, true),
            "after": changes_object(&d.changes, false),
        })).collect::<Vec<_>>(),
        "resource_changes": plan.steps.iter().map(|s| serde_json::json!({
            "order": s.id + 1,
            "level": s.level + 1,
            "address": s.address.to_string(),
            "type": s.address.kind(),
            "name": s.name,
            "moved_to": s.moved_to().map(|a| a.to_string()),
            "action": s.action,
            "reason": s.reason,
            "account_id": s.target.account_id,
            "region": s.target.region,
            "depends_on": s.depends_on.iter().map(|d| plan.steps[*d].address.to_string()).collect::<Vec<_>>(),
            "before": changes_object(&s.changes, true),
            "after": changes_object(&s.changes, false),
            "values": {
                "before": crate::planner::step_values(s).0,
                "after": crate::planner::step_values(s).1,
            },
        })).collect::<Vec<_>>(),
        "errors": plan.errors.iter().map(|e| serde_json::json!({
            "address": e.address.to_string(),
            "message": e.message,
            "hint": e.hint,
            "declared_at": e.declared_at,
        })).collect::<Vec<_>>(),
        "warnings": plan.warnings.iter().map(|e| serde_json::json!({
            "address": e.address.to_string(),
            "message": e.message,
            "hint": e.hint,
        })).collect::<Vec<_>>(),
        "summary": { "add": add, "change": change, "destroy": destroy },
    })
}

/// The plan as a pull-request comment (`plan --markdown`): the summary line, a table, and one
/// collapsible block per step with policy and environment changes as ```diff blocks.
pub fn plan_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let plain = Painter { color: false };
    let _ = writeln!(out, "### ferry plan for `{}`\n", plan.project);
    if !plan.targets.is_empty() {
        let _ = writeln!(
            out,
            "> **Warning:** restricted to {}; the plan may be partial.\n",
            plan.targets
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !plan.errors.is_empty() {
        let _ = writeln!(
            out,
            "**Errors** (nothing can be applied until they are fixed):\n"
        );
        for e in &plan.errors {
            let at = e
                .declared_at
                .as_ref()
                .map(|a| format!(" (declared at `{a}`)"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- `{}`{at}: {} (hint: {})",
                e.address, e.message, e.hint
            );
        }
        out.push('\n');
    }
    if !plan.drift.is_empty() {
        let _ = writeln!(out, "**Changed outside ferry:**\n");
        for d in &plan.drift {
            let what = if d.deleted { "deleted" } else { "changed" };
            let attrs: Vec<String> = d
                .changes
                .iter()
                .map(|c| format!("`{}`", c.attribute))
                .collect();
            let _ = writeln!(
                out,
                "- `{}` {what}{}",
                d.address,
                if attrs.is_empty() {
                    String::new()
                } else {
                    format!(": {}", attrs.join(", "))
                }
            );
        }
        out.push('\n');
    }
    if plan.steps.is_empty() {
        if plan.errors.is_empty() {
            let _ = writeln!(
                out,
                "**No changes.** The infrastructure matches the declarations."
            );
        }
        return out;
    }
    let _ = writeln!(out, "**{}**\n", summary(plan, plain));
    let _ = writeln!(
        out,
        "| # | action | address | AWS name | account | region |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for s in &plan.steps {
        let address = match s.moved_to() {
            Some(to) => format!("`{}` -> `{to}`", s.address),
            None => format!("`{}`", s.address),
        };
        let _ = writeln!(
            out,
            "| {} | `{}` {:?} | {address} | `{}` | {} | {} |",
            s.id + 1,
            s.action.symbol(),
            s.action,
            s.name,
            s.target.account_id,
            s.target.region
        );
    }
    out.push('\n');
    for s in &plan.steps {
        let what = match s.moved_to() {
            Some(to) => format!("{} {} -> {to}", s.action.symbol(), s.address),
            None => format!("{} {}", s.action.symbol(), s.address),
        };
        let _ = writeln!(
            out,
            "<details><summary><code>{what}</code> ({}): {}</summary>\n",
            s.resource(),
            s.reason
        );
        let mut inline = String::new();
        for c in s.changes.iter().filter(|c| !is_diff_block(c)) {
            change_text(&mut inline, c, 0, plain);
        }
        if !inline.is_empty() {
            let _ = writeln!(out, "```\n{}```\n", inline);
        }
        for c in s.changes.iter().filter(|c| is_diff_block(c)) {
            let before = c.before.as_ref().map(pretty).unwrap_or_default();
            let after = c.after.as_ref().map(pretty).unwrap_or_default();
            let _ = writeln!(out, "`{}`:\n\n```diff", c.attribute);
            let diff = similar::TextDiff::from_lines(&before, &after);
            for change in diff.iter_all_changes() {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => "-",
                    similar::ChangeTag::Insert => "+",
                    similar::ChangeTag::Equal => " ",
                };
                let _ = writeln!(out, "{sign}{}", change.value().trim_end_matches('\n'));
            }
            let _ = writeln!(out, "```\n");
        }
        let _ = writeln!(out, "</details>\n");
    }
    out
}
