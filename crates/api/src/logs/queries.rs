//! Logs Insights: StartQuery, GetQueryResults, StopQuery and DescribeQueries.
//!
//! A query is parsed when it is started (`MalformedQueryException` with the parser's
//! message) and then runs on a blocking thread over the log storage; GetQueryResults
//! answers `Running` until it is done, then `Complete` with its rows and statistics. The
//! queries of this server are kept in memory, the last [`KEPT`] of them (Insights keeps
//! results for 7 days).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use flotilla_aws::Context;
use flotilla_control::logs;
use flotilla_telemetry::logs::insights::{self, QueryResults};
use flotilla_telemetry::logs::store::GroupId;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, malformed_query, not_found, LogsWireError};
use super::{groups::identifier_name, Logs};
use crate::scope;

/// Queries remembered (finished ones are forgotten oldest first beyond this).
const KEPT: usize = 1_000;
/// A query may read at most this many log groups (StartQuery's bound).
const MAX_GROUPS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Running,
    Complete,
    Failed,
    Cancelled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Running => "Running",
            Status::Complete => "Complete",
            Status::Failed => "Failed",
            Status::Cancelled => "Cancelled",
        }
    }
}

struct Entry {
    query_string: String,
    groups: Vec<String>,
    region: String,
    /// Milliseconds since the epoch.
    created: i64,
    status: Status,
    results: Option<QueryResults>,
}

/// The queries of this server, by id (ids are time-ordered, so the map is in start order).
#[derive(Default)]
pub struct Queries {
    entries: Mutex<BTreeMap<String, Entry>>,
}

impl Queries {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Entry>) -> T) -> T {
        f(&mut self.entries.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Record how a running query ended (a cancelled one stays cancelled).
    fn finish(&self, id: &str, outcome: Option<QueryResults>) {
        self.with(|entries| {
            if let Some(e) = entries.get_mut(id) {
                if e.status == Status::Running {
                    e.status = if outcome.is_some() {
                        Status::Complete
                    } else {
                        Status::Failed
                    };
                    e.results = outcome;
                }
            }
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInput {
    query_language: Option<String>,
    log_group_name: Option<String>,
    log_group_names: Option<Vec<String>>,
    log_group_identifiers: Option<Vec<String>>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    query_string: Option<String>,
    limit: Option<i64>,
}

pub async fn start(
    logs: &Logs,
    ctx: &Context,
    queries: &Arc<Queries>,
    input: StartInput,
) -> Result<Value, LogsWireError> {
    if input.query_language.as_deref().is_some_and(|l| l != "CWLI") {
        return Err(invalid(
            "Only the Logs Insights query language (CWLI) is supported.",
        ));
    }
    let start = input
        .start_time
        .ok_or_else(|| invalid("startTime is required."))?;
    let end = input
        .end_time
        .ok_or_else(|| invalid("endTime is required."))?;
    if start < 0 || end < start {
        return Err(invalid(
            "startTime and endTime must be epoch seconds with startTime not after endTime.",
        ));
    }
    let source = input
        .query_string
        .ok_or_else(|| invalid("queryString is required."))?;
    if source.len() > 10_000 {
        return Err(invalid(
            "queryString may be at most 10,000 characters long.",
        ));
    }
    let limit = match input.limit {
        None => None,
        Some(n) if (1..=10_000).contains(&n) => Some(n as usize),
        Some(n) => {
            return Err(invalid(format!(
                "limit must be between 1 and 10000; got {n}."
            )))
        }
    };
    let named: Vec<String> = match (
        input.log_group_name,
        input.log_group_names,
        input.log_group_identifiers,
    ) {
        (Some(n), None, None) => vec![n],
        (None, Some(ns), None) => ns,
        (None, None, Some(ids)) => ids
            .iter()
            .map(|id| identifier_name(logs, ctx, id))
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(invalid(
                "Give exactly one of logGroupName, logGroupNames and logGroupIdentifiers.",
            ))
        }
    };
    if named.is_empty() || named.len() > MAX_GROUPS {
        return Err(invalid(format!(
            "A query reads 1 to {MAX_GROUPS} log groups."
        )));
    }
    let s = scope(&logs.state, ctx);
    for g in &named {
        logs::get(&logs.state, &s, g)
            .map_err(|_| not_found(format!("Log group '{g}' does not exist.")))?;
    }
    let query = insights::parse(&source).map_err(|e| malformed_query(e.to_string()))?;
    let id = uuid::Uuid::now_v7().to_string();
    let created = logs.state.clock().now().timestamp_millis();
    queries.with(|entries| {
        entries.insert(
            id.clone(),
            Entry {
                query_string: source,
                groups: named.clone(),
                region: ctx.region.clone(),
                created,
                status: Status::Running,
                results: None,
            },
        );
        while entries.len() > KEPT {
            let Some(oldest) = entries
                .iter()
                .find(|(_, e)| e.status != Status::Running)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            entries.remove(&oldest);
        }
    });
    let (store, queries, region, account) = (
        logs.store.clone(),
        queries.clone(),
        ctx.region.clone(),
        logs.state.account().to_string(),
    );
    let run_id = id.clone();
    tokio::spawn(async move {
        let run = tokio::task::spawn_blocking(move || {
            let logs: Vec<String> = named.iter().map(|g| format!("{account}:{g}")).collect();
            let groups: Vec<(GroupId, &str)> = named
                .iter()
                .zip(&logs)
                .map(|(g, log)| (GroupId::new(&region, g), log.as_str()))
                .collect();
            // The range is in seconds, both ends included.
            let range = (
                start.saturating_mul(1000),
                end.saturating_add(1).saturating_mul(1000),
            );
            insights::run_on_store(&store, &query, &groups, range, limit)
        })
        .await;
        let outcome = match run {
            Ok(Ok(results)) => Some(results),
            Ok(Err(e)) => {
                tracing::warn!(query = run_id, error = %e, "a Logs Insights query failed");
                None
            }
            Err(_) => None,
        };
        queries.finish(&run_id, outcome);
    });
    Ok(json!({ "queryId": id }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdInput {
    query_id: Option<String>,
}

fn query_id(input: IdInput) -> Result<String, LogsWireError> {
    input
        .query_id
        .ok_or_else(|| invalid("queryId is required."))
}

pub fn results(queries: &Queries, input: IdInput) -> Result<Value, LogsWireError> {
    let id = query_id(input)?;
    queries.with(|entries| {
        let e = entries
            .get(&id)
            .ok_or_else(|| not_found(format!("Query {id} does not exist.")))?;
        let (rows, stats) = match &e.results {
            Some(r) => (
                r.rows
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|f| json!({"field": f.field, "value": f.value}))
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>(),
                r.statistics,
            ),
            None => (Vec::new(), Default::default()),
        };
        Ok(json!({
            "queryLanguage": "CWLI",
            "status": e.status.as_str(),
            "results": rows,
            "statistics": {
                "recordsMatched": stats.records_matched as f64,
                "recordsScanned": stats.records_scanned as f64,
                "bytesScanned": stats.bytes_scanned as f64,
            },
        }))
    })
}

pub fn stop(queries: &Queries, input: IdInput) -> Result<Value, LogsWireError> {
    let id = query_id(input)?;
    queries.with(|entries| {
        let e = entries
            .get_mut(&id)
            .ok_or_else(|| not_found(format!("Query {id} does not exist.")))?;
        let running = e.status == Status::Running;
        if running {
            e.status = Status::Cancelled;
        }
        Ok(json!({ "success": running }))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    log_group_name: Option<String>,
    status: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub fn describe(
    ctx: &Context,
    queries: &Queries,
    input: DescribeInput,
) -> Result<Value, LogsWireError> {
    let size = match input.max_results {
        None => 1000,
        Some(n) if (1..=1000).contains(&n) => n as usize,
        Some(n) => {
            return Err(invalid(format!(
                "maxResults must be between 1 and 1000; got {n}."
            )))
        }
    };
    let status = input.status.as_deref();
    if let Some(s) = status {
        let known = [
            "Scheduled",
            "Running",
            "Complete",
            "Failed",
            "Cancelled",
            "Timeout",
            "Unknown",
        ];
        if !known.contains(&s) {
            return Err(invalid(format!(
                "status '{s}' is not one of {}.",
                known.join(", ")
            )));
        }
    }
    queries.with(|entries| {
        // Newest first, after the token's id.
        let after = input.next_token.filter(|t| !t.is_empty());
        let mut out = Vec::new();
        let mut next = None;
        for (id, e) in entries.iter().rev() {
            if after.as_ref().is_some_and(|a| id >= a) {
                continue;
            }
            let wanted = e.region == ctx.region
                && status.is_none_or(|s| s == e.status.as_str())
                && input
                    .log_group_name
                    .as_ref()
                    .is_none_or(|g| e.groups.contains(g));
            if !wanted {
                continue;
            }
            if out.len() == size {
                next = out
                    .last()
                    .and_then(|v: &Value| v["queryId"].as_str().map(str::to_string));
                break;
            }
            out.push(json!({
                "queryLanguage": "CWLI",
                "queryId": id,
                "queryString": e.query_string,
                "status": e.status.as_str(),
                "createTime": e.created,
                "logGroupName": e.groups.first(),
            }));
        }
        Ok(json!({ "queries": out, "nextToken": next }))
    })
}
