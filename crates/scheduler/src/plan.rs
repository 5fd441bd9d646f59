//! The planner: runs the filter stages over the snapshot, then places the request's tasks
//! one at a time with the rank stage, updating the chosen instance after each so a plan
//! never over-commits. What it returns is what RunTask answers: the placements, and when
//! some tasks could not be placed, every instance with the reason it was passed over.
//!
//! Cost per call: the filters once per instance, then a logarithmic step per task (see
//! [`crate::select`]); chains the fast selector cannot index fall back to a scan of the
//! candidates per task ([`crate::rank::Scan`]).

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::filter::{check, Need, Stage, Work};
use crate::rank::{Chain, Ranker, Scan};
use crate::request::TaskRequest;
use crate::select::Cells;
use crate::snapshot::Snapshot;

/// The failure reason of a task when the cluster has no instances at all. ECS's RunTask
/// raises it as an `InvalidParameterException`; the plan carries it against the cluster.
pub const NO_INSTANCES: &str = "No Container Instances were found in your cluster.";

/// What should happen: where each placed task goes, and why the rest could not be placed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// One per placed task, in placement order.
    pub placements: Vec<Placement>,
    /// Tasks of the request that could not be placed.
    pub unplaced: usize,
    /// When `unplaced > 0`: every instance of the snapshot with the reason of the first
    /// stage that rejected it when placement stopped (one per instance), or one failure
    /// against the cluster when it has no instances.
    pub failures: Vec<Failure>,
    /// Per filter stage, in order: how many instances it removed on the first pass.
    pub explain: Vec<StageReport>,
}

/// One task's instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Index into [`Snapshot::instances`].
    pub instance: usize,
    pub instance_arn: String,
}

/// An instance (or the cluster) and why it took no more tasks, as ECS words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub arn: String,
    pub reason: String,
}

/// What one filter stage did on the first pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageReport {
    pub stage: Stage,
    /// Instances this stage rejected (they passed every stage before it).
    pub removed: usize,
    /// Instances left after it.
    pub remaining: usize,
}

/// The candidates in whichever selector the chain allows.
enum Selector {
    Cells(Cells),
    Scan(Scan),
}

/// Places `request.count` tasks on `snapshot`. Pure: the same inputs give the same plan.
pub fn schedule(snapshot: &Snapshot, request: &TaskRequest) -> Plan {
    plan(snapshot, request, false)
}

/// [`schedule`], optionally with the reference selector whatever the chain (for tests).
pub(crate) fn plan(snapshot: &Snapshot, request: &TaskRequest, scan_only: bool) -> Plan {
    let instances = &snapshot.instances;
    let need = Need::new(request);
    let chain = Chain::new(&request.strategies);
    let count_group = need.distinct || chain.counts_group();
    let mut works: Vec<Work> = instances
        .iter()
        .map(|i| Work::new(i, &request.group, count_group))
        .collect();

    let mut rejected: Vec<Option<Stage>> = Vec::with_capacity(instances.len());
    let mut removed = [0usize; Stage::ALL.len()];
    let mut candidates = Vec::new();
    for (i, (instance, work)) in instances.iter().zip(&works).enumerate() {
        let stage = check(instance, work, &need);
        match stage {
            Some(s) => removed[s as usize] += 1,
            None => candidates.push(i),
        }
        rejected.push(stage);
    }
    let mut plan = Plan {
        explain: explain(instances.len(), &removed),
        ..Plan::default()
    };
    if request.count == 0 {
        return plan;
    }
    if instances.is_empty() {
        plan.unplaced = request.count;
        plan.failures.push(Failure {
            arn: snapshot.cluster_arn.clone(),
            reason: NO_INSTANCES.to_owned(),
        });
        return plan;
    }

    let mut ranker = Ranker::new(chain, instances, &works, request.seed);
    let mut rng = StdRng::seed_from_u64(request.seed);
    let mut selector = match ranker.chain.bucket_prefix().filter(|_| !scan_only) {
        Some(prefix) => Selector::Cells(Cells::new(
            &ranker,
            &works,
            &candidates,
            prefix,
            instances.len(),
        )),
        None => Selector::Scan(Scan::new(candidates)),
    };
    plan.placements
        .reserve(request.count.min(instances.len() * 16));
    while plan.placements.len() < request.count {
        let picked = match &mut selector {
            Selector::Cells(c) => c.pick(&ranker, &mut rng),
            Selector::Scan(s) => s.pick(&ranker, &works, &mut rng),
        };
        let Some(i) = picked else { break };
        works[i].take(&need);
        ranker.placed(i);
        plan.placements.push(Placement {
            instance: i,
            instance_arn: instances[i].arn.clone(),
        });
        rejected[i] = check(&instances[i], &works[i], &need);
        if rejected[i].is_none() {
            match &mut selector {
                Selector::Cells(c) => c.insert(&ranker, &works, i),
                Selector::Scan(s) => s.insert(i),
            }
        }
    }

    plan.unplaced = request.count - plan.placements.len();
    if plan.unplaced > 0 {
        plan.failures = instances
            .iter()
            .zip(&rejected)
            .filter_map(|(instance, stage)| {
                stage.map(|s| Failure {
                    arn: instance.arn.clone(),
                    reason: s.reason_for(instance),
                })
            })
            .collect();
    }
    plan
}

/// The first pass's counts as stage reports.
fn explain(instances: usize, removed: &[usize; Stage::ALL.len()]) -> Vec<StageReport> {
    let mut remaining = instances;
    Stage::ALL
        .iter()
        .map(|&stage| {
            let removed = removed[stage as usize];
            remaining -= removed;
            StageReport {
                stage,
                removed,
                remaining,
            }
        })
        .collect()
}
