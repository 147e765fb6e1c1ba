//! The estate as a Mermaid flowchart (`ferry graph --format mermaid`), which GitHub renders in
//! a pull-request comment: a subgraph per account and region, pending changes styled by action,
//! the plan's ordering as solid arrows and the estate's other dependencies dotted.

use super::estate::{Estate, label, location_label};
use crate::model::Address;
use crate::planner::Action;
use std::collections::BTreeMap;

/// The estate as a Mermaid flowchart.
pub fn graph_mermaid(estate: &Estate) -> String {
    // Mermaid ids are plain words: n0, n1, ... in address order; labels carry the addresses.
    let ids: BTreeMap<&Address, String> = estate
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (&n.address, format!("n{i}")))
        .collect();
    let mut out = String::from("flowchart LR\n");
    let mut classes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, (location, nodes)) in estate.by_location().into_iter().enumerate() {
        out.push_str(&format!(
            "  subgraph g{i}[\"{}\"]\n",
            quoted(&location_label(location))
        ));
        for node in nodes {
            let id = &ids[&node.address];
            out.push_str(&format!("    {id}[\"{}\"]\n", quoted(&label(node))));
            if let Some(action) = node.pending {
                classes.entry(class(action)).or_default().push(id);
            }
        }
        out.push_str("  end\n");
    }
    for (from, to) in &estate.plan_edges {
        out.push_str(&format!("  {} --> {}\n", ids[from], ids[to]));
    }
    for (from, to) in &estate.estate_edges {
        out.push_str(&format!("  {} -.-> {}\n", ids[from], ids[to]));
    }
    for (class, style) in [
        ("create", "fill:#dafbe1,stroke:#1a7f37"),
        ("update", "fill:#fff8c5,stroke:#9a6700"),
        ("replace", "fill:#fbefff,stroke:#8250df"),
        ("delete", "fill:#ffebe9,stroke:#cf222e"),
        ("adopt", "fill:#ddf4ff,stroke:#0969da"),
        ("move", "fill:#eaeef2,stroke:#57606a"),
    ] {
        if let Some(ids) = classes.get(class) {
            out.push_str(&format!("  classDef {class} {style}\n"));
            out.push_str(&format!("  class {} {class}\n", ids.join(",")));
        }
    }
    out
}

fn class(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Adopt => "adopt",
        Action::Move => "move",
    }
}

/// Text inside a Mermaid label: its own entity for a double quote.
fn quoted(text: &str) -> String {
    text.replace('"', "#quot;")
}
