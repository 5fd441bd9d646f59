//! Adoption after a restart (or a reconnect): which existing containers each task's actor
//! takes over, which are removed, and which reports are sent again. Pure: the manager
//! lists the containers labelled with this data directory's id and executes the plan.
//!
//! Rules: a task of the full manifest with a live actor is left alone; a task the
//! checkpoint knows as STOPPED (or the server does) gets no actor, its leftover
//! containers are removed, and its last report is re-sent if the server has not seen it
//! stop; any other task gets an actor with its existing containers, one per container
//! name (a running one preferred; extra ones are removed, so there is never a duplicate);
//! containers of tasks not in the manifest are removed (no orphans).
//!
//! A container is only taken for a task's container if it runs the image the task
//! definition names for it: one that carries a task's labels (and this data directory's
//! id) but another image was not started by this agent for that task, so it is neither
//! adopted nor removed, only reported in [`Plan::impostors`].

use std::collections::{BTreeMap, BTreeSet};

use flotilla_model::agent_protocol::DesiredTask;
use flotilla_model::task::{TaskReport, TaskStatus};
use flotilla_runtime::ContainerState;

use crate::checkpoint::AgentState;
use crate::spec::{LABEL_CONTAINER_NAME, LABEL_TASK_ARN, PAUSE_NAME};
use crate::task_actor::Adopted;

/// What to do after a full manifest.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Tasks to give an actor, with the containers it adopts.
    pub spawn: Vec<(DesiredTask, Adopted)>,
    /// Container ids to remove.
    pub remove: Vec<String>,
    /// Reports the server may never have received.
    pub resend: Vec<TaskReport>,
    /// Tasks to drop from the checkpoint.
    pub forget: Vec<String>,
    /// Containers labelled as a task's that do not match it: (container id, why).
    pub impostors: Vec<(String, String)>,
}

/// Decide what happens to each task of `manifest` and each container `found`.
pub(crate) fn plan(
    manifest: Vec<DesiredTask>,
    state: &AgentState,
    found: Vec<ContainerState>,
    live: &BTreeSet<String>,
) -> Plan {
    let mut plan = Plan::default();
    let mut by_task: BTreeMap<String, Vec<ContainerState>> = BTreeMap::new();
    for c in found {
        match c.labels.get(LABEL_TASK_ARN) {
            Some(arn) => by_task.entry(arn.clone()).or_default().push(c),
            None => plan.remove.push(c.id),
        }
    }
    let wanted: BTreeSet<String> = manifest.iter().map(|t| t.task.task_arn.clone()).collect();
    for desired in manifest {
        let arn = desired.task.task_arn.clone();
        if live.contains(&arn) {
            by_task.remove(&arn);
            continue;
        }
        let containers = by_task.remove(&arn).unwrap_or_default();
        let cp = state.tasks.get(&arn);
        let done_here = cp.is_some_and(|c| c.known_status == TaskStatus::Stopped);
        if done_here || desired.task.last_status == TaskStatus::Stopped {
            plan.remove.extend(containers.into_iter().map(|c| c.id));
            if let Some(report) = cp.and_then(|c| c.last_report.clone()) {
                if done_here && desired.task.last_status != TaskStatus::Stopped {
                    plan.resend.push(report);
                }
            }
            continue;
        }
        let mut adopted = Adopted {
            checkpoint: cp.cloned(),
            ..Default::default()
        };
        let mut by_name: BTreeMap<String, Vec<ContainerState>> = BTreeMap::new();
        for c in containers {
            let name = c
                .labels
                .get(LABEL_CONTAINER_NAME)
                .cloned()
                .unwrap_or_default();
            by_name.entry(name).or_default().push(c);
        }
        let images: BTreeMap<&str, &str> = desired
            .definition
            .container_definitions
            .iter()
            .map(|c| (c.name(), c.image.as_deref().unwrap_or("")))
            .collect();
        for (name, candidates) in by_name {
            let expected = images.get(name.as_str()).copied();
            let (candidates, impostors): (Vec<ContainerState>, Vec<ContainerState>) = candidates
                .into_iter()
                .partition(|c| name == PAUSE_NAME || expected.is_none_or(|image| c.image == image));
            plan.impostors.extend(impostors.into_iter().map(|c| {
                let why = format!(
                    "labelled as container {name} of task {arn}, but runs image {} instead of {}",
                    c.image,
                    expected.unwrap_or_default()
                );
                (c.id, why)
            }));
            let mut candidates = candidates;
            candidates.sort_by_key(|c| preference(c, cp.and_then(|cp| cp.containers.get(&name))));
            let mut candidates = candidates.into_iter();
            let keep = candidates.next();
            plan.remove.extend(candidates.map(|c| c.id));
            match keep {
                Some(c) if name == PAUSE_NAME => adopted.pause = Some(c),
                Some(c) if images.contains_key(name.as_str()) => {
                    adopted.containers.insert(name, c);
                }
                Some(c) => plan.remove.push(c.id),
                None => {}
            }
        }
        plan.spawn.push((desired, adopted));
    }
    for (_, containers) in by_task {
        plan.remove.extend(containers.into_iter().map(|c| c.id));
    }
    plan.forget = state
        .tasks
        .keys()
        .filter(|arn| !wanted.contains(*arn) && !live.contains(*arn))
        .cloned()
        .collect();
    plan
}

/// Lower is better: the checkpointed one, then running, created, exited.
fn preference(c: &ContainerState, checkpointed: Option<&String>) -> (u8, u8) {
    let known = u8::from(checkpointed != Some(&c.id));
    let state = if c.running {
        0
    } else if !c.exited {
        1
    } else {
        2
    };
    (state, known)
}

#[cfg(test)]
mod tests;
