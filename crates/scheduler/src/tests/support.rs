//! Builders for small clusters and an independent oracle that replays a plan.

use flotilla_model::cql;

use crate::snapshot::View;
use crate::{Constraint, InstanceState, Plan, Snapshot, TaskRequest, ACTIVE};

pub const GROUP: &str = "family:web";

/// An ACTIVE, connected instance `n` with 4 vCPU and 8 GiB free.
pub fn instance(n: usize) -> InstanceState {
    let mut i = InstanceState {
        arn: format!("arn:aws:ecs:us-east-1:000000000000:container-instance/c/i{n}"),
        id: format!("i{n}"),
        status: ACTIVE.into(),
        connected: true,
        registered_at: "2024-01-01T00:00:00Z".into(),
        ec2_instance_id: format!("host-{n}"),
        ..InstanceState::default()
    };
    i.remaining.cpu = 4096;
    i.remaining.memory = 8192;
    i
}

pub fn with_attr(mut i: InstanceState, name: &str, value: &str) -> InstanceState {
    std::sync::Arc::make_mut(&mut i.attributes).insert(name.into(), Some(value.into()));
    i
}

pub fn zoned(n: usize, zone: &str) -> InstanceState {
    with_attr(instance(n), "ecs.availability-zone", zone)
}

pub fn snapshot(instances: Vec<InstanceState>) -> Snapshot {
    Snapshot::new("arn:aws:ecs:us-east-1:000000000000:cluster/c", instances)
}

/// `count` tasks of [`GROUP`] with 256 CPU units and 512 MiB.
pub fn request(count: usize) -> TaskRequest {
    TaskRequest {
        cpu: 256,
        memory: 512,
        ..TaskRequest::new(GROUP, count)
    }
}

pub fn member_of(expression: &str) -> Constraint {
    match cql::parse(expression) {
        Ok(e) => Constraint::MemberOf(e),
        Err(e) => panic!("bad test expression {expression}: {e}"),
    }
}

/// The instance index of each placement.
pub fn hosts(plan: &Plan) -> Vec<usize> {
    plan.placements.iter().map(|p| p.instance).collect()
}

/// Tasks placed per instance.
pub fn per_instance(plan: &Plan, instances: usize) -> Vec<usize> {
    let mut n = vec![0; instances];
    for p in &plan.placements {
        n[p.instance] += 1;
    }
    n
}

/// The reasons of a plan's failures, by instance index.
pub fn reasons(plan: &Plan, snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .instances
        .iter()
        .map(|i| {
            plan.failures
                .iter()
                .find(|f| f.arn == i.arn)
                .map(|f| f.reason.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// Whether `instance`, as it is now, can take one more task of `request`: the ECS rules
/// written out again, independently of `filter.rs`.
pub fn admits(instance: &InstanceState, request: &TaskRequest) -> bool {
    let r = &instance.remaining;
    instance.status == ACTIVE
        && instance.connected
        && request
            .required_attributes
            .iter()
            .all(|a| instance.attributes.contains_key(a))
        && r.cpu >= request.cpu.max(0)
        && r.memory >= request.memory.max(0)
        && r.gpus >= request.gpus
        && request.tcp_ports.iter().all(|p| !r.tcp_ports.contains(p))
        && request.udp_ports.iter().all(|p| !r.udp_ports.contains(p))
        && request.constraints.iter().all(|c| match c {
            Constraint::DistinctInstance => instance.group_count(&request.group) == 0,
            Constraint::MemberOf(e) => e.matches(&View {
                instance,
                group: &request.group,
                placed: 0,
            }),
        })
}

/// Replays `plan` on a copy of `snapshot`, checking before each placement that its
/// instance admits the task; returns the final state.
pub fn replay(snapshot: &Snapshot, request: &TaskRequest, plan: &Plan) -> Result<Snapshot, String> {
    let mut state = snapshot.clone();
    for (n, p) in plan.placements.iter().enumerate() {
        let Some(instance) = state.instances.get_mut(p.instance) else {
            return Err(format!("placement {n} names instance {}", p.instance));
        };
        if instance.arn != p.instance_arn {
            return Err(format!("placement {n} has the wrong ARN"));
        }
        if !admits(instance, request) {
            return Err(format!(
                "placement {n} on {} breaks a filter: {instance:?}",
                p.instance
            ));
        }
        instance.take(request);
    }
    Ok(state)
}
