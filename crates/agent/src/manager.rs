//! The task manager: hands each desired task to its actor, spawning actors for new tasks,
//! and on every full manifest reconciles with what exists (adoption, orphan removal, tasks
//! the server no longer lists). It never changes a task's status itself; actors do.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use flotilla_model::agent_protocol::{DesiredTask, PollResponse};
use flotilla_model::task::TaskStatus;

use crate::adopt;
use crate::spec::LABEL_DATA_DIR;
use crate::task_actor::{ActorContext, Adopted, TaskActor, TaskHandle};

pub(crate) struct Manager {
    ctx: Arc<ActorContext>,
    actors: BTreeMap<String, TaskHandle>,
    /// Tasks the server has shown as STOPPED: once their actor is done, the checkpoint
    /// can forget them.
    confirmed: BTreeSet<String>,
}

impl Manager {
    pub(crate) fn new(ctx: Arc<ActorContext>) -> Self {
        Manager {
            ctx,
            actors: BTreeMap::new(),
            confirmed: BTreeSet::new(),
        }
    }

    /// Apply one poll answer. `held` (why) when the answer comes from a store this agent
    /// does not trust to know everything it runs: nothing is stopped or removed for being
    /// absent from its manifest.
    pub(crate) async fn apply(&mut self, mut answer: PollResponse, held: Option<&str>) {
        self.prune();
        self.ctx.set_registry(answer.registry.take());
        // Before any new task starts: it enforces the rules this answer brings.
        self.ctx
            .firewall
            .update(std::mem::take(&mut answer.firewall))
            .await;
        if answer.full {
            self.reconcile(answer.tasks, held).await;
        } else {
            for t in answer.tasks {
                self.apply_change(t);
            }
        }
    }

    /// Drop finished actors; forget the tasks the server saw stop.
    fn prune(&mut self) {
        let finished: Vec<String> = self
            .actors
            .iter()
            .filter(|(_, a)| a.is_finished())
            .map(|(k, _)| k.clone())
            .collect();
        let mut forget = Vec::new();
        for arn in finished {
            self.actors.remove(&arn);
            if self.confirmed.remove(&arn) {
                forget.push(arn);
            }
        }
        if !forget.is_empty() {
            self.ctx.checkpoint.update(|s| {
                for arn in &forget {
                    s.tasks.remove(arn);
                }
            });
            self.ctx.logs.forget_tasks(&forget);
        }
    }

    /// The fingerprint of the firewall the agent holds (what its next poll sends).
    pub(crate) fn firewall_fingerprint(&self) -> String {
        self.ctx.firewall.fingerprint()
    }

    /// Number of live actors.
    pub(crate) fn live(&self) -> usize {
        self.actors.values().filter(|a| !a.is_finished()).count()
    }

    fn apply_change(&mut self, desired: DesiredTask) {
        let arn = desired.task.task_arn.clone();
        let server_stopped = desired.task.last_status == TaskStatus::Stopped;
        if let Some(actor) = self.actors.get(&arn) {
            actor.desire(desired.task.desired_status);
            if server_stopped {
                self.confirmed.insert(arn);
            }
            return;
        }
        let cp = self.ctx.checkpoint.task(&arn);
        if server_stopped && cp.as_ref().is_some_and(|c| c.cleaned) {
            self.ctx.checkpoint.update(|s| {
                s.tasks.remove(&arn);
            });
            return;
        }
        if let Some(cp) = cp.filter(|c| c.known_status == TaskStatus::Stopped) {
            // Finished here already: make sure the server heard.
            if desired.task.last_status != TaskStatus::Stopped {
                if let Some(report) = cp.last_report {
                    self.ctx.reports.push(report);
                }
            }
            return;
        }
        if desired.task.last_status == TaskStatus::Stopped {
            return;
        }
        self.actors.insert(
            arn,
            TaskActor::spawn(self.ctx.clone(), desired, Adopted::default()),
        );
    }

    /// A full manifest: adopt, remove orphans, stop what is not wanted (unless `held`).
    async fn reconcile(&mut self, manifest: Vec<DesiredTask>, held: Option<&str>) {
        let wanted: BTreeSet<String> = manifest.iter().map(|t| t.task.task_arn.clone()).collect();
        for (arn, actor) in &self.actors {
            if wanted.contains(arn) {
                continue;
            }
            if held.is_some() {
                tracing::warn!(task = %arn, "the store does not list this task; it keeps running (held)");
            } else {
                tracing::info!(task = %arn, "task not in the manifest any more; stopping it");
                actor.desire(TaskStatus::Stopped);
            }
        }
        let label = vec![(
            LABEL_DATA_DIR.to_string(),
            Some(self.ctx.data_dir_id.clone()),
        )];
        let found = match self.ctx.runtime.list_containers(&label).await {
            Ok(found) => found,
            Err(e) => {
                // Without the list, adopting is guesswork: only pass changes to live actors
                // and wait for the next full manifest.
                tracing::warn!(error = %e, "cannot list containers; adoption postponed");
                for t in &manifest {
                    if let Some(actor) = self.actors.get(&t.task.task_arn) {
                        actor.desire(t.task.desired_status);
                    }
                }
                return;
            }
        };
        let live: BTreeSet<String> = self.actors.keys().cloned().collect();
        for t in manifest.iter().filter(|t| live.contains(&t.task.task_arn)) {
            if let Some(actor) = self.actors.get(&t.task.task_arn) {
                actor.desire(t.task.desired_status);
            }
        }
        let mut plan = adopt::plan(manifest, &self.ctx.checkpoint.snapshot(), found, &live);
        if let Some(why) = held {
            // Containers of tasks the store does not list, and their checkpoint entries,
            // stay: the store forgot them, this host did not.
            for id in &plan.remove {
                tracing::warn!(container = %id, "not removing a container the store does not know: {why}");
            }
            plan.remove.clear();
            plan.forget.clear();
        }
        for (id, why) in &plan.impostors {
            tracing::warn!(container = %id, "not adopting a container this agent did not start: {why}");
        }
        for id in &plan.remove {
            tracing::info!(container = %id, "removing a container no task wants");
            if let Err(e) = self.ctx.runtime.remove_container(id).await {
                tracing::warn!(container = %id, error = %e, "removal failed");
            }
        }
        for report in plan.resend {
            self.ctx.reports.push(report);
        }
        if !plan.forget.is_empty() {
            self.ctx.checkpoint.update(|s| {
                for arn in &plan.forget {
                    s.tasks.remove(arn);
                }
            });
            self.ctx.logs.forget_tasks(&plan.forget);
        }
        for (desired, adopted) in plan.spawn {
            let arn = desired.task.task_arn.clone();
            if !adopted.containers.is_empty() {
                tracing::info!(task = %arn, containers = adopted.containers.len(), "adopting task");
            }
            self.actors
                .insert(arn, TaskActor::spawn(self.ctx.clone(), desired, adopted));
        }
    }

    /// Detach from every actor (their containers keep running).
    pub(crate) async fn shutdown(self) {
        let waits = self
            .actors
            .into_values()
            .map(|a| a.detach(Duration::from_secs(2)));
        futures::future::join_all(waits).await;
    }
}
