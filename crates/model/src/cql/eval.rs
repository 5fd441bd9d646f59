//! Evaluating a parsed expression against one [`Subject`]. Pure and allocation-light: all
//! patterns were compiled by the parser, and wildcards are matched without compiling.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::{Comparison, Expr, Field, Predicate, Subject, Value};
use crate::timestamp::from_epoch_seconds;

impl Expr {
    /// Whether `subject` satisfies the expression.
    pub fn matches(&self, subject: &dyn Subject) -> bool {
        match self {
            Expr::Compare(c) => c.matches(subject),
            Expr::Not(inner) => !inner.matches(subject),
            Expr::And(parts) => parts.iter().all(|p| p.matches(subject)),
            Expr::Or(parts) => parts.iter().any(|p| p.matches(subject)),
        }
    }
}

impl Comparison {
    /// Whether `subject` satisfies this comparison. The subject's values are none or one
    /// (attributes, built-ins) or many (`task:group`); a positive operator holds when some
    /// value satisfies it, its negation when none does.
    pub fn matches(&self, subject: &dyn Subject) -> bool {
        let values: Vec<String> = match &self.field {
            Field::Attribute(name) => subject.attribute(name).into_iter().collect(),
            Field::TaskGroup => subject.task_groups(),
            builtin => builtin
                .builtin_name()
                .and_then(|name| subject.builtin(name))
                .into_iter()
                .collect(),
        };
        let any = values
            .iter()
            .any(|v| self.predicate.positive_holds(&self.field, v));
        any != self.predicate.is_negative()
    }
}

impl Predicate {
    /// `!=`, `not in`, `!~` and `!exists`: true when the positive form holds for no value.
    pub fn is_negative(&self) -> bool {
        matches!(
            self,
            Predicate::NotEquals(_)
                | Predicate::NotExists
                | Predicate::NotIn(_)
                | Predicate::NotMatches(_)
        )
    }

    /// Whether `actual` satisfies the positive form of this predicate (`==` for `!=`, ...).
    fn positive_holds(&self, field: &Field, actual: &str) -> bool {
        let order = |arg: &Value| compare(field, actual, arg.text());
        match self {
            Predicate::Equals(v) | Predicate::NotEquals(v) => equals(field, actual, v),
            Predicate::In(vs) | Predicate::NotIn(vs) => vs.iter().any(|v| equals(field, actual, v)),
            Predicate::Exists | Predicate::NotExists => true,
            Predicate::Matches(p) | Predicate::NotMatches(p) => p.is_match(actual),
            Predicate::GreaterThan(v) => order(v) == Some(Ordering::Greater),
            Predicate::GreaterThanEqual(v) => {
                matches!(order(v), Some(Ordering::Greater | Ordering::Equal))
            }
            Predicate::LessThan(v) => order(v) == Some(Ordering::Less),
            Predicate::LessThanEqual(v) => {
                matches!(order(v), Some(Ordering::Less | Ordering::Equal))
            }
        }
    }
}

/// `==`: the same instant for `registeredAt`, a wildcard match for wildcard values, else
/// the same string.
fn equals(field: &Field, actual: &str, value: &Value) -> bool {
    if *field == Field::RegisteredAt {
        if let (Some(a), Some(b)) = (parse_date(actual), parse_date(value.text())) {
            return a == b;
        }
    }
    if value.is_wildcard() {
        crate::wildcard::matches(value.text(), actual)
    } else {
        actual == value.text()
    }
}

/// The order of `actual` relative to `arg`, or `None` when they cannot be compared (a
/// `registeredAt` that is not a date, a NaN).
fn compare(field: &Field, actual: &str, arg: &str) -> Option<Ordering> {
    match field {
        Field::RegisteredAt => Some(parse_date(actual)?.cmp(&parse_date(arg)?)),
        Field::AgentVersion => {
            compare_versions(actual, arg).or_else(|| compare_generic(actual, arg))
        }
        _ => compare_generic(actual, arg),
    }
}

/// Numbers numerically, then dotted versions part by part, then code points.
fn compare_generic(actual: &str, arg: &str) -> Option<Ordering> {
    let number = |s: &str| s.parse::<f64>().ok().filter(|n| n.is_finite());
    if let (Some(a), Some(b)) = (number(actual), number(arg)) {
        return a.partial_cmp(&b);
    }
    compare_versions(actual, arg).or(Some(actual.cmp(arg)))
}

/// Compares `1.14.5`-style versions part by part, missing parts counting as 0; `None`
/// unless both are dot-separated whole numbers.
fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    let parts = |s: &str| -> Option<Vec<u64>> {
        s.split('.')
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    None
                } else {
                    p.parse().ok()
                }
            })
            .collect()
    };
    let (a, b) = (parts(a)?, parts(b)?);
    let len = a.len().max(b.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    Some(
        (0..len)
            .map(|i| at(&a, i).cmp(&at(&b, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
    )
}

/// Reads a `registeredAt` value: RFC 3339 (`2018-06-18T22:28:28Z`, `...+00:00`), a date and
/// time without offset (taken as UTC), a date (midnight UTC) or epoch seconds.
pub(super) fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    s.parse::<f64>().ok().and_then(from_epoch_seconds)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(compare_versions("1.14.5", "1.9.0"), Some(Ordering::Greater));
        assert_eq!(compare_versions("1.2", "1.2.0"), Some(Ordering::Equal));
        assert_eq!(compare_versions("1.2a", "1.2"), None);
        assert_eq!(compare_versions("1..2", "1.2"), None);
    }

    #[test]
    fn dates() {
        let noon = parse_date("2016-02-10T12:00:00Z");
        assert!(noon.is_some());
        assert_eq!(parse_date("2016-02-10T12:00:00+00:00"), noon);
        assert_eq!(parse_date("2016-02-10T12:00:00"), noon);
        assert_eq!(parse_date("1455105600"), noon);
        assert_eq!(parse_date("2016-02-10"), parse_date("2016-02-10T00:00:00Z"));
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("NaN"), None);
    }
}
