//! Condition operators: string, ARN, numeric, date, Bool, binary, IP address and Null, each
//! with `...IfExists` (except Null) and the `ForAnyValue:` / `ForAllValues:` set prefixes. Keys are compared
//! case-insensitively; values case-sensitively except for the IgnoreCase operators.

use super::{Context, MissReason, wildcard};
use serde_json::Value;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    ArnLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    Null,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetOp {
    AnyValue,
    AllValues,
}

/// One operator applied to one key, with the policy's values (ORed).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    operator: String,
    base: Base,
    negated: bool,
    set: Option<SetOp>,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("unknown condition operator {0}")]
    UnknownOperator(String),
    #[error("condition {operator}: {message}")]
    Malformed { operator: String, message: String },
    #[error(
        "condition {operator} {key} uses the policy variable {value}, which ferry does not evaluate"
    )]
    PolicyVariable {
        operator: String,
        key: String,
        value: String,
    },
}

fn base_of(name: &str) -> Option<(Base, bool)> {
    use Base::*;
    Some(match name {
        "StringEquals" => (StringEquals, false),
        "StringNotEquals" => (StringEquals, true),
        "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
        "StringLike" => (StringLike, false),
        "StringNotLike" => (StringLike, true),
        // ArnEquals and ArnLike behave alike: each ARN component may hold wildcards.
        "ArnEquals" | "ArnLike" => (ArnLike, false),
        "ArnNotEquals" | "ArnNotLike" => (ArnLike, true),
        "NumericEquals" => (NumericEquals, false),
        "NumericNotEquals" => (NumericEquals, true),
        "NumericLessThan" => (NumericLessThan, false),
        "NumericLessThanEquals" => (NumericLessThanEquals, false),
        "NumericGreaterThan" => (NumericGreaterThan, false),
        "NumericGreaterThanEquals" => (NumericGreaterThanEquals, false),
        "DateEquals" => (DateEquals, false),
        "DateNotEquals" => (DateEquals, true),
        "DateLessThan" => (DateLessThan, false),
        "DateLessThanEquals" => (DateLessThanEquals, false),
        "DateGreaterThan" => (DateGreaterThan, false),
        "DateGreaterThanEquals" => (DateGreaterThanEquals, false),
        "Bool" => (Bool, false),
        "BinaryEquals" => (BinaryEquals, false),
        "IpAddress" => (IpAddress, false),
        "NotIpAddress" => (IpAddress, true),
        "Null" => (Null, false),
        _ => return None,
    })
}

/// Parses a statement's `Condition` block.
pub fn parse(block: &Value) -> Result<Vec<Condition>, ConditionError> {
    let Value::Object(ops) = block else {
        return Err(ConditionError::Malformed {
            operator: "Condition".into(),
            message: "must be an object of operators".into(),
        });
    };
    let mut out = Vec::new();
    for (operator, keys) in ops {
        let (set, rest) = if let Some(r) = operator.strip_prefix("ForAnyValue:") {
            (Some(SetOp::AnyValue), r)
        } else if let Some(r) = operator.strip_prefix("ForAllValues:") {
            (Some(SetOp::AllValues), r)
        } else {
            (None, operator.as_str())
        };
        let (if_exists, name) = match rest.strip_suffix("IfExists") {
            Some(n) if n != "Null" => (true, n),
            _ => (false, rest),
        };
        let (base, negated) =
            base_of(name).ok_or_else(|| ConditionError::UnknownOperator(operator.clone()))?;
        let Value::Object(keys) = keys else {
            return Err(ConditionError::Malformed {
                operator: operator.clone(),
                message: "must map condition keys to values".into(),
            });
        };
        for (key, v) in keys {
            let values = super::string_list(v).ok_or_else(|| ConditionError::Malformed {
                operator: operator.clone(),
                message: format!("{key} must be a string or a list of strings"),
            })?;
            if let Some(var) = values.iter().find(|v| v.contains("${")) {
                return Err(ConditionError::PolicyVariable {
                    operator: operator.clone(),
                    key: key.clone(),
                    value: var.clone(),
                });
            }
            if base == Base::IpAddress
                && let Some(bad) = values.iter().find(|v| parse_cidr(v).is_none())
            {
                return Err(ConditionError::Malformed {
                    operator: operator.clone(),
                    message: format!(
                        "{key}: {bad} is not an IP address or a CIDR range such as 203.0.113.0/24 \
                         or 2001:db8::/32"
                    ),
                });
            }
            out.push(Condition {
                operator: operator.clone(),
                base,
                negated,
                set,
                if_exists,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

impl Condition {
    pub fn key_lowercase(&self) -> String {
        self.key.to_ascii_lowercase()
    }

    /// Whether this condition can only hold for requests that carry the key with one of the
    /// policy's values: a positive operator, not `...IfExists`, not `ForAllValues:` (each of
    /// those is true of a request without the key) and not Null, with values other than `*`.
    pub fn restricts(&self) -> bool {
        !self.negated
            && !self.if_exists
            && self.set != Some(SetOp::AllValues)
            && self.base != Base::Null
            && !self.values.iter().all(|v| v == "*")
    }

    /// Whether the request satisfies this condition, or why not.
    pub fn check(&self, ctx: &Context) -> Result<(), MissReason> {
        let actual = ctx.get(&self.key);
        if self.base == Base::Null {
            // Null: "true" asks for the key to be absent, "false" for it to be present.
            let absent = actual.is_none_or(|v| v.is_empty());
            let wants_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return if absent == wants_absent {
                Ok(())
            } else {
                Err(self.value_miss(actual))
            };
        }
        let present = actual.filter(|v| !v.is_empty());
        let ok = match (self.set, present) {
            // ForAllValues holds for an empty set; IfExists for an absent key; and so does a
            // negated operator without a set prefix ("the key does not equal X" is true of a
            // request without the key, which is why a Deny with StringNotEquals
            // aws:PrincipalOrgID also denies service principals, which carry no such key).
            // ForAnyValue stays false on an absent key, negated or not.
            (Some(SetOp::AllValues), None) => true,
            (None, None) if self.negated => true,
            (None | Some(SetOp::AnyValue), None) => {
                if self.if_exists {
                    true
                } else {
                    return Err(MissReason::ConditionKeyMissing {
                        operator: self.operator.clone(),
                        key: self.key.clone(),
                    });
                }
            }
            (None | Some(SetOp::AnyValue), Some(values)) => {
                values.iter().any(|v| self.value_matches(v))
            }
            (Some(SetOp::AllValues), Some(values)) => values.iter().all(|v| self.value_matches(v)),
        };
        if ok {
            Ok(())
        } else {
            Err(self.value_miss(actual))
        }
    }

    fn value_miss(&self, actual: Option<&[String]>) -> MissReason {
        MissReason::ConditionValue {
            operator: self.operator.clone(),
            key: self.key.clone(),
            expected: self.values.clone(),
            actual: actual.map(|a| a.to_vec()).unwrap_or_default(),
        }
    }

    /// One request value against the policy values: for a positive operator, matching any of
    /// them; for a negated one, matching none.
    fn value_matches(&self, actual: &str) -> bool {
        let any = self.values.iter().any(|p| self.base_matches(p, actual));
        any != self.negated
    }

    fn base_matches(&self, policy: &str, actual: &str) -> bool {
        use Base::*;
        match self.base {
            StringEquals => policy == actual,
            StringEqualsIgnoreCase => policy.eq_ignore_ascii_case(actual),
            StringLike => wildcard(policy, actual, false),
            ArnLike => arn_like(policy, actual),
            NumericEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => match (policy.parse::<f64>(), actual.parse::<f64>()) {
                (Ok(p), Ok(a)) => compare(self.base, a.partial_cmp(&p)),
                _ => false,
            },
            DateEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => match (epoch_seconds(policy), epoch_seconds(actual)) {
                (Some(p), Some(a)) => compare(self.base, Some(a.cmp(&p))),
                _ => false,
            },
            Bool => policy.eq_ignore_ascii_case(actual),
            // Base64 text, compared as written.
            BinaryEquals => policy == actual,
            IpAddress => match (parse_cidr(policy), actual.parse::<IpAddr>()) {
                (Some((net, prefix)), Ok(ip)) => in_cidr(net, prefix, ip.to_canonical()),
                _ => false,
            },
            Null => false,
        }
    }
}

/// The request value compared with the policy value: `ordering` is actual vs policy.
fn compare(base: Base, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    let Some(o) = ordering else { return false };
    match base {
        Base::NumericEquals | Base::DateEquals => o == Equal,
        Base::NumericLessThan | Base::DateLessThan => o == Less,
        Base::NumericLessThanEquals | Base::DateLessThanEquals => o != Greater,
        Base::NumericGreaterThan | Base::DateGreaterThan => o == Greater,
        Base::NumericGreaterThanEquals | Base::DateGreaterThanEquals => o != Less,
        _ => false,
    }
}

/// ARN matching: the six colon-separated parts compared one by one, each with wildcards.
fn arn_like(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| wildcard(p, a, false))
}

/// An address or a CIDR range: the network and its prefix length (a lone address is /32 or /128).
fn parse_cidr(s: &str) -> Option<(IpAddr, u32)> {
    let (addr, prefix) = match s.trim().split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s.trim(), None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.parse::<u32>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some((ip, prefix))
}

/// Whether `ip` lies in `net/prefix`; an IPv4 address is never in an IPv6 range nor the reverse.
fn in_cidr(net: IpAddr, prefix: u32, ip: IpAddr) -> bool {
    fn masked(bits: u128, width: u32, prefix: u32) -> u128 {
        if prefix == 0 {
            0
        } else {
            bits >> (width - prefix)
        }
    }
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            masked(u32::from(n).into(), 32, prefix) == masked(u32::from(a).into(), 32, prefix)
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            masked(u128::from(n), 128, prefix) == masked(u128::from(a), 128, prefix)
        }
        _ => false,
    }
}

/// Seconds since the epoch of `YYYY-MM-DD`, `YYYY-MM-DDThh:mm:ss[.fff]` followed by `Z` or an
/// offset such as `+02:00`, or an integer.
fn epoch_seconds(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let secs = match time {
        None => 0,
        Some(t) => {
            // The zone: `Z`, or an offset from UTC (`+02:00`, `-0530`, `+02`).
            let (t, offset) = if let Some(t) = t.strip_suffix(['Z', 'z']) {
                (t, 0)
            } else {
                let at = t.find(['+', '-'])?;
                let (t, zone) = t.split_at(at);
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                let zone = &zone[1..];
                let (zh, zm) = match zone.split_once(':') {
                    Some((h, m)) => (h, m),
                    None if zone.len() == 4 => zone.split_at(2),
                    None if zone.len() == 2 => (zone, "00"),
                    None => return None,
                };
                let (zh, zm): (i64, i64) = (zh.parse().ok()?, zm.parse().ok()?);
                if zh > 23 || zm > 59 {
                    return None;
                }
                (t, sign * (zh * 3600 + zm * 60))
            };
            let t = t.split('.').next()?;
            let mut parts = t.split(':');
            let (h, mi, se): (i64, i64, i64) = (
                parts.next()?.parse().ok()?,
                parts.next()?.parse().ok()?,
                parts.next().unwrap_or("0").parse().ok()?,
            );
            if h > 23 || mi > 59 || se > 60 {
                return None;
            }
            // Local time minus its offset is UTC.
            h * 3600 + mi * 60 + se - offset
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_both_forms_compare() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2020-01-01"), Some(1_577_836_800));
        assert_eq!(epoch_seconds("2020-01-01T00:00:01Z"), Some(1_577_836_801));
        assert_eq!(epoch_seconds("1577836800"), Some(1_577_836_800));
        assert_eq!(epoch_seconds("yesterday"), None);
    }

    #[test]
    fn dates_with_an_offset_from_utc() {
        // Midnight in UTC+2 is 22:00 the day before in UTC.
        assert_eq!(
            epoch_seconds("2026-01-01T00:00:00+02:00"),
            epoch_seconds("2025-12-31T22:00:00Z")
        );
        assert_eq!(
            epoch_seconds("2026-01-01T00:00:00.500-05:30"),
            epoch_seconds("2026-01-01T05:30:00Z")
        );
        assert_eq!(
            epoch_seconds("2026-01-01T00:00:00+0200"),
            epoch_seconds("2025-12-31T22:00:00Z")
        );
        assert_eq!(
            epoch_seconds("2026-01-01T00:00:00+00:00"),
            epoch_seconds("2026-01-01T00:00:00Z")
        );
        assert!(epoch_seconds("2026-01-01T00:00:00+02:00").is_some());
        assert_eq!(epoch_seconds("2026-01-01T00:00:00+25:00"), None);
        assert_eq!(epoch_seconds("2026-01-01T00:00:00+2"), None);
        assert_eq!(epoch_seconds("2026-01-01T00:00:00"), None);
    }

    #[test]
    fn cidr_ranges() {
        let within = |cidr: &str, ip: &str| {
            let (net, prefix) = parse_cidr(cidr).unwrap();
            in_cidr(net, prefix, ip.parse::<IpAddr>().unwrap().to_canonical())
        };
        assert!(within("0.0.0.0/0", "198.51.100.1"));
        assert!(!within("0.0.0.0/0", "::1"));
        assert!(within("::/0", "2001:db8::1"));
        assert!(within("10.1.2.3/8", "10.200.0.1"), "host bits are ignored");
        assert!(within("10.0.0.1/32", "10.0.0.1"));
        assert!(!within("10.0.0.1/32", "10.0.0.2"));
        assert!(within("2001:db8::1", "2001:db8::1"));
        assert!(!within("2001:db8::1", "2001:db8::2"));
        assert!(within("192.0.2.0/24", "::ffff:192.0.2.1"), "IPv4-mapped");
        assert!(parse_cidr("192.0.2.0/33").is_none());
        assert!(parse_cidr("2001:db8::/129").is_none());
        assert!(parse_cidr("192.0.2.0/x").is_none());
        assert!(parse_cidr("example.com").is_none());
    }

    #[test]
    fn arns_match_part_by_part() {
        assert!(arn_like(
            "arn:aws:lambda:*:592444418872:function:*",
            "arn:aws:lambda:eu-central-1:592444418872:function:f"
        ));
        assert!(!arn_like(
            "arn:aws:lambda:*:592444418872:function:*",
            "arn:aws:lambda:eu-central-1:111111111111:function:f"
        ));
    }
}
