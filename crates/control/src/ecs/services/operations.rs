//! The operations that change a service, as CreateService, UpdateService, DeleteService and
//! StopServiceDeployment ask for them: the API checks the wire input and calls these;
//! what a change means for the service's deployments (a new PRIMARY, a rollback, an abort)
//! is decided here and in the deployment's transitions, in one place.

use chrono::{DateTime, Utc};
use flotilla_model::capacity_provider::StrategyItem;
use flotilla_model::record::encode;
use flotilla_model::service::{
    express, DeploymentConfigurationInput, LoadBalancer, NetworkConfiguration, PlacementConstraint,
    PlacementStrategy, ServiceRecord, ServiceRegistry, ServiceStatus, DAEMON,
};
use flotilla_model::task_definition::TaskDefinitionStatus;
use flotilla_model::task_definition_record::TaskDefinitionRecord;
use flotilla_model::Scope;
use flotilla_scheduler as scheduler;
use flotilla_store::view::Entry;

use super::{cluster_of, launch_of, roll_back, shift, start_deployment, update};
use crate::ecs::task_definitions;
use crate::{keys, ControlError, State};

/// The `startedBy` a launch check uses before the deployment exists.
const NO_DEPLOYMENT_YET: &str = "ecs-svc/0";

/// The task definition a request names for a service; it must be ACTIVE (a service keeps
/// running a revision deregistered later, but cannot be given one).
pub fn active_definition(
    state: &State,
    scope: &Scope,
    id: &str,
) -> Result<Entry<TaskDefinitionRecord>, ControlError> {
    let d = task_definitions::resolve(state, scope, id)?;
    if d.value.status() != TaskDefinitionStatus::Active {
        return Err(ControlError::client(format!(
            "TaskDefinition {id} is inactive and cannot be used by a service."
        )));
    }
    Ok(d)
}

/// Check a service's placement: at most 10 constraints and 5 strategies, none for a
/// DAEMON service, each strategy one the scheduler knows.
pub fn check_placement(
    scheduling_strategy: &str,
    constraints: &[PlacementConstraint],
    strategies: &[PlacementStrategy],
) -> Result<(), ControlError> {
    if constraints.len() > 10 {
        return Err(ControlError::invalid(
            "placementConstraints can hold at most 10 constraints.",
        ));
    }
    if strategies.len() > 5 {
        return Err(ControlError::invalid(
            "placementStrategy can hold at most 5 strategies.",
        ));
    }
    if scheduling_strategy == DAEMON && !strategies.is_empty() {
        return Err(ControlError::invalid(
            "placementStrategy is not supported for services with the DAEMON scheduling \
             strategy.",
        ));
    }
    for s in strategies {
        scheduler::parse_strategy(&s.kind, s.field.as_deref())?;
    }
    Ok(())
}

/// A DAEMON service places one task on each instance: a strategy cannot apply.
pub fn daemon_strategy() -> ControlError {
    ControlError::invalid(
        "capacityProviderStrategy is not supported for services with the DAEMON scheduling \
         strategy.",
    )
}

/// Store the new service `svc` (its first deployment is started here). Idempotent as ECS
/// is: an ACTIVE service of the same name and parameters is answered as it is; different
/// parameters are refused; an INACTIVE one is replaced; a DRAINING one is refused.
pub async fn create(
    state: &State,
    scope: &Scope,
    mut svc: ServiceRecord,
    now: DateTime<Utc>,
) -> Result<ServiceRecord, ControlError> {
    // Everything a task launch checks (launch type, definition, constraints) fails here
    // rather than in the controller. An EXTERNAL service has no deployments: its task
    // sets are checked as they are created.
    if !svc.is_external() {
        launch_of(state, scope, &svc, &svc.task_definition, NO_DEPLOYMENT_YET)?;
        shift::check_advanced(state, scope, &svc)?;
        start_deployment(&mut svc, now, None);
    }
    let key = keys::service(&scope.region, cluster_of(&svc), &svc.service_name);
    let existing = state.services().get(key.as_bytes());
    let mod_revision = match &existing {
        None => 0,
        Some(e) if e.value.status == ServiceStatus::Inactive => e.mod_revision,
        Some(e) if e.value.status == ServiceStatus::Draining => {
            return Err(ControlError::invalid(
                "Unable to Start a service that is still Draining.",
            ))
        }
        // A repeated create (a retry, with or without its client token) answers with the
        // service it created; different parameters are a conflict.
        Some(e) if same_configuration(&e.value, &svc) => return Ok((*e.value).clone()),
        Some(_) => {
            return Err(ControlError::invalid(
                "Creation of service was not idempotent.",
            ))
        }
    };
    if !state
        .put_if_unchanged(&key, mod_revision, encode(&svc))
        .await?
    {
        return Err(ControlError::changed_meanwhile("service"));
    }
    Ok(svc)
}

/// Whether two services were asked for with the same parameters (a repeated create).
fn same_configuration(a: &ServiceRecord, b: &ServiceRecord) -> bool {
    a.task_definition == b.task_definition
        && a.desired_count == b.desired_count
        && a.launch_type == b.launch_type
        && a.capacity_provider_strategy == b.capacity_provider_strategy
        && a.scheduling_strategy == b.scheduling_strategy
        && a.deployment_configuration == b.deployment_configuration
        && a.deployment_strategy == b.deployment_strategy
        && a.placement_constraints == b.placement_constraints
        && a.placement_strategy == b.placement_strategy
        && a.load_balancers == b.load_balancers
        && a.service_registries == b.service_registries
        && a.gateway_connectors == b.gateway_connectors
        && a.deployment_controller == b.deployment_controller
}

/// What UpdateService asks to change; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct ServiceChange {
    pub desired_count: Option<i64>,
    /// The ARN of an ACTIVE task definition ([`active_definition`]).
    pub task_definition: Option<String>,
    pub deployment_configuration: Option<DeploymentConfigurationInput>,
    pub placement_constraints: Option<Vec<PlacementConstraint>>,
    pub placement_strategy: Option<Vec<PlacementStrategy>>,
    pub force_new_deployment: bool,
    pub health_check_grace_period_seconds: Option<i64>,
    pub load_balancers: Option<Vec<LoadBalancer>>,
    pub service_registries: Option<Vec<ServiceRegistry>>,
    /// New `gatewayConnectors` (checked with `gateway::validate_connectors`).
    pub gateway_connectors: Option<Vec<flotilla_model::gateway::GatewayConnector>>,
    pub network_configuration: Option<NetworkConfiguration>,
    pub propagate_tags: Option<String>,
    pub enable_ecs_managed_tags: Option<bool>,
    pub enable_execute_command: Option<bool>,
    /// A new capacity provider strategy (the service then has no launch type).
    pub capacity_provider_strategy: Option<Vec<StrategyItem>>,
    /// An express service's next configuration (UpdateExpressGatewayService): always a
    /// new deployment, whose revision it describes.
    pub express: Option<express::Configuration>,
}

/// Apply `change` to the ACTIVE service at `key`. A change of what its tasks run (task
/// definition, placement, load balancers, service registries, network configuration) or
/// `force_new_deployment` starts a new PRIMARY deployment.
pub async fn change(
    state: &State,
    scope: &Scope,
    key: &str,
    change: &ServiceChange,
    now: DateTime<Utc>,
) -> Result<ServiceRecord, ControlError> {
    update(state, key, |svc| {
        if svc.status != ServiceStatus::Active {
            return Err(ControlError::service_not_active());
        }
        if svc.is_external() {
            crate::ecs::task_sets::check_change(change)?;
        }
        let strategy = svc.scheduling_strategy.clone();
        if let Some(n) = change.desired_count {
            if svc.is_daemon() {
                return Err(ControlError::invalid(
                    "desiredCount cannot be set for a service with the DAEMON scheduling \
                     strategy.",
                ));
            }
            svc.desired_count = n;
            if let Some(p) = svc.primary_mut() {
                p.desired_count = n;
                p.updated_at = now;
            }
            svc.steady = false;
        }
        if let Some(c) = &change.deployment_configuration {
            svc.deployment_configuration = svc.deployment_configuration.merged(c, &strategy)?;
            svc.deployment_strategy = svc.deployment_strategy.merged(&c.strategy, &strategy)?;
        }
        let mut redeploy = change.force_new_deployment;
        // Replace `field` with `new` if given; whether that changed it.
        fn set<T: PartialEq + Clone>(field: &mut T, new: Option<&T>) -> bool {
            match new {
                Some(v) if v != field => {
                    *field = v.clone();
                    true
                }
                _ => false,
            }
        }
        redeploy |= set(&mut svc.task_definition, change.task_definition.as_ref());
        redeploy |= set(
            &mut svc.placement_constraints,
            change.placement_constraints.as_ref(),
        );
        redeploy |= set(
            &mut svc.placement_strategy,
            change.placement_strategy.as_ref(),
        );
        check_placement(
            &strategy,
            &svc.placement_constraints,
            &svc.placement_strategy,
        )?;
        if let Some(items) = &change.capacity_provider_strategy {
            if svc.is_daemon() {
                return Err(daemon_strategy());
            }
            if set(&mut svc.capacity_provider_strategy, Some(items)) {
                redeploy = true;
                svc.launch_type = String::new();
            }
        }
        redeploy |= set(&mut svc.load_balancers, change.load_balancers.as_ref());
        redeploy |= set(
            &mut svc.service_registries,
            change.service_registries.as_ref(),
        );
        redeploy |= set(
            &mut svc.gateway_connectors,
            change.gateway_connectors.as_ref(),
        );
        if let Some(n) = &change.network_configuration {
            redeploy |= svc.network_configuration.as_ref() != Some(n);
            svc.network_configuration = Some(n.clone());
        }
        if let Some(g) = change.health_check_grace_period_seconds {
            svc.health_check_grace_period_seconds = Some(g);
        }
        set(&mut svc.propagate_tags, change.propagate_tags.as_ref());
        set(
            &mut svc.enable_ecs_managed_tags,
            change.enable_ecs_managed_tags.as_ref(),
        );
        set(
            &mut svc.enable_execute_command,
            change.enable_execute_command.as_ref(),
        );
        if let Some(next) = &change.express {
            let live: Vec<String> = svc
                .deployments
                .iter()
                .map(|d| d.service_revision_arn.clone())
                .collect();
            let Some(x) = svc.express.as_mut() else {
                return Err(ControlError::invalid(
                    "The service is not an Express service.",
                ));
            };
            x.retain_live(&live.iter().map(String::as_str).collect::<Vec<_>>());
            x.configurations.push(next.clone());
            x.updated_at = now;
            redeploy = true;
        }
        shift::check_advanced(state, scope, svc)?;
        if redeploy && !svc.gateway_connectors.is_empty() {
            let td = crate::ecs::task_definitions::by_ref(state, scope, &svc.task_definition)
                .ok_or_else(|| ControlError::invalid("The service's task definition is gone."))?;
            crate::ecs::gateways::check_ports(&td.value.definition, &svc.gateway_connectors)?;
        }
        if redeploy && !svc.is_external() {
            launch_of(state, scope, svc, &svc.task_definition, NO_DEPLOYMENT_YET)?;
            start_deployment(svc, now, None);
        }
        Ok(true)
    })
    .await
}

/// DeleteService: the service is DRAINING (its tasks stop) until the controller finds no
/// task left and makes it INACTIVE. A REPLICA service above 0 tasks needs `force`.
pub async fn delete(
    state: &State,
    key: &str,
    force: bool,
    now: DateTime<Utc>,
) -> Result<ServiceRecord, ControlError> {
    update(state, key, |svc| {
        if svc.status != ServiceStatus::Active {
            return Err(ControlError::service_not_active());
        }
        if svc.desired_count > 0 && !svc.is_daemon() && !force {
            return Err(ControlError::invalid(
                "The service cannot be stopped while it is scaled above 0: set its \
                 desiredCount to 0 first, or delete it with force.",
            ));
        }
        svc.status = ServiceStatus::Draining;
        svc.desired_count = 0;
        for d in &mut svc.deployments {
            d.desired_count = 0;
            d.updated_at = now;
        }
        svc.steady = false;
        Ok(true)
    })
    .await
}

/// How StopServiceDeployment stops a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopType {
    /// Fail it and return to the last completed deployment.
    Rollback,
    /// Fail it and launch nothing more.
    Abort,
}

/// StopServiceDeployment of the deployment `arn` of the service at `key`; only the
/// deployment in progress can be stopped.
pub async fn stop_deployment(
    state: &State,
    key: &str,
    arn: &str,
    how: StopType,
    now: DateTime<Utc>,
) -> Result<(), ControlError> {
    update(state, key, |s| {
        let Some(d) = s
            .deployments
            .iter()
            .find(|d| d.service_deployment_arn == arn)
        else {
            return Err(ControlError::conflict(
                "The service deployment has already finished.",
            ));
        };
        if !d.is_primary() || !d.in_progress() {
            return Err(ControlError::conflict(
                "Only the service's deployment in progress can be stopped.",
            ));
        }
        match how {
            StopType::Rollback => roll_back(
                s,
                now,
                "Rollback requested by user (StopServiceDeployment).",
            )
            .map_err(ControlError::conflict)?,
            StopType::Abort => {
                if let Some(d) = s.primary_mut() {
                    d.fail(
                        "The deployment was stopped (StopServiceDeployment).",
                        "Stopped by user (StopServiceDeployment ABORT).",
                        now,
                    );
                }
            }
        }
        Ok(true)
    })
    .await
    .map(|_| ())
}
