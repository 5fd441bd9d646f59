//! PutLogEvents, GetLogEvents and FilterLogEvents.
//!
//! PutLogEvents checks the batch as CloudWatch Logs does (`flotilla_model::logs`: order,
//! sizes, counts, the 24-hour span) and stores the events that are neither too old, nor
//! older than the group's retention, nor too new, naming the others in
//! `rejectedLogEventsInfo`. The sequence token is ignored, as it is on AWS today.

use flotilla_aws::Context;
use flotilla_control::logs;
use flotilla_model::logs::{sort_batch, validate_batch};
use flotilla_telemetry::logs::pattern;
use flotilla_telemetry::logs::store::{
    FilterEvents, GetEvents, GroupId, InputEvent, StreamSelector, DEFAULT_EVENTS,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, LogsWireError};
use super::{group_name, group_of, stream_name, Logs};
use crate::scope;

#[derive(Deserialize)]
pub struct WireEvent {
    timestamp: Option<i64>,
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutInput {
    log_group_name: Option<String>,
    log_stream_name: Option<String>,
    log_events: Option<Vec<WireEvent>>,
    #[allow(dead_code)]
    sequence_token: Option<String>,
}

pub async fn put(logs: &Logs, ctx: &Context, input: PutInput) -> Result<Value, LogsWireError> {
    let group = group_name(input.log_group_name)?;
    let stream = stream_name(input.log_stream_name)?;
    let wire = input
        .log_events
        .ok_or_else(|| invalid("logEvents is required."))?;
    let mut events = Vec::with_capacity(wire.len());
    for (i, e) in wire.into_iter().enumerate() {
        let timestamp = e
            .timestamp
            .ok_or_else(|| invalid(format!("logEvents[{i}].timestamp is required.")))?;
        let message = e
            .message
            .ok_or_else(|| invalid(format!("logEvents[{i}].message is required.")))?;
        events.push(InputEvent { timestamp, message });
    }
    let view: Vec<(i64, &str)> = events
        .iter()
        .map(|e| (e.timestamp, e.message.as_str()))
        .collect();
    validate_batch(&view).map_err(invalid)?;
    let record = logs::get(&logs.state, &scope(&logs.state, ctx), &group)?.value;
    let now = logs.state.clock().now().timestamp_millis();
    let timestamps: Vec<i64> = events.iter().map(|e| e.timestamp).collect();
    let (kept, rejected) =
        sort_batch(&timestamps, now, record.retained_from(now)).map_err(invalid)?;
    let region = ctx.region.clone();
    let kept_events: Vec<InputEvent> = events.drain(kept).collect();
    logs.blocking(move |s| {
        let id = GroupId::new(&region, &group).stream(&stream);
        // A stream that does not exist fails even when nothing is left to store.
        let appended = s.append(id, &kept_events, now, None)?;
        Ok(appended)
    })
    .await?;
    let rejected = (rejected != Default::default()).then(|| {
        json!({
            "tooOldLogEventEndIndex": rejected.too_old_end,
            "expiredLogEventEndIndex": rejected.expired_end,
            "tooNewLogEventStartIndex": rejected.too_new_start,
        })
    });
    Ok(json!({ "rejectedLogEventsInfo": rejected }))
}

/// An events `limit`: 1 to 10,000.
fn events_limit(limit: Option<i64>) -> Result<Option<usize>, LogsWireError> {
    match limit {
        None => Ok(None),
        Some(n) if n >= 1 && n as usize <= DEFAULT_EVENTS => Ok(Some(n as usize)),
        Some(n) => Err(invalid(format!(
            "limit must be between 1 and {DEFAULT_EVENTS}; got {n}."
        ))),
    }
}

/// A time range's bounds must not be negative, and the start not after the end.
fn time_range(start: Option<i64>, end: Option<i64>) -> Result<(), LogsWireError> {
    if start.is_some_and(|t| t < 0) || end.is_some_and(|t| t < 0) {
        return Err(invalid("startTime and endTime must not be negative."));
    }
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(invalid("startTime must not be after endTime."));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    next_token: Option<String>,
    limit: Option<i64>,
    start_from_head: Option<bool>,
}

pub async fn get(logs: &Logs, ctx: &Context, input: GetInput) -> Result<Value, LogsWireError> {
    let group = group_of(logs, ctx, input.log_group_name, input.log_group_identifier)?;
    let stream = stream_name(input.log_stream_name)?;
    time_range(input.start_time, input.end_time)?;
    let limit = events_limit(input.limit)?;
    logs::get(&logs.state, &scope(&logs.state, ctx), &group)?;
    let region = ctx.region.clone();
    let token = input.next_token.filter(|t| !t.is_empty());
    let (start, end) = (input.start_time, input.end_time);
    let start_from_head = input.start_from_head.unwrap_or(false);
    let page = logs
        .blocking(move |s| {
            let req = GetEvents {
                start,
                end,
                token: token.as_deref(),
                start_from_head,
                limit,
            };
            s.get_events(GroupId::new(&region, &group).stream(&stream), &req)
        })
        .await?;
    let events: Vec<Value> = page
        .events
        .iter()
        .map(|e| {
            json!({
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.ingestion_time,
            })
        })
        .collect();
    Ok(json!({
        "events": events,
        "nextForwardToken": page.next_forward_token,
        "nextBackwardToken": page.next_backward_token,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
    #[allow(dead_code)]
    interleaved: Option<bool>,
}

pub async fn filter(
    logs: &Logs,
    ctx: &Context,
    input: FilterInput,
) -> Result<Value, LogsWireError> {
    let group = group_of(logs, ctx, input.log_group_name, input.log_group_identifier)?;
    time_range(input.start_time, input.end_time)?;
    let limit = events_limit(input.limit)?;
    let names = input.log_stream_names.filter(|n| !n.is_empty());
    let prefix = input.log_stream_name_prefix.filter(|p| !p.is_empty());
    if names.is_some() && prefix.is_some() {
        return Err(invalid(
            "logStreamNames and logStreamNamePrefix cannot both be given.",
        ));
    }
    if names.as_ref().is_some_and(|n| n.len() > 100) {
        return Err(invalid("logStreamNames may name at most 100 streams."));
    }
    let source = input.filter_pattern.unwrap_or_default();
    if source.len() > 1024 {
        return Err(invalid(
            "filterPattern may be at most 1024 characters long.",
        ));
    }
    let compiled = pattern::parse(&source).map_err(|e| invalid(e.to_string()))?;
    logs::get(&logs.state, &scope(&logs.state, ctx), &group)?;
    let region = ctx.region.clone();
    let token = input.next_token.filter(|t| !t.is_empty());
    let (start, end) = (input.start_time, input.end_time);
    let page = logs
        .blocking(move |s| {
            let streams = match (&names, &prefix) {
                (Some(n), _) => StreamSelector::Names(n),
                (None, Some(p)) => StreamSelector::Prefix(p),
                (None, None) => StreamSelector::All,
            };
            let req = FilterEvents {
                streams,
                start,
                end,
                pattern: Some(&compiled),
                limit,
                token: token.as_deref(),
                newest_first: false,
            };
            s.filter_events(GroupId::new(&region, &group), &req)
        })
        .await?;
    let events: Vec<Value> = page
        .events
        .iter()
        .map(|e| {
            json!({
                "logStreamName": e.stream,
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.ingestion_time,
                "eventId": e.event_id,
            })
        })
        .collect();
    let searched: Vec<Value> = page
        .searched_streams
        .iter()
        .map(|s| json!({ "logStreamName": s.name, "searchedCompletely": s.searched_completely }))
        .collect();
    Ok(json!({
        "events": events,
        "searchedLogStreams": searched,
        "nextToken": page.next_token,
    }))
}
