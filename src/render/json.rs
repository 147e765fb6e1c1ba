//! The plan as JSON for pipelines (`plan --json`), in the format of docs/plan.schema.json.

use crate::planner::{Change, Plan};
use serde_json::Value;

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
