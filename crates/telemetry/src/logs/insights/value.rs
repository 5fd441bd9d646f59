//! The values a query computes with: text, numbers, booleans and timestamps; how they
//! compare (as numbers when both read as numbers, else as text), and how they are written
//! in results (timestamps as Insights writes them, `2026-12-03 06:10:00.000`).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Text(String),
    Number(f64),
    Bool(bool),
    /// Milliseconds since the epoch.
    Time(i64),
}

impl Value {
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub(crate) fn number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Time(t) => Some(*t as f64),
            Value::Text(s) => s.trim().parse().ok(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Null => None,
        }
    }

    pub(crate) fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Null => false,
            Value::Number(n) => *n != 0.0,
            Value::Text(s) => !s.is_empty(),
            Value::Time(_) => true,
        }
    }

    /// The value as it appears in a result (and as text functions see it).
    pub(crate) fn render(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Text(s) => s.clone(),
            Value::Number(n) => number_text(*n),
            Value::Bool(b) => b.to_string(),
            Value::Time(t) => timestamp_text(*t),
        }
    }

    /// Comparison for filters and sorting: numerically when both sides read as numbers,
    /// else by text; `None` when either is missing.
    pub(crate) fn compare(&self, other: &Value) -> Option<Ordering> {
        if self.is_null() || other.is_null() {
            return None;
        }
        let numeric = |v: &Value| matches!(v, Value::Number(_) | Value::Time(_));
        if numeric(self) || numeric(other) {
            if let (Some(a), Some(b)) = (self.number(), other.number()) {
                return a.partial_cmp(&b);
            }
        }
        Some(self.render().cmp(&other.render()))
    }

    /// A total order for sorting: missing values last.
    pub(crate) fn sort_cmp(&self, other: &Value) -> Ordering {
        match (self.is_null(), other.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => self.compare(other).unwrap_or(Ordering::Equal),
        }
    }
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// `YYYY-MM-DD hh:mm:ss.mmm` in UTC.
pub(crate) fn timestamp_text(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}.{milli:03}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Count from 0000-03-01, in 400-year eras of 146,097 days, so leap days end a year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_insights_writes_them() {
        assert_eq!(timestamp_text(0), "1970-01-01 00:00:00.000");
        assert_eq!(timestamp_text(951_782_400_000), "2000-02-29 00:00:00.000");
        assert_eq!(timestamp_text(1_796_278_200_123), "2026-12-03 06:10:00.123");
        assert_eq!(timestamp_text(-1), "1969-12-31 23:59:59.999");
    }

    #[test]
    fn numbers_compare_as_numbers_and_text_as_text() {
        let n = |v: f64| Value::Number(v);
        let t = |s: &str| Value::Text(s.to_owned());
        assert_eq!(n(10.0).compare(&t("9")), Some(Ordering::Greater));
        assert_eq!(t("10").compare(&t("9")), Some(Ordering::Less));
        assert_eq!(n(1.0).compare(&Value::Null), None);
        assert_eq!(n(2.5).render(), "2.5");
        assert_eq!(n(3.0).render(), "3");
    }
}
