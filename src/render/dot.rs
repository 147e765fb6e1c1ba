//! The estate as Graphviz DOT (`ferry graph`): one cluster per account and region, pending
//! changes coloured and labelled with their action, the plan's ordering as solid edges and the
//! estate's other dependencies dashed.

use super::estate::{Estate, label, location_label};
use crate::planner::Action;

/// The estate as Graphviz DOT.
pub fn graph_dot(estate: &Estate) -> String {
    let mut out = String::from("digraph ferry {\n  rankdir = LR;\n  node [shape = box];\n");
    for (i, (location, nodes)) in estate.by_location().into_iter().enumerate() {
        out.push_str(&format!(
            "  subgraph cluster_{i} {{\n    label = \"{}\";\n",
            quoted(&location_label(location))
        ));
        for node in nodes {
            let color = match node.pending {
                Some(Action::Create) => "green",
                Some(Action::Update) => "orange",
                Some(Action::Replace) => "purple",
                Some(Action::Delete) => "red",
                Some(Action::Adopt) => "blue",
                Some(Action::Move) => "gray",
                None => "black",
            };
            out.push_str(&format!(
                "    \"{}\" [label = \"{}\", color = {color}];\n",
                quoted(&node.address.to_string()),
                quoted(&label(node))
            ));
        }
        out.push_str("  }\n");
    }
    for (from, to) in &estate.plan_edges {
        out.push_str(&format!(
            "  \"{}\" -> \"{}\";\n",
            quoted(&from.to_string()),
            quoted(&to.to_string())
        ));
    }
    for (from, to) in &estate.estate_edges {
        out.push_str(&format!(
            "  \"{}\" -> \"{}\" [style = dashed];\n",
            quoted(&from.to_string()),
            quoted(&to.to_string())
        ));
    }
    out.push_str("}\n");
    out
}

/// Text inside a DOT string.
fn quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
