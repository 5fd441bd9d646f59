//! Turning a validated registration request into the stored revision, with the defaults AWS
//! fills in and shows in `DescribeTaskDefinition`:
//!
//! - containers: `essential: true`, `cpu: 0`; `portMappings`, `environment`, `mountPoints`,
//!   `volumesFrom` and `systemControls` always present (as `[]` when empty);
//! - port mappings: `protocol: "tcp"`; `hostPort` equal to `containerPort` in `awsvpc` and
//!   `host` mode, `0` (dynamic) in `bridge` mode; left out for `containerPortRange`;
//! - health checks: `interval: 30`, `timeout: 5`, `retries: 3`;
//! - volumes without a configuration: `host: {}`;
//! - task `cpu`/`memory` normalised to integer strings (`"1 vCPU"` → `"1024"`);
//! - empty `taskRoleArn`/`executionRoleArn` dropped (AWS's own example registers
//!   `"taskRoleArn": ""` and describes no `taskRoleArn`);
//! - `networkMode` left out when it was not given, as AWS's example output shows; it means
//!   `bridge`;
//! - `enableFaultInjection: false`, `status: ACTIVE`, `compatibilities` and
//!   `requiresAttributes` computed.

use chrono::{DateTime, Utc};

use super::container::{ContainerDefinition, HealthCheck};
use super::fargate::check_fargate;
use super::task::{Attribute, RegisterTaskDefinitionInput, TaskDefinition, TaskDefinitionStatus};
use super::units::{normalize_cpu, normalize_memory};
use super::volume::{HostVolumeProperties, Volume};

impl TaskDefinition {
    /// Build the stored revision from a request that passed [`validate`](super::validate),
    /// applying AWS's defaults (see the module documentation). Tags are not part of a task
    /// definition: take `input.tags` out first, they are ignored here.
    pub fn from_input(
        input: RegisterTaskDefinitionInput,
        arn: String,
        revision: i32,
        registered_at: DateTime<Utc>,
        registered_by: Option<String>,
    ) -> TaskDefinition {
        let compatibilities = compatibilities(&input);
        let requires_attributes = requires_attributes(&input);
        let mode = input.effective_network_mode().to_string();
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let RegisterTaskDefinitionInput {
            family,
            task_role_arn,
            execution_role_arn,
            network_mode,
            container_definitions,
            volumes,
            placement_constraints,
            requires_compatibilities,
            cpu,
            memory,
            tags: _,
            pid_mode,
            ipc_mode,
            proxy_configuration,
            inference_accelerators,
            ephemeral_storage,
            runtime_platform,
            enable_fault_injection,
            trusted_execution_configuration,
        } = input;
        TaskDefinition {
            task_definition_arn: Some(arn),
            container_definitions: container_definitions
                .into_iter()
                .map(|c| container_defaults(c, &mode))
                .collect(),
            family: Some(family),
            task_role_arn: non_empty(task_role_arn),
            execution_role_arn: non_empty(execution_role_arn),
            network_mode,
            revision,
            volumes: volumes.into_iter().map(volume_defaults).collect(),
            status: TaskDefinitionStatus::Active,
            requires_attributes,
            placement_constraints,
            compatibilities,
            runtime_platform,
            requires_compatibilities,
            // Validation has checked both parse; should one not, keep what was sent.
            cpu: cpu.map(|raw| normalize_cpu(&raw).unwrap_or(raw)),
            memory: memory.map(|raw| normalize_memory(&raw).unwrap_or(raw)),
            inference_accelerators,
            pid_mode,
            ipc_mode,
            proxy_configuration,
            registered_at: Some(registered_at),
            deregistered_at: None,
            delete_requested_at: None,
            registered_by,
            ephemeral_storage,
            enable_fault_injection: Some(enable_fault_injection.unwrap_or(false)),
            trusted_execution_configuration,
        }
    }
}

/// A container with AWS's defaults filled in.
fn container_defaults(mut c: ContainerDefinition, network_mode: &str) -> ContainerDefinition {
    c.essential.get_or_insert(true);
    c.cpu.get_or_insert(0);
    let static_ports = matches!(network_mode, "awsvpc" | "host");
    for pm in &mut c.port_mappings {
        pm.protocol.get_or_insert_with(|| "tcp".to_string());
        if pm.container_port_range.is_some() {
            continue;
        }
        if static_ports {
            if pm.host_port.unwrap_or(0) == 0 {
                pm.host_port = pm.container_port;
            }
        } else {
            pm.host_port.get_or_insert(0);
        }
    }
    if let Some(hc) = &mut c.health_check {
        health_check_defaults(hc);
    }
    c
}

/// Docker's and ECS's health check defaults: every 30 s, 5 s timeout, 3 retries.
fn health_check_defaults(hc: &mut HealthCheck) {
    hc.interval.get_or_insert(30);
    hc.timeout.get_or_insert(5);
    hc.retries.get_or_insert(3);
}

/// A volume without any configuration is a Docker-managed bind mount: `host: {}`.
fn volume_defaults(mut v: Volume) -> Volume {
    if v.kinds_set() == 0 && v.configured_at_launch.is_none() {
        v.host = Some(HostVolumeProperties::default());
    }
    v
}

/// The launch types a definition is valid for, as AWS computes them at registration:
/// `EC2` always; `EXTERNAL` (ECS Anywhere) unless the network mode is `awsvpc`, which it
/// does not support; `FARGATE` when the definition passes the Fargate rules; and any other
/// launch type the request required. AWS lists them as `["EXTERNAL", "EC2"]` or
/// `["EC2", "FARGATE"]`; this keeps that order.
pub fn compatibilities(input: &RegisterTaskDefinitionInput) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if input.effective_network_mode() != "awsvpc" {
        out.push("EXTERNAL".into());
    }
    out.push("EC2".into());
    if check_fargate(input).is_ok() {
        out.push("FARGATE".into());
    }
    for c in &input.requires_compatibilities {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

/// The container instance attributes a host needs for this definition — a subset of what
/// AWS derives, covering the features Flotilla's agent reports:
///
/// | feature used | attribute |
/// |---|---|
/// | `taskRoleArn` | `com.amazonaws.ecs.capability.task-iam-role` |
/// | `awsvpc` | `ecs.capability.task-eni` |
/// | `logConfiguration` | `com.amazonaws.ecs.capability.logging-driver.<driver>`, `...docker-remote-api.1.18` |
/// | `awslogs` | `...docker-remote-api.1.19`; with an execution role `ecs.capability.execution-role-awslogs` |
/// | `dockerLabels`, `ulimits` | `com.amazonaws.ecs.capability.docker-remote-api.1.18` |
/// | `memoryReservation` | `com.amazonaws.ecs.capability.docker-remote-api.1.21` |
/// | `linuxParameters.initProcessEnabled` | `com.amazonaws.ecs.capability.docker-remote-api.1.25` |
/// | `healthCheck` | `ecs.capability.container-health-check` |
/// | `dependsOn`, `startTimeout`, `stopTimeout` | `ecs.capability.container-ordering` |
/// | ECR image | `com.amazonaws.ecs.capability.ecr-auth`; with an execution role `ecs.capability.execution-role-ecr-pull` |
/// | `repositoryCredentials` | `com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager` |
/// | `secrets` | `ecs.capability.secrets.asm.environment-variables` / `ecs.capability.secrets.ssm.environment-variables` |
/// | `environmentFiles` | `ecs.capability.env-files.s3` |
/// | `firelensConfiguration` | `ecs.capability.firelens.<type>` |
/// | EFS volume | `ecs.capability.efs`; with `authorizationConfig` `ecs.capability.efsAuth` |
/// | `proxyConfiguration` | `ecs.capability.aws-appmesh` |
///
/// Each attribute appears once, in the order first needed.
pub fn requires_attributes(input: &RegisterTaskDefinitionInput) -> Vec<Attribute> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    };
    const API: &str = "com.amazonaws.ecs.capability.docker-remote-api";
    let exec_role = input
        .execution_role_arn
        .as_deref()
        .is_some_and(|r| !r.is_empty());
    if input
        .task_role_arn
        .as_deref()
        .is_some_and(|r| !r.is_empty())
    {
        add("com.amazonaws.ecs.capability.task-iam-role");
    }
    if input.effective_network_mode() == "awsvpc" {
        add("ecs.capability.task-eni");
    }
    for c in &input.container_definitions {
        if let Some(lc) = &c.log_configuration {
            add(&format!(
                "com.amazonaws.ecs.capability.logging-driver.{}",
                lc.log_driver
            ));
            add(&format!("{API}.1.18"));
            if lc.log_driver == "awslogs" {
                add(&format!("{API}.1.19"));
                if exec_role {
                    add("ecs.capability.execution-role-awslogs");
                }
            }
        }
        if c.docker_labels.is_some() || !c.ulimits.is_empty() {
            add(&format!("{API}.1.18"));
        }
        if c.memory_reservation.is_some() {
            add(&format!("{API}.1.21"));
        }
        if c.linux_parameters
            .as_ref()
            .is_some_and(|lp| lp.init_process_enabled == Some(true))
        {
            add(&format!("{API}.1.25"));
        }
        if c.health_check.is_some() {
            add("ecs.capability.container-health-check");
        }
        if !c.depends_on.is_empty() || c.start_timeout.is_some() || c.stop_timeout.is_some() {
            add("ecs.capability.container-ordering");
        }
        if c.image.as_deref().is_some_and(|i| i.contains(".dkr.ecr.")) {
            add("com.amazonaws.ecs.capability.ecr-auth");
            if exec_role {
                add("ecs.capability.execution-role-ecr-pull");
            }
        }
        if c.repository_credentials.is_some() {
            add("com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager");
        }
        for s in &c.secrets {
            if s.value_from.contains(":secretsmanager:") {
                add("ecs.capability.secrets.asm.environment-variables");
            } else {
                add("ecs.capability.secrets.ssm.environment-variables");
            }
        }
        if !c.environment_files.is_empty() {
            add("ecs.capability.env-files.s3");
        }
        if let Some(fl) = &c.firelens_configuration {
            add(&format!("ecs.capability.firelens.{}", fl.kind));
        }
    }
    for v in &input.volumes {
        if let Some(efs) = &v.efs_volume_configuration {
            add("ecs.capability.efs");
            if efs.authorization_config.is_some() {
                add("ecs.capability.efsAuth");
            }
        }
    }
    if input.proxy_configuration.is_some() {
        add("ecs.capability.aws-appmesh");
    }
    names.into_iter().map(Attribute::named).collect()
}
