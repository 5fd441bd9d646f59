//! A statement's `Condition` block: `{"Operator": {"key": value-or-values}}`, every
//! operator and key of the block must hold (AND), any of a key's values may match (OR).
//!
//! Operators: the `String*`, `Numeric*`, `Date*`, `Arn*` families, `Bool`, `BinaryEquals`,
//! `IpAddress`/`NotIpAddress` and `Null`; each but `Null` with an `IfExists` form, and the
//! set qualifiers `ForAnyValue:` and `ForAllValues:`. As in IAM, a key the request does not
//! carry makes a condition false, except for the negated operators (`StringNotEquals`,
//! `ArnNotLike`, ...), `...IfExists`, `Null` and `ForAllValues:`, for which it is true.
//! Condition keys are case-insensitive; policy variables (`${aws:username}`) are not
//! substituted.

use serde_json::{Map, Value};

use super::glob;
use super::policy::PolicyError;

/// The families of operators, by what they compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
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
    ArnEquals,
    ArnLike,
    Null,
}

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

/// One operator on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub family: Family,
    /// The `Not` form (`StringNotEquals`, `NotIpAddress`, ...).
    pub negated: bool,
    pub if_exists: bool,
    pub qualifier: Qualifier,
    /// Lower-cased.
    pub key: String,
    pub values: Vec<String>,
}

/// The operator named `name`: its family and whether it is negated.
fn operator(name: &str) -> Option<(Family, bool)> {
    use Family::*;
    Some(match name {
        "StringEquals" => (StringEquals, false),
        "StringNotEquals" => (StringEquals, true),
        "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
        "StringLike" => (StringLike, false),
        "StringNotLike" => (StringLike, true),
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
        "ArnEquals" => (ArnEquals, false),
        "ArnNotEquals" => (ArnEquals, true),
        "ArnLike" => (ArnLike, false),
        "ArnNotLike" => (ArnLike, true),
        "Null" => (Null, false),
        _ => return None,
    })
}

/// Read a `Condition` block.
pub(crate) fn parse_block(block: &Map<String, Value>) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (name, keys) in block {
        let invalid = || PolicyError(format!("Invalid Condition type : {name}"));
        let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Qualifier::ForAnyValue, r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Qualifier::ForAllValues, r)
        } else {
            (Qualifier::None, name.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) if b != "Null" => (b, true),
            _ => (rest, false),
        };
        let (family, negated) = operator(base).ok_or_else(invalid)?;
        let Value::Object(keys) = keys else {
            return Err(PolicyError("Syntax errors in policy.".into()));
        };
        for (key, values) in keys {
            if !key.contains(':') {
                return Err(PolicyError(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                        .into(),
                ));
            }
            let values = match values {
                Value::Array(items) if !items.is_empty() => {
                    items.iter().map(scalar).collect::<Option<Vec<_>>>()
                }
                one => scalar(one).map(|v| vec![v]),
            }
            .ok_or_else(|| PolicyError("Syntax errors in policy.".into()))?;
            out.push(Condition {
                family,
                negated,
                if_exists,
                qualifier,
                key: key.to_ascii_lowercase(),
                values,
            });
        }
    }
    Ok(out)
}

/// A condition value: a string, a number or a boolean, as its text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Condition {
    /// Whether the condition holds for a request carrying `request` for its key (`None`:
    /// the request does not carry the key).
    pub fn holds(&self, request: Option<&[String]>) -> bool {
        if self.family == Family::Null {
            // "true": the key must be absent; "false": present.
            let absent = request.is_none_or(|v| v.is_empty());
            return self
                .values
                .iter()
                .any(|v| v.eq_ignore_ascii_case(&absent.to_string()));
        }
        let values = match request {
            Some(v) if !v.is_empty() => v,
            _ => {
                return self.if_exists || self.negated || self.qualifier == Qualifier::ForAllValues;
            }
        };
        // Whether one request value matches one of the policy's values (positive form).
        let hit = |v: &String| self.values.iter().any(|p| compare(self.family, v, p));
        match self.qualifier {
            Qualifier::None | Qualifier::ForAnyValue => {
                if self.negated {
                    values.iter().any(|v| !hit(v))
                        && (self.qualifier == Qualifier::ForAnyValue || !values.iter().any(hit))
                } else {
                    values.iter().any(hit)
                }
            }
            Qualifier::ForAllValues => values.iter().all(|v| hit(v) != self.negated),
        }
    }
}

/// The positive comparison of a request value `v` with a policy value `p`.
fn compare(family: Family, v: &str, p: &str) -> bool {
    use Family::*;
    let num = |s: &str| s.trim().parse::<f64>().ok();
    let date = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp_millis())
            .ok()
            .or_else(|| s.trim().parse::<i64>().ok().map(|secs| secs * 1000))
    };
    let ordered = |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> bool| match (a, b) {
        (Some(a), Some(b)) => f(a, b),
        _ => false,
    };
    match family {
        StringEquals | BinaryEquals | ArnEquals => v == p,
        StringEqualsIgnoreCase => v.to_lowercase() == p.to_lowercase(),
        StringLike | ArnLike => glob(p, v, false),
        NumericEquals => ordered(num(v), num(p), |a, b| a == b),
        NumericLessThan => ordered(num(v), num(p), |a, b| a < b),
        NumericLessThanEquals => ordered(num(v), num(p), |a, b| a <= b),
        NumericGreaterThan => ordered(num(v), num(p), |a, b| a > b),
        NumericGreaterThanEquals => ordered(num(v), num(p), |a, b| a >= b),
        DateEquals => date(v).is_some() && date(v) == date(p),
        DateLessThan => matches!((date(v), date(p)), (Some(a), Some(b)) if a < b),
        DateLessThanEquals => matches!((date(v), date(p)), (Some(a), Some(b)) if a <= b),
        DateGreaterThan => matches!((date(v), date(p)), (Some(a), Some(b)) if a > b),
        DateGreaterThanEquals => matches!((date(v), date(p)), (Some(a), Some(b)) if a >= b),
        Bool => v.eq_ignore_ascii_case(p),
        IpAddress => in_cidr(v, p),
        Null => false,
    }
}

/// Whether address `v` is inside `p` (`10.0.0.0/8`, or one address).
fn in_cidr(v: &str, p: &str) -> bool {
    let Ok(addr) = v.parse::<std::net::IpAddr>() else {
        return false;
    };
    let (net, len) = p.split_once('/').unwrap_or((p, ""));
    let Ok(net) = net.parse::<std::net::IpAddr>() else {
        return false;
    };
    match (addr, net) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(n)) => {
            let len: u32 = if len.is_empty() {
                32
            } else {
                len.parse().unwrap_or(33)
            };
            if len > 32 {
                return false;
            }
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(n)) => {
            let len: u32 = if len.is_empty() {
                128
            } else {
                len.parse().unwrap_or(129)
            };
            if len > 128 {
                return false;
            }
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(block: Value) -> Condition {
        let Value::Object(m) = block else { panic!() };
        parse_block(&m).unwrap().remove(0)
    }

    fn vals(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn string_operators_and_missing_keys() {
        let c = one(json!({"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}));
        assert_eq!(c.key, "aws:requestedregion");
        assert!(c.holds(Some(&vals(&["eu-west-1"]))));
        assert!(!c.holds(Some(&vals(&["us-west-2"]))));
        assert!(!c.holds(None), "a missing key fails a positive operator");
        let not = one(json!({"StringNotEquals": {"ecs:cluster": "prod"}}));
        assert!(not.holds(Some(&vals(&["dev"]))));
        assert!(!not.holds(Some(&vals(&["prod"]))));
        assert!(not.holds(None), "and passes a negated one");
        let like = one(json!({"StringLike": {"aws:ResourceTag/team": "web-*"}}));
        assert!(like.holds(Some(&vals(&["web-a"]))));
        let if_exists = one(json!({"StringEqualsIfExists": {"ecs:cluster": "prod"}}));
        assert!(if_exists.holds(None));
        assert!(!if_exists.holds(Some(&vals(&["dev"]))));
    }

    #[test]
    fn numbers_dates_bools_addresses_arns_and_null() {
        let lt = one(json!({"NumericLessThan": {"sts:DurationSeconds": 3600}}));
        assert!(lt.holds(Some(&vals(&["900"]))));
        assert!(!lt.holds(Some(&vals(&["7200"]))));
        assert!(!lt.holds(Some(&vals(&["soon"]))));
        let before = one(json!({"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}));
        assert!(before.holds(Some(&vals(&["2026-12-04T05:00:00Z"]))));
        let b = one(json!({"Bool": {"aws:SecureTransport": true}}));
        assert!(b.holds(Some(&vals(&["true"]))));
        assert!(!b.holds(Some(&vals(&["false"]))));
        let ip = one(json!({"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.1"]}}));
        assert!(!ip.holds(Some(&vals(&["10.1.2.3"]))));
        assert!(ip.holds(Some(&vals(&["192.168.1.1"]))));
        let arn = one(json!({"ArnLike": {"aws:SourceArn": "arn:aws:ecs:*:*:cluster/prod-*"}}));
        assert!(arn.holds(Some(&vals(&[
            "arn:aws:ecs:us-east-1:000000000000:cluster/prod-1"
        ]))));
        let null = one(json!({"Null": {"aws:ResourceTag/team": "true"}}));
        assert!(null.holds(None));
        assert!(!null.holds(Some(&vals(&["web"]))));
    }

    #[test]
    fn set_qualifiers() {
        let all = one(json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}));
        assert!(all.holds(Some(&vals(&["team"]))));
        assert!(!all.holds(Some(&vals(&["team", "owner"]))));
        assert!(all.holds(None), "vacuously true");
        let any = one(json!({"ForAnyValue:StringEquals": {"aws:TagKeys": "owner"}}));
        assert!(any.holds(Some(&vals(&["team", "owner"]))));
        assert!(!any.holds(None));
    }

    #[test]
    fn unknown_operators_are_refused() {
        let Value::Object(m) = json!({"StringEqualz": {"a:b": "c"}}) else {
            panic!()
        };
        assert_eq!(
            parse_block(&m).unwrap_err().0,
            "Invalid Condition type : StringEqualz"
        );
        let Value::Object(m) = json!({"NullIfExists": {"a:b": "true"}}) else {
            panic!()
        };
        assert!(parse_block(&m).is_err());
        let Value::Object(m) = json!({"StringEquals": {"a:b": {"x": 1}}}) else {
            panic!()
        };
        assert!(parse_block(&m).is_err());
    }
}
