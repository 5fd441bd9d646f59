//! CloudWatch Logs' log groups as stored, and the Logs rules that need no storage: names of
//! groups and streams, retention periods, tags, group ARNs, what a `PutLogEvents` batch
//! may hold and which of its events are too old or too new, and the stream ECS names for
//! a container that logs with `awslogs`.
//!
//! A group's events and streams are not here: they live outside the revisioned store, in
//! `flotilla-telemetry`'s log storage. A group record holds what the control plane decides
//! about the group (creation, retention, class, tags).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::Scope;

/// `PutLogEvents`: at most this many bytes of messages, counting [`EVENT_OVERHEAD`] per
/// event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Bytes counted per event on top of its message.
pub const EVENT_OVERHEAD: usize = 26;
/// `PutLogEvents`: at most this many events.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// One event's message may be at most this many bytes (with [`EVENT_OVERHEAD`]).
pub const MAX_EVENT_BYTES: usize = 1_048_576;
/// A batch's events may span at most this long (milliseconds).
pub const MAX_BATCH_SPAN_MS: i64 = 24 * 3_600_000;
/// Events older than this (milliseconds before now) are rejected as too old.
pub const MAX_AGE_MS: i64 = 14 * 24 * 3_600_000;
/// Events further in the future than this (milliseconds after now) are rejected as too
/// new.
pub const MAX_AHEAD_MS: i64 = 2 * 3_600_000;
/// At most this many tags per log group.
pub const MAX_TAGS: usize = 50;
/// The retention periods `PutRetentionPolicy` accepts, in days.
pub const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// The log group classes, by their wire names; the first is the default.
pub const GROUP_CLASSES: [&str; 4] = ["STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS"];

/// A log group, stored at `keys::log_group(region, name)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroupRecord {
    pub name: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    pub log_group_class: String,
    #[serde(default)]
    pub deletion_protection: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl Record for LogGroupRecord {
    const KIND: &'static str = "logs-group";
    const VERSION: u32 = 1;
}

impl LogGroupRecord {
    /// The oldest timestamp (milliseconds) the group keeps at `now_ms`, if it has a
    /// retention period.
    pub fn retained_from(&self, now_ms: i64) -> Option<i64> {
        self.retention_in_days
            .map(|days| now_ms - i64::from(days) * 86_400_000)
    }
}

/// The group's ARN, as `logGroupArn` shows it.
pub fn group_arn(scope: &Scope, name: &str) -> String {
    format!(
        "arn:aws:logs:{}:{}:log-group:{name}",
        scope.region, scope.account
    )
}

/// The name a log group ARN of `scope` names (with or without the `:*` DescribeLogGroups
/// shows in `arn`).
pub fn group_name_from_arn<'a>(scope: &Scope, arn: &'a str) -> Result<&'a str, String> {
    let prefix = format!("arn:aws:logs:{}:{}:log-group:", scope.region, scope.account);
    let name = arn.strip_prefix(&prefix).ok_or_else(|| {
        format!(
            "{arn} is not a log group ARN of this account and region (expected \
                 {prefix}NAME)."
        )
    })?;
    let name = name.strip_suffix(":*").unwrap_or(name);
    validate_group_name(name)?;
    Ok(name)
}

fn check_name(what: &str, value: &str, allowed: impl Fn(char) -> bool) -> Result<(), String> {
    if value.is_empty() || value.len() > 512 {
        return Err(format!(
            "{what} must be 1 to 512 characters long; '{value}' has {}.",
            value.len()
        ));
    }
    if let Some(c) = value.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "{what} '{value}' holds '{c}', which is not allowed."
        ));
    }
    Ok(())
}

/// Log group names: 1 to 512 of letters, digits, `.`, `-`, `_`, `/` and `#`.
pub fn validate_group_name(name: &str) -> Result<(), String> {
    check_name("A log group name", name, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#')
    })
}

/// Log stream names: 1 to 512 characters other than `:` and `*`.
pub fn validate_stream_name(name: &str) -> Result<(), String> {
    check_name("A log stream name", name, |c| c != ':' && c != '*')
}

/// A retention period must be one of [`RETENTION_DAYS`].
pub fn validate_retention(days: i32) -> Result<(), String> {
    if RETENTION_DAYS.contains(&days) {
        Ok(())
    } else {
        Err(format!(
            "{days} is not a valid retention period; use one of {}.",
            RETENTION_DAYS.map(|d| d.to_string()).join(", ")
        ))
    }
}

fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// Tag keys: 1 to 128 of letters, digits, spaces and `_.:/=+-@`, not starting with
/// `aws:`; values: up to 256 of the same.
pub fn validate_tag(key: &str, value: &str) -> Result<(), String> {
    if key.is_empty() || key.chars().count() > 128 || !key.chars().all(tag_char) {
        return Err(format!(
            "Tag key '{key}' must be 1 to 128 letters, digits, spaces or _.:/=+-@."
        ));
    }
    if key.starts_with("aws:") {
        return Err(format!("Tag key '{key}' uses the reserved prefix aws:."));
    }
    if value.chars().count() > 256 || !value.chars().all(tag_char) {
        return Err(format!(
            "The value of tag '{key}' must be up to 256 letters, digits, spaces or _.:/=+-@."
        ));
    }
    Ok(())
}

/// Why a `PutLogEvents` batch is refused as a whole.
pub fn validate_batch(events: &[(i64, &str)]) -> Result<(), String> {
    if events.is_empty() {
        return Err("logEvents must hold at least one event.".into());
    }
    if events.len() > MAX_BATCH_EVENTS {
        return Err(format!(
            "logEvents holds {} events; a batch may hold at most {MAX_BATCH_EVENTS}.",
            events.len()
        ));
    }
    let mut bytes = 0usize;
    for (i, (_, message)) in events.iter().enumerate() {
        if message.is_empty() {
            return Err(format!("logEvents[{i}].message is empty."));
        }
        let size = message.len() + EVENT_OVERHEAD;
        if size > MAX_EVENT_BYTES {
            return Err(format!(
                "logEvents[{i}] is {size} bytes with its overhead; an event may be at most \
                 {MAX_EVENT_BYTES}."
            ));
        }
        bytes += size;
    }
    if bytes > MAX_BATCH_BYTES {
        return Err(format!(
            "The batch is {bytes} bytes (messages plus {EVENT_OVERHEAD} bytes per event); at \
             most {MAX_BATCH_BYTES} are allowed."
        ));
    }
    if events.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(
            "Log events in a single PutLogEvents request must be in chronological order.".into(),
        );
    }
    Ok(())
}

/// Which events of a chronological batch are stored: `kept` is the index range; the
/// others are reported in `rejectedLogEventsInfo` (the indexes AWS names: the end of the
/// too-old and expired prefix, the start of the too-new suffix).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rejected {
    pub too_old_end: Option<usize>,
    pub expired_end: Option<usize>,
    pub too_new_start: Option<usize>,
}

/// Sort out a chronological batch at `now_ms`: events older than [`MAX_AGE_MS`] are too
/// old, events older than the group's retention (`retained_from`) expired, events more
/// than [`MAX_AHEAD_MS`] ahead too new. Returns the range of events to store (after the
/// span check of what is left) and what was rejected.
pub fn sort_batch(
    timestamps: &[i64],
    now_ms: i64,
    retained_from: Option<i64>,
) -> Result<(std::ops::Range<usize>, Rejected), String> {
    let too_old = timestamps.partition_point(|&t| t < now_ms - MAX_AGE_MS);
    let expired = retained_from
        .map(|from| timestamps.partition_point(|&t| t < from))
        .unwrap_or(0);
    let start = too_old.max(expired);
    let end = timestamps.partition_point(|&t| t <= now_ms + MAX_AHEAD_MS);
    let mut rejected = Rejected::default();
    if too_old > 0 {
        rejected.too_old_end = Some(too_old);
    }
    if expired > 0 {
        rejected.expired_end = Some(expired);
    }
    if end < timestamps.len() {
        rejected.too_new_start = Some(end);
    }
    let end = end.max(start);
    if end > start && timestamps[end - 1] - timestamps[start] > MAX_BATCH_SPAN_MS {
        return Err(
            "The batch of log events in a single PutLogEvents request cannot span more than \
             24 hours."
                .into(),
        );
    }
    Ok((start..end, rejected))
}

/// The stream a container that logs with `awslogs` writes to: with a prefix,
/// `PREFIX/CONTAINER/TASK_ID` (as ECS names it); without one, the container's runtime id,
/// as Docker's awslogs driver names it (ECS leaves the name to the driver then).
pub fn awslogs_stream_name(
    prefix: Option<&str>,
    container: &str,
    task_id: &str,
    runtime_id: &str,
) -> String {
    match prefix.filter(|p| !p.is_empty()) {
        Some(p) => format!("{p}/{container}/{task_id}"),
        None => runtime_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::new("us-east-1".to_string(), "000000000000".to_string())
    }

    #[test]
    fn names() {
        assert!(validate_group_name("/ecs/web-app_1.#").is_ok());
        assert!(validate_group_name("").is_err());
        assert!(validate_group_name("a b").is_err());
        assert!(validate_group_name(&"a".repeat(513)).is_err());
        assert!(validate_stream_name("ecs/web/0123").is_ok());
        assert!(validate_stream_name("a:b").is_err());
        assert!(validate_stream_name("a*").is_err());
    }

    #[test]
    fn arns_round_trip() {
        let arn = group_arn(&scope(), "/ecs/web");
        assert_eq!(
            arn,
            "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web"
        );
        assert_eq!(group_name_from_arn(&scope(), &arn), Ok("/ecs/web"));
        assert_eq!(
            group_name_from_arn(&scope(), &format!("{arn}:*")),
            Ok("/ecs/web")
        );
        assert!(
            group_name_from_arn(&scope(), "arn:aws:logs:eu-west-1:000000000000:log-group:x")
                .is_err()
        );
    }

    #[test]
    fn retention_and_tags() {
        assert!(validate_retention(14).is_ok());
        assert!(validate_retention(2).is_err());
        assert!(validate_tag("team", "web").is_ok());
        assert!(validate_tag("aws:x", "y").is_err());
        assert!(validate_tag("", "y").is_err());
        assert!(validate_tag("k", "a\u{0}").is_err());
    }

    #[test]
    fn batches() {
        assert!(validate_batch(&[(1, "a"), (2, "b")]).is_ok());
        assert!(validate_batch(&[]).is_err());
        assert!(validate_batch(&[(2, "a"), (1, "b")]).is_err());
        assert!(validate_batch(&[(1, "")]).is_err());
        let big = "x".repeat(600_000);
        assert!(validate_batch(&[(1, &big), (2, &big)]).is_err());
    }

    #[test]
    fn too_old_expired_and_too_new_are_set_apart() {
        let now = 100 * 86_400_000;
        let day = 86_400_000;
        let ts = [
            now - 15 * day,
            now - 3 * day,
            now - 1000,
            now,
            now + 3 * 3_600_000,
        ];
        let (kept, rejected) = sort_batch(&ts, now, Some(now - 2 * day)).unwrap();
        assert_eq!(kept, 2..4);
        assert_eq!(
            rejected,
            Rejected {
                too_old_end: Some(1),
                expired_end: Some(2),
                too_new_start: Some(4)
            }
        );
        let (kept, rejected) = sort_batch(&[now], now, None).unwrap();
        assert_eq!((kept, rejected), (0..1, Rejected::default()));
        assert!(sort_batch(&[now - 2 * day, now], now, None).is_err());
        let (kept, _) = sort_batch(&[now + 3 * 3_600_000], now, None).unwrap();
        assert!(kept.is_empty());
    }

    #[test]
    fn awslogs_streams() {
        assert_eq!(
            awslogs_stream_name(Some("ecs"), "web", "abc", "d0c"),
            "ecs/web/abc"
        );
        assert_eq!(awslogs_stream_name(None, "web", "abc", "d0c"), "d0c");
    }
}
