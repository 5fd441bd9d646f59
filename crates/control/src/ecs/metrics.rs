//! The `AWS/ECS` metrics computed from the agents' container samples, as ECS computes
//! them: a task's CPU and memory use as a percentage of what the task reserved, one data
//! point per task and sample, under the dimensions `ClusterName` and, for a service's
//! tasks, `ClusterName` + `ServiceName`; the statistics over a period are then over tasks
//! (Average, Minimum, Maximum, SampleCount), as on AWS.
//!
//! What a task reserved: its task-level `cpu` and `memory`, else the sum of its
//! containers' `cpu` and `memory` (or `memoryReservation`). A task that reserved no CPU is
//! measured against one vCPU (1,024 units); one that reserved no memory has no
//! `MemoryUtilization`.
//!
//! Container Insights' task counts (`ECS/ContainerInsights` `RunningTaskCount`,
//! `PendingTaskCount`, `DesiredTaskCount` per `ClusterName` + `ServiceName`) come from
//! [`service_counts`], for clusters with the `containerInsights` setting `enabled` or
//! `enhanced`, as on AWS. The metric store is the caller's: this module only computes.

use std::collections::BTreeMap;

use flotilla_model::agent_protocol::ContainerStats;
use flotilla_model::cloudwatch::{
    Dimension, MetricRef, CONTAINER_INSIGHTS_NAMESPACE, ECS_NAMESPACE,
};
use flotilla_model::cluster::ClusterRecord;
use flotilla_model::service::ServiceStatus;
use flotilla_model::task::TaskRecord;
use flotilla_model::task_definition::TaskDefinition;

use crate::ecs::services;
use crate::{keys, State};

/// CPU units a task that reserved none is measured against.
const UNRESERVED_CPU: f64 = 1024.0;

/// One data point to put: a value in `unit` at a time (epoch seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub metric: MetricRef,
    pub timestamp: i64,
    pub value: f64,
    pub unit: &'static str,
}

/// The CPU units and MiB of memory a task reserved (0 where it reserved none).
pub fn reserved(task: &TaskRecord, def: &TaskDefinition) -> (f64, f64) {
    let parse = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<f64>().ok());
    let cpu = parse(&task.cpu)
        .or_else(|| parse(&def.cpu))
        .unwrap_or_else(|| {
            def.container_definitions
                .iter()
                .map(|c| f64::from(c.cpu.unwrap_or(0)))
                .sum()
        });
    let memory = parse(&task.memory)
        .or_else(|| parse(&def.memory))
        .unwrap_or_else(|| {
            def.container_definitions
                .iter()
                .map(|c| f64::from(c.memory.or(c.memory_reservation).unwrap_or(0)))
                .sum()
        });
    (cpu, memory)
}

/// The dimension sets a task's points go under.
fn dimension_sets(task: &TaskRecord) -> Vec<Vec<Dimension>> {
    let cluster = task.cluster_arn.rsplit('/').next().unwrap_or_default();
    let dim = |name: &str, value: &str| Dimension {
        name: name.into(),
        value: value.into(),
    };
    let mut sets = vec![vec![dim("ClusterName", cluster)]];
    if let Some(service) = task
        .group
        .as_deref()
        .and_then(|g| g.strip_prefix("service:"))
    {
        sets.push(vec![
            dim("ClusterName", cluster),
            dim("ServiceName", service),
        ]);
    }
    sets
}

/// The points of one task's samples (its containers' samples of one round summed).
pub fn task_points(
    task: &TaskRecord,
    def: &TaskDefinition,
    samples: &[&ContainerStats],
) -> Vec<Point> {
    let Some(timestamp) = samples.iter().map(|s| s.timestamp).max() else {
        return Vec::new();
    };
    let (cpu_reserved, memory_reserved) = reserved(task, def);
    let cpu_used: f64 = samples.iter().map(|s| s.cpu_units.max(0.0)).sum();
    let memory_used: f64 = samples.iter().map(|s| s.memory_mib.max(0.0)).sum();
    let cpu_base = if cpu_reserved > 0.0 {
        cpu_reserved
    } else {
        UNRESERVED_CPU
    };
    let mut values = vec![("CPUUtilization", 100.0 * cpu_used / cpu_base)];
    if memory_reserved > 0.0 {
        values.push(("MemoryUtilization", 100.0 * memory_used / memory_reserved));
    }
    let mut out = Vec::new();
    for dims in dimension_sets(task) {
        for (name, percent) in &values {
            out.push(Point {
                metric: MetricRef::new(ECS_NAMESPACE.into(), (*name).into(), dims.clone()),
                timestamp: timestamp.div_euclid(1000),
                value: *percent,
                unit: "Percent",
            });
        }
    }
    out
}

/// The points of an agent's samples: only for tasks placed on `instance_arn` (an agent
/// speaks for its own tasks) that are still known.
pub fn points(
    state: &State,
    region: &str,
    instance_arn: &str,
    samples: &[ContainerStats],
) -> Vec<Point> {
    let mut by_task: BTreeMap<&str, Vec<&ContainerStats>> = BTreeMap::new();
    for s in samples {
        by_task.entry(s.task_arn.as_str()).or_default().push(s);
    }
    let mut out = Vec::new();
    for (arn, samples) in by_task {
        let mut parts = arn.rsplit('/');
        let (Some(id), Some(cluster)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(task) = state
            .tasks()
            .get(keys::task(region, cluster, id).as_bytes())
        else {
            continue;
        };
        let task = task.value;
        if task.container_instance_arn.as_deref() != Some(instance_arn) || task.task_arn != arn {
            continue;
        }
        let Some(def) = crate::ecs::task_definitions::of_task(state, &task.task_definition_arn)
        else {
            continue;
        };
        out.extend(task_points(&task, &def, &samples));
    }
    out
}

/// Whether a cluster publishes Container Insights metrics.
fn insights_on(c: &ClusterRecord) -> bool {
    c.is_active()
        && c.settings.iter().any(|s| {
            s.name.as_deref() == Some("containerInsights")
                && matches!(s.value.as_deref(), Some("enabled" | "enhanced"))
        })
}

/// The task counts of every active service of a cluster with Container Insights, at
/// `timestamp` (epoch seconds), with their regions.
pub fn service_counts(state: &State, timestamp: i64) -> Vec<(String, Point)> {
    let mut out = Vec::new();
    for (key, entry) in state.clusters().range(keys::CLUSTERS.as_bytes()).iter() {
        let cluster = &entry.value;
        if !insights_on(cluster) {
            continue;
        }
        let Some(region) = std::str::from_utf8(key)
            .ok()
            .and_then(|k| k.strip_prefix(keys::CLUSTERS))
            .and_then(|k| k.split('/').next())
        else {
            continue;
        };
        let prefix = keys::service(region, &cluster.cluster_name, "");
        for (_, svc) in state.services().range(prefix.as_bytes()).iter() {
            let svc = &svc.value;
            if svc.status != ServiceStatus::Active {
                continue;
            }
            let tasks = services::tasks_of(state, region, svc);
            let counts =
                services::counts(&services::counted_tasks(state, region, svc, tasks), None);
            let dims = vec![
                Dimension {
                    name: "ClusterName".into(),
                    value: cluster.cluster_name.clone(),
                },
                Dimension {
                    name: "ServiceName".into(),
                    value: svc.service_name.clone(),
                },
            ];
            for (name, value) in [
                ("RunningTaskCount", counts.running),
                ("PendingTaskCount", counts.pending),
                ("DesiredTaskCount", svc.desired_count),
            ] {
                let metric = MetricRef::new(
                    CONTAINER_INSIGHTS_NAMESPACE.into(),
                    name.into(),
                    dims.clone(),
                );
                out.push((
                    region.to_string(),
                    Point {
                        metric,
                        timestamp,
                        value: value as f64,
                        unit: "Count",
                    },
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(cpu: Option<&str>, memory: Option<&str>, group: Option<&str>) -> TaskRecord {
        let mut t: TaskRecord = serde_json::from_value(serde_json::json!({
            "taskArn": "arn:aws:ecs:us-east-1:000000000000:task/prod/abc",
            "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/prod",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
            "lastStatus": "RUNNING",
            "desiredStatus": "RUNNING",
            "launchType": "EC2",
            "healthStatus": "UNKNOWN",
            "version": 1,
            "containers": [],
            "createdAt": 1_764_720_000.0,
        }))
        .unwrap();
        t.cpu = cpu.map(str::to_string);
        t.memory = memory.map(str::to_string);
        t.group = group.map(str::to_string);
        t
    }

    fn def(containers: serde_json::Value) -> TaskDefinition {
        serde_json::from_value(
            serde_json::json!({"family": "web", "containerDefinitions": containers}),
        )
        .unwrap()
    }

    fn sample(cpu_units: f64, memory_mib: f64) -> ContainerStats {
        ContainerStats {
            task_arn: "arn:aws:ecs:us-east-1:000000000000:task/prod/abc".into(),
            container_name: "web".into(),
            timestamp: 1_700_000_000_500,
            cpu_units,
            memory_mib,
        }
    }

    fn value(points: &[Point], name: &str, dims: usize) -> Option<f64> {
        points
            .iter()
            .find(|p| p.metric.metric_name == name && p.metric.dimensions.len() == dims)
            .map(|p| p.value)
    }

    #[test]
    fn percent_of_what_the_task_reserved_per_cluster_and_service() {
        let (a, b) = (sample(256.0, 100.0), sample(128.0, 28.0));
        let points = task_points(
            &task(Some("512"), Some("256"), Some("service:web")),
            &def(serde_json::json!([{"name": "web", "image": "x"}])),
            &[&a, &b],
        );
        assert_eq!(points.len(), 4);
        assert_eq!(value(&points, "CPUUtilization", 2), Some(75.0));
        assert_eq!(value(&points, "MemoryUtilization", 2), Some(50.0));
        assert_eq!(value(&points, "CPUUtilization", 1), Some(75.0));
        assert!(points.iter().all(|p| p.timestamp == 1_700_000_000));
        let service = &points
            .iter()
            .find(|p| p.metric.dimensions.len() == 2)
            .unwrap()
            .metric;
        assert_eq!(service.namespace, "AWS/ECS");
        assert_eq!(service.dimensions[0].value, "prod");
        assert_eq!(service.dimensions[1].value, "web");
    }

    #[test]
    fn container_reservations_and_no_reservation() {
        let d = def(serde_json::json!([
            {"name": "web", "image": "x", "cpu": 256, "memory": 128},
            {"name": "side", "image": "x", "cpu": 256, "memoryReservation": 128}
        ]));
        assert_eq!(reserved(&task(None, None, None), &d), (512.0, 256.0));
        let s = sample(512.0, 10.0);
        let points = task_points(
            &task(None, None, None),
            &def(serde_json::json!([{"name": "web", "image": "x"}])),
            &[&s],
        );
        // No CPU reserved: against one vCPU; no memory reserved: no memory metric; a
        // task outside a service: cluster dimension only.
        assert_eq!(value(&points, "CPUUtilization", 1), Some(50.0));
        assert_eq!(value(&points, "MemoryUtilization", 1), None);
        assert_eq!(points.len(), 1);
    }
}
