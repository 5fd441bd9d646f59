//! Shipping containers' `awslogs` output to the server (ECS's `awslogs` log driver, done
//! by the agent): containers keep Docker's `json-file` driver, so `docker logs` still
//! works, and the agent reads each one's log through the runtime and sends its lines with
//! `PUT_LOGS`, numbered per stream so that nothing is stored twice or lost across retries
//! and restarts.
//!
//! Parts: `awslogs` (options, stream names, modes), `lines` (entries → lines),
//! `position` (where to resume in Docker's log), `reader` (one task per container),
//! `spool` (the bounded queue: memory, then disk, then the mode), `stream` (a stream's
//! queue, batch and end), `sender` (batches into `PUT_LOGS` calls), `checkpoint` (the
//! confirmed positions file), `metrics` (counters). [`LogShipper`] is what task actors
//! use: prepare a stream before a container starts, follow it once started, wait for its
//! last line before reporting the task STOPPED, forget it when the container is removed.

mod awslogs;
pub mod checkpoint;
mod lines;
mod metrics;
mod position;
mod reader;
mod sender;
mod spool;
mod stream;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use flotilla_aws::client::CallError;
use flotilla_model::agent_protocol::{LogStreamResult, PrepareLogStream, PrepareLogStreamsRequest};
use flotilla_runtime::Runtime;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub(crate) use awslogs::AwsLogs;
pub use checkpoint::{LogPositions, Positions, StreamPosition};
pub use metrics::{LogCounts, LogMetrics};
pub use position::Resume;
pub(crate) use stream::Target;

use crate::api::{AgentApi, Identity};
use crate::checkpoint::CheckpointError;
use reader::Start;
use spool::{Budget, Spool};
use stream::Stream;

/// The blocking mode, for tests outside this module.
#[cfg(test)]
pub(crate) fn awslogs_blocking() -> awslogs::Mode {
    awslogs::Mode::Blocking
}

/// The spool directory inside the data directory.
pub const SPOOL_DIR: &str = "log-spool";

/// What the reader and the sender share.
pub(crate) struct Shared {
    pub runtime: Arc<dyn Runtime>,
    pub api: Arc<dyn AgentApi>,
    pub identity: Arc<Identity>,
    pub positions: Arc<Positions>,
    pub budget: Budget,
    pub metrics: LogMetrics,
    /// Something may be due: a line was queued, a stream ended.
    pub wake: Notify,
    /// Room was made: blocked readers try again.
    pub room: Notify,
    streams: Mutex<HashMap<String, Arc<Stream>>>,
}

impl Shared {
    fn streams(&self) -> MutexGuard<'_, HashMap<String, Arc<Stream>>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every stream now.
    pub(crate) fn all(&self) -> Vec<Arc<Stream>> {
        self.streams().values().cloned().collect()
    }

    /// If `stream` is done, say so to its waiters and record it as finished (or forget
    /// it, if its container is gone).
    pub(crate) fn settle(&self, stream: &Stream) {
        if !stream.check_drained(&self.budget) {
            return;
        }
        let id = &stream.target.container_id;
        if stream.forgotten.load(Ordering::Acquire) {
            self.streams().remove(id);
            self.positions.retain(|other, _| other != id);
            return;
        }
        let position = self.positions.get(id).unwrap_or_else(|| StreamPosition {
            task_arn: stream.target.task_arn.clone(),
            log_group_name: stream.target.stream.log_group_name.clone(),
            log_stream_name: stream.target.stream.log_stream_name.clone(),
            next_sequence: 0,
            resume: Resume::default(),
            timestamp_ns: 0,
            finished: false,
        });
        if !position.finished {
            self.positions.put(
                id,
                StreamPosition {
                    finished: true,
                    ..position
                },
            );
        }
    }
}

/// The shipper's knobs (from the agent's configuration).
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// The region of a stream whose container names none (`awslogs-region`).
    pub region: String,
    /// The spool bound (`--log-buffer-bytes`).
    pub buffer_bytes: u64,
    /// How long a stopping task waits for its last lines to be confirmed.
    pub drain_timeout: Duration,
}

/// The agent's log shipper.
pub struct LogShipper {
    shared: Arc<Shared>,
    settings: LogSettings,
    spool_dir: PathBuf,
    readers: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl LogShipper {
    /// A shipper keeping its positions and spool in `data_dir`. A spool left by an
    /// earlier run is deleted: what it held is read from Docker again.
    pub fn open(
        data_dir: &Path,
        settings: LogSettings,
        runtime: Arc<dyn Runtime>,
        api: Arc<dyn AgentApi>,
        identity: Arc<Identity>,
    ) -> Result<Arc<LogShipper>, CheckpointError> {
        let spool_dir = data_dir.join(SPOOL_DIR);
        let _ = std::fs::remove_dir_all(&spool_dir);
        Ok(Arc::new(LogShipper {
            shared: Arc::new(Shared {
                runtime,
                api,
                identity,
                positions: Positions::open(data_dir)?,
                budget: Budget::new(settings.buffer_bytes),
                metrics: LogMetrics::default(),
                wake: Notify::new(),
                room: Notify::new(),
                streams: Mutex::default(),
            }),
            settings,
            spool_dir,
            readers: Mutex::default(),
        }))
    }

    pub(crate) fn settings(&self) -> &LogSettings {
        &self.settings
    }

    /// Ask the server for streams (and their groups when `create_group`).
    pub(crate) async fn prepare(
        &self,
        streams: Vec<PrepareLogStream>,
    ) -> Result<Vec<LogStreamResult>, CallError> {
        let request = PrepareLogStreamsRequest {
            cluster: self.shared.identity.cluster().to_string(),
            container_instance_arn: self.shared.identity.instance_arn(),
            streams,
        };
        Ok(self.shared.api.prepare_logs(&request).await?.results)
    }

    /// Start shipping a container's log (once per container; a container whose log was
    /// all shipped before a restart is not read again).
    pub(crate) fn follow(&self, target: Target) {
        let id = target.container_id.clone();
        let mut streams = self.shared.streams();
        if streams.contains_key(&id) {
            return;
        }
        let saved = self.shared.positions.get(&id);
        let path = self.spool_dir.join(format!("{id}.spool"));
        let stream = Arc::new(Stream::new(target, Spool::new(path)));
        streams.insert(id.clone(), stream.clone());
        drop(streams);
        if saved.as_ref().is_some_and(|p| p.finished) {
            stream.end(&self.shared.budget);
            return;
        }
        let start = saved.map_or(Start::default(), |p| Start {
            next_sequence: p.next_sequence,
            resume: p.resume,
        });
        let reader = tokio::spawn(reader::read(self.shared.clone(), stream, start));
        self.lock_readers().insert(id, reader);
    }

    /// Wait until the logs of `container_ids` have ended and the server confirmed every
    /// line, for at most `limit`; whether they did.
    pub(crate) async fn drained(&self, container_ids: &[String], limit: Duration) -> bool {
        let waits: Vec<watch::Receiver<bool>> = {
            let streams = self.shared.streams();
            container_ids
                .iter()
                .filter_map(|id| streams.get(id).map(|s| s.drained()))
                .collect()
        };
        let all = futures::future::join_all(waits.into_iter().map(|mut rx| async move {
            let _ = rx.wait_for(|done| *done).await;
        }));
        tokio::time::timeout(limit, all).await.is_ok()
    }

    /// The container is being removed: forget its stream and position once every line
    /// read from it is confirmed (at once if they are). Its reader ends by itself when
    /// the container is gone.
    pub(crate) fn forget(&self, container_id: &str) {
        self.lock_readers().remove(container_id);
        let stream = self.shared.streams().get(container_id).cloned();
        match stream {
            Some(stream) => {
                stream.forgotten.store(true, Ordering::Release);
                self.shared.settle(&stream);
            }
            None => self.shared.positions.retain(|id, _| id != container_id),
        }
    }

    /// Forget the positions of tasks no longer known.
    pub(crate) fn forget_tasks(&self, task_arns: &[String]) {
        self.shared
            .positions
            .retain(|_, p| !task_arns.contains(&p.task_arn));
    }

    /// The shipper's counters.
    pub fn counts(&self) -> LogCounts {
        self.shared.metrics.counts()
    }

    /// Send batches until `shutdown`, saving positions as they are confirmed; then stop
    /// the readers (the containers' logs are read again from the saved positions by the
    /// next agent).
    pub(crate) async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let writer = tokio::spawn(
            self.shared
                .positions
                .clone()
                .run_writer(shutdown.clone(), Duration::from_millis(200)),
        );
        sender::run(self.shared.clone(), shutdown).await;
        for (_, reader) in self.lock_readers().drain() {
            reader.abort();
        }
        let _ = writer.await;
    }

    fn lock_readers(&self) -> MutexGuard<'_, HashMap<String, JoinHandle<()>>> {
        self.readers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod docker_tests;
#[cfg(test)]
mod tests;
