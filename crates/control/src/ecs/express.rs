//! Express services (CreateExpressGatewayService, UpdateExpressGatewayService,
//! DeleteExpressGatewayService): one call composes what a user would otherwise make with
//! a dozen — a task definition, a target group, a load balancer with an HTTP listener, an
//! ECS service behind it, a scalable target with a target tracking policy — through the
//! same control-plane operations those calls use, so every rule they check applies.
//!
//! Each express service gets a load balancer of its own (its own loopback address from
//! the pool, its own DNS name, which is its endpoint): AWS shares one ALB between express
//! services with host-header rules because an ALB costs money; here an address is free,
//! and one load balancer each keeps its endpoint, its deletion and its traffic apart.
//!
//! Deletion is two steps, as on AWS: the service drains (DRAINING) and the scalable target
//! goes at once; when the service controller finds its last task gone and makes it
//! INACTIVE, it calls [`remove_infrastructure`] for the load balancer and target group.

use chrono::{DateTime, Utc};
use flotilla_model::autoscaling::{PolicyConfig, Predefined, TargetTracking, TrackedMetric};
use flotilla_model::elbv2::listener::WeightedGroup;
use flotilla_model::elbv2::{Action, ListenerProtocol, TargetGroupProtocol, TargetType};
use flotilla_model::service::express::{
    self, validate_architecture, validate_health_check_path, Configuration, Container, Express,
    Network, Scaling, MAIN_CONTAINER,
};
use flotilla_model::service::{
    self as service, launch, validate_network_configuration, AwsVpcConfiguration,
    DeploymentConfiguration, LoadBalancer, NetworkConfiguration, ServiceRecord, ServiceStatus,
    REPLICA,
};
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::task_definition::{self, RegisterTaskDefinitionInput};
use flotilla_model::{Arn, Scope};
use flotilla_store::view::Entry;
use serde_json::{json, Value};

use super::services::{self, active_definition, ServiceChange};
use super::{clusters, task_definitions};
use crate::autoscaling::{policies, targets, AutoScalingError};
use crate::elbv2::{listeners, load_balancers, target_groups};
use crate::{keys, ControlError, State};

/// The name of the target tracking policy an express service scales by.
pub const POLICY_NAME: &str = "express-target-tracking";
/// Health checks of an express service's target group: every 5 s, healthy after 2.
const HEALTH_INTERVAL: u32 = 5;
const HEALTH_TIMEOUT: u32 = 4;
const HEALTH_THRESHOLD: u32 = 2;
/// The port of an express service's listener (HTTP: there is no certificate for it).
const LISTENER_PORT: u16 = 80;
/// How long a replaced task drains before it stops.
const DEREGISTRATION_DELAY: &str = "10";

/// What a create or an update sets; `None` keeps the current value (or takes AWS's
/// default on create).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub execution_role_arn: Option<String>,
    pub task_role_arn: Option<String>,
    pub health_check_path: Option<String>,
    pub primary_container: Option<Container>,
    pub network_configuration: Option<Network>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub cpu_architecture: Option<String>,
    pub scaling_target: Option<Scaling>,
    pub task_definition_arn: Option<String>,
}

/// CreateExpressGatewayService's request.
#[derive(Debug, Clone, Default)]
pub struct NewExpress {
    pub cluster: Option<String>,
    pub service_name: Option<String>,
    pub infrastructure_role_arn: String,
    pub settings: Settings,
    pub tags: Vec<Tag>,
}

/// Create an express service and everything it runs behind.
pub async fn create(
    state: &State,
    scope: &Scope,
    new: NewExpress,
    principal: &str,
    now: DateTime<Utc>,
) -> Result<ServiceRecord, ControlError> {
    let cluster = clusters::active(state, scope, new.cluster.as_deref())?
        .value
        .cluster_name
        .clone();
    let name = match new.service_name.clone().filter(|n| !n.is_empty()) {
        Some(n) => n,
        None => format!("express-{}", &flotilla_model::elbv2::new_id()[..12]),
    };
    service::validate_name(&name)?;
    if new.infrastructure_role_arn.is_empty() {
        return Err(ControlError::invalid("infrastructureRoleArn is required."));
    }
    validate_tags(&new.tags)?;
    let key = keys::service(&scope.region, &cluster, &name);
    if let Some(e) = state.services().get(key.as_bytes()) {
        if e.value.status != ServiceStatus::Inactive {
            return Err(ControlError::invalid(format!(
                "A service named {name} already exists in cluster {cluster}."
            )));
        }
    }
    let config = configure(state, scope, &name, None, &new.settings, principal, now).await?;
    let mut made = Made::default();
    let svc = match build(
        state, scope, &cluster, &name, &new, config, &mut made, principal, now,
    )
    .await
    {
        Ok(svc) => svc,
        Err(e) => {
            made.undo(state, scope).await;
            return Err(e);
        }
    };
    // From here the service owns its load balancer: a failure drains it, and the service
    // controller removes the rest once it is INACTIVE.
    let scaling = svc
        .express
        .as_deref()
        .and_then(Express::latest)
        .map(|c| c.scaling_target.clone())
        .unwrap_or_default();
    if let Err(e) = scale(state, scope, &svc, &scaling).await {
        let _ = services::delete(state, &key, true, now).await;
        return Err(e);
    }
    Ok(svc)
}

/// What a create made before its service existed, to undo if a later step fails.
#[derive(Default)]
struct Made {
    load_balancer: Option<String>,
    target_group: Option<String>,
}

impl Made {
    async fn undo(self, state: &State, scope: &Scope) {
        if let Some(arn) = self.load_balancer {
            let _ = load_balancers::delete(state, scope, &arn).await;
        }
        if let Some(arn) = self.target_group {
            let _ = target_groups::delete(state, scope, &arn).await;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn build(
    state: &State,
    scope: &Scope,
    cluster: &str,
    name: &str,
    new: &NewExpress,
    config: Configuration,
    made: &mut Made,
    principal: &str,
    now: DateTime<Utc>,
) -> Result<ServiceRecord, ControlError> {
    let lb_name = elb_name(name);
    let port = container_port(state, scope, &config)?;
    let tg = target_groups::create(
        state,
        scope,
        target_groups::NewTargetGroup {
            name: lb_name.clone(),
            protocol: Some(TargetGroupProtocol::Http),
            port: Some(port),
            target_type: Some(TargetType::Ip),
            health_check: health_check(&config.health_check_path),
            ..Default::default()
        },
    )
    .await?;
    made.target_group = Some(tg.arn.clone());
    target_groups::modify_attributes(
        state,
        scope,
        &tg.arn,
        &[(
            "deregistration_delay.timeout_seconds".to_string(),
            DEREGISTRATION_DELAY.to_string(),
        )],
    )
    .await?;
    let network = config.network_configuration.clone().unwrap_or_default();
    let lb = load_balancers::create(
        state,
        scope,
        load_balancers::NewLoadBalancer {
            name: lb_name,
            subnets: network.subnets.clone().unwrap_or_default(),
            security_groups: network.security_groups.clone().unwrap_or_default(),
            ..Default::default()
        },
    )
    .await?;
    made.load_balancer = Some(lb.arn.clone());
    listeners::probe(state, lb.address, LISTENER_PORT).await?;
    let listener = listeners::create(
        state,
        scope,
        listeners::NewListener {
            load_balancer_arn: lb.arn.clone(),
            port: LISTENER_PORT,
            protocol: ListenerProtocol::Http,
            certificates: vec![],
            ssl_policy: None,
            alpn_policy: vec![],
            default_action: Action::Forward {
                target_groups: vec![WeightedGroup {
                    arn: tg.arn.clone(),
                    weight: 1,
                }],
                stickiness_seconds: None,
            },
            tags: vec![],
        },
        |_| false,
    )
    .await?;
    let scaling = config.scaling_target.clone();
    let svc = ServiceRecord {
        service_arn: scope
            .arn("ecs", format!("service/{cluster}/{name}"))
            .to_string(),
        service_name: name.to_string(),
        cluster_arn: scope.cluster_arn(cluster),
        status: ServiceStatus::Active,
        desired_count: scaling.min().max(1),
        launch_type: "FARGATE".into(),
        platform_version: launch::platform_version("FARGATE", None)?,
        role: None,
        capacity_provider_strategy: vec![],
        task_definition: config.task_definition_arn.clone(),
        scheduling_strategy: REPLICA.into(),
        deployment_configuration: DeploymentConfiguration::default_for(REPLICA),
        placement_constraints: vec![],
        placement_strategy: vec![],
        load_balancers: vec![LoadBalancer {
            target_group_arn: Some(tg.arn.clone()),
            container_name: Some(MAIN_CONTAINER.into()),
            container_port: Some(i64::from(port)),
            load_balancer_name: None,
            advanced_configuration: None,
        }],
        service_registries: vec![],
        health_check_grace_period_seconds: None,
        network_configuration: awsvpc(config.network_configuration.as_ref())?,
        propagate_tags: "SERVICE".into(),
        enable_ecs_managed_tags: false,
        enable_execute_command: false,
        tags: new.tags.clone(),
        created_at: now,
        created_by: principal.to_string(),
        client_token: None,
        deployments: vec![],
        history: vec![],
        revisions: vec![],
        events: vec![],
        steady: false,
        deployment_controller: Default::default(),
        task_sets: vec![],
        gateway_connectors: vec![],
        deployment_strategy: Default::default(),
        express: Some(Box::new(Express {
            infrastructure_role_arn: new.infrastructure_role_arn.clone(),
            load_balancer_arn: lb.arn.clone(),
            listener_arn: listener.arn.clone(),
            target_group_arn: tg.arn.clone(),
            endpoint: lb.dns_name.clone(),
            configurations: vec![config],
            updated_at: now,
            removed: false,
        })),
    };
    services::create(state, scope, svc, now).await
}

/// The express service a `serviceArn` names, whatever its status.
pub fn find(state: &State, scope: &Scope, arn: &str) -> Result<Entry<ServiceRecord>, ControlError> {
    let not_found = || ControlError::service_not_found();
    let parsed = Arn::parse(arn)
        .filter(|a| a.service == "ecs" && a.region == scope.region && a.account == scope.account);
    let Some(parsed) = parsed else {
        return Err(ControlError::invalid(format!(
            "serviceArn '{arn}' is not a valid service ARN of this region and account."
        )));
    };
    let mut parts = parsed.resource.splitn(3, '/');
    let (Some("service"), Some(cluster), Some(name)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ControlError::invalid(format!(
            "serviceArn '{arn}' is not a valid service ARN: expected \
             arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME."
        )));
    };
    clusters::active(state, scope, Some(cluster))?;
    state
        .services()
        .get(keys::service(&scope.region, cluster, name).as_bytes())
        .filter(|e| e.value.express.is_some())
        .ok_or_else(not_found)
}

/// The ACTIVE express service a `serviceArn` names; ServiceNotActive once it is not.
fn active(state: &State, scope: &Scope, arn: &str) -> Result<Entry<ServiceRecord>, ControlError> {
    let entry = find(state, scope, arn)?;
    if entry.value.status != ServiceStatus::Active {
        return Err(ControlError::service_not_active());
    }
    Ok(entry)
}

/// UpdateExpressGatewayService: a new configuration, a new deployment, the same load
/// balancer; the health check and scaling follow the new configuration.
pub async fn update(
    state: &State,
    scope: &Scope,
    arn: &str,
    settings: &Settings,
    principal: &str,
    now: DateTime<Utc>,
) -> Result<ServiceRecord, ControlError> {
    let entry = active(state, scope, arn)?;
    let svc = &entry.value;
    let x = svc.express.as_deref().expect("found as an express service");
    let current = x.latest();
    let config = configure(
        state,
        scope,
        &svc.service_name,
        current,
        settings,
        principal,
        now,
    )
    .await?;
    let port = container_port(state, scope, &config)?;
    let health_path = config.health_check_path.clone();
    let scaling = config.scaling_target.clone();
    let path_changed = current.map(|c| c.health_check_path.as_str()) != Some(health_path.as_str());
    let target_group = x.target_group_arn.clone();
    let mut load_balancers = svc.load_balancers.clone();
    for l in &mut load_balancers {
        l.container_port = Some(i64::from(port));
    }
    let change = ServiceChange {
        task_definition: Some(config.task_definition_arn.clone()),
        network_configuration: awsvpc(config.network_configuration.as_ref())?,
        load_balancers: Some(load_balancers),
        express: Some(config),
        ..Default::default()
    };
    // The service first: what it refuses (a launch check) leaves the rest as it was.
    let key = keys::service(&scope.region, services::cluster_of(svc), &svc.service_name);
    let updated = services::change(state, scope, &key, &change, now).await?;
    if path_changed {
        target_groups::modify_health_check(
            state,
            scope,
            &target_group,
            &health_check(&health_path),
        )
        .await?;
    }
    scale(state, scope, &updated, &scaling).await?;
    Ok(updated)
}

/// DeleteExpressGatewayService: stop scaling and drain the service; the load balancer and
/// target group go when its tasks have ([`remove_infrastructure`]).
pub async fn delete(
    state: &State,
    scope: &Scope,
    arn: &str,
    now: DateTime<Utc>,
) -> Result<ServiceRecord, ControlError> {
    let entry = active(state, scope, arn)?;
    let svc = &entry.value;
    let resource_id = resource_id(svc);
    match targets::deregister(state, &scope.region, &resource_id).await {
        Ok(()) | Err(AutoScalingError::ObjectNotFound(_)) => {}
        Err(e) => return Err(control(e)),
    }
    let key = keys::service(&scope.region, services::cluster_of(svc), &svc.service_name);
    services::delete(state, &key, true, now).await
}

/// Whether an INACTIVE express service still has a load balancer or target group.
pub fn needs_removal(svc: &ServiceRecord) -> bool {
    svc.status == ServiceStatus::Inactive && svc.express.as_ref().is_some_and(|x| !x.removed)
}

/// Delete the load balancer (with its listener) and target group of an express service
/// whose tasks are gone, and note that they are.
pub async fn remove_infrastructure(
    state: &State,
    key: &str,
    svc: &ServiceRecord,
) -> Result<(), ControlError> {
    let Some(x) = svc.express.as_deref().filter(|_| needs_removal(svc)) else {
        return Ok(());
    };
    let scope = match Arn::parse(&svc.service_arn) {
        Some(a) => Scope::new(a.region, a.account),
        None => return Ok(()),
    };
    load_balancers::delete(state, &scope, &x.load_balancer_arn).await?;
    target_groups::delete(state, &scope, &x.target_group_arn).await?;
    services::update(state, key, |s| {
        let Some(x) = s.express.as_mut().filter(|x| !x.removed) else {
            return Ok(false);
        };
        x.removed = true;
        Ok(true)
    })
    .await?;
    Ok(())
}

/// The configuration `settings` make of `current` (the service's latest) or of AWS's
/// defaults, with its task definition registered (or the given one checked).
async fn configure(
    state: &State,
    scope: &Scope,
    family: &str,
    current: Option<&Configuration>,
    s: &Settings,
    principal: &str,
    now: DateTime<Utc>,
) -> Result<Configuration, ControlError> {
    let path = s
        .health_check_path
        .clone()
        .or_else(|| current.map(|c| c.health_check_path.clone()))
        .unwrap_or_else(|| express::DEFAULT_HEALTH_CHECK_PATH.into());
    validate_health_check_path(&path)?;
    let scaling = current
        .map(|c| c.scaling_target.clone())
        .unwrap_or_default()
        .merged(s.scaling_target.as_ref());
    scaling.validate()?;
    let network = s
        .network_configuration
        .clone()
        .or_else(|| current.and_then(|c| c.network_configuration.clone()));
    if let Some(n) = &network {
        n.validate()?;
    }
    let mut config = Configuration {
        service_revision_arn: String::new(),
        execution_role_arn: None,
        task_role_arn: None,
        task_definition_arn: String::new(),
        cpu: None,
        memory: None,
        cpu_architecture: None,
        network_configuration: network,
        health_check_path: path,
        primary_container: None,
        scaling_target: scaling,
        created_at: now,
    };
    if let Some(td) = s.task_definition_arn.as_deref().filter(|t| !t.is_empty()) {
        if s.primary_container.is_some()
            || s.execution_role_arn.is_some()
            || s.task_role_arn.is_some()
            || s.cpu.is_some()
            || s.memory.is_some()
            || s.cpu_architecture.is_some()
        {
            return Err(ControlError::invalid(
                "taskDefinitionArn cannot be given with primaryContainer, executionRoleArn, \
                 taskRoleArn, cpu, memory or cpuArchitecture.",
            ));
        }
        let d = active_definition(state, scope, td)?;
        let def = &d.value.definition;
        config.task_definition_arn = d.value.arn().to_string();
        config.execution_role_arn = def.execution_role_arn.clone();
        config.task_role_arn = def.task_role_arn.clone();
        config.cpu = def.cpu.clone();
        config.memory = def.memory.clone();
        container_port(state, scope, &config)?;
        return Ok(config);
    }
    // A revision made from a given task definition has no container to start from.
    let from = current.filter(|c| c.primary_container.is_some());
    let container = s
        .primary_container
        .clone()
        .or_else(|| from.and_then(|c| c.primary_container.clone()))
        .ok_or_else(|| {
            ControlError::invalid("primaryContainer or taskDefinitionArn is required.")
        })?;
    container.validate()?;
    let pick = |given: &Option<String>, now: Option<&Option<String>>, default: Option<&str>| {
        given
            .clone()
            .or_else(|| now.cloned().flatten())
            .or_else(|| default.map(String::from))
    };
    config.execution_role_arn = pick(
        &s.execution_role_arn,
        from.map(|c| &c.execution_role_arn),
        None,
    );
    config.task_role_arn = pick(&s.task_role_arn, from.map(|c| &c.task_role_arn), None);
    config.cpu = pick(&s.cpu, from.map(|c| &c.cpu), Some(express::DEFAULT_CPU));
    config.memory = pick(
        &s.memory,
        from.map(|c| &c.memory),
        Some(express::DEFAULT_MEMORY),
    );
    config.cpu_architecture = pick(
        &s.cpu_architecture,
        from.map(|c| &c.cpu_architecture),
        Some("X86_64"),
    );
    if let Some(a) = &config.cpu_architecture {
        validate_architecture(a)?;
    }
    config.primary_container = Some(container);
    let input = task_definition_input(scope, family, &config, s.cpu_architecture.is_some())?;
    task_definition::validate(&input)?;
    task_definition::check_supported(&input)?;
    let record = task_definitions::register(state, scope, input, vec![], principal).await?;
    config.task_definition_arn = record.arn().to_string();
    Ok(config)
}

/// The RegisterTaskDefinition request of a configuration with a primary container: one
/// essential container `Main`, awsvpc, Fargate-compatible. The architecture is required
/// of the host only when the request named one.
fn task_definition_input(
    scope: &Scope,
    family: &str,
    c: &Configuration,
    pin_architecture: bool,
) -> Result<RegisterTaskDefinitionInput, ControlError> {
    let p = c.primary_container.as_ref().expect("a primary container");
    let mut container = json!({
        "name": MAIN_CONTAINER,
        "image": p.image,
        "essential": true,
        "portMappings": [{
            "containerPort": p.port(),
            "protocol": "tcp",
            "name": format!("main-{}", p.port()),
        }],
    });
    if let Some(command) = &p.command {
        container["command"] = json!(command);
    }
    if let Some(env) = &p.environment {
        container["environment"] = json!(env);
    }
    if let Some(secrets) = &p.secrets {
        container["secrets"] = json!(secrets);
    }
    if let Some(r) = p.repository_credentials.as_ref() {
        if let Some(param) = &r.credentials_parameter {
            container["repositoryCredentials"] = json!({ "credentialsParameter": param });
        }
    }
    if let Some(l) = &p.aws_logs_configuration {
        container["logConfiguration"] = json!({
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": l.log_group,
                "awslogs-stream-prefix": l.log_stream_prefix,
                "awslogs-region": scope.region,
                "awslogs-create-group": "true",
            },
        });
    }
    let mut input = json!({
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": c.cpu,
        "memory": c.memory,
        "containerDefinitions": [container],
    });
    if let Some(r) = &c.execution_role_arn {
        input["executionRoleArn"] = json!(r);
    }
    if let Some(r) = &c.task_role_arn {
        input["taskRoleArn"] = json!(r);
    }
    if pin_architecture {
        input["runtimePlatform"] = json!({
            "cpuArchitecture": c.cpu_architecture,
            "operatingSystemFamily": "LINUX",
        });
    }
    serde_json::from_value::<RegisterTaskDefinitionInput>(without_nulls(input))
        .map_err(|e| ControlError::invalid(format!("primaryContainer: {e}")))
}

fn without_nulls(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.retain(|_, v| !v.is_null());
    }
    v
}

/// The port the load balancer forwards to: the primary container's, or the one port
/// mapping of the given task definition's `Main` container.
fn container_port(state: &State, scope: &Scope, c: &Configuration) -> Result<u16, ControlError> {
    let port = match &c.primary_container {
        Some(p) => p.port(),
        None => {
            let d = task_definitions::resolve(state, scope, &c.task_definition_arn)?;
            let def = &d.value.definition;
            let main = def
                .container_definitions
                .iter()
                .find(|k| k.name.as_deref() == Some(MAIN_CONTAINER));
            let mappings = main.map(|m| m.port_mappings.as_slice()).unwrap_or_default();
            let ok = def.network_mode.as_deref() == Some("awsvpc")
                && def.requires_compatibilities.iter().any(|r| r == "FARGATE");
            match mappings {
                [m] if ok
                    && m.protocol.as_deref().unwrap_or("tcp") == "tcp"
                    && m.name.is_some() =>
                {
                    i64::from(m.container_port.unwrap_or(0))
                }
                _ => {
                    return Err(ControlError::invalid(
                        "The task definition of an Express service must be FARGATE-compatible \
                         and have a container named Main with a single TCP port mapping that \
                         has a container port and a name.",
                    ))
                }
            }
        }
    };
    u16::try_from(port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ControlError::invalid(format!("containerPort {port} is out of range.")))
}

fn health_check(path: &str) -> target_groups::HealthCheckChange {
    target_groups::HealthCheckChange {
        path: Some(path.to_string()),
        interval_seconds: Some(HEALTH_INTERVAL),
        timeout_seconds: Some(HEALTH_TIMEOUT),
        healthy_threshold: Some(HEALTH_THRESHOLD),
        unhealthy_threshold: Some(HEALTH_THRESHOLD),
        ..Default::default()
    }
}

/// The awsvpc configuration a service is given: the subnets and security groups named,
/// none when no subnet is.
fn awsvpc(n: Option<&Network>) -> Result<Option<NetworkConfiguration>, ControlError> {
    let Some(subnets) = n.and_then(|n| n.subnets.clone()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let out = NetworkConfiguration {
        awsvpc_configuration: Some(AwsVpcConfiguration {
            subnets,
            security_groups: n
                .and_then(|n| n.security_groups.clone())
                .unwrap_or_default(),
            assign_public_ip: None,
        }),
    };
    validate_network_configuration(&out)?;
    Ok(Some(out))
}

/// A load balancer and target group name (at most 32 letters, digits and hyphens) for a
/// service: `ex-`, the name's first letters, a random suffix.
fn elb_name(service: &str) -> String {
    let slug: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(19)
        .collect();
    let slug = slug.trim_matches('-');
    let id = &flotilla_model::elbv2::new_id()[..8];
    if slug.is_empty() {
        format!("ex-{id}")
    } else {
        format!("ex-{slug}-{id}")
    }
}

/// The Application Auto Scaling resource id of a service.
pub fn resource_id(svc: &ServiceRecord) -> String {
    format!("service/{}/{}", services::cluster_of(svc), svc.service_name)
}

/// Register the service's scalable target with the configuration's bounds and put its
/// target tracking policy.
async fn scale(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    scaling: &Scaling,
) -> Result<(), ControlError> {
    let resource_id = resource_id(svc);
    let registration = targets::Registration {
        resource_id: resource_id.clone(),
        min_capacity: Some(scaling.min()),
        max_capacity: Some(scaling.max()),
        ..Default::default()
    };
    targets::register(state, &scope.region, &registration)
        .await
        .map_err(control)?;
    let (kind, label) = match scaling.metric() {
        "AVERAGE_MEMORY" => (Predefined::EcsServiceAverageMemoryUtilization, None),
        "REQUEST_COUNT_PER_TARGET" => (
            Predefined::AlbRequestCountPerTarget,
            svc.express.as_deref().map(resource_label),
        ),
        _ => (Predefined::EcsServiceAverageCpuUtilization, None),
    };
    let config = PolicyConfig::TargetTracking(TargetTracking {
        target_value: scaling.target_value() as f64,
        metric: TrackedMetric::Predefined { kind, label },
        scale_out_cooldown: None,
        scale_in_cooldown: None,
        disable_scale_in: false,
    });
    policies::put(state, &scope.region, &resource_id, POLICY_NAME, config)
        .await
        .map_err(control)?;
    Ok(())
}

/// `app/LB/ID/targetgroup/TG/ID`, what ALBRequestCountPerTarget is labelled with.
fn resource_label(x: &Express) -> String {
    let lb = x
        .load_balancer_arn
        .split_once(":loadbalancer/")
        .map_or("", |(_, r)| r);
    let tg = x.target_group_arn.rsplit(':').next().unwrap_or("");
    format!("{lb}/{tg}")
}

/// An Application Auto Scaling error met while composing an ECS operation.
fn control(e: AutoScalingError) -> ControlError {
    match e {
        AutoScalingError::Control(e) => e,
        other => ControlError::invalid(other.to_string()),
    }
}

#[cfg(test)]
mod tests;
