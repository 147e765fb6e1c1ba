//! The plan as JSON for pipelines (`plan --json`), in the format of docs/plan.schema.json.
//!
//! Since 1.2 each resource change and drift also carries Terraform's `change` object
//! (`actions`, `before`, `after`, `after_unknown`, `before_sensitive`, `after_sensitive`),
//! `mode` and the AWS identity, so policies and jq recipes written against Terraform plans
//! (`.resource_changes[].change.actions`) read ferry's plans unchanged.

use crate::model::{Address, Target};
use crate::planner::{Action, Change, Plan, Step};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The version of `plan --json`'s format; see docs/plan.schema.json.
pub const JSON_FORMAT_VERSION: &str = "1.2";

/// The plan as JSON for pipelines (`plan --json`), documented in docs/plan.schema.json.
/// Sensitive values are already redacted in the plan's changes.
pub fn plan_json(plan: &Plan) -> Value {
    let (add, change, destroy) = plan.counts();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "project": plan.project,
        "state": { "lineage": plan.lineage, "serial": plan.serial },
        "partial": !plan.targets.is_empty(),
        "targets": plan.targets.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "images": plan.images.iter().map(|i| json!({
            "address": format!("image.{}", i.key),
            "repository_uri": i.repository_uri,
            "reference": i.reference,
            "digest": i.digest,
        })).collect::<Vec<_>>(),
        "resource_drift": plan.drift.iter().map(|d| {
            let (before, after) = (changes_object(&d.changes, true), changes_object(&d.changes, false));
            // A drift knows no sensitive keys: the redaction markers in its values say which.
            let marked = |side: &Value| sensitive_marks(Some(side), &redacted_keys(side));
            json!({
                "address": d.address.to_string(),
                "type": d.address.kind(),
                "name": d.name,
                "mode": "managed",
                "deleted": d.deleted,
                "before": before,
                "after": after,
                "change": {
                    "actions": if d.deleted { ["delete"] } else { ["update"] },
                    "before_sensitive": marked(&before),
                    "after_sensitive": if d.deleted { Value::Bool(false) } else { marked(&after) },
                    "after_unknown": if d.deleted { Value::Bool(false) } else { json!({}) },
                    "before": before,
                    "after": if d.deleted { Value::Null } else { after.clone() },
                },
                "identity": d.target.as_ref().map(|t| identity(&d.address, t, &d.name)),
            })
        }).collect::<Vec<_>>(),
        "resource_changes": plan.steps.iter().map(|s| step_json(plan, s)).collect::<Vec<_>>(),
        "errors": plan.errors.iter().map(|e| json!({
            "address": e.address.to_string(),
            "message": e.message,
            "hint": e.hint,
            "declared_at": e.declared_at,
        })).collect::<Vec<_>>(),
        "warnings": plan.warnings.iter().map(|e| json!({
            "address": e.address.to_string(),
            "message": e.message,
            "hint": e.hint,
        })).collect::<Vec<_>>(),
        "summary": { "add": add, "change": change, "destroy": destroy },
    })
}

/// One `resource_changes[]` entry.
fn step_json(plan: &Plan, s: &Step) -> Value {
    let (before, after) = crate::planner::step_values(s);
    json!({
        "order": s.id + 1,
        "level": s.level + 1,
        "address": s.address.to_string(),
        "type": s.address.kind(),
        "name": s.name,
        "mode": "managed",
        "moved_to": s.moved_to().map(|a| a.to_string()),
        "action": s.action,
        "reason": s.reason,
        "account_id": s.target.account_id,
        "region": s.target.region,
        "depends_on": s.depends_on.iter().map(|d| plan.steps[*d].address.to_string()).collect::<Vec<_>>(),
        "before": changes_object(&s.changes, true),
        "after": changes_object(&s.changes, false),
        "values": { "before": before, "after": after },
        "change": {
            "actions": terraform_actions(s.action),
            "before_sensitive": sensitive_marks(before.as_ref(), &s.sensitive),
            "after_sensitive": sensitive_marks(after.as_ref(), &s.sensitive),
            // ferry knows every attribute before it applies (names and ARNs are derived).
            "after_unknown": if after.is_some() { json!({}) } else { Value::Bool(false) },
            "before": before,
            "after": after,
        },
        "identity": identity(&s.address, &s.target, &s.name),
    })
}

/// Terraform's action list for a ferry action. A replace deletes first, then creates; adopt
/// and move change nothing in AWS.
fn terraform_actions(action: Action) -> &'static [&'static str] {
    match action {
        Action::Create => &["create"],
        Action::Update => &["update"],
        Action::Delete => &["delete"],
        Action::Replace => &["delete", "create"],
        Action::Adopt | Action::Move => &["no-op"],
    }
}

/// The changed attributes of one side, by name (`null` where the side has none).
fn changes_object(changes: &[Change], before: bool) -> Value {
    let mut m = serde_json::Map::new();
    for c in changes {
        let v = if before { &c.before } else { &c.after };
        m.insert(c.attribute.clone(), v.clone().unwrap_or(Value::Null));
    }
    Value::Object(m)
}

/// Terraform's `*_sensitive` object: `false` where the side does not exist, otherwise `true`
/// at each sensitive environment value the side has (`{}` when none).
fn sensitive_marks(side: Option<&Value>, keys: &BTreeSet<String>) -> Value {
    let Some(side) = side else {
        return Value::Bool(false);
    };
    let marked: serde_json::Map<String, Value> = side["environment"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| keys.contains(*k))
        .map(|(k, _)| (k.clone(), Value::Bool(true)))
        .collect();
    if marked.is_empty() {
        json!({})
    } else {
        json!({ "environment": marked })
    }
}

/// The environment keys whose values are redaction markers.
fn redacted_keys(side: &Value) -> BTreeSet<String> {
    side["environment"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| {
            v.as_str()
                .is_some_and(|v| v.starts_with("(sensitive value"))
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// The AWS resource an address stands for: account, region, name, ARN and, for a repository
/// (or its policy), the URI images are pulled from.
fn identity(address: &Address, target: &Target, name: &str) -> Value {
    let (account, region) = (&target.account_id, &target.region);
    match address {
        Address::Function(_) => json!({
            "account_id": account,
            "region": region,
            "name": name,
            "arn": format!("arn:aws:lambda:{region}:{account}:function:{name}"),
        }),
        // ECR gives a registry no ARN of its own; this one names it.
        Address::Replication(_) | Address::RegistryPolicy(_) => json!({
            "account_id": account,
            "region": region,
            "name": name,
            "arn": format!("arn:aws:ecr:{region}:{account}:registry"),
        }),
        _ => json!({
            "account_id": account,
            "region": region,
            "name": name,
            "arn": format!("arn:aws:ecr:{region}:{account}:repository/{name}"),
            "uri": format!("{account}.dkr.ecr.{region}.amazonaws.com/{name}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_terraform_s_list_and_sensitive_values_are_marked() {
        let lists: Vec<_> = [
            Action::Create,
            Action::Update,
            Action::Replace,
            Action::Delete,
            Action::Adopt,
            Action::Move,
        ]
        .into_iter()
        .map(terraform_actions)
        .collect();
        assert_eq!(
            lists,
            [
                &["create"][..],
                &["update"],
                &["delete", "create"],
                &["delete"],
                &["no-op"],
                &["no-op"]
            ]
        );
        let side = json!({ "environment": { "A": "(sensitive value)", "B": "b" } });
        let keys = BTreeSet::from(["A".to_string(), "C".to_string()]);
        assert_eq!(
            sensitive_marks(Some(&side), &keys),
            json!({ "environment": { "A": true } })
        );
        assert_eq!(sensitive_marks(None, &keys), json!(false));
        assert_eq!(sensitive_marks(Some(&json!({})), &keys), json!({}));
        assert_eq!(redacted_keys(&side), BTreeSet::from(["A".to_string()]));
    }
}
