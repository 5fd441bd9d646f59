//! CloudWatch's rules for what requests name: namespaces, metric names, dimensions, units,
//! periods, query ids, alarm names, actions and tags, with the bounds of the API model.
//! Each rule answers with a [`RuleError`] whose kind picks the wire code
//! (`InvalidParameterValue`, `MissingParameter`, `InvalidParameterCombination`) and whose
//! message says what to fix.

use super::{Dimension, UNITS};

/// Why a request breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A member has a value out of its bounds or of the wrong form.
    #[error("{0}")]
    Value(String),
    /// A required member is absent.
    #[error("{0}")]
    Missing(String),
    /// Members that cannot go together (or one that needs another).
    #[error("{0}")]
    Combination(String),
}

pub type Result<T = ()> = std::result::Result<T, RuleError>;

pub fn value(message: impl Into<String>) -> RuleError {
    RuleError::Value(message.into())
}

pub fn missing(member: &str) -> RuleError {
    RuleError::Missing(format!("The parameter {member} is required."))
}

pub fn combination(message: impl Into<String>) -> RuleError {
    RuleError::Combination(message.into())
}

/// The largest magnitude a value may have (2^360), as CloudWatch.
pub const MAX_VALUE: f64 = 2.348_542_582_773_833_3e108;
/// Dimensions per metric.
pub const MAX_DIMENSIONS: usize = 30;
/// Actions per state.
pub const MAX_ACTIONS: usize = 5;
/// Tags per alarm.
pub const MAX_TAGS: usize = 50;

/// A string of `min..=max` characters.
pub fn length(member: &str, s: &str, min: usize, max: usize) -> Result {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(value(format!(
            "The parameter {member} must be between {min} and {max} characters long (it has {n})."
        )));
    }
    Ok(())
}

fn no_control(member: &str, s: &str) -> Result {
    if s.chars().any(char::is_control) {
        return Err(value(format!(
            "The parameter {member} must not contain control characters."
        )));
    }
    Ok(())
}

fn ascii(member: &str, s: &str) -> Result {
    if !s.is_ascii() || s.trim().is_empty() {
        return Err(value(format!(
            "The parameter {member} must contain only ASCII characters and at least one that is not whitespace."
        )));
    }
    Ok(())
}

/// A namespace: 1-255 ASCII characters, not starting with `:`.
pub fn namespace(s: &str) -> Result {
    length("Namespace", s, 1, 255)?;
    ascii("Namespace", s)?;
    no_control("Namespace", s)?;
    if s.starts_with(':') {
        return Err(value("The parameter Namespace must not start with ':'."));
    }
    Ok(())
}

/// A namespace a client may publish to: not one of AWS's (`AWS/...`).
pub fn own_namespace(s: &str) -> Result {
    namespace(s)?;
    if s.starts_with("AWS/") {
        return Err(value(
            "The value AWS/ for parameter Namespace is invalid: namespaces starting with AWS/ are reserved for AWS services.",
        ));
    }
    Ok(())
}

/// A metric name: 1-255 characters.
pub fn metric_name(s: &str) -> Result {
    length("MetricName", s, 1, 255)?;
    no_control("MetricName", s)
}

/// A dimension name: 1-255 ASCII characters, not starting with `:`.
pub fn dimension_name(s: &str) -> Result {
    length("Dimensions.member.Name", s, 1, 255)?;
    ascii("Dimensions.member.Name", s)?;
    no_control("Dimensions.member.Name", s)?;
    if s.starts_with(':') {
        return Err(value(
            "The parameter Dimensions.member.Name must not start with ':'.",
        ));
    }
    Ok(())
}

/// A dimension value: 1-1024 ASCII characters.
pub fn dimension_value(s: &str) -> Result {
    length("Dimensions.member.Value", s, 1, 1024)?;
    ascii("Dimensions.member.Value", s)?;
    no_control("Dimensions.member.Value", s)
}

/// A metric's dimensions: at most 30, each name once.
pub fn dimensions(dims: &[Dimension]) -> Result {
    if dims.len() > MAX_DIMENSIONS {
        return Err(value(format!(
            "The collection Dimensions must not have more than {MAX_DIMENSIONS} members (it has {}).",
            dims.len()
        )));
    }
    for (i, d) in dims.iter().enumerate() {
        dimension_name(&d.name)?;
        dimension_value(&d.value)?;
        if dims[..i].iter().any(|o| o.name == d.name) {
            return Err(value(format!(
                "The dimension {} is given more than once.",
                d.name
            )));
        }
    }
    Ok(())
}

/// A unit: one of CloudWatch's.
pub fn unit(s: &str) -> Result {
    if !UNITS.contains(&s) {
        return Err(value(format!(
            "The value {s} for parameter Unit is invalid: it must be one of {}.",
            UNITS.join(", ")
        )));
    }
    Ok(())
}

/// A value CloudWatch stores: finite and at most 2^360 in magnitude.
pub fn datum_value(member: &str, v: f64) -> Result {
    if !v.is_finite() || v.abs() > MAX_VALUE {
        return Err(value(format!(
            "The value {v} for parameter {member} is invalid: values must be finite and between -2^360 and 2^360."
        )));
    }
    Ok(())
}

/// A query period: 1, 5, 10, 20, 30 or a multiple of 60 seconds.
pub fn period(member: &str, p: i64) -> Result {
    if p < 1 || !(matches!(p, 1 | 5 | 10 | 20 | 30) || p % 60 == 0) || p > i64::from(u32::MAX) {
        return Err(value(format!(
            "The parameter {member} must be 1, 5, 10, 20, 30 or a multiple of 60 seconds (got {p})."
        )));
    }
    Ok(())
}

/// An alarm's period: 10, 20, 30 or a multiple of 60 seconds.
pub fn alarm_period(p: i64) -> Result {
    if !(matches!(p, 10 | 20 | 30) || (p >= 60 && p % 60 == 0)) || p > 86_400 * 7 {
        return Err(value(format!(
            "The parameter Period must be 10, 20, 30 or a multiple of 60 seconds, at most a week (got {p})."
        )));
    }
    Ok(())
}

/// A query id: starts with a lowercase letter, then letters, digits and underscores.
pub fn query_id(s: &str) -> Result {
    length("Id", s, 1, 255)?;
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(RuleError::Value(format!(
            "The value {s} for parameter MetricDataQueries.member.Id is invalid: an Id must start with a lowercase letter and contain only letters, numbers and underscores."
        )));
    }
    Ok(())
}

/// An alarm name: 1-255 characters without control characters.
pub fn alarm_name(s: &str) -> Result {
    length("AlarmName", s, 1, 255)?;
    no_control("AlarmName", s)
}

/// One state's actions: at most 5 ARNs of 1-1024 characters.
pub fn actions(member: &str, arns: &[String]) -> Result {
    if arns.len() > MAX_ACTIONS {
        return Err(value(format!(
            "The collection {member} must not have more than {MAX_ACTIONS} members."
        )));
    }
    for a in arns {
        length(member, a, 1, 1024)?;
        if a.split(':').count() < 6 || !a.starts_with("arn:") {
            return Err(value(format!("Invalid arn syntax: {a}")));
        }
    }
    Ok(())
}

/// Tags: at most 50, keys of 1-128 characters not starting with `aws:`, values of at most
/// 256.
pub fn tags(tags: &[(String, String)]) -> Result {
    if tags.len() > MAX_TAGS {
        return Err(value(format!(
            "A resource may have at most {MAX_TAGS} tags ({} given).",
            tags.len()
        )));
    }
    for (k, v) in tags {
        length("Tags.member.Key", k, 1, 128)?;
        length("Tags.member.Value", v, 0, 256)?;
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(value(format!(
                "The tag key {k} uses the reserved prefix aws:."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: &str, v: &str) -> Dimension {
        Dimension {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn names_dimensions_periods_and_ids_follow_cloudwatch() {
        assert!(own_namespace("App/Web").is_ok());
        assert!(matches!(own_namespace("AWS/EC2"), Err(RuleError::Value(_))));
        assert!(namespace(":x").is_err() && namespace("").is_err());
        assert!(dimensions(&[d("a", "1"), d("b", "2")]).is_ok());
        assert!(dimensions(&[d("a", "1"), d("a", "2")]).is_err());
        assert!(dimensions(&[d(" ", "1")]).is_err());
        let many: Vec<_> = (0..31).map(|i| d(&format!("d{i}"), "v")).collect();
        assert!(dimensions(&many).is_err());
        for ok in [1, 5, 10, 20, 30, 60, 120, 3600] {
            assert!(period("Period", ok).is_ok(), "{ok}");
        }
        for bad in [0, -60, 2, 45, 90] {
            assert!(period("Period", bad).is_err(), "{bad}");
        }
        assert!(alarm_period(10).is_ok() && alarm_period(1).is_err() && alarm_period(90).is_err());
        assert!(query_id("m1").is_ok() && query_id("M1").is_err() && query_id("m-1").is_err());
        assert!(unit("Count").is_ok() && unit("count").is_err());
        assert!(datum_value("Value", f64::NAN).is_err() && datum_value("Value", 1e109).is_err());
        assert!(actions("AlarmActions", &["arn:aws:sns:us-east-1:1:t".into()]).is_ok());
        assert!(actions("AlarmActions", &["nope".into()]).is_err());
        assert!(tags(&[("aws:x".into(), "".into())]).is_err());
    }
}
