//! The one sender of an agent: gathers the due batches of every stream into `PUT_LOGS`
//! calls (several streams per call), applies each answer (confirmed lines leave their
//! stream, the position is saved, an error answer is retried later), and backs off when
//! the server cannot be reached. Sends one call at a time: at 1,000 lines per batch and
//! a batch per stream every 200 ms, one call carries far more than a million lines a
//! minute.

use std::sync::Arc;

use flotilla_model::agent_protocol::{LogBatch, LogStreamResult, PutLogsRequest};
use tokio::sync::watch;
use tokio::time::Instant;

use super::metrics::LogMetrics;
use super::spool::EVENT_OVERHEAD;
use super::stream::{Due, Stream};
use super::Shared;
use crate::backoff::Backoff;

/// Streams per call.
const MAX_BATCHES: usize = 64;
/// Bytes of events per call (as CloudWatch counts them), well under the server's default
/// 10 MiB request limit once encoded; the last batch may go over by one batch.
const MAX_CALL_BYTES: usize = 4 << 20;

/// Send until `shutdown` turns true.
pub(crate) async fn run(sh: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Backoff::standard();
    let mut round = 0usize;
    loop {
        round = round.wrapping_add(1);
        let (streams, next) = collect(&sh, Instant::now(), round);
        if streams.is_empty() {
            let wake = sh.wake.notified();
            tokio::select! {
                _ = wake => {}
                _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            continue;
        }
        let ok = send(&sh, streams).await;
        sh.room.notify_waiters();
        if ok {
            backoff.reset();
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// The due batches (with their streams) and the earliest time another becomes due.
/// Streams are visited from a different one each `round`, so that when more are due than
/// a call takes, every stream gets its turn.
fn collect(
    sh: &Shared,
    now: Instant,
    round: usize,
) -> (Vec<(Arc<Stream>, LogBatch)>, Option<Instant>) {
    let mut out = Vec::new();
    let mut bytes = 0;
    let mut next: Option<Instant> = None;
    let mut streams = sh.all();
    if !streams.is_empty() {
        let len = streams.len();
        streams.rotate_left(round % len);
    }
    for stream in streams {
        if out.len() >= MAX_BATCHES || bytes >= MAX_CALL_BYTES {
            break;
        }
        match stream.due(now, &sh.budget) {
            Due::Send(batch) => {
                bytes += batch
                    .events
                    .iter()
                    .map(|e| e.message.len() + EVENT_OVERHEAD)
                    .sum::<usize>();
                out.push((stream, batch));
            }
            Due::At(Some(at)) => next = Some(next.map_or(at, |n| n.min(at))),
            Due::At(None) => {}
        }
    }
    (out, next)
}

/// One call; whether the server answered.
async fn send(sh: &Shared, streams: Vec<(Arc<Stream>, LogBatch)>) -> bool {
    let (streams, batches): (Vec<Arc<Stream>>, Vec<_>) = streams.into_iter().unzip();
    let request = PutLogsRequest {
        cluster: sh.identity.cluster().to_string(),
        container_instance_arn: sh.identity.instance_arn(),
        batches,
    };
    match sh.api.put_logs(&request).await {
        Ok(answer) => {
            for (i, stream) in streams.iter().enumerate() {
                apply(sh, stream, answer.results.get(i));
            }
            true
        }
        Err(e) => {
            tracing::debug!(error = %e, streams = streams.len(), "PutLogs failed; will send again");
            let now = Instant::now();
            for stream in &streams {
                stream.failed(now);
            }
            LogMetrics::add(&sh.metrics.batches_failed, streams.len() as u64);
            false
        }
    }
}

/// Apply the server's answer for one stream's batch.
fn apply(sh: &Shared, stream: &Stream, result: Option<&LogStreamResult>) {
    let name = &stream.target.stream.log_stream_name;
    match result {
        Some(LogStreamResult {
            error: None,
            next_sequence,
        }) => {
            let (lines, bytes, position) = stream.confirmed(*next_sequence);
            LogMetrics::add(&sh.metrics.lines_shipped, lines);
            LogMetrics::add(&sh.metrics.bytes_shipped, bytes);
            if let Some(p) = position {
                sh.positions.put(&stream.target.container_id, p);
            }
            if lines == 0 {
                LogMetrics::add(&sh.metrics.batches_failed, 1);
                tracing::warn!(stream = %name, next_sequence, "the server stored none of the batch; will send again");
            }
            sh.settle(stream);
        }
        Some(LogStreamResult { error: Some(e), .. }) => {
            LogMetrics::add(&sh.metrics.batches_failed, 1);
            tracing::warn!(stream = %name, error = %e, "the server refused a log batch; will send again");
            stream.failed(Instant::now());
        }
        None => {
            LogMetrics::add(&sh.metrics.batches_failed, 1);
            stream.failed(Instant::now());
        }
    }
}
