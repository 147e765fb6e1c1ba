//! The plan as a pull-request comment (`plan --markdown`).

use super::Painter;
use super::text::{change_text, is_diff_block, pretty, summary};
use crate::planner::Plan;
use std::fmt::Write;

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
