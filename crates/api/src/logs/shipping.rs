//! The agent protocol's log operations (`PrepareLogStreams`, `PutLogs`), done with the same
//! groups and streams as the Logs API: a stream asked for is created (its group too when
//! the container's `awslogs-create-group` says so), and a batch is appended with the
//! agent's line numbers, so a batch sent twice is stored once.
//!
//! Agents' lines are stored as the container wrote them: unlike PutLogEvents, a batch is
//! not refused for its order or span (a restarted agent may ship lines older than a day),
//! and retention removes old lines afterwards as it does for any event.

use flotilla_control::logs::{self as groups, LogsError};
use flotilla_control::State;
use flotilla_model::agent_protocol::{LogBatch, LogStreamRef, LogStreamResult, PrepareLogStream};
use flotilla_model::logs::{validate_group_name, validate_stream_name};
use flotilla_model::Scope;
use flotilla_telemetry::logs::store::{GroupId, InputEvent, StoreError};
use flotilla_telemetry::logs::LogStore;

/// The stream's group, created first when `create_group`; ECS's words when it is missing.
async fn group(
    state: &State,
    scope: &Scope,
    s: &LogStreamRef,
    create_group: bool,
) -> Result<(), String> {
    if !flotilla_aws::is_region_name(&s.region) {
        return Err(format!(
            "InvalidParameterException: '{}' is not a region name.",
            s.region
        ));
    }
    validate_group_name(&s.log_group_name)
        .and_then(|()| validate_stream_name(&s.log_stream_name))
        .map_err(|e| format!("InvalidParameterException: {e}"))?;
    let name = &s.log_group_name;
    let found = if create_group {
        groups::ensure(state, scope, name).await.map(drop)
    } else {
        groups::get(state, scope, name).map(drop)
    };
    found.map_err(|e| match e {
        LogsError::NotFound(_) => {
            "ResourceNotFoundException: The specified log group does not exist.".to_string()
        }
        e => e.to_string(),
    })
}

/// Create the stream unless it exists; the line number it expects next.
fn stream(store: &LogStore, s: &LogStreamRef, now: i64) -> Result<u64, StoreError> {
    let id = GroupId::new(&s.region, &s.log_group_name).stream(&s.log_stream_name);
    match store.create_stream(id, now) {
        Ok(()) | Err(StoreError::StreamExists) => store.next_sequence(id),
        Err(e) => Err(e),
    }
}

fn result(outcome: Result<u64, String>) -> LogStreamResult {
    match outcome {
        Ok(next_sequence) => LogStreamResult {
            next_sequence,
            error: None,
        },
        Err(error) => LogStreamResult {
            next_sequence: 0,
            error: Some(error),
        },
    }
}

async fn blocking<T: Send + 'static>(
    store: &LogStore,
    call: impl FnOnce(&LogStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || call(&store))
        .await
        .map_err(|_| "The log storage call did not finish.".to_string())?
        .map_err(|e| e.to_string())
}

/// `PrepareLogStreams`: each stream ready to take lines, or why not.
pub async fn prepare(
    state: &State,
    store: &LogStore,
    account: &str,
    streams: Vec<PrepareLogStream>,
) -> Vec<LogStreamResult> {
    let mut out = Vec::with_capacity(streams.len());
    for p in streams {
        let scope = Scope::new(p.stream.region.clone(), account.to_string());
        let now = state.clock().now().timestamp_millis();
        let outcome = match group(state, &scope, &p.stream, p.create_group).await {
            Ok(()) => blocking(store, move |s| stream(s, &p.stream, now)).await,
            Err(e) => Err(e),
        };
        out.push(result(outcome));
    }
    out
}

/// `PutLogs`: each batch stored (the lines not stored before), or why not.
pub async fn put(
    state: &State,
    store: &LogStore,
    account: &str,
    batches: Vec<LogBatch>,
) -> Vec<LogStreamResult> {
    let mut out = Vec::with_capacity(batches.len());
    for b in batches {
        let scope = Scope::new(b.stream.region.clone(), account.to_string());
        let now = state.clock().now().timestamp_millis();
        let outcome = match group(state, &scope, &b.stream, b.create_group).await {
            Ok(()) => {
                blocking(store, move |s| {
                    stream(s, &b.stream, now)?;
                    let events: Vec<InputEvent> = b
                        .events
                        .into_iter()
                        .map(|l| InputEvent {
                            timestamp: l.timestamp,
                            message: l.message,
                        })
                        .collect();
                    let id = GroupId::new(&b.stream.region, &b.stream.log_group_name)
                        .stream(&b.stream.log_stream_name);
                    Ok(s.append(id, &events, now, Some(b.first_sequence))?
                        .next_sequence)
                })
                .await
            }
            Err(e) => Err(e),
        };
        out.push(result(outcome));
    }
    out
}
