//! The log positions file, `DATA_DIR/log-positions.json`: per container whose log is
//! shipped, the line number and the Docker log position of the last line the server
//! confirmed. A sibling of `agent-state.json` rather than part of it: it changes several
//! times a second while containers log, and rewriting every task's last report that often
//! would be waste; the two never need to change together (a position is only ever an
//! older, still correct, starting point, see below).
//!
//! Same envelope as every stored record (`flotilla_model::record`, kind
//! `agent-log-positions`, version 1) and the same atomic write as the agent's checkpoint.
//!
//! Why saving late is safe: a restarted agent reads Docker's log from the saved position
//! and numbers lines from the saved sequence, so a line confirmed after the last save is
//! read again with the number it had, and the server drops it (it keeps lines at or above
//! its `next_sequence` only). Nothing is stored twice and nothing is skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use flotilla_model::record::{decode, encode, Record};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};

use super::position::Resume;
use crate::checkpoint::{write_atomically, CheckpointError};

/// The positions file's name inside the data directory.
pub const FILE_NAME: &str = "log-positions.json";

/// Every shipped container's position, by container (runtime) id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogPositions {
    #[serde(default)]
    pub containers: BTreeMap<String, StreamPosition>,
}

/// Where one container's stream stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamPosition {
    pub task_arn: String,
    pub log_group_name: String,
    pub log_stream_name: String,
    /// The number of the next line: every line below it is stored by the server.
    pub next_sequence: u64,
    /// Where the line numbered `next_sequence` starts in Docker's log.
    pub resume: Resume,
    /// The Docker timestamp (ns) of the last confirmed line (for people reading the file).
    #[serde(default)]
    pub timestamp_ns: i64,
    /// The container exited and all of its log was confirmed: nothing left to read.
    #[serde(default)]
    pub finished: bool,
}

impl Record for LogPositions {
    const KIND: &'static str = "agent-log-positions";
    const VERSION: u32 = 1;
}

/// Read the positions of `dir` (empty when there is no file yet).
pub fn load(dir: &Path) -> Result<LogPositions, CheckpointError> {
    let path = dir.join(FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LogPositions::default()),
        Err(source) => return Err(CheckpointError::Io { path, source }),
    };
    decode::<LogPositions>(&bytes).map_err(|message| CheckpointError::Format { path, message })
}

/// The live positions with a background writer, like [`crate::checkpoint::Checkpoint`].
pub struct Positions {
    dir: PathBuf,
    state: Mutex<LogPositions>,
    dirty: Notify,
    saving: Mutex<()>,
}

impl Positions {
    pub fn open(dir: &Path) -> Result<Arc<Positions>, CheckpointError> {
        Ok(Arc::new(Positions {
            dir: dir.to_path_buf(),
            state: Mutex::new(load(dir)?),
            dirty: Notify::new(),
            saving: Mutex::new(()),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogPositions> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get(&self, container_id: &str) -> Option<StreamPosition> {
        self.lock().containers.get(container_id).cloned()
    }

    pub fn put(&self, container_id: &str, position: StreamPosition) {
        self.lock()
            .containers
            .insert(container_id.to_string(), position);
        self.dirty.notify_one();
    }

    /// Keep only the containers `keep` selects.
    pub fn retain(&self, mut keep: impl FnMut(&str, &StreamPosition) -> bool) {
        let mut st = self.lock();
        let before = st.containers.len();
        st.containers.retain(|id, p| keep(id, p));
        if st.containers.len() != before {
            self.dirty.notify_one();
        }
    }

    pub fn flush(&self) -> Result<(), CheckpointError> {
        let _one = self.saving.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes = encode(&*self.lock());
        write_atomically(&self.dir, FILE_NAME, &bytes)
    }

    /// Save after changes, at most every `interval`, until `shutdown`; then once more.
    pub(crate) async fn run_writer(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
        interval: Duration,
    ) {
        loop {
            tokio::select! {
                _ = self.dirty.notified() => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "log positions not saved"),
                Err(e) => tracing::warn!(error = %e, "log positions writer failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
        }
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "log positions not saved at shutdown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position() -> StreamPosition {
        StreamPosition {
            task_arn: "arn:aws:ecs:us-east-1:000000000000:task/default/t1".into(),
            log_group_name: "/ecs/web".into(),
            log_stream_name: "app/web/t1".into(),
            next_sequence: 42,
            resume: Resume {
                since_seconds: 1_700_000_000,
                skip: 3,
            },
            timestamp_ns: 1_700_000_001_000_000_007,
            finished: false,
        }
    }

    #[test]
    fn positions_round_trip_in_a_versioned_envelope() {
        let dir = tempfile::tempdir().unwrap();
        let p = Positions::open(dir.path()).unwrap();
        assert_eq!(p.get("c1"), None);
        p.put("c1", position());
        p.flush().unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(
            text.starts_with(r#"{"kind":"agent-log-positions","v":1,"#),
            "{text}"
        );
        let again = Positions::open(dir.path()).unwrap();
        assert_eq!(again.get("c1"), Some(position()));
        again.retain(|id, _| id != "c1");
        again.flush().unwrap();
        assert_eq!(load(dir.path()).unwrap(), LogPositions::default());
    }

    #[test]
    fn a_newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            br#"{"kind":"agent-log-positions","v":7,"data":{}}"#,
        )
        .unwrap();
        assert!(matches!(
            load(dir.path()),
            Err(CheckpointError::Format { .. })
        ));
    }
}
