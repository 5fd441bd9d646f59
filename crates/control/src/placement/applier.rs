//! The plan applier: the one writer of placements.
//!
//! Placements are planned concurrently (each against its cluster's picture, see
//! `picture.rs`) and then proposed here. One worker task takes proposals in arrival order,
//! checks each placement against what its instance has left right now (registered capacity
//! minus the loads of the task index minus what this applier accepted and is not yet
//! visible there), and commits every proposal that still fits in one store transaction per
//! batch, however many requests the batch holds. A proposal that no longer fits (its
//! instance is gone, draining, or full) is turned down with [`Verdict::Conflict`] and its
//! caller plans again on a fresh picture.
//!
//! The transaction compares the mod-revisions of every cluster and instance record the
//! batch relies on, and of each cluster's placements key, which every batch rewrites: a
//! batch that another applier (another server process sharing the store) committed into
//! the same cluster in between fails the compare, and the whole batch is proposed again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use flotilla_model::container_instance::{ContainerInstanceRecord, ACTIVE};
use flotilla_scheduler::fit::{Ask, Room};
use flotilla_scheduler::InstanceState;
use flotilla_store::view::View;
use flotilla_store::{Compare, Op, Revision, Store, Txn};
use tokio::sync::{mpsc, oneshot};

use crate::placement::picture::Templates;
use crate::placement::resources::Usage;
use crate::placement::task_index::{Load, TaskIndex};
use crate::ControlError;

/// Store operations one transaction carries at most (a batch stops growing there).
const MAX_BATCH_OPS: usize = 2_000;

/// One task's instance in a proposal.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The instance record's key (its mod-revision is compared).
    pub instance_key: String,
    pub instance_arn: String,
}

/// Tasks of one request, placed, with the writes that create them.
pub struct Proposal {
    /// The cluster record's key and the mod-revision the request checked it at.
    pub cluster_key: String,
    pub cluster_rev: Revision,
    /// The cluster's placements key (`keys::placements`).
    pub placements_key: String,
    /// One entry per task.
    pub placed: Vec<Placed>,
    /// What each task takes, and its group.
    pub usage: Usage,
    pub group: String,
    /// `distinctInstance`: no two tasks of the group on one instance.
    pub distinct: bool,
    /// Keys that must be absent when the writes commit (the network interfaces that claim
    /// awsvpc tasks' addresses): two proposals of one batch may not claim the same.
    pub claims: Vec<String>,
    /// The writes (task records, a client token, the claims).
    pub ops: Vec<Op>,
}

/// What became of a proposal.
#[derive(Debug)]
pub enum Verdict {
    /// Written at this revision.
    Committed(Revision),
    /// Not written: what it relied on changed; plan again. Says what changed.
    Conflict(String),
    /// Not written: the store failed.
    Failed(ControlError),
}

type Submission = (Proposal, oneshot::Sender<Verdict>);

/// The handle proposals go through. Cheap to clone; the worker ends with the last clone.
#[derive(Clone)]
pub struct Applier {
    tx: mpsc::UnboundedSender<Submission>,
}

impl Applier {
    pub fn start(
        store: Arc<dyn Store>,
        instances: View<ContainerInstanceRecord>,
        templates: Arc<Templates>,
        task_index: TaskIndex,
    ) -> Applier {
        let (tx, rx) = mpsc::unbounded_channel();
        let worker = Worker {
            store,
            instances,
            templates,
            task_index,
            accepted: Vec::new(),
            epochs: HashMap::new(),
        };
        tokio::spawn(worker.run(rx));
        Applier { tx }
    }

    /// Propose tasks; answers once they are committed (or turned down).
    pub async fn propose(&self, proposal: Proposal) -> Verdict {
        let (reply, answer) = oneshot::channel();
        if self.tx.send((proposal, reply)).is_err() {
            return Verdict::Failed(ControlError::ShuttingDown("the plan applier has stopped"));
        }
        answer
            .await
            .unwrap_or(Verdict::Failed(ControlError::ShuttingDown(
                "the plan applier stopped before answering",
            )))
    }
}

/// A task this applier committed (or is committing) that the task index may not show yet.
struct Accepted {
    instance_arn: String,
    usage: Usage,
    group: String,
    /// The revision it was committed at; `None` while its transaction runs.
    revision: Option<Revision>,
}

/// What tasks not in the task index take from one instance.
#[derive(Default)]
struct Extra {
    cpu: i64,
    memory: i64,
    tcp_ports: Vec<u16>,
    udp_ports: Vec<u16>,
    groups: HashMap<String, u32>,
}

impl Extra {
    fn add(&mut self, usage: &Usage, group: &str, n: u32) {
        self.cpu = self
            .cpu
            .saturating_add(usage.cpu.saturating_mul(i64::from(n)));
        self.memory = self
            .memory
            .saturating_add(usage.memory.saturating_mul(i64::from(n)));
        self.tcp_ports.extend(&usage.tcp_ports);
        self.udp_ports.extend(&usage.udp_ports);
        *self.groups.entry(group.to_string()).or_default() += n;
    }
}

/// Whether `n` more tasks of `proposal` fit on an instance registered as `template`, given
/// the `load` of its tasks the index shows and the `extra` this applier accepted on top:
/// the scheduler's one fit check, on what is left after both.
fn fits(
    template: &InstanceState,
    load: Option<&Load>,
    extra: Option<&Extra>,
    proposal: &Proposal,
    n: u32,
) -> bool {
    let u = &proposal.usage;
    let r = &template.remaining;
    let used = |l: fn(&Usage) -> i64, m: fn(&Extra) -> i64| {
        load.map_or(0, |x| l(&x.usage)) + extra.map_or(0, m)
    };
    // A port is taken when the instance reserves it, a task holds it, or an accepted one
    // will.
    let tcp_taken = |p: u16| {
        r.tcp_ports.contains(&p)
            || load.is_some_and(|l| l.usage.tcp_ports.contains(&p))
            || extra.is_some_and(|m| m.tcp_ports.contains(&p))
    };
    let udp_taken = |p: u16| {
        r.udp_ports.contains(&p)
            || load.is_some_and(|l| l.usage.udp_ports.contains(&p))
            || extra.is_some_and(|m| m.udp_ports.contains(&p))
    };
    let group = |groups: Option<&HashMap<String, u32>>| {
        groups
            .and_then(|g| g.get(&proposal.group))
            .copied()
            .unwrap_or(0)
    };
    let room = Room {
        cpu: r.cpu.saturating_sub(used(|u| u.cpu, |m| m.cpu)),
        memory: r.memory.saturating_sub(used(|u| u.memory, |m| m.memory)),
        gpus: r.gpus,
        tcp_taken: &tcp_taken,
        udp_taken: &udp_taken,
        group_tasks: i64::from(group(load.map(|l| &l.groups)) + group(extra.map(|m| &m.groups))),
        placed: 0,
    };
    let ask = Ask {
        cpu: u.cpu,
        memory: u.memory,
        gpus: 0,
        tcp: &u.tcp_ports,
        udp: &u.udp_ports,
        distinct: proposal.distinct,
    };
    flotilla_scheduler::fit::fits(&room, &ask, n).is_none()
}

struct Worker {
    store: Arc<dyn Store>,
    instances: View<ContainerInstanceRecord>,
    templates: Arc<Templates>,
    task_index: TaskIndex,
    accepted: Vec<Accepted>,
    /// The mod-revision of each cluster's placements key as this applier last saw it.
    epochs: HashMap<String, Revision>,
}

/// What a batch's transaction relies on and writes.
#[derive(Default)]
struct Batch {
    compares: HashMap<String, Revision>,
    ops: Vec<Op>,
    replies: Vec<oneshot::Sender<Verdict>>,
    /// Every claim of the batch's proposals.
    claimed: HashSet<String>,
    /// Index into `Worker::accepted` where this batch's tasks begin.
    first_accepted: usize,
}

/// `first` and what `more` has queued after it, while their weights add up to at most
/// `budget` (`first` alone may be heavier); the first one that would not fit is handed
/// back to start the next batch.
fn gather<T>(
    first: T,
    mut more: impl FnMut() -> Option<T>,
    weight: impl Fn(&T) -> usize,
    budget: usize,
) -> (Vec<T>, Option<T>) {
    let mut used = weight(&first);
    let mut batch = vec![first];
    while used < budget {
        let Some(next) = more() else { break };
        if used + weight(&next) > budget {
            return (batch, Some(next));
        }
        used += weight(&next);
        batch.push(next);
    }
    (batch, None)
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Submission>) {
        // A batch stays within what one transaction of the store may carry: each
        // proposal's writes, and per task its instance's compare and placement epoch.
        let budget = MAX_BATCH_OPS.min(self.store.max_txn_ops());
        let weight = |s: &Submission| s.0.ops.len() + 2 * s.0.placed.len() + 1;
        let mut carried: Option<Submission> = None;
        loop {
            let first = match carried.take() {
                Some(s) => s,
                None => match rx.recv().await {
                    Some(s) => s,
                    None => return,
                },
            };
            let (submissions, rest) = gather(first, || rx.try_recv().ok(), weight, budget);
            carried = rest;
            self.apply(submissions).await;
        }
    }

    /// Check each proposal, then commit those that fit in one transaction.
    async fn apply(&mut self, submissions: Vec<Submission>) {
        // The task index first, then its loads: a task both there and still accepted here
        // is counted twice (less room, never more).
        let applied = self.task_index.applied();
        self.accepted
            .retain(|a| a.revision.is_none_or(|r| r > applied));
        let mut extra: HashMap<String, Extra> = HashMap::new();
        for a in &self.accepted {
            extra
                .entry(a.instance_arn.clone())
                .or_default()
                .add(&a.usage, &a.group, 1);
        }
        let mut batch = Batch {
            first_accepted: self.accepted.len(),
            ..Batch::default()
        };
        for (proposal, reply) in submissions {
            if let Err(why) = self.admit(&proposal, &mut extra, &mut batch).await {
                crate::metrics::placement("conflict");
                let _ = reply.send(Verdict::Conflict(why));
                continue;
            }
            for p in &proposal.placed {
                self.accepted.push(Accepted {
                    instance_arn: p.instance_arn.clone(),
                    usage: proposal.usage.clone(),
                    group: proposal.group.clone(),
                    revision: None,
                });
            }
            batch.ops.extend(proposal.ops);
            batch.replies.push(reply);
        }
        if batch.replies.is_empty() {
            return;
        }
        self.commit(batch).await;
    }

    /// Whether every task of `proposal` still fits; if so, count it in `extra` and add
    /// what the batch must compare. On an error nothing is counted.
    async fn admit(
        &mut self,
        proposal: &Proposal,
        extra: &mut HashMap<String, Extra>,
        batch: &mut Batch,
    ) -> Result<(), String> {
        if let Some(rev) = batch.compares.get(&proposal.cluster_key) {
            if *rev != proposal.cluster_rev {
                return Err("the cluster changed".into());
            }
        }
        if let Some(c) = proposal.claims.iter().find(|c| batch.claimed.contains(*c)) {
            return Err(format!("{c} was claimed by another placement"));
        }
        let mut per_instance: HashMap<&str, (u32, &Placed)> = HashMap::new();
        for p in &proposal.placed {
            per_instance
                .entry(p.instance_arn.as_str())
                .or_insert((0, p))
                .0 += 1;
        }
        let mut instance_revs = Vec::with_capacity(per_instance.len());
        for (arn, (n, placed)) in &per_instance {
            let entry = self
                .instances
                .get(placed.instance_key.as_bytes())
                .filter(|e| e.value.container_instance_arn == *arn)
                .ok_or_else(|| format!("instance {arn} is gone"))?;
            if entry.value.status != ACTIVE {
                return Err(format!("instance {arn} is {}", entry.value.status));
            }
            let template = self.templates.get(&entry.value, entry.mod_revision);
            let mine = extra.get(*arn);
            let fits = self
                .task_index
                .with_load(arn, |load| fits(&template, load, mine, proposal, *n));
            if !fits {
                return Err(format!("instance {arn} no longer has room"));
            }
            instance_revs.push((placed.instance_key.clone(), entry.mod_revision));
        }
        let epoch = match self.epochs.get(&proposal.placements_key) {
            Some(rev) => *rev,
            None => {
                // Another writer's last batch is in the store up to this revision: the
                // loads must show it before they can vouch for the room left, so check
                // the proposal again once they do.
                let rev = self.read_epoch(&proposal.placements_key).await?;
                self.task_index.wait_applied(rev).await;
                let _ = self.instances.wait_for(rev).await;
                self.epochs.insert(proposal.placements_key.clone(), rev);
                return Box::pin(self.admit(proposal, extra, batch)).await;
            }
        };
        // Admitted: count it and record what the transaction relies on.
        for (arn, (n, _)) in per_instance {
            extra
                .entry(arn.to_string())
                .or_default()
                .add(&proposal.usage, &proposal.group, n);
        }
        batch
            .compares
            .insert(proposal.cluster_key.clone(), proposal.cluster_rev);
        batch.compares.extend(instance_revs);
        batch
            .compares
            .insert(proposal.placements_key.clone(), epoch);
        for c in &proposal.claims {
            batch.compares.insert(c.clone(), 0);
            batch.claimed.insert(c.clone());
        }
        Ok(())
    }

    async fn read_epoch(&self, key: &str) -> Result<Revision, String> {
        match self.store.get(key.as_bytes()).await {
            Ok(kv) => Ok(kv.map_or(0, |kv| kv.mod_revision)),
            Err(e) => Err(format!("the store failed: {e}")),
        }
    }

    async fn commit(&mut self, batch: Batch) {
        let Batch {
            compares,
            mut ops,
            replies,
            first_accepted,
            claimed: _,
        } = batch;
        let epochs: Vec<String> = compares
            .keys()
            .filter(|k| k.starts_with(crate::keys::PLACEMENTS))
            .cloned()
            .collect();
        let tasks = self.accepted.len() - first_accepted;
        for key in &epochs {
            ops.push(Op::put(key.as_bytes(), tasks.to_string()));
        }
        let txn = Txn {
            compares: compares
                .into_iter()
                .map(|(key, rev)| Compare::unchanged(key, rev))
                .collect(),
            success: ops,
            failure: vec![],
        };
        let verdict = match self.store.txn(txn).await {
            Ok(result) if result.succeeded => {
                for key in epochs {
                    self.epochs.insert(key, result.revision);
                }
                for a in &mut self.accepted[first_accepted..] {
                    a.revision = Some(result.revision);
                }
                Ok(result.revision)
            }
            Ok(result) => {
                // Something the batch relied on changed: forget what it assumed and wait
                // until the views show the change, so the next plans see it.
                self.accepted.truncate(first_accepted);
                for key in &epochs {
                    self.epochs.remove(key);
                }
                let _ = self.instances.wait_for(result.revision).await;
                self.task_index.wait_applied(result.revision).await;
                Err(None)
            }
            Err(e) => {
                self.accepted.truncate(first_accepted);
                Err(Some(ControlError::from(e)))
            }
        };
        let outcome = match &verdict {
            Ok(_) => "committed",
            Err(None) => "conflict",
            Err(Some(_)) => "failed",
        };
        for _ in 0..replies.len() {
            crate::metrics::placement(outcome);
        }
        if verdict.is_ok() {
            crate::metrics::placement_tasks(tasks);
        }
        for reply in replies {
            let v = match &verdict {
                Ok(rev) => Verdict::Committed(*rev),
                Err(None) => Verdict::Conflict("the cluster changed while placing".into()),
                Err(Some(e)) => Verdict::Failed(e.clone()),
            };
            let _ = reply.send(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_scheduler::Resources;

    fn template() -> InstanceState {
        InstanceState {
            remaining: Resources {
                cpu: 1024,
                memory: 1000,
                tcp_ports: [22].into(),
                ..Resources::default()
            },
            ..InstanceState::default()
        }
    }

    fn proposal(memory: i64, tcp: &[u16], distinct: bool) -> Proposal {
        Proposal {
            claims: vec![],
            cluster_key: String::new(),
            cluster_rev: 0,
            placements_key: String::new(),
            placed: vec![],
            usage: Usage {
                memory,
                tcp_ports: tcp.to_vec(),
                ..Usage::default()
            },
            group: "family:web".into(),
            distinct,
            ops: vec![],
        }
    }

    #[test]
    fn room_counts_the_load_and_what_was_accepted_on_top() {
        let t = template();
        let load = Load {
            usage: Usage {
                memory: 600,
                ..Usage::default()
            },
            ..Load::default()
        };
        let mut extra = Extra::default();
        assert!(fits(&t, Some(&load), None, &proposal(200, &[], false), 2));
        assert!(!fits(&t, Some(&load), None, &proposal(200, &[], false), 3));
        extra.add(&proposal(200, &[], false).usage, "family:web", 1);
        assert!(fits(
            &t,
            Some(&load),
            Some(&extra),
            &proposal(200, &[], false),
            1
        ));
        assert!(!fits(
            &t,
            Some(&load),
            Some(&extra),
            &proposal(200, &[], false),
            2
        ));
    }

    #[test]
    fn ports_reserved_held_or_accepted_clash() {
        let t = template();
        assert!(!fits(&t, None, None, &proposal(10, &[22], false), 1));
        assert!(fits(&t, None, None, &proposal(10, &[80], false), 1));
        assert!(!fits(&t, None, None, &proposal(10, &[80], false), 2));
        let mut extra = Extra::default();
        extra.add(&proposal(10, &[80], false).usage, "family:web", 1);
        assert!(!fits(
            &t,
            None,
            Some(&extra),
            &proposal(10, &[80], false),
            1
        ));
    }

    #[test]
    fn batches_stay_within_the_budget_and_hand_back_what_does_not_fit() {
        let mut queue = vec![50, 60, 20, 200, 5].into_iter();
        let first = queue.next().unwrap();
        let (batch, rest) = gather(first, || queue.next(), |w| *w, 128);
        assert_eq!((batch, rest), (vec![50, 60], Some(20)));
        let (batch, rest) = gather(20, || queue.next(), |w| *w, 128);
        assert_eq!((batch, rest), (vec![20], Some(200)));
        // Too heavy alone: a batch of its own (the store then says why it refuses it).
        let (batch, rest) = gather(200, || queue.next(), |w| *w, 128);
        assert_eq!((batch, rest), (vec![200], None));
        assert_eq!(queue.next(), Some(5));
    }

    #[test]
    fn distinct_instance_allows_one_task_of_the_group() {
        let t = template();
        assert!(fits(&t, None, None, &proposal(10, &[], true), 1));
        assert!(!fits(&t, None, None, &proposal(10, &[], true), 2));
        let mut extra = Extra::default();
        extra.add(&proposal(10, &[], true).usage, "family:web", 1);
        assert!(!fits(&t, None, Some(&extra), &proposal(10, &[], true), 1));
        assert!(fits(&t, None, Some(&extra), &proposal(10, &[], false), 1));
    }
}
