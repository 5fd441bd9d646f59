//! Docker's log entries into lines: pieces of one long line joined (Docker stores a line
//! over 16 KiB as several entries, only the last ending in a newline), the trailing
//! newline removed, and lines longer than a CloudWatch Logs event may be cut into events
//! of at most [`MAX_EVENT_BYTES`] (on character boundaries). Pure: no I/O, no clock.
//!
//! Each line carries two times: `timestamp_ms`, when its first piece was written (what a
//! reader of the logs sees), and `key_ns`, the Docker timestamp of the entry that
//! completed it (what the resume position counts with, see `position`).

use std::collections::HashMap;

use flotilla_runtime::{LogEntry, LogSource};

/// The largest message of one event: CloudWatch Logs' 256 KiB event limit less the 26
/// bytes it counts for each event.
pub(crate) const MAX_EVENT_BYTES: usize = 256 * 1024 - 26;

/// A line read from a container, not yet numbered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawLine {
    pub timestamp_ms: i64,
    pub key_ns: i64,
    pub message: String,
}

/// A line being assembled from pieces.
struct Partial {
    first_ns: i64,
    bytes: Vec<u8>,
}

/// Joins and splits one container's entries into lines; one per reader.
#[derive(Default)]
pub(crate) struct Splitter {
    partial: HashMap<LogSource, Partial>,
}

impl Splitter {
    /// The lines `entry` completes (none for a piece of a longer line).
    pub(crate) fn push(&mut self, entry: LogEntry) -> Vec<RawLine> {
        let complete = entry.message.last() == Some(&b'\n');
        let body = if complete {
            &entry.message[..entry.message.len() - 1]
        } else {
            &entry.message[..]
        };
        let partial = self.partial.entry(entry.source).or_insert_with(|| Partial {
            first_ns: entry.timestamp_ns,
            bytes: Vec::new(),
        });
        partial.bytes.extend_from_slice(body);
        if !complete {
            return Vec::new();
        }
        let Some(done) = self.partial.remove(&entry.source) else {
            return Vec::new();
        };
        events(done, entry.timestamp_ns)
    }

    /// At the end of the log: what was written without a final newline, as lines.
    pub(crate) fn finish(&mut self) -> Vec<RawLine> {
        let mut rest: Vec<Partial> = self.partial.drain().map(|(_, p)| p).collect();
        rest.sort_by_key(|p| p.first_ns);
        rest.into_iter()
            .filter(|p| !p.bytes.is_empty())
            .flat_map(|p| {
                let key = p.first_ns;
                events(p, key)
            })
            .collect()
    }
}

/// One finished line as events of at most [`MAX_EVENT_BYTES`].
fn events(line: Partial, key_ns: i64) -> Vec<RawLine> {
    let text = String::from_utf8_lossy(&line.bytes);
    let timestamp_ms = line.first_ns.div_euclid(1_000_000);
    cut(&text, MAX_EVENT_BYTES)
        .into_iter()
        .map(|message| RawLine {
            timestamp_ms,
            key_ns,
            message: message.to_string(),
        })
        .collect()
}

/// `text` in pieces of at most `max` bytes, cut on character boundaries; an empty line
/// stays one (empty) event.
fn cut(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut at = max;
        while !rest.is_char_boundary(at) {
            at -= 1;
        }
        let (head, tail) = rest.split_at(at);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn entry(source: LogSource, ns: i64, text: &str) -> LogEntry {
        LogEntry {
            source,
            timestamp_ns: ns,
            message: Bytes::from(text.to_string()),
        }
    }

    #[test]
    fn a_line_loses_its_newline_and_keeps_its_time_in_ms() {
        let mut s = Splitter::default();
        let lines = s.push(entry(
            LogSource::Stdout,
            1_700_000_000_123_456_789,
            "hello\n",
        ));
        assert_eq!(
            lines,
            [RawLine {
                timestamp_ms: 1_700_000_000_123,
                key_ns: 1_700_000_000_123_456_789,
                message: "hello".into()
            }]
        );
        assert_eq!(s.push(entry(LogSource::Stdout, 5, "\n"))[0].message, "");
    }

    #[test]
    fn pieces_are_joined_per_source() {
        let mut s = Splitter::default();
        assert!(s
            .push(entry(LogSource::Stdout, 1_000_000, "abc"))
            .is_empty());
        let err = s.push(entry(LogSource::Stderr, 2_000_000, "oops\n"));
        assert_eq!(err[0].message, "oops");
        let out = s.push(entry(LogSource::Stdout, 3_000_000, "def\n"));
        assert_eq!(out[0].message, "abcdef");
        assert_eq!(out[0].timestamp_ms, 1, "the first piece's time");
        assert_eq!(out[0].key_ns, 3_000_000, "the completing entry's time");
    }

    #[test]
    fn a_line_over_the_event_limit_is_cut_on_character_boundaries() {
        let mut s = Splitter::default();
        let long = "é".repeat(MAX_EVENT_BYTES); // two bytes each
        let out = s.push(entry(LogSource::Stdout, 7, &format!("{long}\n")));
        assert!(out.len() >= 2);
        assert!(out.iter().all(|l| l.message.len() <= MAX_EVENT_BYTES));
        assert_eq!(
            out.iter().map(|l| l.message.as_str()).collect::<String>(),
            long
        );
        assert!(out.iter().all(|l| l.key_ns == 7));
    }

    #[test]
    fn what_is_left_without_a_newline_comes_out_at_the_end() {
        let mut s = Splitter::default();
        assert!(s.push(entry(LogSource::Stdout, 9, "prompt> ")).is_empty());
        let out = s.finish();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].message, "prompt> ");
        assert!(s.finish().is_empty());
    }
}
