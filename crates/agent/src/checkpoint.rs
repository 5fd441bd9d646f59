//! The agent's checkpoint: `agent-state.json` in the data directory, written atomically
//! (temporary file, fsync, rename, fsync of the directory), in the same versioned envelope
//! as every stored record (`flotilla_model::record`): an older format is brought forward
//! step by step ([`Record::upgrade`]), a newer one is refused rather than misread.
//!
//! It holds the instance ARN (so a restarted agent re-registers as the same instance), the
//! data directory's random id (put on every container as `flotilla.data-dir-id`, so two
//! agents on one host never adopt each other's containers) and, per task, what the task
//! actor knows: status, container ids, pause container, host ports and the last report
//! (re-sent after a restart if the server never saw the task stop). The runtime's labels
//! remain the truth about which containers exist; the checkpoint adds what labels cannot
//! say. [`Checkpoint`] keeps the state in memory and a writer task saves it after changes,
//! coalescing bursts into one write.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use flotilla_model::record::{decode, encode, Record};
use flotilla_model::task::{TaskReport, TaskStatus};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};

/// The checkpoint's file name inside the data directory.
pub const FILE_NAME: &str = "agent-state.json";

/// Why the checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading, writing or renaming the file failed.
    #[error("checkpoint {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a checkpoint this build understands.
    #[error("checkpoint {path} is unreadable: {message}")]
    Format { path: PathBuf, message: String },
}

/// Everything the agent remembers across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentState {
    /// Random id of the data directory (label `flotilla.data-dir-id`).
    pub data_dir_id: String,
    #[serde(default)]
    pub container_instance_arn: Option<String>,
    /// The key the server issued when the agent joined with a token; it speaks for
    /// `container_instance_arn` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_key: Option<AgentKey>,
    /// The server's store as last seen: its identity and the highest revision answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreMark>,
    #[serde(default)]
    pub tasks: BTreeMap<String, TaskCheckpoint>,
    /// The secret tasks' credentials endpoint ids and tokens are derived from (made on
    /// first use), so containers keep reaching their credentials after a restart.
    #[serde(default, skip_serializing_if = "CredentialsSecret::is_empty")]
    pub credentials_secret: CredentialsSecret,
}

/// The credentials endpoint's secret; never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CredentialsSecret(pub String);

impl CredentialsSecret {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for CredentialsSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialsSecret(..)")
    }
}

/// Which store the agent's tasks are known to, and how far it had got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreMark {
    pub id: String,
    pub revision: i64,
}

/// An agent's own access key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AgentState {
    /// A fresh state with a new random data directory id.
    pub fn fresh() -> Self {
        AgentState {
            data_dir_id: format!("{:016x}", rand::random::<u64>()),
            container_instance_arn: None,
            agent_key: None,
            store: None,
            tasks: BTreeMap::new(),
            credentials_secret: CredentialsSecret::default(),
        }
    }
}

impl Record for AgentState {
    const KIND: &'static str = "agent-state";
    const VERSION: u32 = 1;

    /// Version 0 is the checkpoint of the first builds: the state itself, without an
    /// envelope, carrying `"formatVersion": 1`.
    fn upgrade(from: u32, mut data: serde_json::Value) -> Result<serde_json::Value, String> {
        match from {
            0 => {
                let old = data.get("formatVersion").and_then(|v| v.as_u64());
                if old != Some(1) {
                    return Err(format!(
                        "format version {}, this agent reads 1",
                        old.unwrap_or(0)
                    ));
                }
                if let Some(obj) = data.as_object_mut() {
                    obj.remove("formatVersion");
                }
                Ok(data)
            }
            _ => Err(format!("agent-state format version {from} is unknown")),
        }
    }
}

/// What the agent knows about one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCheckpoint {
    pub task_arn: String,
    pub known_status: TaskStatus,
    /// Container name → runtime id.
    #[serde(default)]
    pub containers: BTreeMap<String, String>,
    #[serde(default)]
    pub pause_id: Option<String>,
    /// The awsvpc attachment id (stable across restarts).
    #[serde(default)]
    pub attachment_id: Option<String>,
    #[serde(default)]
    pub host_ports: Vec<u16>,
    /// Containers and the pause container have been removed.
    #[serde(default)]
    pub cleaned: bool,
    #[serde(default)]
    pub last_report: Option<TaskReport>,
}

/// Read the checkpoint of `dir`, if there is one.
pub fn load(dir: &Path) -> Result<Option<AgentState>, CheckpointError> {
    let path = dir.join(FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CheckpointError::Io { path, source }),
    };
    decode::<AgentState>(&bytes)
        .map(Some)
        .map_err(|message| CheckpointError::Format { path, message })
}

/// Write the checkpoint of `dir` atomically.
pub fn save(dir: &Path, state: &AgentState) -> Result<(), CheckpointError> {
    write_atomically(dir, FILE_NAME, &encode(state))
}

/// Replace `dir/name` with `bytes` atomically: a temporary file, fsync, rename, fsync of
/// the directory (shared with the log positions file).
pub(crate) fn write_atomically(
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<(), CheckpointError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let io = |source| CheckpointError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    // Owner only: the checkpoint holds the last reports of tasks, with their details.
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?
    };
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(io)?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The live state, shared by the task actors, with a background writer.
pub struct Checkpoint {
    dir: PathBuf,
    state: Mutex<AgentState>,
    dirty: Notify,
    /// One save at a time: two would share the temporary file, and an older snapshot
    /// could be renamed over a newer one.
    saving: Mutex<()>,
}

impl Checkpoint {
    /// Load the checkpoint of `dir`, or start a fresh one (and save it, so the data
    /// directory id is fixed from the first start).
    pub fn open(dir: &Path) -> Result<Arc<Checkpoint>, CheckpointError> {
        let state = match load(dir)? {
            Some(s) => s,
            None => {
                let s = AgentState::fresh();
                save(dir, &s)?;
                s
            }
        };
        Ok(Arc::new(Checkpoint {
            dir: dir.to_path_buf(),
            state: Mutex::new(state),
            dirty: Notify::new(),
            saving: Mutex::new(()),
        }))
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> AgentState {
        self.lock().clone()
    }

    /// The store as last seen (read on every poll answer: no copy of the rest).
    /// The credentials endpoint's secret, made and saved on first use.
    pub fn credentials_secret(&self) -> String {
        let mut secret = String::new();
        self.update(|s| {
            if s.credentials_secret.is_empty() {
                s.credentials_secret = CredentialsSecret(format!(
                    "{:016x}{:016x}{:016x}{:016x}",
                    rand::random::<u64>(),
                    rand::random::<u64>(),
                    rand::random::<u64>(),
                    rand::random::<u64>()
                ));
            }
            secret = s.credentials_secret.0.clone();
        });
        secret
    }

    pub fn store_mark(&self) -> Option<StoreMark> {
        self.lock().store.clone()
    }

    /// What the checkpoint holds about one task.
    pub fn task(&self, task_arn: &str) -> Option<TaskCheckpoint> {
        self.lock().tasks.get(task_arn).cloned()
    }

    /// The containers of tasks known RUNNING (what the stats sampler samples).
    pub(crate) fn running_containers(&self) -> Vec<crate::stats::Sampled> {
        self.lock()
            .tasks
            .values()
            .filter(|t| t.known_status == TaskStatus::Running)
            .flat_map(|t| {
                t.containers.iter().map(|(name, id)| crate::stats::Sampled {
                    task_arn: t.task_arn.clone(),
                    container_name: name.clone(),
                    container_id: id.clone(),
                })
            })
            .collect()
    }

    /// Change the state; the writer saves it soon after.
    pub fn update(&self, change: impl FnOnce(&mut AgentState)) {
        change(&mut self.lock());
        self.dirty.notify_one();
    }

    /// Record what a task actor knows about its task.
    pub fn put_task(&self, task: TaskCheckpoint) {
        self.update(|s| {
            s.tasks.insert(task.task_arn.clone(), task);
        });
    }

    /// Save now. The snapshot is taken once no other save runs, so the file always ends
    /// with the latest state.
    pub fn flush(&self) -> Result<(), CheckpointError> {
        let _one = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        let state = self.snapshot();
        save(&self.dir, &state)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AgentState> {
        // A panic while holding the lock cannot leave the state half-changed in a way that
        // matters more than losing it: keep going with what is there.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Save after every change until `shutdown` turns true; then save once more. Saves
    /// are at least `interval` apart: changes in between are saved together.
    pub(crate) async fn run_writer(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
        interval: std::time::Duration,
    ) {
        let mut last = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = self.dirty.notified() => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
            tokio::select! {
                _ = tokio::time::sleep_until(last + interval) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
            last = tokio::time::Instant::now();
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "checkpoint not saved"),
                Err(e) => tracing::warn!(error = %e, "checkpoint writer failed"),
            }
        }
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "checkpoint not saved at shutdown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AgentState {
        let mut s = AgentState::fresh();
        s.container_instance_arn =
            Some("arn:aws:ecs:us-east-1:000000000000:container-instance/default/abc".into());
        s.tasks.insert(
            "t1".into(),
            TaskCheckpoint {
                task_arn: "t1".into(),
                known_status: TaskStatus::Running,
                containers: BTreeMap::from([("web".to_string(), "c0ffee".to_string())]),
                pause_id: Some("p1".into()),
                attachment_id: Some("att".into()),
                host_ports: vec![32768],
                cleaned: false,
                last_report: None,
            },
        );
        s
    }

    #[test]
    fn round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let s = sample();
        save(dir.path(), &s).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(s));
        assert!(!dir.path().join("agent-state.json.tmp").exists());
    }

    #[test]
    fn the_checkpoint_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &sample()).unwrap();
        let meta = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_newer_format_is_refused() {
        for newer in [
            &br#"{"kind":"agent-state","v":99,"data":{"dataDirId":"x"}}"#[..],
            br#"{"formatVersion": 99, "dataDirId": "x"}"#,
        ] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(FILE_NAME), newer).unwrap();
            assert!(matches!(
                load(dir.path()),
                Err(CheckpointError::Format { .. })
            ));
        }
    }

    /// A checkpoint as the first builds wrote it (format 0: no envelope), with a task and
    /// its last report; read, then written in the current format.
    #[test]
    fn the_first_builds_checkpoint_is_read_and_rewritten_in_the_current_format() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            include_bytes!("checkpoint/fixtures/agent-state-v0.json"),
        )
        .unwrap();
        let state = load(dir.path()).unwrap().unwrap();
        assert_eq!(state.data_dir_id, "9f1c2b3a4d5e6f70");
        let t = &state.tasks["arn:aws:ecs:us-east-1:000000000000:task/default/0f3c"];
        assert_eq!(t.known_status, TaskStatus::Running);
        assert_eq!(t.containers["web"], "4b5c6d7e8f90");
        assert_eq!(t.host_ports, [32768]);
        assert_eq!(t.last_report.as_ref().unwrap().status, TaskStatus::Running);
        save(dir.path(), &state).unwrap();
        let written = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(
            written.starts_with(r#"{"kind":"agent-state","v":1,"#),
            "{written}"
        );
        assert_eq!(load(dir.path()).unwrap().unwrap(), state);
    }

    #[test]
    fn open_fixes_the_data_dir_id_on_first_start() {
        let dir = tempfile::tempdir().unwrap();
        let a = Checkpoint::open(dir.path()).unwrap().snapshot();
        let b = Checkpoint::open(dir.path()).unwrap().snapshot();
        assert_eq!(a.data_dir_id, b.data_dir_id);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            Checkpoint::open(other.path())
                .unwrap()
                .snapshot()
                .data_dir_id,
            a.data_dir_id
        );
    }

    #[tokio::test]
    async fn the_writer_saves_changes_and_flushes_on_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let cp = Checkpoint::open(dir.path()).unwrap();
        let (tx, rx) = watch::channel(false);
        let writer = tokio::spawn(cp.clone().run_writer(rx, std::time::Duration::ZERO));
        cp.update(|s| s.container_instance_arn = Some("arn-1".into()));
        tx.send(true).unwrap();
        writer.await.unwrap();
        assert_eq!(
            load(dir.path())
                .unwrap()
                .unwrap()
                .container_instance_arn
                .as_deref(),
            Some("arn-1")
        );
    }
}
