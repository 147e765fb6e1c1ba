//! Parsing a policy document into statements, with the statement named in every error.

use super::StatementId;
use super::condition;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy is not a JSON object with a Statement")]
    NoStatements,
    #[error("{statement}: {message}")]
    Statement { statement: String, message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A principal element: `*`, or lists per kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalSpec {
    Any,
    Listed {
        aws: Vec<String>,
        service: Vec<String>,
        other: Vec<String>,
    },
}

/// A parsed statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub id: StatementId,
    pub effect: Effect,
    pub principal: Option<PrincipalSpec>,
    pub not_principal: Option<PrincipalSpec>,
    pub action: Option<Vec<String>>,
    pub not_action: Option<Vec<String>>,
    pub resource: Option<Vec<String>>,
    pub not_resource: Option<Vec<String>>,
    pub conditions: Vec<condition::Condition>,
}

/// A parsed policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

/// Parses a policy document.
pub fn parse(policy: &Value) -> Result<Policy, PolicyError> {
    let list = match policy.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(obj @ Value::Object(_)) => vec![obj.clone()],
        _ => return Err(PolicyError::NoStatements),
    };
    let statements = list
        .iter()
        .enumerate()
        .map(|(index, s)| parse_statement(index, s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy { statements })
}

fn parse_statement(index: usize, s: &Value) -> Result<Statement, PolicyError> {
    let sid = s.get("Sid").and_then(|v| v.as_str()).map(str::to_string);
    let id = StatementId { index, sid };
    let err = |message: String| PolicyError::Statement {
        statement: id.to_string(),
        message,
    };
    let effect = match s.get("Effect").and_then(|v| v.as_str()) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        other => return Err(err(format!("Effect must be Allow or Deny, not {other:?}"))),
    };
    let strings = |key: &str| -> Result<Option<Vec<String>>, PolicyError> {
        match s.get(key) {
            None => Ok(None),
            Some(v) => string_list(v)
                .map(Some)
                .ok_or_else(|| err(format!("{key} must be a string or a list of strings"))),
        }
    };
    let principal_spec = |key: &str| -> Result<Option<PrincipalSpec>, PolicyError> {
        match s.get(key) {
            None => Ok(None),
            Some(Value::String(star)) if star == "*" => Ok(Some(PrincipalSpec::Any)),
            Some(Value::Object(kinds)) => {
                let (mut aws, mut service, mut other) = (vec![], vec![], vec![]);
                for (kind, v) in kinds {
                    let values = string_list(v)
                        .ok_or_else(|| err(format!("{key}.{kind} must be a string or a list")))?;
                    match kind.as_str() {
                        "AWS" => aws.extend(values),
                        "Service" => service.extend(values),
                        _ => other.extend(values),
                    }
                }
                if aws.iter().any(|a| a == "*") {
                    return Ok(Some(PrincipalSpec::Any));
                }
                Ok(Some(PrincipalSpec::Listed {
                    aws,
                    service,
                    other,
                }))
            }
            Some(_) => Err(err(format!("{key} must be \"*\" or an object"))),
        }
    };
    let conditions = match s.get("Condition") {
        None => vec![],
        Some(c) => condition::parse(c).map_err(|e| err(e.to_string()))?,
    };
    Ok(Statement {
        effect,
        principal: principal_spec("Principal")?,
        not_principal: principal_spec("NotPrincipal")?,
        action: strings("Action")?,
        not_action: strings("NotAction")?,
        resource: strings("Resource")?,
        not_resource: strings("NotResource")?,
        conditions,
        id,
    })
}

/// A string or a list of strings (numbers and booleans are taken as their text).
pub(super) fn string_list(v: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|s| vec![s]),
    }
}
