//! Scheduled actions as stored, and their schedules: `at(yyyy-mm-ddThh:mm:ss)`,
//! `rate(N minute|minutes|hour|hours|day|days)` and `cron(Minutes Hours Day-of-month
//! Month Day-of-week Year)` as Application Auto Scaling writes them (`*`, `?`, lists,
//! ranges, steps, month and day names; `L`, `W` and `#` are refused).
//!
//! Times are UTC: a `Timezone` other than UTC is refused (Flotilla carries no time zone
//! database; a documented deviation). [`Schedule::fires_between`] is what the controller
//! asks: did an occurrence fall in `(from, to]`?
//!
//! Key: `/autoscaling/scheduled/{region}/{resource id}/{name}`.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::{invalid, Result};
use crate::record::Record;

/// The time zone names that mean UTC.
pub const UTC_NAMES: &[&str] = &["UTC", "Etc/UTC", "GMT", "Etc/GMT", "UCT", "Etc/UCT", "Zulu"];
/// At most this many minutes are searched for a cron occurrence (two days): a controller
/// that was away longer runs an action once for the last two days.
const CRON_SEARCH_MINUTES: i64 = 2 * 1440;

/// A scheduled action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledActionRecord {
    pub name: String,
    pub uuid: String,
    pub arn: String,
    pub resource_id: String,
    pub schedule: String,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default, with = "crate::timestamp::option")]
    pub start: Option<DateTime<Utc>>,
    #[serde(default, with = "crate::timestamp::option")]
    pub end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub min_capacity: Option<i64>,
    #[serde(default)]
    pub max_capacity: Option<i64>,
    #[serde(with = "crate::timestamp")]
    pub created: DateTime<Utc>,
    /// When it last ran.
    #[serde(default, with = "crate::timestamp::option")]
    pub last_run: Option<DateTime<Utc>>,
}

impl Record for ScheduledActionRecord {
    const KIND: &'static str = "autoscaling-scheduled-action";
    const VERSION: u32 = 1;
}

/// Check a Timezone.
pub fn check_timezone(tz: &str) -> Result<()> {
    if UTC_NAMES.contains(&tz) {
        Ok(())
    } else {
        invalid(format!(
            "Unsupported Timezone {tz}: Flotilla runs scheduled actions in UTC only; give \
             UTC or leave Timezone out."
        ))
    }
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    At(DateTime<Utc>),
    /// Every this many seconds from the action's start.
    Rate(i64),
    Cron(Box<Cron>),
}

/// A cron expression's six fields, each the set of values it allows (`None`: any).
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days: Option<Vec<u32>>,
    months: Vec<u32>,
    /// 1 = Sunday, as AWS numbers them.
    weekdays: Option<Vec<u32>>,
    years: Vec<u32>,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    /// Read a Schedule; the error says which form was expected.
    pub fn parse(s: &str) -> Result<Schedule> {
        let body = |prefix: &str| {
            s.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(')'))
                .map(str::trim)
        };
        if let Some(b) = body("at(") {
            let t = NaiveDateTime::parse_from_str(b, "%Y-%m-%dT%H:%M:%S").map_err(|_| {
                super::Invalid(format!(
                    "Schedule {s} is not valid: at() takes yyyy-mm-ddThh:mm:ss."
                ))
            })?;
            return Ok(Schedule::At(t.and_utc()));
        }
        if let Some(b) = body("rate(") {
            return parse_rate(s, b);
        }
        if let Some(b) = body("cron(") {
            return Ok(Schedule::Cron(Box::new(Cron::parse(s, b)?)));
        }
        invalid(format!(
            "Schedule {s} is not valid: use at(yyyy-mm-ddThh:mm:ss), rate(value unit) or \
             cron(fields)."
        ))
    }

    /// Whether an occurrence falls in `(from, to]`; `anchor` is when a rate starts
    /// counting (the action's StartTime, or its creation).
    pub fn fires_between(
        &self,
        anchor: DateTime<Utc>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> bool {
        match self {
            Schedule::At(t) => from < *t && *t <= to,
            Schedule::Rate(secs) => {
                let n = |t: DateTime<Utc>| (t - anchor).num_seconds().div_euclid(*secs);
                to > anchor && n(to) > n(from.max(anchor))
            }
            Schedule::Cron(c) => {
                let first = to - Duration::minutes(CRON_SEARCH_MINUTES);
                let mut t = from.max(first).with_second(0).unwrap_or(from) + Duration::minutes(1);
                while t <= to {
                    if c.matches(t) {
                        return true;
                    }
                    t += Duration::minutes(1);
                }
                false
            }
        }
    }
}

fn parse_rate(s: &str, body: &str) -> Result<Schedule> {
    let bad = || {
        invalid(format!(
            "Schedule {s} is not valid: rate() takes a positive whole number and minute(s), \
             hour(s) or day(s)."
        ))
    };
    let Some((n, unit)) = body.split_once(' ') else {
        return bad();
    };
    let Ok(n) = n.parse::<i64>() else {
        return bad();
    };
    let unit_secs = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => return bad(),
    };
    if !(1..=1_000_000).contains(&n) {
        return bad();
    }
    Ok(Schedule::Rate(n * unit_secs))
}

impl Cron {
    fn parse(s: &str, body: &str) -> Result<Cron> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        if fields.len() != 6 {
            return invalid(format!(
                "Schedule {s} is not valid: cron() takes six fields (Minutes Hours \
                 Day-of-month Month Day-of-week Year); got {}.",
                fields.len()
            ));
        }
        let any = |f: &str| f == "?";
        if any(fields[2]) == any(fields[4]) {
            return invalid(format!(
                "Schedule {s} is not valid: one of Day-of-month and Day-of-week must be ?."
            ));
        }
        let field = |i: usize, lo: u32, hi: u32, names: &[&str], base: u32| {
            parse_field(s, fields[i], lo, hi, names, base)
        };
        Ok(Cron {
            minutes: field(0, 0, 59, &[], 0)?,
            hours: field(1, 0, 23, &[], 0)?,
            days: (!any(fields[2]))
                .then(|| field(2, 1, 31, &[], 0))
                .transpose()?,
            months: field(3, 1, 12, &MONTHS, 1)?,
            weekdays: (!any(fields[4]))
                .then(|| field(4, 1, 7, &WEEKDAYS, 1))
                .transpose()?,
            years: field(5, 1970, 2199, &[], 0)?,
        })
    }

    fn matches(&self, t: DateTime<Utc>) -> bool {
        let weekday = t.weekday().num_days_from_sunday() + 1;
        self.minutes.contains(&t.minute())
            && self.hours.contains(&t.hour())
            && self.days.as_ref().is_none_or(|d| d.contains(&t.day()))
            && self.months.contains(&t.month())
            && self.weekdays.as_ref().is_none_or(|w| w.contains(&weekday))
            && self.years.contains(&(t.year() as u32))
    }
}

/// One cron field: `*`, or a comma list of `V`, `A-B`, `*/S`, `A/S`, `A-B/S` (names are
/// numbered from `base`).
fn parse_field(s: &str, f: &str, lo: u32, hi: u32, names: &[&str], base: u32) -> Result<Vec<u32>> {
    let bad = |why: &str| {
        invalid(format!(
            "Schedule {s} is not valid: field {f:?} {why} (allowed: {lo}-{hi}, *, lists, \
             ranges and steps)."
        ))
    };
    let value = |v: &str| -> Option<u32> {
        let upper = v.to_ascii_uppercase();
        names
            .iter()
            .position(|n| *n == upper)
            .map(|i| i as u32 + base)
            .or_else(|| v.parse().ok())
            .filter(|n| (lo..=hi).contains(n))
    };
    let mut out = Vec::new();
    for item in f.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, st)) => match st.parse::<u32>() {
                Ok(n) if n > 0 => (r, n),
                _ => return bad("has a bad step"),
            },
            None => (item, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            match (value(a), value(b)) {
                (Some(a), Some(b)) if a <= b => (a, b),
                _ => return bad("has a bad range"),
            }
        } else {
            match value(range) {
                Some(v) if item.contains('/') => (v, hi),
                Some(v) => (v, v),
                None => return bad("has a value out of range"),
            }
        };
        out.extend((a..=b).step_by(step as usize));
    }
    Ok(out)
}
