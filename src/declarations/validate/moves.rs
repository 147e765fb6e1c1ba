//! The `[[moved]]` blocks: each renames a function or a repository key, once, in one step.

use super::{Checker, Merged, raw};
use crate::model::Move;
use serde_spanned::Spanned;

/// `[[moved]]` blocks: each renames a function or a repository key, once, in one step.
pub(super) fn check_moves(c: &mut Checker, merged: &Merged) -> Vec<Move> {
    use crate::model::Address;
    // The blocks that parse, with their addresses; the rest get a diagnostic here.
    let mut parsed: Vec<(usize, &Spanned<raw::Moved>, Address, Address)> = Vec::new();
    for (file, m) in &merged.moved {
        let block = m.get_ref();
        let address = |c: &mut Checker, v: &Spanned<String>, key: &str| match v
            .get_ref()
            .parse::<Address>()
        {
            Ok(a @ (Address::Function(_) | Address::Repository(_))) => Some(a),
            Ok(other) => {
                c.at(
                    *file,
                    v,
                    &format!("a [[moved]] block cannot move {other}"),
                    "not a function or repository",
                    "only functions and repositories move: a repository takes its \
                     repository_policy along, and images and registries have no state to move",
                );
                None
            }
            Err(e) => {
                c.at(
                    *file,
                    v,
                    &e,
                    "not an address",
                    &format!("write {key} = \"KIND.KEY\", for example {key} = \"function.worker\""),
                );
                None
            }
        };
        let from = address(c, &block.from, "from");
        let to = address(c, &block.to, "to");
        let (Some(from), Some(to)) = (from, to) else {
            continue;
        };
        if from.kind() != to.kind() {
            c.at(
                *file,
                &block.to,
                &format!("{from} cannot move to {to}: a move keeps the kind"),
                &format!("a {}, not a {}", to.kind(), from.kind()),
                &format!(
                    "a [[moved]] block renames a key; to turn a {} into a {}, remove one and declare the other",
                    from.kind(),
                    to.kind()
                ),
            );
            continue;
        }
        if from == to {
            c.at(
                *file,
                &block.to,
                &format!("{from} is moved to itself"),
                "the same address as `from`",
                "remove this [[moved]] block, or set `to` to the new address",
            );
            continue;
        }
        parsed.push((*file, m, from, to));
    }
    let location =
        |c: &Checker, file: usize, v: &Spanned<String>| c.sources[file].location(v.span().start);
    let mut out = Vec::new();
    for (i, (file, m, from, to)) in parsed.iter().enumerate() {
        let block = m.get_ref();
        if let Some((f, other, ..)) = parsed[..i].iter().find(|p| &p.2 == from) {
            let first = location(c, *f, &other.get_ref().from);
            c.at(
                *file,
                &block.from,
                &format!("{from} is moved twice"),
                "moved again here",
                &format!("the other [[moved]] block is at {first}; an address moves to one place: keep one"),
            );
            continue;
        }
        if let Some((f, other, ..)) = parsed[..i].iter().find(|p| &p.3 == to) {
            let first = location(c, *f, &other.get_ref().to);
            c.at(
                *file,
                &block.to,
                &format!("two [[moved]] blocks move to {to}"),
                "moved into again here",
                &format!(
                    "the other is at {first}; one address can take over only one record: keep one"
                ),
            );
            continue;
        }
        // A chain (a -> b, b -> c) or a cycle (a -> b, b -> a).
        if let Some(next) = parsed.iter().position(|p| &p.2 == to) {
            let mut path = vec![from.clone(), to.clone()];
            let mut j = next;
            let cycle = loop {
                let step = &parsed[j].3;
                if step == from {
                    break true;
                }
                if path.contains(step) {
                    break false;
                }
                path.push(step.clone());
                match parsed.iter().position(|p| &p.2 == step) {
                    Some(k) => j = k,
                    None => break false,
                }
            };
            let at = location(c, parsed[next].0, &parsed[next].1.get_ref().from);
            if cycle {
                // One diagnostic per cycle, at its first block.
                let first = parsed.iter().position(|p| path.contains(&p.2)).unwrap_or(i);
                if first == i {
                    path.push(from.clone());
                    c.at(
                        *file,
                        &block.to,
                        &format!(
                            "the [[moved]] blocks form a cycle: {}",
                            path.iter()
                                .map(|a| a.to_string())
                                .collect::<Vec<_>>()
                                .join(" -> ")
                        ),
                        "moves back to where it started",
                        "a cycle moves nothing: remove these [[moved]] blocks",
                    );
                }
            } else {
                let last = path.last().cloned().unwrap_or_else(|| to.clone());
                c.at(
                    *file,
                    &block.to,
                    &format!(
                        "{from} moves to {to}, which another [[moved]] block (at {at}) moves on: a chain of moves"
                    ),
                    "moved on by another block",
                    &format!(
                        "move in one step: from = \"{from}\", to = \"{last}\", and remove the block that moves {to}"
                    ),
                );
            }
            continue;
        }
        let declared = |a: &Address| match a {
            Address::Function(k) => merged
                .functions
                .get(k)
                .map(|e| (e.file, e.key_span.clone())),
            Address::Repository(k) => merged
                .repositories
                .get(k)
                .map(|e| (e.file, e.key_span.clone())),
            _ => None,
        };
        let table = |a: &Address| match a {
            Address::Function(k) => format!("[functions.{k}]"),
            _ => format!("[repositories.{}]", a.key()),
        };
        let mut ok = true;
        if let Some((f, span)) = declared(from) {
            let place = c.sources[f].location(span.start);
            c.at(
                *file,
                &block.from,
                &format!("{from} is still declared (at {place}), so there is nothing to move"),
                "still declared",
                &format!(
                    "if {} was renamed to {}, remove the old table; otherwise remove this [[moved]] block",
                    table(from),
                    table(to)
                ),
            );
            ok = false;
        }
        if declared(to).is_none() {
            c.at(
                *file,
                &block.to,
                &format!("{to} is not declared"),
                "no such declaration",
                &format!("declare {} (the renamed table), or fix `to`", table(to)),
            );
            ok = false;
        }
        if ok {
            out.push(Move {
                from: from.clone(),
                to: to.clone(),
                declared_at: c.sources[*file].location(m.span().start),
            });
        }
    }
    out
}
