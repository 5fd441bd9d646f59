//! Turning a RunTask or StartTask request into placed tasks: checking the request against
//! its task definition, asking the scheduler where the tasks go (with a snapshot of the
//! cluster that counts in-flight placements), and committing the new task records.

use flotilla_aws::AwsError;
use flotilla_model::record::encode;
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::task::{Container, ContainerStatus, HealthStatus, TaskRecord, TaskStatus};
use flotilla_model::task_definition::{TaskDefinition, TaskDefinitionStatus};
use flotilla_model::task_definition_record::TaskDefinitionRecord;
use flotilla_model::Scope;
use flotilla_scheduler::{
    self as scheduler, Constraint, Plan, Snapshot, Strategy, TaskRequest, NO_INSTANCES,
};
use flotilla_store::view::Entry;
use flotilla_store::Op;
use serde::Deserialize;
use serde_json::{json, Value};

use super::LAUNCH_TYPES;
use crate::applier::{Placed, Proposal, Verdict};
use crate::ecs::clusters::active_cluster_name;
use crate::ecs::{failure, task_definitions};
use crate::error::{client, invalid};
use crate::picture::Picture;
use crate::reservations::Reserved;
use crate::resources::task_usage;
use crate::{keys, State};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ContainerOverride {
    name: Option<String>,
    cpu: Option<i64>,
    memory: Option<i64>,
    memory_reservation: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskOverride {
    #[serde(default)]
    container_overrides: Vec<ContainerOverride>,
    cpu: Option<String>,
    memory: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacementConstraintInput {
    #[serde(rename = "type")]
    kind: Option<String>,
    expression: Option<String>,
}

/// What RunTask and StartTask share.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchInput {
    cluster: Option<String>,
    task_definition: Option<String>,
    pub launch_type: Option<String>,
    #[serde(default)]
    overrides: Value,
    started_by: Option<String>,
    group: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    placement_constraints: Vec<PlacementConstraintInput>,
    /// Whether an INACTIVE task definition may start tasks (a service keeps running the
    /// revision it was given after that revision is deregistered, as ECS does).
    #[serde(skip)]
    pub allow_inactive: bool,
}

/// Everything checked about a request to start tasks from one definition.
pub struct Launch {
    pub cluster: String,
    definition: Entry<TaskDefinitionRecord>,
    launch_type: String,
    overrides: Value,
    started_by: Option<String>,
    group: String,
    pub tags: Vec<Tag>,
    constraints: Vec<Constraint>,
    /// `requiresAttributes` of the definition: attribute names an instance must have.
    required_attributes: Vec<String>,
}

pub fn check_launch(state: &State, scope: &Scope, input: LaunchInput) -> Result<Launch, AwsError> {
    let LaunchInput {
        cluster,
        task_definition,
        launch_type,
        overrides,
        started_by,
        group,
        tags,
        placement_constraints: constraints,
        allow_inactive,
    } = input;
    let cluster = active_cluster_name(state, scope, cluster.as_deref())?;
    let id = task_definition
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("taskDefinition is required."))?;
    let definition = task_definitions::resolve(state, scope, &id)?;
    if definition.value.status() != TaskDefinitionStatus::Active && !allow_inactive {
        return Err(client(format!(
            "TaskDefinition {id} is inactive and cannot start new tasks."
        )));
    }
    let launch_type = launch_type.unwrap_or_else(|| "EC2".into());
    if !LAUNCH_TYPES.contains(&launch_type.as_str()) {
        return Err(invalid(format!(
            "launchType '{launch_type}' is invalid: use EC2, FARGATE or EXTERNAL."
        )));
    }
    let d = &definition.value.definition;
    if launch_type == "FARGATE" && !d.compatibilities.iter().any(|c| c == "FARGATE") {
        return Err(invalid(
            "Task definition does not support launch_type FARGATE: it needs networkMode awsvpc \
             and task-level cpu and memory in a Fargate combination.",
        ));
    }
    let parsed: TaskOverride = if overrides.is_null() {
        TaskOverride::default()
    } else {
        serde_json::from_value(overrides.clone())
            .map_err(|e| AwsError::serialization(format!("overrides: {e}")))?
    };
    for o in &parsed.container_overrides {
        let name = o.name.as_deref().unwrap_or("");
        if !d
            .container_definitions
            .iter()
            .any(|c| c.name.as_deref() == Some(name))
        {
            return Err(invalid(format!(
                "Container override names '{name}', which is not a container of {}.",
                definition.value.arn()
            )));
        }
    }
    if let Some(s) = &started_by {
        if s.len() > 128 {
            return Err(invalid("startedBy can be at most 128 characters long."));
        }
    }
    validate_tags(&tags).map_err(crate::error::from_model)?;
    let group = group.unwrap_or_else(|| format!("family:{}", definition.value.family()));
    let declared = d
        .placement_constraints
        .iter()
        .map(|c| (c.kind.clone(), c.expression.clone()));
    let given = constraints
        .iter()
        .map(|c| (c.kind.clone(), c.expression.clone()));
    let parsed_constraints = declared
        .chain(given)
        .map(|(kind, expression)| {
            scheduler::parse_constraint(kind.as_deref().unwrap_or(""), expression.as_deref())
                .map_err(crate::error::from_model)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let required_attributes = d
        .requires_attributes
        .iter()
        .map(|a| a.name.clone())
        .collect();
    Ok(Launch {
        cluster,
        definition,
        launch_type,
        overrides,
        started_by,
        group,
        tags,
        constraints: parsed_constraints,
        required_attributes,
    })
}

/// A new task record for `launch` on `instance_arn`.
fn new_task(scope: &Scope, launch: &Launch, instance_arn: &str, az: Option<String>) -> TaskRecord {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let task_arn = scope
        .arn("ecs", format!("task/{}/{id}", launch.cluster))
        .to_string();
    let d: &TaskDefinition = &launch.definition.value.definition;
    let overrides: TaskOverride =
        serde_json::from_value(launch.overrides.clone()).unwrap_or_default();
    let containers = d
        .container_definitions
        .iter()
        .map(|c| {
            let name = c.name.clone().unwrap_or_default();
            let o = overrides
                .container_overrides
                .iter()
                .find(|o| o.name.as_deref() == Some(name.as_str()));
            let cpu = o.and_then(|o| o.cpu).or(c.cpu.map(i64::from)).unwrap_or(0);
            let memory = o.and_then(|o| o.memory).or(c.memory.map(i64::from));
            let reservation = o
                .and_then(|o| o.memory_reservation)
                .or(c.memory_reservation.map(i64::from));
            Container {
                container_arn: scope
                    .arn(
                        "ecs",
                        format!("container/{}/{id}/{}", launch.cluster, uuid::Uuid::new_v4()),
                    )
                    .to_string(),
                task_arn: task_arn.clone(),
                name,
                image: c.image.clone().unwrap_or_default(),
                runtime_id: None,
                last_status: ContainerStatus::Pending,
                exit_code: None,
                reason: None,
                network_bindings: vec![],
                network_interfaces: vec![],
                health_status: HealthStatus::Unknown,
                cpu: Some(cpu.to_string()),
                memory: memory.map(|m| m.to_string()),
                memory_reservation: reservation.map(|m| m.to_string()),
            }
        })
        .collect();
    TaskRecord {
        task_arn,
        cluster_arn: scope.cluster_arn(&launch.cluster),
        task_definition_arn: launch.definition.value.arn().to_string(),
        container_instance_arn: Some(instance_arn.to_string()),
        last_status: TaskStatus::Provisioning,
        desired_status: TaskStatus::Running,
        launch_type: launch.launch_type.clone(),
        cpu: overrides.cpu.clone().or_else(|| d.cpu.clone()),
        memory: overrides.memory.clone().or_else(|| d.memory.clone()),
        containers,
        overrides: launch.overrides.clone(),
        started_by: launch.started_by.clone(),
        group: Some(launch.group.clone()),
        attachments: vec![],
        availability_zone: az,
        health_status: HealthStatus::Unknown,
        created_at: chrono::Utc::now(),
        pull_started_at: None,
        pull_stopped_at: None,
        started_at: None,
        stopping_at: None,
        stopped_at: None,
        execution_stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        tags: launch.tags.clone(),
        version: 1,
        connectivity: Some("CONNECTED".into()),
    }
}

/// How often a request plans again after the plan applier turned its plan down.
const MAX_ATTEMPTS: usize = 8;

/// Plan `request` against the cluster's picture (or the `only` instances of it) and apply
/// the plan to the picture, so the next request plans around it.
fn plan_on(picture: &mut Picture, request: &TaskRequest, only: Option<&[String]>) -> Plan {
    let Some(ids) = only else {
        let plan = scheduler::schedule(&picture.snapshot, request);
        let _ = picture.snapshot.apply(request, &plan);
        return plan;
    };
    let chosen: Vec<usize> = (0..picture.snapshot.instances.len())
        .filter(|&i| ids.contains(&picture.snapshot.instances[i].arn))
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

/// Place `count` tasks with the scheduler (on the `only` instances, for StartTask) and
/// have the plan applier store them; the answer's failures say why the rest did not fit.
pub async fn launch_tasks(
    state: &State,
    scope: &Scope,
    launch: &Launch,
    count: usize,
    strategies: &[Strategy],
    only: Option<&[String]>,
    token_key: Option<String>,
) -> Result<(Vec<TaskRecord>, Vec<Value>), AwsError> {
    let cluster_key = keys::cluster(&scope.region, &launch.cluster);
    let need = task_usage(
        &new_task(scope, launch, "", None),
        Some(&launch.definition.value.definition),
    );
    let picture = state.pictures().of(&cluster_key);
    let mut why = String::new();
    for _ in 0..MAX_ATTEMPTS {
        let request = TaskRequest {
            count,
            group: launch.group.clone(),
            cpu: need.cpu,
            memory: need.memory,
            gpus: 0,
            tcp_ports: need.tcp_ports.clone(),
            udp_ports: need.udp_ports.clone(),
            required_attributes: launch.required_attributes.clone(),
            constraints: launch.constraints.clone(),
            strategies: strategies.to_vec(),
            seed: rand::random(),
        };
        let mut pic = picture.lock().await;
        pic.refresh(state, scope, &launch.cluster);
        let plan = plan_on(&mut pic, &request, only);
        if plan.placements.is_empty()
            && only.is_none()
            && plan.failures.iter().any(|f| f.reason == NO_INSTANCES)
        {
            return Err(invalid(NO_INSTANCES));
        }
        let placed: Vec<(Placed, Option<String>)> = plan
            .placements
            .iter()
            .map(|p| {
                let instance = &pic.snapshot.instances[p.instance];
                let placed = Placed {
                    instance_key: keys::container_instance(
                        &scope.region,
                        &launch.cluster,
                        &instance.id,
                    ),
                    instance_arn: p.instance_arn.clone(),
                };
                let az = instance
                    .attributes
                    .get("ecs.availability-zone")
                    .cloned()
                    .flatten();
                (placed, az)
            })
            .collect();
        // Hold the placed tasks' resources for pictures rebuilt before the tasks are
        // visible; the reservation ends (on drop) once they are, or were turned down.
        let reservation = state.reservations().hold(
            placed
                .iter()
                .map(|(p, _)| Reserved {
                    instance_arn: p.instance_arn.clone(),
                    usage: need.clone(),
                    group: launch.group.clone(),
                })
                .collect(),
        );
        drop(pic);
        let tasks: Vec<TaskRecord> = placed
            .iter()
            .map(|(p, az)| new_task(scope, launch, &p.instance_arn, az.clone()))
            .collect();
        let failures: Vec<Value> = plan
            .failures
            .iter()
            .map(|f| failure(&f.arn, &f.reason))
            .collect();
        let mut ops: Vec<Op> = tasks
            .iter()
            .map(|t| {
                let id = t.task_arn.rsplit('/').next().unwrap_or("");
                Op::put(keys::task(&scope.region, &launch.cluster, id), encode(t))
            })
            .collect();
        if let Some(k) = &token_key {
            let arns: Vec<&str> = tasks.iter().map(|t| t.task_arn.as_str()).collect();
            let saved = json!({ "taskArns": arns, "failures": failures });
            ops.push(Op::put(
                k.as_str(),
                serde_json::to_vec(&saved).unwrap_or_default(),
            ));
        }
        if ops.is_empty() {
            return Ok((tasks, failures));
        }
        let cluster_rev = state
            .clusters()
            .get(cluster_key.as_bytes())
            .map(|e| e.mod_revision)
            .unwrap_or(0);
        let proposal = Proposal {
            cluster_key: cluster_key.clone(),
            cluster_rev,
            placements_key: keys::placements(&scope.region, &launch.cluster),
            placed: placed.into_iter().map(|(p, _)| p).collect(),
            usage: need.clone(),
            group: launch.group.clone(),
            distinct: launch
                .constraints
                .iter()
                .any(|c| matches!(c, Constraint::DistinctInstance)),
            ops,
        };
        match state.applier().propose(proposal).await {
            Verdict::Committed(rev) => {
                reservation.committed(rev);
                state.caught_up(rev).await?;
                return Ok((tasks, failures));
            }
            Verdict::Conflict(reason) => {
                picture.lock().await.invalidate();
                why = reason;
            }
            Verdict::Failed(e) => {
                picture.lock().await.invalidate();
                return Err(e);
            }
        }
    }
    Err(client(format!(
        "The cluster kept changing while the tasks were being placed ({why}); retry the request."
    )))
}
