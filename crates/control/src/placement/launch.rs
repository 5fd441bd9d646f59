//! Placing new tasks: the typed entry point RunTask, StartTask and the service controller
//! all use. [`LaunchSpec::check`] checks a request against its task definition;
//! [`launch`] asks the scheduler where the tasks go (on the cluster's picture, which counts
//! in-flight placements), has the plan applier commit the new task records, and plans again
//! when the applier turned the plan down.

use std::collections::{BTreeMap, HashSet};

use flotilla_model::capacity_provider::{self as cp, StrategyItem};
use flotilla_model::host_access::HostAccess;
use flotilla_model::record::encode;
use flotilla_model::run_token::{PlacementFailure, RunTokenRecord};
use flotilla_model::service::{AwsVpcConfiguration, PlacementConstraint};
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::task::overrides::TaskOverride;
use flotilla_model::task::{Container, ContainerStatus, HealthStatus, TaskRecord, TaskStatus};
use flotilla_model::task_definition::{TaskDefinition, TaskDefinitionStatus};
use flotilla_model::task_definition_record::TaskDefinitionRecord;
use flotilla_model::Scope;
use flotilla_scheduler::{self as scheduler, Constraint, Strategy, TaskRequest, NO_INSTANCES};
use flotilla_store::view::Entry;
use flotilla_store::Op;

use crate::ecs::capacity_providers::{self, Capacity};
use crate::ecs::{clusters, task_definitions};
use crate::placement::applier::{Placed, Proposal, Verdict};
use crate::placement::groups::{plan_groups, provider_groups};
use crate::placement::reservations::Reserved;
use crate::placement::resources::task_usage;
use crate::{keys, ControlError, State};

/// Launch types a task can have.
pub const LAUNCH_TYPES: &[&str] = &["EC2", "FARGATE", "EXTERNAL"];

/// A request to start tasks from one task definition, as RunTask, StartTask or a service
/// asks for it, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct LaunchRequest {
    /// The cluster's name or ARN; `default` when absent.
    pub cluster: Option<String>,
    /// `family`, `family:revision` or an ARN.
    pub task_definition: String,
    /// `EC2` when absent.
    pub launch_type: Option<String>,
    pub overrides: TaskOverride,
    pub started_by: Option<String>,
    /// `family:FAMILY` when absent.
    pub group: Option<String>,
    pub tags: Vec<Tag>,
    /// On top of the definition's own.
    pub placement_constraints: Vec<PlacementConstraint>,
    /// The capacity provider strategy asked for (empty: none). Neither this nor a launch
    /// type: the cluster's default strategy.
    pub capacity_provider_strategy: Vec<StrategyItem>,
    /// Whether an INACTIVE task definition may start tasks (a service keeps running the
    /// revision it was given after that revision is deregistered, as ECS does).
    pub allow_inactive: bool,
    /// awsvpc tasks' subnets and security groups (checked by the caller); none: the
    /// default VPC's default subnets and its default group.
    pub network: Option<AwsVpcConfiguration>,
    /// Whether ExecuteCommand may run commands in the tasks.
    pub enable_execute_command: bool,
}

/// A checked request to start tasks from one definition.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The name of the ACTIVE cluster.
    pub cluster: String,
    pub definition: Entry<TaskDefinitionRecord>,
    pub launch_type: String,
    /// The strategy the tasks are placed with, each on an instance of its provider; empty
    /// when the launch type places them on any instance.
    pub capacity_provider_strategy: Vec<StrategyItem>,
    pub overrides: TaskOverride,
    pub started_by: Option<String>,
    pub group: String,
    pub tags: Vec<Tag>,
    pub constraints: Vec<Constraint>,
    /// `requiresAttributes` of the definition and the host access it needs: attribute
    /// names an instance must have.
    pub required_attributes: Vec<String>,
    /// Host paths the task bind-mounts (an instance's allow-list must take them).
    pub host_paths: Vec<String>,
    /// Whether the definition's network mode is awsvpc: each task is given an address.
    pub awsvpc: bool,
    /// The subnets and security groups awsvpc tasks are given.
    pub network: Option<AwsVpcConfiguration>,
    /// Whether ExecuteCommand may run commands in the tasks.
    pub enable_execute_command: bool,
}

impl LaunchSpec {
    /// Check `request` against its cluster and task definition.
    pub fn check(
        state: &State,
        scope: &Scope,
        request: LaunchRequest,
    ) -> Result<LaunchSpec, ControlError> {
        let id = request.task_definition.clone();
        Self::check_with(state, scope, request, || {
            task_definitions::resolve(state, scope, &id)
        })
    }

    /// [`LaunchSpec::check`] with the definition `resolve` finds (a daemon's launch runs a
    /// daemon task definition, which `request.task_definition` names); it is asked after
    /// the launch type and the cluster are checked, as ECS orders its errors.
    pub fn check_with(
        state: &State,
        scope: &Scope,
        request: LaunchRequest,
        resolve: impl FnOnce() -> Result<Entry<TaskDefinitionRecord>, ControlError>,
    ) -> Result<LaunchSpec, ControlError> {
        let LaunchRequest {
            cluster,
            task_definition,
            launch_type,
            overrides,
            started_by,
            group,
            tags,
            placement_constraints,
            capacity_provider_strategy,
            allow_inactive,
            network,
            enable_execute_command,
        } = request;
        // The request's own values are checked before anything is looked up, as ECS does:
        // a bad launch type is an InvalidParameterException even for a missing cluster.
        if let Some(l) = launch_type.as_deref() {
            if !LAUNCH_TYPES.contains(&l) {
                return Err(ControlError::invalid(format!(
                    "launchType '{l}' is invalid: use EC2, FARGATE or EXTERNAL."
                )));
            }
        }
        let cluster_entry = clusters::active(state, scope, cluster.as_deref())?;
        let cluster = cluster_entry.value.cluster_name.clone();
        if task_definition.is_empty() {
            return Err(ControlError::invalid("taskDefinition is required."));
        }
        let definition = resolve()?;
        if definition.value.status() != TaskDefinitionStatus::Active && !allow_inactive {
            return Err(ControlError::client(format!(
                "TaskDefinition {task_definition} is inactive and cannot start new tasks."
            )));
        }
        let (launch_type, capacity_provider_strategy) = match capacity_providers::resolve(
            &cluster_entry.value,
            launch_type.as_deref(),
            &capacity_provider_strategy,
        )? {
            Capacity::LaunchType(l) => (l, vec![]),
            Capacity::Strategy(items) => {
                let fargate = items.iter().all(|i| cp::is_built_in(&i.capacity_provider));
                let l = if fargate { "FARGATE" } else { "EC2" };
                (l.to_string(), items)
            }
        };
        let d = &definition.value.definition;
        if launch_type == "FARGATE" && !d.compatibilities.iter().any(|c| c == "FARGATE") {
            return Err(ControlError::invalid(
                "Task definition does not support launch_type FARGATE: it needs networkMode \
                 awsvpc and task-level cpu and memory in a Fargate combination.",
            ));
        }
        let overrides = overrides.checked()?;
        for o in &overrides.container_overrides {
            let name = o.name.as_deref().unwrap_or("");
            if !d
                .container_definitions
                .iter()
                .any(|c| c.name.as_deref() == Some(name))
            {
                return Err(ControlError::invalid(format!(
                    "Container override names '{name}', which is not a container of {}.",
                    definition.value.arn()
                )));
            }
        }
        if started_by.as_ref().is_some_and(|s| s.len() > 128) {
            return Err(ControlError::invalid(
                "startedBy can be at most 128 characters long.",
            ));
        }
        validate_tags(&tags)?;
        let group = group.unwrap_or_else(|| format!("family:{}", definition.value.family()));
        let declared = d
            .placement_constraints
            .iter()
            .map(|c| (c.kind.as_deref().unwrap_or(""), c.expression.as_deref()));
        let given = placement_constraints
            .iter()
            .map(|c| (c.kind.as_str(), c.expression.as_deref()));
        let constraints = declared
            .chain(given)
            .map(|(kind, expression)| scheduler::parse_constraint(kind, expression))
            .collect::<Result<Vec<_>, _>>()?;
        // Host access is worked out from the definition at launch, so a definition
        // registered before an operator disabled something is held to it too.
        let access = HostAccess::of(d);
        let mut required_attributes: Vec<String> = d
            .requires_attributes
            .iter()
            .map(|a| a.name.clone())
            .collect();
        for a in access.attributes {
            if !required_attributes.iter().any(|r| r == a) {
                required_attributes.push(a.to_string());
            }
        }
        let awsvpc = d.effective_network_mode() == "awsvpc";
        Ok(LaunchSpec {
            cluster,
            definition,
            launch_type,
            capacity_provider_strategy,
            overrides,
            started_by,
            group,
            tags,
            constraints,
            required_attributes,
            host_paths: access.host_paths,
            awsvpc,
            network,
            enable_execute_command,
        })
    }
}

/// Where and how many tasks of a [`LaunchSpec`] to place.
#[derive(Debug, Clone, Default)]
pub struct Placement<'a> {
    pub count: usize,
    pub strategies: &'a [Strategy],
    /// Only these instances (by ARN), as StartTask and DAEMON services place.
    pub only: Option<&'a [String]>,
    /// RunTask's client token: the answer is stored with the tasks, for retries.
    pub client_token: Option<&'a str>,
    /// Tasks already running per capacity provider (a service's), which count towards
    /// the strategy's bases and weights.
    pub provider_tasks: Option<&'a BTreeMap<String, u32>>,
}

/// What a launch placed, and why the rest did not fit.
#[derive(Debug, Clone, Default)]
pub struct Launched {
    pub tasks: Vec<TaskRecord>,
    pub failures: Vec<PlacementFailure>,
}

/// A new task record for `launch` on `instance_arn`.
fn new_task(
    scope: &Scope,
    launch: &LaunchSpec,
    instance_arn: &str,
    az: Option<String>,
    provider: Option<&str>,
) -> TaskRecord {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let task_arn = scope
        .arn("ecs", format!("task/{}/{id}", launch.cluster))
        .to_string();
    let d: &TaskDefinition = &launch.definition.value.definition;
    let overrides = &launch.overrides;
    let containers = d
        .container_definitions
        .iter()
        .map(|c| {
            let name = c.name.clone().unwrap_or_default();
            let o = overrides.of_container(&name).next();
            let cpu = o.and_then(|o| o.cpu).or(c.cpu).unwrap_or(0);
            let memory = o.and_then(|o| o.memory).or(c.memory);
            let reservation = o
                .and_then(|o| o.memory_reservation)
                .or(c.memory_reservation);
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
        capacity_provider_name: provider.map(str::to_string),
        cpu: overrides.cpu.clone().or_else(|| d.cpu.clone()),
        memory: overrides.memory.clone().or_else(|| d.memory.clone()),
        containers,
        overrides: if overrides.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(overrides).unwrap_or_default()
        },
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
        stop_cause: None,
        tags: launch.tags.clone(),
        version: 1,
        connectivity: Some("CONNECTED".into()),
        awaiting_drain: false,
        protected_until: None,
        network: None,
        enable_execute_command: launch.enable_execute_command,
    }
}

/// How often a request plans again after the plan applier turned its plan down.
const MAX_ATTEMPTS: usize = 8;

/// Place tasks with the scheduler and have the plan applier store them; the answer's
/// failures say why the rest did not fit. Plans again on a fresh picture when the applier
/// turned a plan down, up to [`MAX_ATTEMPTS`] times.
pub async fn launch(
    state: &State,
    scope: &Scope,
    launch: &LaunchSpec,
    placement: Placement<'_>,
) -> Result<Launched, ControlError> {
    let Placement {
        count,
        strategies,
        only,
        client_token,
        provider_tasks,
    } = placement;
    let groups = provider_groups(launch, count, provider_tasks);
    let cluster_key = keys::cluster(&scope.region, &launch.cluster);
    let need = task_usage(
        &new_task(scope, launch, "", None, None),
        Some(&launch.definition.value.definition),
    );
    let picture = state.pictures().of(&cluster_key);
    let network = match (&launch.network, launch.awsvpc) {
        (_, false) => None,
        (Some(n), true) => {
            Some(crate::ec2::resolve_network(state, scope, &n.subnets, &n.security_groups).await?)
        }
        (None, true) => Some(crate::ec2::resolve_network(state, scope, &[], &[]).await?),
    };
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
            host_paths: launch.host_paths.clone(),
            constraints: launch.constraints.clone(),
            strategies: strategies.to_vec(),
            seed: rand::random(),
        };
        let mut pic = picture.lock().await;
        pic.refresh(state, scope, &launch.cluster);
        let (placements, plan_failures) = plan_groups(scope, &mut pic, &request, &groups, only);
        if placements.is_empty() && only.is_none() && pic.snapshot.instances.is_empty() {
            return Err(ControlError::invalid(NO_INSTANCES));
        }
        let placed: Vec<(Placed, Option<String>, Option<String>)> = placements
            .iter()
            .map(|(p, provider)| {
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
                (placed, az, provider.clone())
            })
            .collect();
        // Hold the placed tasks' resources for pictures rebuilt before the tasks are
        // visible; the reservation ends (on drop) once they are, or were turned down.
        let reservation = state.reservations().hold(
            placed
                .iter()
                .map(|(p, _, _)| Reserved {
                    instance_arn: p.instance_arn.clone(),
                    usage: need.clone(),
                    group: launch.group.clone(),
                })
                .collect(),
        );
        drop(pic);
        let mut tasks: Vec<TaskRecord> = placed
            .iter()
            .map(|(p, az, provider)| {
                new_task(
                    scope,
                    launch,
                    &p.instance_arn,
                    az.clone(),
                    provider.as_deref(),
                )
            })
            .collect();
        let task_key = |t: &TaskRecord| {
            let id = t.task_arn.rsplit('/').next().unwrap_or("");
            keys::task(&scope.region, &launch.cluster, id)
        };
        let mut claims = Vec::new();
        let mut claim_ops = Vec::new();
        if let Some(network) = &network {
            let mut taken = HashSet::new();
            for t in &mut tasks {
                let a = crate::ec2::interfaces::allocate(
                    state,
                    scope,
                    network,
                    t.availability_zone.as_deref(),
                    &t.task_arn,
                    &task_key(t),
                    &mut taken,
                )?;
                t.attachments = vec![a.network.attachment(&scope.region, "PRECREATED")];
                t.network = Some(a.network.clone());
                claims.push(a.key.clone());
                claim_ops.push(a.claim().1);
            }
        }
        let failures: Vec<PlacementFailure> = plan_failures
            .iter()
            .map(|f| PlacementFailure {
                arn: f.arn.clone(),
                reason: f.reason.clone(),
            })
            .collect();
        let mut ops: Vec<Op> = tasks
            .iter()
            .map(|t| Op::put(task_key(t), encode(t)))
            .chain(claim_ops)
            .collect();
        if let Some(token) = client_token {
            let saved = RunTokenRecord {
                task_arns: tasks.iter().map(|t| t.task_arn.clone()).collect(),
                failures: failures.clone(),
            };
            ops.push(Op::put(
                keys::run_token(&scope.region, &launch.cluster, token),
                encode(&saved),
            ));
        }
        if ops.is_empty() {
            return Ok(Launched { tasks, failures });
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
            placed: placed.into_iter().map(|(p, _, _)| p).collect(),
            usage: need.clone(),
            group: launch.group.clone(),
            distinct: launch
                .constraints
                .iter()
                .any(|c| matches!(c, Constraint::DistinctInstance)),
            claims,
            ops,
        };
        match state.applier().propose(proposal).await {
            Verdict::Committed(rev) => {
                reservation.committed(rev);
                state.caught_up(rev).await?;
                return Ok(Launched { tasks, failures });
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
    Err(ControlError::Contended(format!(
        "The cluster kept changing while the tasks were being placed ({why}); retry the request."
    )))
}
