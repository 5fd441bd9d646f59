//! Task operations: RunTask, StartTask, StopTask, DescribeTasks, ListTasks.
//!
//! A new task is written PROVISIONING with desired status RUNNING on the instance placement
//! chose; the instance's agent sees it on its next poll and reports it forward from there.

use std::collections::BTreeMap;

use flotilla_aws::{AwsError, Context};
use flotilla_model::container_instance;
use flotilla_model::record::encode;
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::task::{
    Container, ContainerStatus, HealthStatus, StopCode, TaskRecord, TaskStatus,
};
use flotilla_model::task_definition::{TaskDefinition, TaskDefinitionStatus};
use flotilla_model::task_definition_record::TaskDefinitionRecord;
use flotilla_model::{Arn, Scope};
use flotilla_store::view::Entry;
use flotilla_store::{Compare, Op, Txn};
use serde::Deserialize;
use serde_json::{json, Value};

use super::clusters::active_cluster_name;
use super::container_instances::{find as find_instance, occupancy};
use super::failure;
use super::task_definitions;
use crate::error::{client, invalid};
use crate::pagination::{page_size, paginate_strings};
use crate::reservations::Reserved;
use crate::resources::{remaining, task_usage, Usage};
use crate::{keys, State};
use flotilla_scheduler::{
    self as scheduler, Constraint, InstanceState, Resources, Snapshot, Strategy, TaskRequest,
    NO_INSTANCES,
};

/// Launch types a task can have.
const LAUNCH_TYPES: &[&str] = &["EC2", "FARGATE", "EXTERNAL"];

/// The task id a `task` parameter (id or ARN) names.
pub fn task_id(id: &str) -> Result<String, AwsError> {
    if id.starts_with("arn:") {
        let arn = Arn::parse(id)
            .filter(|a| a.service == "ecs" && a.resource_parts().0 == "task")
            .ok_or_else(|| invalid(format!("'{id}' is not a task ARN.")))?;
        Ok(arn.resource.rsplit('/').next().unwrap_or("").to_string())
    } else if id.is_empty() || id.contains('/') {
        Err(invalid(format!("'{id}' is not a task id or ARN.")))
    } else {
        Ok(id.to_string())
    }
}

/// The ECS `Task` shape.
pub fn to_wire(t: &TaskRecord, tags: bool) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        if !tags {
            obj.remove("tags");
        }
    }
    v
}

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
    launch_type: Option<String>,
    #[serde(default)]
    overrides: Value,
    started_by: Option<String>,
    group: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    placement_constraints: Vec<PlacementConstraintInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunInput {
    #[serde(flatten)]
    launch: LaunchInput,
    count: Option<i64>,
    client_token: Option<String>,
    #[serde(default)]
    placement_strategy: Vec<Value>,
}

/// Everything checked about a request to start tasks from one definition.
struct Launch {
    cluster: String,
    definition: Entry<TaskDefinitionRecord>,
    launch_type: String,
    overrides: Value,
    started_by: Option<String>,
    group: String,
    tags: Vec<Tag>,
    constraints: Vec<Constraint>,
    /// `requiresAttributes` of the definition: attribute names an instance must have.
    required_attributes: Vec<String>,
}

fn check_launch(state: &State, scope: &Scope, input: LaunchInput) -> Result<Launch, AwsError> {
    let LaunchInput {
        cluster,
        task_definition,
        launch_type,
        overrides,
        started_by,
        group,
        tags,
        placement_constraints: constraints,
    } = input;
    let cluster = active_cluster_name(state, scope, cluster.as_deref())?;
    let id = task_definition
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("taskDefinition is required."))?;
    let definition = task_definitions::resolve(state, scope, &id)?;
    if definition.value.status() != TaskDefinitionStatus::Active {
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
        overrides: if overrides.is_null() {
            json!({"containerOverrides": []})
        } else {
            overrides
        },
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

/// The scheduler's view of a cluster's registered instances (or of the `only` ones).
/// Placements planned but not yet committed count as taken.
fn snapshot(state: &State, scope: &Scope, cluster: &str, only: Option<&[String]>) -> Snapshot {
    let o = occupancy(state, scope, cluster);
    let reserved = state.reservations().by_instance();
    let prefix = keys::in_cluster(keys::CONTAINER_INSTANCES, &scope.region, cluster);
    let instances = state
        .instances()
        .range(prefix.as_bytes())
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.value.status != container_instance::INACTIVE)
        .filter(|e| only.is_none_or(|ids| ids.iter().any(|i| i == &e.value.container_instance_arn)))
        .map(|e| {
            let attributes = state.scheduler_attributes(&e.value, e.mod_revision);
            let r = e.value;
            let load = o.load(&r.container_instance_arn);
            let pending = reserved
                .get(&r.container_instance_arn)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let rem = remaining(
                &r,
                load.map(|l| &l.usage)
                    .into_iter()
                    .chain(pending.iter().map(|p| &p.usage)),
            );
            let mut groups: std::collections::BTreeMap<String, u32> = load
                .map(|l| l.groups.iter().map(|(g, n)| (g.clone(), *n)).collect())
                .unwrap_or_default();
            for p in pending {
                *groups.entry(p.group.clone()).or_default() += 1;
            }
            InstanceState {
                arn: r.container_instance_arn.clone(),
                id: r.id().to_string(),
                status: r.status.clone(),
                connected: state.agent_connected(&scope.region, cluster, r.id()),
                attributes,
                remaining: Resources {
                    cpu: rem.cpu,
                    memory: rem.memory,
                    gpus: 0,
                    tcp_ports: rem.tcp_ports,
                    udp_ports: rem.udp_ports,
                },
                groups,
                running_tasks: load.map_or(0, |l| l.running.max(0) as u32),
                registered_at: r.registered_at.to_rfc3339(),
                agent_version: r.version_info.agent_version.clone(),
                ec2_instance_id: r.ec2_instance_id.clone(),
            }
        })
        .collect();
    Snapshot::new(scope.cluster_arn(cluster), instances)
}

/// Place `count` tasks with the scheduler (on the `only` instances, for StartTask) and
/// store them in one transaction; the answer's failures say why the rest did not fit.
async fn launch_tasks(
    state: &State,
    scope: &Scope,
    launch: &Launch,
    count: usize,
    strategies: &[Strategy],
    only: Option<&[String]>,
    token_key: Option<String>,
) -> Result<(Vec<TaskRecord>, Vec<Value>), AwsError> {
    let turn = state
        .placement_locks()
        .lock(&keys::cluster(&scope.region, &launch.cluster))
        .await;
    let snap = snapshot(state, scope, &launch.cluster, only);
    let need = task_usage(
        &new_task(scope, launch, "", None),
        Some(&launch.definition.value.definition),
    );
    let request = TaskRequest {
        count,
        group: launch.group.clone(),
        cpu: need.cpu,
        memory: need.memory,
        gpus: 0,
        tcp_ports: need.tcp_ports,
        udp_ports: need.udp_ports,
        required_attributes: launch.required_attributes.clone(),
        constraints: launch.constraints.clone(),
        strategies: strategies.to_vec(),
        seed: rand::random(),
    };
    let reserved_usage = Usage {
        cpu: request.cpu,
        memory: request.memory,
        tcp_ports: request.tcp_ports.clone(),
        udp_ports: request.udp_ports.clone(),
    };
    let plan = scheduler::schedule(&snap, &request);
    if plan.placements.is_empty()
        && only.is_none()
        && plan.failures.iter().any(|f| f.reason == NO_INSTANCES)
    {
        return Err(invalid(NO_INSTANCES));
    }
    let tasks: Vec<TaskRecord> = plan
        .placements
        .iter()
        .map(|p| {
            let az = snap.instances[p.instance]
                .attributes
                .get("ecs.availability-zone")
                .cloned()
                .flatten();
            new_task(scope, launch, &p.instance_arn, az)
        })
        .collect();
    let failures: Vec<Value> = plan
        .failures
        .iter()
        .map(|f| failure(&f.arn, &f.reason))
        .collect();
    // Hold the placed tasks' resources and let the next request plan while this one
    // commits; the reservation ends (on drop) once the commit is visible or has failed.
    let _reservation = state.reservations().hold(
        plan.placements
            .iter()
            .map(|p| Reserved {
                instance_arn: p.instance_arn.clone(),
                usage: reserved_usage.clone(),
                group: launch.group.clone(),
            })
            .collect(),
    );
    drop(turn);
    let mut ops: Vec<Op> = tasks
        .iter()
        .map(|t| {
            let id = t.task_arn.rsplit('/').next().unwrap_or("");
            Op::put(keys::task(&scope.region, &launch.cluster, id), encode(t))
        })
        .collect();
    if let Some(k) = token_key {
        let arns: Vec<&str> = tasks.iter().map(|t| t.task_arn.as_str()).collect();
        let saved = json!({ "taskArns": arns, "failures": failures });
        ops.push(Op::put(k, serde_json::to_vec(&saved).unwrap_or_default()));
    }
    if !ops.is_empty() {
        let cluster_key = keys::cluster(&scope.region, &launch.cluster);
        let cluster_rev = state
            .clusters()
            .get(cluster_key.as_bytes())
            .map(|e| e.mod_revision)
            .unwrap_or(0);
        let txn = Txn {
            compares: vec![Compare::unchanged(cluster_key, cluster_rev)],
            success: ops,
            failure: vec![],
        };
        if !state.commit(txn).await?.succeeded {
            return Err(client(
                "The cluster changed while the tasks were being placed; retry the request.",
            ));
        }
    }
    Ok((tasks, failures))
}

pub async fn run(state: &State, ctx: &Context, input: RunInput) -> Result<Value, AwsError> {
    let scope = state.scope(ctx);
    let count = input.count.unwrap_or(1);
    if !(1..=10).contains(&count) {
        return Err(invalid(format!(
            "count must be between 1 and 10; got {count}."
        )));
    }
    let strategies = input
        .placement_strategy
        .iter()
        .map(|s| {
            let kind = s["type"].as_str().unwrap_or("");
            scheduler::parse_strategy(kind, s["field"].as_str()).map_err(crate::error::from_model)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let launch = check_launch(state, &scope, input.launch)?;
    let token_key = match input.client_token.as_deref().filter(|t| !t.is_empty()) {
        Some(t) if t.len() > 64 => {
            return Err(invalid("clientToken can be at most 64 characters long."))
        }
        Some(t) => {
            let key = keys::run_token(&scope.region, &launch.cluster, t);
            if let Some(previous) = replay(state, &scope, &launch.cluster, &key).await? {
                return Ok(previous);
            }
            Some(key)
        }
        None => None,
    };
    let (tasks, failures) = launch_tasks(
        state,
        &scope,
        &launch,
        count as usize,
        &strategies,
        None,
        token_key,
    )
    .await?;
    let tasks: Vec<Value> = tasks.iter().map(|t| to_wire(t, true)).collect();
    Ok(json!({ "tasks": tasks, "failures": failures }))
}

/// The answer of an earlier RunTask with the same client token, if any.
async fn replay(
    state: &State,
    scope: &Scope,
    cluster: &str,
    key: &str,
) -> Result<Option<Value>, AwsError> {
    let Some(kv) = state
        .store()
        .get(key.as_bytes())
        .await
        .map_err(crate::error::from_store)?
    else {
        return Ok(None);
    };
    let saved: Value = serde_json::from_slice(&kv.value).unwrap_or_default();
    let tasks: Vec<Value> = saved["taskArns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str())
        .filter_map(|arn| task_id(arn).ok())
        .filter_map(|id| {
            state
                .tasks()
                .get(keys::task(&scope.region, cluster, &id).as_bytes())
        })
        .map(|e| to_wire(&e.value, true))
        .collect();
    Ok(Some(
        json!({ "tasks": tasks, "failures": saved["failures"] }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInput {
    #[serde(flatten)]
    launch: LaunchInput,
    #[serde(default)]
    container_instances: Vec<String>,
}

/// StartTask: one task on each named instance.
pub async fn start(state: &State, ctx: &Context, input: StartInput) -> Result<Value, AwsError> {
    let scope = state.scope(ctx);
    if input.container_instances.is_empty() || input.container_instances.len() > 10 {
        return Err(invalid(
            "containerInstances must name between 1 and 10 instances.",
        ));
    }
    let mut launch_input = input.launch;
    launch_input.launch_type = None;
    let launch = check_launch(state, &scope, launch_input)?;
    let mut arns = Vec::new();
    for id in &input.container_instances {
        let (_, e) = find_instance(state, &scope, &launch.cluster, id)?;
        arns.push(e.value.container_instance_arn.clone());
    }
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for arn in &arns {
        let (t, f) = launch_tasks(
            state,
            &scope,
            &launch,
            1,
            &[],
            Some(std::slice::from_ref(arn)),
            None,
        )
        .await?;
        tasks.extend(t);
        failures.extend(f);
    }
    let tasks: Vec<Value> = tasks.iter().map(|t| to_wire(t, true)).collect();
    Ok(json!({ "tasks": tasks, "failures": failures }))
}

#[derive(Deserialize)]
pub struct StopInput {
    cluster: Option<String>,
    task: Option<String>,
    reason: Option<String>,
}

/// Ask a task to stop with a stop code and reason; the agent does the rest.
pub async fn stop_task(
    state: &State,
    scope: &Scope,
    cluster: &str,
    id: &str,
    code: StopCode,
    reason: &str,
) -> Result<TaskRecord, AwsError> {
    let key = keys::task(&scope.region, cluster, id);
    for _ in 0..16 {
        let entry = state
            .tasks()
            .get(key.as_bytes())
            .ok_or_else(|| invalid("The referenced task was not found."))?;
        let mut task = (*entry.value).clone();
        let now = chrono::Utc::now();
        if !task.request_stop(code, reason, now) {
            return Ok(task);
        }
        if task.container_instance_arn.is_none() {
            task.last_status = TaskStatus::Stopped;
            task.stopped_at = Some(now);
        }
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::put(key.clone(), encode(&task))],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(task);
        }
    }
    Err(client(
        "The task kept changing while it was being stopped; retry the request.",
    ))
}

pub async fn stop(state: &State, ctx: &Context, input: StopInput) -> Result<Value, AwsError> {
    let scope = state.scope(ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let id = task_id(input.task.as_deref().unwrap_or(""))?;
    let reason = input
        .reason
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "Task stopped by user".into());
    if reason.len() > 255 {
        return Err(invalid("reason can be at most 255 characters long."));
    }
    let task = stop_task(
        state,
        &scope,
        &cluster,
        &id,
        StopCode::UserInitiated,
        &reason,
    )
    .await?;
    Ok(json!({ "task": to_wire(&task, true) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    cluster: Option<String>,
    #[serde(default)]
    tasks: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
}

pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, AwsError> {
    let scope = state.scope(ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    if input.tasks.is_empty() || input.tasks.len() > 100 {
        return Err(invalid("tasks must name between 1 and 100 tasks."));
    }
    let mut tags = false;
    for i in &input.include {
        match i.as_str() {
            "TAGS" => tags = true,
            other => {
                return Err(invalid(format!(
                    "include value '{other}' is invalid: use TAGS."
                )))
            }
        }
    }
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for t in &input.tasks {
        let entry = task_id(t).ok().and_then(|id| {
            state
                .tasks()
                .get(keys::task(&scope.region, &cluster, &id).as_bytes())
        });
        match entry {
            Some(e) => found.push(to_wire(&e.value, tags)),
            None => {
                let arn = match task_id(t) {
                    Ok(id) => scope.arn("ecs", format!("task/{cluster}/{id}")).to_string(),
                    Err(_) => t.clone(),
                };
                failures.push(failure(&arn, "MISSING"));
            }
        }
    }
    Ok(json!({ "tasks": found, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    cluster: Option<String>,
    container_instance: Option<String>,
    family: Option<String>,
    started_by: Option<String>,
    service_name: Option<String>,
    desired_status: Option<String>,
    launch_type: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, AwsError> {
    let scope = state.scope(ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let size = page_size(input.max_results, 100)?;
    let desired = match input.desired_status.as_deref() {
        None | Some("RUNNING") => TaskStatus::Running,
        Some("PENDING") => TaskStatus::Pending,
        Some("STOPPED") => TaskStatus::Stopped,
        Some(other) => {
            return Err(invalid(format!(
                "desiredStatus '{other}' is invalid: use RUNNING, PENDING or STOPPED."
            )))
        }
    };
    if let Some(l) = &input.launch_type {
        if !LAUNCH_TYPES.contains(&l.as_str()) {
            return Err(invalid(format!(
                "launchType '{l}' is invalid: use EC2, FARGATE or EXTERNAL."
            )));
        }
    }
    let instance = match &input.container_instance {
        Some(i) => Some(
            find_instance(state, &scope, &cluster, i)?
                .1
                .value
                .container_instance_arn
                .clone(),
        ),
        None => None,
    };
    let group = input.service_name.as_ref().map(|s| format!("service:{s}"));
    let family = input.family.as_ref().map(|f| format!("/{f}:"));
    let prefix = keys::in_cluster(keys::TASKS, &scope.region, &cluster);
    let mut arns: BTreeMap<String, String> = BTreeMap::new();
    for (_, e) in state.tasks().range(prefix.as_bytes()) {
        let t = &e.value;
        let status_ok = match desired {
            // PENDING: desired RUNNING but not running yet.
            TaskStatus::Pending => {
                t.desired_status == TaskStatus::Running && t.last_status < TaskStatus::Running
            }
            d => t.desired_status == d,
        };
        let keep = status_ok
            && instance
                .as_ref()
                .is_none_or(|i| t.container_instance_arn.as_ref() == Some(i))
            && family
                .as_ref()
                .is_none_or(|f| t.task_definition_arn.contains(f.as_str()))
            && input
                .started_by
                .as_ref()
                .is_none_or(|s| t.started_by.as_ref() == Some(s))
            && group.as_ref().is_none_or(|g| t.group.as_ref() == Some(g))
            && input
                .launch_type
                .as_ref()
                .is_none_or(|l| t.launch_type == *l);
        if keep {
            arns.insert(t.task_arn.clone(), t.task_arn.clone());
        }
    }
    let items: Vec<String> = arns.into_values().collect();
    let (page, next) = paginate_strings(items, input.next_token.as_deref(), size)?;
    Ok(json!({ "taskArns": page, "nextToken": next }))
}
