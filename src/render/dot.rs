//! The plan's steps and their dependencies as Graphviz DOT (`ferry graph`).

use crate::planner::{self, Plan};

/// The plan's steps and their dependencies as Graphviz DOT.
pub fn graph_dot(plan: &Plan) -> String {
    let mut out = String::from("digraph ferry {\n  rankdir = LR;\n  node [shape = box];\n");
    for s in &plan.steps {
        let color = match s.action {
            planner::Action::Create => "green",
            planner::Action::Update => "orange",
            planner::Action::Replace => "purple",
            planner::Action::Delete => "red",
            planner::Action::Adopt => "blue",
            planner::Action::Move => "gray",
        };
        out.push_str(&format!(
            "  \"{}\" [label = \"{} {}\", color = {color}];\n",
            s.address,
            s.action.symbol(),
            s.address
        ));
    }
    for s in &plan.steps {
        for d in &s.depends_on {
            out.push_str(&format!(
                "  \"{}\" -> \"{}\";\n",
                plan.steps[*d].address, s.address
            ));
        }
    }
    out.push_str("}\n");
    out
}
