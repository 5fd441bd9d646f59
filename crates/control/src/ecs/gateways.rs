//! ECS gateways' domain operations: create, find, update, delete, cluster associations,
//! and the lookups of routes the API and the service controller make. One record per
//! gateway at `keys::gateway(region, name)` holds its associations, the load balancers
//! it created and its routes; [`infra`] (run by the gateway controller) makes routes of
//! services' gateway connectors on ELBv2's load balancers, target groups and rules.

pub mod infra;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::arn::Arn;
use flotilla_model::gateway::{
    validate_name, Association, AssociationStatus, GatewayRecord, GatewayRoute, GatewayStatus,
    HostSharedAlb, RouteStatus, MAX_GATEWAYS_PER_CLUSTER,
};
use flotilla_model::record::encode;
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::{ErrorKind, ModelError, Resource, Scope};
use flotilla_store::{Compare, Op, Txn};

use crate::{keys, ControlError, Entry, State};

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 8;

/// What CreateGateway asks for, checked by the API and the model.
#[derive(Debug, Clone)]
pub struct NewGateway {
    pub name: String,
    pub infrastructure_role_arn: String,
    pub client_token: Option<String>,
    pub deletion_protection: bool,
    pub config: HostSharedAlb,
    pub tags: Vec<Tag>,
    pub propagate_tags: String,
}

pub fn arn(scope: &Scope, name: &str) -> String {
    scope.arn("ecs", format!("gateway/{name}")).to_string()
}

fn not_found(id: &str) -> ControlError {
    ControlError::not_found(
        Resource::Gateway,
        format!("The gateway '{id}' was not found."),
    )
}

/// The gateway name a name-or-ARN parameter gives (an ARN of another region or account is
/// refused).
pub fn name_of(scope: &Scope, id: &str) -> Result<String, ControlError> {
    if !id.starts_with("arn:") {
        if id.is_empty() {
            return Err(ControlError::invalid("gateway is required."));
        }
        return Ok(id.to_string());
    }
    let arn = Arn::parse(id)
        .filter(|a| a.service == "ecs")
        .ok_or_else(|| ControlError::invalid(format!("'{id}' is not a gateway ARN.")))?;
    arn.within(scope)?;
    match arn.resource.strip_prefix("gateway/") {
        Some(name) if !name.is_empty() && !name.contains('/') => Ok(name.to_string()),
        _ => Err(ControlError::invalid(format!(
            "'{id}' is not a gateway ARN."
        ))),
    }
}

/// The gateway a name or ARN names; GatewayNotFound otherwise.
pub fn find(state: &State, scope: &Scope, id: &str) -> Result<Entry<GatewayRecord>, ControlError> {
    let name = name_of(scope, id)?;
    state
        .gateways()
        .get(keys::gateway(&scope.region, &name).as_bytes())
        .ok_or_else(|| not_found(id))
}

/// The region's gateways, by name.
pub fn list(state: &State, scope: &Scope) -> Vec<Arc<GatewayRecord>> {
    state
        .gateways()
        .range(keys::gateways(&scope.region).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// Create an ACTIVE gateway. A retry with the same client token answers with the gateway
/// it made; another gateway of the name is refused.
pub async fn create(
    state: &State,
    scope: &Scope,
    new: NewGateway,
    now: DateTime<Utc>,
) -> Result<GatewayRecord, ControlError> {
    validate_name(&new.name)?;
    validate_tags(&new.tags)?;
    let key = keys::gateway(&scope.region, &new.name);
    if let Some(e) = state.gateways().get(key.as_bytes()) {
        if new.client_token.is_some() && e.value.client_token == new.client_token {
            return Ok((*e.value).clone());
        }
        return Err(ModelError::new(
            ErrorKind::AlreadyExists(Resource::Gateway),
            format!("A gateway named '{}' already exists.", new.name),
        )
        .into());
    }
    let record = GatewayRecord {
        arn: arn(scope, &new.name),
        name: new.name,
        status: GatewayStatus::Active,
        status_reason: None,
        infrastructure_role_arn: new.infrastructure_role_arn,
        deletion_protection: new.deletion_protection,
        host_shared_alb: new.config,
        propagate_tags: new.propagate_tags,
        tags: new.tags,
        client_token: new.client_token,
        created_at: now,
        updated_at: now,
        associations: vec![],
        load_balancers: vec![],
        routes: vec![],
    };
    if !state.put_if_unchanged(&key, 0, encode(&record)).await? {
        return Err(ControlError::changed_meanwhile("gateway"));
    }
    Ok(record)
}

/// Change a gateway with `change` and write it back, again on a concurrent change.
pub async fn update(
    state: &State,
    scope: &Scope,
    id: &str,
    mut change: impl FnMut(&mut GatewayRecord) -> Result<(), ControlError>,
) -> Result<GatewayRecord, ControlError> {
    for _ in 0..ATTEMPTS {
        let entry = find(state, scope, id)?;
        let mut record = (*entry.value).clone();
        change(&mut record)?;
        if record == *entry.value {
            return Ok(record);
        }
        let key = keys::gateway(&scope.region, &record.name);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!(
        "The gateway {id} kept changing; retry."
    )))
}

/// Delete a gateway and the load balancers it made. Refused while deletion protection is
/// on or a cluster is associated (ACTIVE or DISASSOCIATING); no association means no
/// route, so no target group or rule is left but on the load balancers deleted here.
pub async fn delete(state: &State, scope: &Scope, id: &str) -> Result<GatewayRecord, ControlError> {
    let entry = find(state, scope, id)?;
    check_deletable(&entry.value)?;
    for alb in &entry.value.load_balancers {
        crate::elbv2::load_balancers::delete(state, scope, &alb.load_balancer_arn).await?;
    }
    for _ in 0..ATTEMPTS {
        let entry = find(state, scope, id)?;
        check_deletable(&entry.value)?;
        let key = keys::gateway(&scope.region, &entry.value.name);
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::delete(key)],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            let mut gone = (*entry.value).clone();
            gone.status = GatewayStatus::Deleted;
            return Ok(gone);
        }
    }
    Err(ControlError::Contended(format!(
        "The gateway {id} kept changing while it was being deleted; retry."
    )))
}

fn check_deletable(g: &GatewayRecord) -> Result<(), ControlError> {
    if g.deletion_protection {
        return Err(ControlError::client(format!(
            "The gateway '{}' has deletion protection enabled: disable it with UpdateGateway first.",
            g.name
        )));
    }
    if let Some(a) = g.associations.first() {
        return Err(ControlError::client(format!(
            "The gateway '{}' is associated with the cluster {} ({}): disassociate every \
             cluster first.",
            g.name,
            a.cluster_arn,
            a.status.as_str()
        )));
    }
    Ok(())
}

/// Associate an ACTIVE cluster with a gateway (again ACTIVE if it was disassociating). A
/// cluster is associated with at most [`MAX_GATEWAYS_PER_CLUSTER`] gateways.
pub async fn associate(
    state: &State,
    scope: &Scope,
    gateway: &str,
    cluster: &str,
) -> Result<(GatewayRecord, String), ControlError> {
    let cluster_arn = crate::ecs::clusters::active(state, scope, Some(cluster))?
        .value
        .cluster_arn
        .clone();
    find(state, scope, gateway)?;
    let others = list(state, scope)
        .iter()
        .filter(|g| g.association(&cluster_arn).is_some())
        .filter(|g| name_of(scope, gateway).is_ok_and(|n| n != g.name))
        .count();
    if others >= MAX_GATEWAYS_PER_CLUSTER {
        return Err(ControlError::client(format!(
            "The cluster {cluster_arn} is already associated with {MAX_GATEWAYS_PER_CLUSTER} \
             gateways, the most a cluster can be."
        )));
    }
    let record = update(state, scope, gateway, |g| {
        match g
            .associations
            .iter_mut()
            .find(|a| a.cluster_arn == cluster_arn)
        {
            Some(a) => a.status = AssociationStatus::Active,
            None => g.associations.push(Association {
                cluster_arn: cluster_arn.clone(),
                status: AssociationStatus::Active,
            }),
        }
        Ok(())
    })
    .await?;
    Ok((record, cluster_arn))
}

/// Start removing a cluster's association: DISASSOCIATING while routes of the cluster's
/// services remain (the services must drop their connectors), gone at once when none do.
pub async fn disassociate(
    state: &State,
    scope: &Scope,
    gateway: &str,
    cluster: &str,
) -> Result<(GatewayRecord, String), ControlError> {
    let name = crate::ecs::clusters::name_of(Some(cluster), scope)?;
    if state
        .clusters()
        .get(keys::cluster(&scope.region, &name).as_bytes())
        .is_none()
    {
        return Err(ControlError::cluster_not_found());
    }
    let cluster_arn = scope.cluster_arn(&name);
    let record = update(state, scope, gateway, |g| {
        if g.association(&cluster_arn).is_none() {
            return Err(ControlError::not_found(
                Resource::Other,
                format!(
                    "The gateway '{}' is not associated with the cluster {cluster_arn}.",
                    g.name
                ),
            ));
        }
        let in_use = g.routes.iter().any(|r| r.cluster_arn == cluster_arn);
        if in_use {
            for a in g
                .associations
                .iter_mut()
                .filter(|a| a.cluster_arn == cluster_arn)
            {
                a.status = AssociationStatus::Disassociating;
            }
        } else {
            g.associations.retain(|a| a.cluster_arn != cluster_arn);
        }
        Ok(())
    })
    .await?;
    Ok((record, cluster_arn))
}

/// Check that each connector's `portName` names a port mapping of the task definition.
pub fn check_ports(
    def: &flotilla_model::task_definition::TaskDefinition,
    connectors: &[flotilla_model::gateway::GatewayConnector],
) -> Result<(), ControlError> {
    for c in connectors {
        if infra::port_in(def, &c.port_name).is_none() {
            return Err(ControlError::invalid(format!(
                "gatewayConnectors: no port mapping of the task definition is named '{}'.",
                c.port_name
            )));
        }
    }
    Ok(())
}

/// The ACTIVE routes of a service, on every gateway of its region: what the service
/// controller registers its tasks in, beside its `loadBalancers`.
pub fn routes_of_service(state: &State, scope: &Scope, service_arn: &str) -> Vec<GatewayRoute> {
    list(state, scope)
        .iter()
        .flat_map(|g| g.routes.iter())
        .filter(|r| r.service_arn == service_arn && r.status == RouteStatus::Active)
        .cloned()
        .collect()
}

/// The gateway and the route a gateway route ARN names (`gateway-route/GATEWAY/ID`);
/// ResourceNotFound otherwise.
pub fn route_by_arn(
    state: &State,
    scope: &Scope,
    route_arn: &str,
) -> Result<(Arc<GatewayRecord>, GatewayRoute), ControlError> {
    let missing = || {
        ControlError::not_found(
            Resource::Other,
            format!("The gateway route '{route_arn}' was not found."),
        )
    };
    let arn = Arn::parse(route_arn)
        .filter(|a| a.service == "ecs")
        .ok_or_else(|| {
            ControlError::invalid(format!("'{route_arn}' is not a gateway route ARN."))
        })?;
    arn.within(scope)?;
    let rest = arn.resource.strip_prefix("gateway-route/").ok_or_else(|| {
        ControlError::invalid(format!("'{route_arn}' is not a gateway route ARN."))
    })?;
    let (gateway, _id) = rest.split_once('/').ok_or_else(missing)?;
    let entry = state
        .gateways()
        .get(keys::gateway(&scope.region, gateway).as_bytes())
        .ok_or_else(missing)?;
    let route = entry
        .value
        .routes
        .iter()
        .find(|r| r.arn == route_arn)
        .cloned()
        .ok_or_else(missing)?;
    Ok((entry.value, route))
}
