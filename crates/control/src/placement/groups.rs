//! A launch's tasks split among the providers of its capacity provider strategy, and each
//! provider's share planned on that provider's instances of the cluster's picture: a
//! custom provider's instances register its name (`flotilla.capacity-provider`); FARGATE
//! and FARGATE_SPOT take the instances of no custom provider.

use std::collections::BTreeMap;

use flotilla_model::capacity_provider as cp;
use flotilla_model::Scope;
use flotilla_scheduler::capacity::{self, Share};
use flotilla_scheduler::{
    self as scheduler, Failure, InstanceState, Placement as PlanPlacement, Plan, Snapshot,
    TaskRequest,
};

use crate::placement::launch::LaunchSpec;
use crate::placement::picture::Picture;

/// Which instances of a picture a plan may use: the `only` ones (by ARN), and those of a
/// capacity provider.
#[derive(Clone, Copy)]
struct Filter<'a> {
    only: Option<&'a [String]>,
    provider: Option<&'a str>,
}

impl Filter<'_> {
    fn admits(&self, instance: &InstanceState) -> bool {
        self.only.is_none_or(|ids| ids.contains(&instance.arn))
            && self.provider.is_none_or(|p| provider_of(instance, p))
    }
}

/// Whether `instance` belongs to provider `p`: a custom provider's instances register its
/// name; FARGATE and FARGATE_SPOT take the instances of no custom provider.
fn provider_of(instance: &InstanceState, p: &str) -> bool {
    let registered = instance
        .attributes
        .get(cp::ATTRIBUTE)
        .and_then(|v| v.as_deref())
        .filter(|v| !v.is_empty());
    match registered {
        Some(name) => name == p,
        None => cp::is_built_in(p),
    }
}

/// Plan `request` against the instances of the cluster's picture that `filter` admits and
/// apply the plan to the picture, so the next request plans around it.
fn plan_on(picture: &mut Picture, request: &TaskRequest, filter: Filter<'_>) -> Plan {
    if filter.only.is_none() && filter.provider.is_none() {
        let plan = scheduler::schedule(&picture.snapshot, request);
        let _ = picture.snapshot.apply(request, &plan);
        return plan;
    }
    let chosen: Vec<usize> = (0..picture.snapshot.instances.len())
        .filter(|&i| filter.admits(&picture.snapshot.instances[i]))
        .collect();
    let part = Snapshot::new(
        picture.snapshot.cluster_arn.clone(),
        chosen
            .iter()
            .map(|&i| picture.snapshot.instances[i].clone())
            .collect(),
    );
    let mut plan = scheduler::schedule(&part, request);
    for p in &mut plan.placements {
        p.instance = chosen[p.instance];
    }
    let _ = picture.snapshot.apply(request, &plan);
    plan
}

/// The failure reason of tasks whose capacity provider has no container instance.
pub const EMPTY_PROVIDER: &str = "EMPTY CAPACITY PROVIDER";

/// How many of `count` tasks go to each provider of the launch's strategy (base first,
/// then weights, counting `existing` tasks); one group with no provider without a strategy.
pub(crate) fn provider_groups(
    launch: &LaunchSpec,
    count: usize,
    existing: Option<&BTreeMap<String, u32>>,
) -> Vec<(Option<String>, usize)> {
    let items = &launch.capacity_provider_strategy;
    if items.is_empty() {
        return vec![(None, count)];
    }
    let shares: Vec<Share> = items
        .iter()
        .map(|i| Share {
            base: u32::try_from(i.base).unwrap_or(0),
            weight: u32::try_from(i.weight).unwrap_or(0),
        })
        .collect();
    let running: Vec<u32> = items
        .iter()
        .map(|i| {
            existing
                .and_then(|e| e.get(&i.capacity_provider).copied())
                .unwrap_or(0)
        })
        .collect();
    let split = capacity::split(&shares, &running, count);
    items
        .iter()
        .zip(split)
        .filter(|(_, n)| *n > 0)
        .map(|(i, n)| (Some(i.capacity_provider.clone()), n))
        .collect()
}

/// Plan every provider group of a launch on the picture: the placements (each with its
/// provider) and the failures, one per instance and reason.
pub(crate) fn plan_groups(
    scope: &Scope,
    picture: &mut Picture,
    request: &TaskRequest,
    groups: &[(Option<String>, usize)],
    only: Option<&[String]>,
) -> (Vec<(PlanPlacement, Option<String>)>, Vec<Failure>) {
    let mut placements = Vec::new();
    let mut failures: Vec<Failure> = Vec::new();
    for (provider, n) in groups {
        let provider = provider.as_deref();
        let filter = Filter { only, provider };
        let part = TaskRequest {
            count: *n,
            ..request.clone()
        };
        let mut plan = plan_on(picture, &part, filter);
        if let Some(p) = provider {
            let empty = !picture.snapshot.instances.iter().any(|i| filter.admits(i));
            if empty && plan.unplaced > 0 {
                plan.failures = vec![Failure {
                    arn: cp::arn(scope, p),
                    reason: EMPTY_PROVIDER.into(),
                }];
            }
        }
        placements.extend(
            plan.placements
                .into_iter()
                .map(|pl| (pl, provider.map(str::to_string))),
        );
        for f in plan.failures {
            if !failures.contains(&f) {
                failures.push(f);
            }
        }
    }
    if placements.len() == request.count {
        failures.clear();
    }
    (placements, failures)
}
