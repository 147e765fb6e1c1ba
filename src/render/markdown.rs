//! The plan as a pull-request comment (`plan --markdown`): identical changes folded into one
//! entry ("6 functions: image sha256:aaaa… → sha256:bbbb…"), entries grouped by account and
//! region, the resolved images, each entry's changes in a collapsible `<details>`, and never
//! more than GitHub's 65,536 characters of a comment (what had to be left out is said).

use super::Painter;
use super::text::{change_text, is_diff_block, pretty, summary};
use crate::planner::{Action, Change, Plan, Step};
use std::collections::BTreeMap;
use std::fmt::Write;

/// GitHub's limit on the body of an issue or pull-request comment, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// The plan as a pull-request comment that fits GitHub's limit.
pub fn plan_markdown(plan: &Plan) -> String {
    plan_markdown_within(plan, COMMENT_LIMIT)
}

/// The plan as a comment of at most `limit` characters: change details are left out from the
/// last entry backwards, then table rows, until it fits, and the comment says so.
pub fn plan_markdown_within(plan: &Plan, limit: usize) -> String {
    let entries = entries(plan);
    let all = Cut {
        details: entries.len(),
        rows: entries.len(),
    };
    let full = render(plan, &entries, all);
    if full.chars().count() <= limit {
        return full;
    }
    // The largest number of details that fits, then (if none fits) of rows.
    let fits = |cut: Cut| render(plan, &entries, cut).chars().count() <= limit;
    let details = largest(entries.len(), |d| {
        fits(Cut {
            details: d,
            rows: all.rows,
        })
    });
    if let Some(details) = details {
        return render(
            plan,
            &entries,
            Cut {
                details,
                rows: all.rows,
            },
        );
    }
    let rows = largest(entries.len(), |r| {
        fits(Cut {
            details: 0,
            rows: r,
        })
    })
    .unwrap_or(0);
    let cut = render(plan, &entries, Cut { details: 0, rows });
    // Even the header does not fit: say only what the plan is.
    if cut.chars().count() > limit {
        return cut.chars().take(limit).collect();
    }
    cut
}

/// The largest `n` in `0..=max` with `ok(n)`, for an `ok` true up to some point and false
/// after it.
fn largest(max: usize, ok: impl Fn(usize) -> bool) -> Option<usize> {
    if !ok(0) {
        return None;
    }
    let (mut lo, mut hi) = (0, max);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if ok(mid) { lo = mid } else { hi = mid - 1 }
    }
    Some(lo)
}

/// How much of the entries a rendering shows: the first `details` entries' change details and
/// the first `rows` entries' table rows.
#[derive(Clone, Copy)]
struct Cut {
    details: usize,
    rows: usize,
}

/// Steps that do the same thing (same action, kind of resource, reason and changes) to
/// different resources: one entry of the comment.
struct Entry<'a> {
    steps: Vec<&'a Step>,
}

impl Entry<'_> {
    fn first(&self) -> &Step {
        self.steps[0]
    }

    /// Its one (account id, region), or `None` when it spans several.
    fn location(&self) -> Option<(&str, &str)> {
        let t = &self.first().target;
        self.steps
            .iter()
            .all(|s| s.target.account_id == t.account_id && s.target.region == t.region)
            .then_some((t.account_id.as_str(), t.region.as_str()))
    }
}

fn entries(plan: &Plan) -> Vec<Entry<'_>> {
    let mut out: Vec<Entry> = Vec::new();
    let mut by_shape: BTreeMap<(Action, &str, &str, String), usize> = BTreeMap::new();
    for s in &plan.steps {
        // A move names where it goes; it is never the same as another.
        if s.moved_to().is_some() {
            out.push(Entry { steps: vec![s] });
            continue;
        }
        let shape = (
            s.action,
            s.address.kind(),
            s.reason.as_str(),
            serde_json::to_string(&s.changes).unwrap_or_default(),
        );
        match by_shape.get(&shape) {
            Some(&i) => out[i].steps.push(s),
            None => {
                by_shape.insert(shape, out.len());
                out.push(Entry { steps: vec![s] });
            }
        }
    }
    out
}

fn render(plan: &Plan, entries: &[Entry], cut: Cut) -> String {
    let mut out = String::new();
    let plain = Painter { color: false };
    header(&mut out, plan);
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
    images(&mut out, plan);
    // Sections: entries spanning several places first, then one per account and region; the
    // cut keeps the first rows and details in that order.
    let mut sections: BTreeMap<Option<(&str, &str)>, Vec<usize>> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        sections.entry(e.location()).or_default().push(i);
    }
    let order: Vec<usize> = sections.values().flatten().copied().collect();
    let mut position = 0;
    for (place, members) in &sections {
        let shown = members.len().min(cut.rows.saturating_sub(position));
        position += members.len();
        if shown == 0 {
            continue;
        }
        match place {
            None => {
                let _ = writeln!(out, "#### The same change in several accounts or regions\n");
            }
            Some((account, region)) => {
                let _ = writeln!(out, "#### account {account}, {region}\n");
            }
        }
        let _ = writeln!(out, "| # | action | address | AWS name | change |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for i in &members[..shown] {
            row(&mut out, &entries[*i], place.is_none());
        }
        out.push('\n');
    }
    for i in order.iter().take(cut.details) {
        details(&mut out, &entries[*i], plain);
    }
    if cut.details < entries.len() || cut.rows < entries.len() {
        let mut what = format!(
            "the change details of {} of {} entries",
            entries.len() - cut.details.min(entries.len()),
            entries.len()
        );
        if cut.rows < entries.len() {
            let steps: usize = order[cut.rows..]
                .iter()
                .map(|i| entries[*i].steps.len())
                .sum();
            let _ = write!(what, " and the table rows of {steps} steps");
        }
        let _ = writeln!(
            out,
            "> **Cut to fit a GitHub comment** ({COMMENT_LIMIT} characters): {what} are left \
             out. The full plan is the saved plan (`ferry show PLANFILE`, or the pipeline's plan \
             artifact) and `ferry plan`'s output."
        );
    }
    out
}

fn header(out: &mut String, plan: &Plan) {
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
}

/// The images the plan resolved, each with its digest.
fn images(out: &mut String, plan: &Plan) {
    let resolved: Vec<_> = plan.images.iter().filter(|i| i.digest.is_some()).collect();
    if resolved.is_empty() {
        return;
    }
    let _ = writeln!(out, "**Images:**\n");
    for i in resolved {
        let _ = writeln!(
            out,
            "- `image.{}`: {} of `{}` is `{}`",
            i.key,
            i.reference,
            i.repository_uri,
            i.digest.as_deref().unwrap_or_default()
        );
    }
    out.push('\n');
}

fn row(out: &mut String, e: &Entry, with_place: bool) {
    let s = e.first();
    let numbers = numbers(e);
    let (address, names) = if e.steps.len() == 1 {
        let address = match s.moved_to() {
            Some(to) => format!("`{}` -> `{to}`", s.address),
            None => format!("`{}`", s.address),
        };
        (address, format!("`{}`", s.name))
    } else {
        let list: Vec<String> = e
            .steps
            .iter()
            .map(|s| {
                if with_place {
                    format!(
                        "`{}` ({}, {})",
                        s.address, s.target.account_id, s.target.region
                    )
                } else {
                    format!("`{}`", s.address)
                }
            })
            .collect();
        let names: Vec<String> = e.steps.iter().map(|s| format!("`{}`", s.name)).collect();
        (
            format!("{} {}s: {}", e.steps.len(), kind_word(s), list.join(", ")),
            names.join(", "),
        )
    };
    let _ = writeln!(
        out,
        "| {numbers} | `{}` {:?} | {address} | {names} | {} |",
        s.action.symbol(),
        s.action,
        short_changes(s)
    );
}

/// The steps' numbers: `4`, `4–9` when consecutive, else `4, 7, 9`.
fn numbers(e: &Entry) -> String {
    let ids: Vec<usize> = e.steps.iter().map(|s| s.id + 1).collect();
    let consecutive = ids.windows(2).all(|w| w[1] == w[0] + 1);
    match (ids.first(), ids.last()) {
        (Some(a), Some(b)) if ids.len() > 2 && consecutive => format!("{a}–{b}"),
        _ => ids
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn kind_word(s: &Step) -> &'static str {
    match s.address.kind() {
        "function" => "function",
        "repository_policy" => "repository policie",
        "replication" => "replication configuration",
        "registry_policy" => "registry policie",
        _ => "repository",
    }
}

/// What an update changes, in one line: `image sha256:aaaa… → sha256:bbbb…`, `memory_mb 128 →
/// 256`; attributes too long for a line by name.
fn short_changes(s: &Step) -> String {
    if !matches!(s.action, Action::Update | Action::Replace) {
        return String::new();
    }
    let parts: Vec<String> = s.changes.iter().map(short_change).collect();
    parts.join("; ")
}

fn short_change(c: &Change) -> String {
    let scalar = |v: &Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(short_value(s)),
        Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
            Some(v.to_string())
        }
        None | Some(serde_json::Value::Null) => Some("(none)".into()),
        _ => None,
    };
    match (scalar(&c.before), scalar(&c.after)) {
        (Some(b), Some(a)) if b.len() + a.len() <= 80 => {
            let name = if c.attribute == "image_uri" {
                "image"
            } else {
                c.attribute.as_str()
            };
            format!("{name} {b} → {a}")
        }
        _ => format!("`{}`", c.attribute),
    }
}

/// An image URI by its digest (`sha256:` and 12 hex digits), other values as they are.
fn short_value(s: &str) -> String {
    match s.rsplit_once("@sha256:") {
        Some((_, hex)) => format!("sha256:{}…", &hex[..hex.len().min(12)]),
        None => s.to_string(),
    }
}

fn details(out: &mut String, e: &Entry, plain: Painter) {
    let s = e.first();
    let what = match (s.moved_to(), e.steps.len()) {
        (Some(to), _) => format!("{} {} -> {to}", s.action.symbol(), s.address),
        (None, 1) => format!("{} {}", s.action.symbol(), s.address),
        (None, n) => format!("{} {n} {}s", s.action.symbol(), kind_word(s)),
    };
    let resource = if e.steps.len() == 1 {
        format!(" ({})", s.resource())
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "<details><summary><code>{what}</code>{resource}: {}</summary>\n",
        s.reason
    );
    if e.steps.len() > 1 {
        let list: Vec<String> = e.steps.iter().map(|s| format!("`{}`", s.address)).collect();
        let _ = writeln!(out, "Each of {}:\n", list.join(", "));
    }
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
