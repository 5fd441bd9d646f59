//! CreateLogStream, DeleteLogStream and DescribeLogStreams.

use flotilla_aws::Context;
use flotilla_control::logs;
use flotilla_model::logs::group_arn;
use flotilla_telemetry::logs::store::{GroupId, ListStreams, StreamInfo, StreamOrder};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, LogsWireError};
use super::{group_name, group_of, stream_name, Logs};
use crate::scope;

/// DescribeLogStreams' `limit` bound and default.
const MAX_DESCRIBE: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamInput {
    log_group_name: Option<String>,
    log_stream_name: Option<String>,
}

pub async fn create(
    logs: &Logs,
    ctx: &Context,
    input: StreamInput,
) -> Result<Value, LogsWireError> {
    let group = group_name(input.log_group_name)?;
    let stream = stream_name(input.log_stream_name)?;
    logs::get(&logs.state, &scope(&logs.state, ctx), &group)?;
    let now = logs.state.clock().now().timestamp_millis();
    let region = ctx.region.clone();
    logs.blocking(move |s| s.create_stream(GroupId::new(&region, &group).stream(&stream), now))
        .await?;
    Ok(json!({}))
}

pub async fn delete(
    logs: &Logs,
    ctx: &Context,
    input: StreamInput,
) -> Result<Value, LogsWireError> {
    let group = group_name(input.log_group_name)?;
    let stream = stream_name(input.log_stream_name)?;
    logs::get(&logs.state, &scope(&logs.state, ctx), &group)?;
    let region = ctx.region.clone();
    logs.blocking(move |s| s.delete_stream(GroupId::new(&region, &group).stream(&stream)))
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    next_token: Option<String>,
    limit: Option<i64>,
}

/// A stream as DescribeLogStreams shows it.
pub(crate) fn stream_out(group_arn: &str, s: &StreamInfo) -> Value {
    json!({
        "logStreamName": s.name,
        "creationTime": s.creation_time,
        "firstEventTimestamp": s.first_event_timestamp,
        "lastEventTimestamp": s.last_event_timestamp,
        "lastIngestionTime": s.last_ingestion_time,
        "arn": format!("{group_arn}:log-stream:{}", s.name),
        "storedBytes": s.stored_bytes,
    })
}

pub async fn describe(
    logs: &Logs,
    ctx: &Context,
    input: DescribeInput,
) -> Result<Value, LogsWireError> {
    let group = group_of(logs, ctx, input.log_group_name, input.log_group_identifier)?;
    let s = scope(&logs.state, ctx);
    logs::get(&logs.state, &s, &group)?;
    let order = match input.order_by.as_deref() {
        None | Some("LogStreamName") => StreamOrder::Name,
        Some("LastEventTime") => StreamOrder::LastEventTime,
        Some(other) => {
            return Err(invalid(format!(
                "orderBy '{other}' is not one of LogStreamName, LastEventTime."
            )))
        }
    };
    let prefix = input.log_stream_name_prefix.filter(|p| !p.is_empty());
    if prefix.is_some() && order == StreamOrder::LastEventTime {
        return Err(invalid(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let limit = match input.limit {
        None => MAX_DESCRIBE,
        Some(n) if (1..=MAX_DESCRIBE as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(invalid(format!(
                "limit must be between 1 and {MAX_DESCRIBE}; got {n}."
            )))
        }
    };
    let descending = input.descending.unwrap_or(false);
    let token = input.next_token.filter(|t| !t.is_empty());
    let region = ctx.region.clone();
    let name = group.clone();
    let page = logs
        .blocking(move |store| {
            let req = ListStreams {
                prefix: prefix.as_deref(),
                order,
                descending,
                limit: Some(limit),
                token: token.as_deref(),
            };
            store.list_streams(GroupId::new(&region, &name), &req)
        })
        .await?;
    let arn = group_arn(&s, &group);
    let streams: Vec<Value> = page.streams.iter().map(|st| stream_out(&arn, st)).collect();
    Ok(json!({ "logStreams": streams, "nextToken": page.next_token }))
}
