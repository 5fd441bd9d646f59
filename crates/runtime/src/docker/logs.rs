//! Following a container's log through the engine's logs endpoint (`follow`,
//! `timestamps`, stdout and stderr): each multiplexed frame the engine sends is one stored
//! message, prefixed by Docker's RFC 3339 timestamp with nanoseconds and a space, which
//! becomes a [`LogEntry`]. TTY containers (one unframed stream) are not run by the agent;
//! their output, if any, counts as stdout.

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use bollard::Docker;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;

use super::error::from_bollard;
use crate::{LogEntry, LogSource, Result, RuntimeError};

/// Entries of container `id` from `since_seconds` on, following until it stops.
pub(crate) fn follow(
    docker: &Docker,
    id: &str,
    since_seconds: i64,
) -> BoxStream<'static, Result<LogEntry>> {
    let options = LogsOptionsBuilder::new()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .since(i32::try_from(since_seconds.max(0)).unwrap_or(i32::MAX))
        .build();
    // The request timeout bounds only the engine's first answer, not the body: the
    // follow lasts as long as the container runs.
    docker
        .logs(id, Some(options))
        .map(|item| item.map_err(from_bollard).and_then(entry))
        .boxed()
}

/// One frame as an entry.
fn entry(output: LogOutput) -> Result<LogEntry> {
    let (source, frame) = match output {
        LogOutput::StdErr { message } => (LogSource::Stderr, message),
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            (LogSource::Stdout, message)
        }
        LogOutput::StdIn { message } => (LogSource::Stdout, message),
    };
    let (timestamp_ns, message) = split_timestamp(&frame)?;
    Ok(LogEntry {
        source,
        timestamp_ns,
        message,
    })
}

/// `2024-05-01T10:00:00.123456789Z message` → (ns since the epoch, `message`).
pub(crate) fn split_timestamp(frame: &Bytes) -> Result<(i64, Bytes)> {
    let space = frame.iter().position(|b| *b == b' ');
    let stamp_end = space.unwrap_or(frame.len());
    let bad = || {
        RuntimeError::Unavailable(format!(
            "log entry without a timestamp: {:?}",
            String::from_utf8_lossy(&frame[..frame.len().min(64)])
        ))
    };
    let stamp = std::str::from_utf8(&frame[..stamp_end]).map_err(|_| bad())?;
    let at = chrono::DateTime::parse_from_rfc3339(stamp).map_err(|_| bad())?;
    let ns = at.timestamp_nanos_opt().ok_or_else(bad)?;
    let body = frame.slice((stamp_end + 1).min(frame.len())..);
    Ok((ns, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timestamp_prefix_is_split_off_in_nanoseconds() {
        let frame = Bytes::from_static(b"2024-05-01T10:00:00.123456789Z hello world\n");
        let (ns, body) = split_timestamp(&frame).unwrap();
        assert_eq!(ns, 1_714_557_600_123_456_789);
        assert_eq!(&body[..], b"hello world\n");
    }

    #[test]
    fn an_empty_line_keeps_its_newline() {
        let frame = Bytes::from_static(b"2024-05-01T10:00:00.000000001Z \n");
        let (ns, body) = split_timestamp(&frame).unwrap();
        assert_eq!(ns, 1_714_557_600_000_000_001);
        assert_eq!(&body[..], b"\n");
    }

    #[test]
    fn a_frame_without_a_timestamp_is_an_error() {
        assert!(split_timestamp(&Bytes::from_static(b"hello\n")).is_err());
    }

    #[test]
    fn stderr_frames_keep_their_source() {
        let e = entry(LogOutput::StdErr {
            message: Bytes::from_static(b"2024-05-01T10:00:00Z oops\n"),
        })
        .unwrap();
        assert_eq!(e.source, LogSource::Stderr);
        assert_eq!(e.timestamp_ns, 1_714_557_600_000_000_000);
    }
}
