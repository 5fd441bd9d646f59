//! Task operations: RunTask, StartTask, StopTask, DescribeTasks, ListTasks.
//!
//! A new task is written PROVISIONING with desired status RUNNING on the instance placement
//! chose; the instance's agent sees it on its next poll and reports it forward from there.

use std::collections::BTreeMap;

use flotilla_aws::Context;
use flotilla_control::ecs::tasks::{self as control_tasks, task_id};
use flotilla_control::placement::{self, LaunchRequest, LaunchSpec, Placement, LAUNCH_TYPES};
use flotilla_model::capacity_provider::parse_strategy;
use flotilla_model::run_token::RunTokenRecord;
use flotilla_model::service::{launch, NetworkConfiguration, PlacementConstraint};
use flotilla_model::tag::Tag;
use flotilla_model::task::overrides::TaskOverride;
use flotilla_model::task::{StopCause, StopCode, TaskStatus};
use flotilla_model::Scope;
use flotilla_scheduler as scheduler;
use serde::Deserialize;
use serde_json::{json, Value};

use super::clusters::active_cluster_name;
use super::container_instances::find as find_instance;
use crate::ecs::error::{invalid, EcsError};
use crate::pagination::{page_size, paginate_strings};
use crate::{keys, State};

mod wire;

pub use wire::to_wire;

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
    overrides: Option<TaskOverride>,
    started_by: Option<String>,
    group: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    placement_constraints: Vec<PlacementConstraintInput>,
    network_configuration: Option<NetworkConfiguration>,
    #[serde(default)]
    enable_execute_command: bool,
    /// RunTask's; StartTask has none.
    #[serde(default)]
    capacity_provider_strategy: Vec<Value>,
}

impl LaunchInput {
    /// The control plane's request, checked against the cluster and task definition.
    fn check(self, state: &State, scope: &Scope) -> Result<LaunchSpec, EcsError> {
        let task_definition = self
            .task_definition
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("taskDefinition is required."))?;
        let capacity_provider_strategy = parse_strategy(&self.capacity_provider_strategy)?;
        let request = LaunchRequest {
            cluster: self.cluster,
            task_definition,
            launch_type: self.launch_type,
            overrides: self.overrides.unwrap_or_default(),
            started_by: self.started_by,
            group: self.group,
            tags: self.tags,
            placement_constraints: self
                .placement_constraints
                .into_iter()
                .map(|c| PlacementConstraint {
                    kind: c.kind.unwrap_or_default(),
                    expression: c.expression,
                })
                .collect(),
            capacity_provider_strategy,
            allow_inactive: false,
            enable_execute_command: self.enable_execute_command,
            network: self
                .network_configuration
                .and_then(|n| n.awsvpc_configuration),
        };
        Ok(LaunchSpec::check(state, scope, request)?)
    }
}

/// A batch answer's `failures` entry of each placement failure.
fn failures_wire(failures: &[flotilla_model::run_token::PlacementFailure]) -> Value {
    serde_json::to_value(failures).unwrap_or_default()
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
    platform_version: Option<String>,
}

pub async fn run(state: &State, ctx: &Context, input: RunInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
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
            scheduler::parse_strategy(kind, s["field"].as_str())
                .map_err(crate::ecs::error::from_model)
        })
        .collect::<Result<Vec<_>, _>>()?;
    crate::ecs::check_network(state, ctx, input.launch.network_configuration.as_ref()).await?;
    let launch_type = input.launch.launch_type.as_deref().unwrap_or("EC2");
    if LAUNCH_TYPES.contains(&launch_type) {
        launch::platform_version(launch_type, input.platform_version.as_deref())?;
    }
    let launch = input.launch.check(state, &scope)?;
    let token = match input.client_token.as_deref().filter(|t| !t.is_empty()) {
        Some(t) if t.len() > 64 => {
            return Err(invalid("clientToken can be at most 64 characters long."))
        }
        Some(t) => {
            if let Some(previous) =
                control_tasks::run_token(state, &scope, &launch.cluster, t).await?
            {
                return Ok(replay(state, &scope, &launch.cluster, &previous));
            }
            Some(t)
        }
        None => None,
    };
    let placement = Placement {
        count: count as usize,
        strategies: &strategies,
        only: None,
        client_token: token,
        provider_tasks: None,
    };
    let launched = placement::launch(state, &scope, &launch, placement).await?;
    let tasks: Vec<Value> = launched.tasks.iter().map(|t| to_wire(t, true)).collect();
    Ok(json!({ "tasks": tasks, "failures": failures_wire(&launched.failures) }))
}

/// The answer of an earlier RunTask with the same client token: its tasks as they are now.
fn replay(state: &State, scope: &Scope, cluster: &str, saved: &RunTokenRecord) -> Value {
    let tasks: Vec<Value> = saved
        .task_arns
        .iter()
        .filter_map(|arn| task_id(arn, scope).ok())
        .filter_map(|id| {
            state
                .tasks()
                .get(keys::task(&scope.region, cluster, &id).as_bytes())
        })
        .map(|e| to_wire(&e.value, true))
        .collect();
    json!({ "tasks": tasks, "failures": failures_wire(&saved.failures) })
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
pub async fn start(state: &State, ctx: &Context, input: StartInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    if input.container_instances.is_empty() || input.container_instances.len() > 10 {
        return Err(invalid(
            "containerInstances must name between 1 and 10 instances.",
        ));
    }
    crate::ecs::check_network(state, ctx, input.launch.network_configuration.as_ref()).await?;
    let mut launch_input = input.launch;
    // StartTask's tasks are EC2 tasks on the named instances: never the cluster's default
    // capacity provider strategy.
    launch_input.launch_type = Some("EC2".into());
    launch_input.capacity_provider_strategy = vec![];
    let launch = launch_input.check(state, &scope)?;
    let mut arns = Vec::new();
    for id in &input.container_instances {
        let (_, e) = find_instance(state, &scope, &launch.cluster, id)?;
        arns.push(e.value.container_instance_arn.clone());
    }
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for arn in &arns {
        let placement = Placement {
            count: 1,
            strategies: &[],
            only: Some(std::slice::from_ref(arn)),
            client_token: None,
            provider_tasks: None,
        };
        let launched = placement::launch(state, &scope, &launch, placement).await?;
        tasks.extend(launched.tasks);
        failures.extend(launched.failures);
    }
    let tasks: Vec<Value> = tasks.iter().map(|t| to_wire(t, true)).collect();
    Ok(json!({ "tasks": tasks, "failures": failures_wire(&failures) }))
}

#[derive(Deserialize)]
pub struct StopInput {
    cluster: Option<String>,
    task: Option<String>,
    reason: Option<String>,
}

pub async fn stop(state: &State, ctx: &Context, input: StopInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let id = task_id(input.task.as_deref().unwrap_or(""), &scope)?;
    let reason = input
        .reason
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "Task stopped by user".into());
    if reason.len() > 255 {
        return Err(invalid("reason can be at most 255 characters long."));
    }
    let stop = control_tasks::Stop {
        code: StopCode::UserInitiated,
        cause: StopCause::User,
        reason: &reason,
        drain: false,
    };
    let task = control_tasks::stop(state, &scope, &cluster, &id, stop).await?;
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

pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    if input.tasks.is_empty() || input.tasks.len() > 100 {
        return Err(invalid("tasks must name between 1 and 100 tasks."));
    }
    let tags = super::wants_tags(&input.include, &["TAGS"])?;
    let (found, failures) = super::describe_each(
        &input.tasks,
        |t| {
            let id = task_id(t, &scope).ok()?;
            let e = state
                .tasks()
                .get(keys::task(&scope.region, &cluster, &id).as_bytes())?;
            Some(to_wire(&e.value, tags))
        },
        |t| {
            task_id(t, &scope)
                .ok()
                .map(|id| scope.arn("ecs", format!("task/{cluster}/{id}")).to_string())
        },
    );
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

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
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
