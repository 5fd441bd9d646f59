//! Bringing a task down: STOPPING, then each started container stopped (SIGTERM, SIGKILL
//! after its stopTimeout) in reverse dependency order, exit codes collected, the pause
//! container last, the containers' last log lines confirmed (bounded), STOPPED. After the cleanup delay the containers are removed, then the task-scoped volumes.

use flotilla_model::task::{ContainerStatus, TaskStatus};
use tokio::sync::mpsc;

use super::TaskActor;
use crate::deps;
use crate::spec;

impl TaskActor {
    /// Stop everything and move the task to STOPPED.
    pub(super) async fn stop_all(&mut self) {
        let anything_up =
            self.pause.is_some() || self.containers.iter().any(|c| c.runtime_id.is_some());
        if anything_up && self.known.advance(TaskStatus::Stopping) {
            self.publish();
        }
        let runtime = self.ctx.runtime.clone();
        let defs: Vec<_> = self.containers.iter().map(|c| c.def.clone()).collect();
        for i in deps::stop_order(&defs) {
            let c = &self.containers[i];
            match c.runtime_id.clone() {
                Some(id) if c.status != ContainerStatus::Stopped => {
                    if let Err(e) = runtime
                        .stop_container(&id, spec::stop_timeout(&c.def))
                        .await
                    {
                        tracing::warn!(task = %self.task_arn, container = %id, error = %e, "stop failed");
                    }
                    self.observe(&id).await;
                    self.containers[i].advance(ContainerStatus::Stopped);
                }
                _ => self.containers[i].advance(ContainerStatus::Stopped),
            }
        }
        if let Some(p) = &self.pause {
            if let Err(e) = runtime
                .stop_container(&p.id, std::time::Duration::from_secs(2))
                .await
            {
                tracing::warn!(task = %self.task_arn, error = %e, "stopping the pause container failed");
            }
        }
        if self.known.get() < TaskStatus::Stopped {
            self.wait_logs().await;
        }
        if self.known.advance(TaskStatus::Stopped) {
            self.execution_stopped_at = Some(chrono::Utc::now());
        }
    }

    /// Wait for the cleanup delay, then remove the task's containers. Returns early
    /// (containers left for the next agent to remove) when the agent shuts down.
    pub(super) async fn cleanup(&mut self, rx: &mut mpsc::UnboundedReceiver<TaskStatus>) {
        if self.cleaned {
            return;
        }
        let delay = tokio::time::sleep(self.ctx.cleanup_delay);
        tokio::pin!(delay);
        loop {
            tokio::select! {
                _ = &mut delay => break,
                msg = rx.recv() => if msg.is_none() { return },
            }
        }
        self.ctx.firewall.forget(&self.task_arn);
        if let Some(endpoint) = &self.ctx.credentials {
            endpoint.forget(&self.task_arn);
        }
        let runtime = self.ctx.runtime.clone();
        let ids: Vec<String> = self
            .containers
            .iter()
            .filter_map(|c| c.runtime_id.clone())
            .chain(self.pause.as_ref().map(|p| p.id.clone()))
            .collect();
        for id in ids {
            self.ctx.logs.forget(&id);
            if let Err(e) = runtime.remove_container(&id).await {
                tracing::warn!(task = %self.task_arn, container = %id, error = %e, "removal failed");
            }
        }
        self.remove_task_volumes().await;
        self.cleaned = true;
        self.save();
    }
}
