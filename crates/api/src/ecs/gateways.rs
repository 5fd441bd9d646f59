//! Gateway operations: CreateGateway, DescribeGateway, UpdateGateway, DeleteGateway,
//! ListGateways, AssociateGatewayWithCluster, DisassociateGatewayFromCluster,
//! ListGatewayClusterAssociations, DescribeGatewayResources, DescribeGatewayRoute and
//! ListGatewayRoutes. They read and write `flotilla_control::ecs::gateways`; the gateway
//! controller makes the routes (services reach a gateway through `gatewayConnectors` on
//! CreateService and UpdateService).

use flotilla_aws::Context;
use flotilla_control::ecs::gateways::{self, NewGateway};
use flotilla_model::gateway::{
    AssociationStatus, GatewayRecord, GatewayRoute, GatewayStatus, HostSharedAlbInput, RouteStatus,
};
use flotilla_model::tag::Tag;
use flotilla_model::timestamp::to_epoch_seconds;
use flotilla_model::Scope;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ecs::error::{invalid, EcsError};
use crate::pagination::{page_size, paginate, Order};
use crate::State;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    host_shared_alb: Option<HostSharedAlbInput>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    name: Option<String>,
    infrastructure_role_arn: Option<String>,
    client_token: Option<String>,
    deletion_protection: Option<bool>,
    configuration: Option<Configuration>,
    #[serde(default)]
    tags: Vec<Tag>,
    propagate_tags: Option<String>,
}

fn required<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, EcsError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(format!("{name} is required.")))
}

/// An IAM role ARN (`arn:PARTITION:iam::ACCOUNT:role/NAME`); it is kept and shown, never
/// assumed (see docs/gateways.md).
fn check_role(arn: &str) -> Result<(), EcsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty());
    if !ok {
        return Err(invalid(format!(
            "infrastructureRoleArn '{arn}' is not an IAM role ARN."
        )));
    }
    Ok(())
}

fn check_propagate(p: Option<&str>) -> Result<Option<String>, EcsError> {
    match p {
        None => Ok(None),
        Some(v @ ("NONE" | "GATEWAY")) => Ok(Some(v.to_string())),
        Some(other) => Err(invalid(format!(
            "propagateTags '{other}' is invalid: use NONE or GATEWAY."
        ))),
    }
}

pub async fn create(state: &State, ctx: &Context, input: CreateInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let name = required(&input.name, "name")?.to_string();
    let role = required(&input.infrastructure_role_arn, "infrastructureRoleArn")?.to_string();
    check_role(&role)?;
    if input.client_token.as_ref().is_some_and(|t| t.len() > 64) {
        return Err(invalid("clientToken can be at most 64 characters long."));
    }
    let config = input
        .configuration
        .and_then(|c| c.host_shared_alb)
        .ok_or_else(|| invalid("configuration must set exactly one gateway type: hostSharedAlb."))?
        .resolve()?;
    if input.tags.len() > 50 {
        return Err(invalid("A gateway can have at most 50 tags."));
    }
    let new = NewGateway {
        name,
        infrastructure_role_arn: role,
        client_token: input.client_token,
        deletion_protection: input.deletion_protection.unwrap_or(true),
        config,
        tags: input.tags,
        propagate_tags: check_propagate(input.propagate_tags.as_deref())?
            .unwrap_or_else(|| "GATEWAY".into()),
    };
    let g = gateways::create(state, &scope, new, chrono::Utc::now()).await?;
    Ok(summary(&g))
}

fn summary(g: &GatewayRecord) -> Value {
    json!({ "gatewayArn": g.arn, "name": g.name, "status": g.status.as_str() })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayInput {
    gateway: Option<String>,
}

pub fn describe(state: &State, ctx: &Context, input: GatewayInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let g = gateways::find(state, &scope, required(&input.gateway, "gateway")?)?;
    Ok(json!({ "gateway": to_wire(&g.value) }))
}

fn to_wire(g: &GatewayRecord) -> Value {
    let mut config = serde_json::to_value(&g.host_shared_alb).unwrap_or_default();
    config["currentAlbCount"] = json!(g.load_balancers.len());
    let mut out = json!({
        "gatewayArn": g.arn,
        "name": g.name,
        "status": g.status.as_str(),
        "statusReason": g.status_reason,
        "failures": [],
        "infrastructureRoleArn": g.infrastructure_role_arn,
        "deletionProtection": g.deletion_protection,
        "configuration": { "hostSharedAlb": config },
        "accessType": g.access_type(),
        "propagateTags": g.propagate_tags,
        "tags": g.tags,
        "createdAt": to_epoch_seconds(&g.created_at),
        "updatedAt": to_epoch_seconds(&g.updated_at),
    });
    if g.status_reason.is_none() {
        out.as_object_mut().map(|o| o.remove("statusReason"));
    }
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    gateway: Option<String>,
    infrastructure_role_arn: Option<String>,
    deletion_protection: Option<bool>,
    configuration: Option<Configuration>,
    propagate_tags: Option<String>,
}

pub async fn update(state: &State, ctx: &Context, input: UpdateInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let id = required(&input.gateway, "gateway")?;
    if let Some(r) = &input.infrastructure_role_arn {
        check_role(r)?;
    }
    let propagate = check_propagate(input.propagate_tags.as_deref())?;
    let config = input.configuration.and_then(|c| c.host_shared_alb);
    let now = chrono::Utc::now();
    let g = gateways::update(state, &scope, id, |g| {
        if let Some(c) = config.clone() {
            c.apply_to(&mut g.host_shared_alb)?;
        }
        if let Some(r) = &input.infrastructure_role_arn {
            g.infrastructure_role_arn.clone_from(r);
        }
        if let Some(d) = input.deletion_protection {
            g.deletion_protection = d;
        }
        if let Some(p) = &propagate {
            g.propagate_tags.clone_from(p);
        }
        g.status = GatewayStatus::UpdateInProgress;
        g.status_reason = None;
        g.updated_at = now;
        Ok(())
    })
    .await?;
    Ok(summary(&g))
}

pub async fn delete(state: &State, ctx: &Context, input: GatewayInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let g = gateways::delete(state, &scope, required(&input.gateway, "gateway")?).await?;
    Ok(summary(&g))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    status: Vec<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// Check a status filter against the enum's values (at most `max` of them).
fn statuses(given: &[String], all: &[&str], max: usize) -> Result<(), EcsError> {
    if given.len() > max {
        return Err(invalid(format!("status can have at most {max} values.")));
    }
    match given.iter().find(|s| !all.contains(&s.as_str())) {
        Some(s) => Err(invalid(format!(
            "status '{s}' is invalid: use {}.",
            all.join(", ")
        ))),
        None => Ok(()),
    }
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    if input.names.len() > 10 {
        return Err(invalid("names can have at most 10 values."));
    }
    statuses(&input.status, &GatewayStatus::ALL, 5)?;
    let size = page_size(input.max_results, 100)?;
    let items: Vec<_> = gateways::list(state, &scope)
        .into_iter()
        .filter(|g| input.names.is_empty() || input.names.contains(&g.name))
        .filter(|g| input.status.is_empty() || input.status.iter().any(|s| s == g.status.as_str()))
        .collect();
    let (page, next) = paginate(
        items,
        |g| g.name.clone(),
        Order::Asc,
        input.next_token.as_deref(),
        size,
    )?;
    let gateways: Vec<Value> = page
        .iter()
        .map(|g| {
            json!({ "gatewayArn": g.arn, "name": g.name, "status": g.status.as_str(),
                    "createdAt": to_epoch_seconds(&g.created_at) })
        })
        .collect();
    Ok(json!({ "gateways": gateways, "nextToken": next }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationInput {
    gateway: Option<String>,
    cluster: Option<String>,
}

pub async fn associate(
    state: &State,
    ctx: &Context,
    input: AssociationInput,
) -> Result<Value, EcsError> {
    association(state, ctx, input, AssociationStatus::Active).await
}

/// The association answers DISASSOCIATING, also when it went at once (no routes).
pub async fn disassociate(
    state: &State,
    ctx: &Context,
    input: AssociationInput,
) -> Result<Value, EcsError> {
    association(state, ctx, input, AssociationStatus::Disassociating).await
}

/// Associate (`to` ACTIVE) or disassociate a cluster.
async fn association(
    state: &State,
    ctx: &Context,
    input: AssociationInput,
    to: AssociationStatus,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let gateway = required(&input.gateway, "gateway")?;
    let cluster = required(&input.cluster, "cluster")?;
    let (g, cluster_arn) = match to {
        AssociationStatus::Active => gateways::associate(state, &scope, gateway, cluster).await?,
        _ => gateways::disassociate(state, &scope, gateway, cluster).await?,
    };
    Ok(json!({ "gatewayArn": g.arn, "clusterArn": cluster_arn, "status": to.as_str() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAssociationsInput {
    gateway: Option<String>,
    cluster: Option<String>,
    #[serde(default)]
    status: Vec<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The gateways a list's `gateway` filter leaves (GatewayNotFound for one that does not
/// exist) and the cluster ARN its `cluster` filter names.
#[allow(clippy::type_complexity)]
fn listing(
    state: &State,
    scope: &Scope,
    gateway: &Option<String>,
    cluster: &Option<String>,
) -> Result<(Vec<std::sync::Arc<GatewayRecord>>, Option<String>), EcsError> {
    let gateways = match gateway.as_deref().filter(|g| !g.is_empty()) {
        Some(id) => vec![gateways::find(state, scope, id)?.value],
        None => gateways::list(state, scope),
    };
    let cluster = match cluster.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => {
            let name = flotilla_control::ecs::clusters::name_of(Some(c), scope)?;
            Some(scope.cluster_arn(&name))
        }
        None => None,
    };
    Ok((gateways, cluster))
}

/// One page (`maxResults` 1-100, default 100) of a list's items in `key` order.
fn page_of(
    mut items: Vec<Value>,
    key: impl Fn(&Value) -> String,
    max_results: Option<i64>,
    token: &Option<String>,
) -> Result<(Vec<Value>, Option<String>), EcsError> {
    let size = page_size(max_results, 100)?;
    items.sort_by_key(&key);
    Ok(paginate(items, key, Order::Asc, token.as_deref(), size)?)
}

pub fn list_associations(
    state: &State,
    ctx: &Context,
    input: ListAssociationsInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    statuses(&input.status, &AssociationStatus::ALL, 3)?;
    let (gateways, cluster) = listing(state, &scope, &input.gateway, &input.cluster)?;
    let mut items = Vec::new();
    for g in gateways {
        for a in &g.associations {
            let status = a.status.as_str();
            if cluster.as_ref().is_some_and(|c| *c != a.cluster_arn)
                || (!input.status.is_empty() && !input.status.iter().any(|s| s == status))
            {
                continue;
            }
            items.push(json!({ "gatewayArn": g.arn, "clusterArn": a.cluster_arn,
                               "status": status }));
        }
    }
    let key = |v: &Value| format!("{}\0{}", v["gatewayArn"], v["clusterArn"]);
    let (page, next) = page_of(items, key, input.max_results, &input.next_token)?;
    Ok(json!({ "gatewayClusterAssociations": page, "nextToken": next }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesInput {
    gateway: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub fn describe_resources(
    state: &State,
    ctx: &Context,
    input: ResourcesInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let g = gateways::find(state, &scope, required(&input.gateway, "gateway")?)?.value;
    let size = match input.max_results {
        None => 10,
        Some(_) => page_size(input.max_results, 20)?,
    };
    let albs: Vec<Value> = g
        .load_balancers
        .iter()
        .map(|alb| {
            let routes: Vec<&str> = g
                .routes
                .iter()
                .filter(|r| r.load_balancer_arn == alb.load_balancer_arn)
                .map(|r| r.arn.as_str())
                .collect();
            json!({ "loadBalancerArn": alb.load_balancer_arn, "listenerArn": alb.listener_arn,
                    "gatewayRouteArns": routes })
        })
        .collect();
    let key = |v: &Value| {
        v["loadBalancerArn"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (page, next) = paginate(albs, key, Order::Asc, input.next_token.as_deref(), size)?;
    Ok(json!({
        "gatewayResources": { "gatewayArn": g.arn, "resources": { "hostSharedAlb": page } },
        "nextToken": next,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteInput {
    gateway_route_arn: Option<String>,
}

pub fn describe_route(state: &State, ctx: &Context, input: RouteInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arn = required(&input.gateway_route_arn, "gatewayRouteArn")?;
    let (_, r) = gateways::route_by_arn(state, &scope, arn)?;
    Ok(json!({ "gatewayRoute": {
        "gatewayRouteArn": r.arn,
        "serviceArn": r.service_arn,
        "serviceContainerPortName": r.port_name,
        "status": r.status.as_str(),
        "serviceUrl": r.service_url,
        "resources": { "hostSharedAlb": [{
            "loadBalancerArn": r.load_balancer_arn,
            "listenerArn": r.listener_arn,
            "listenerRuleArn": r.listener_rule_arn,
            "testListenerRuleArns": [],
        }]},
    }}))
}

/// A route as ECS shows it in a service revision's `ecsManagedResources.gatewayConnections`.
pub fn connection(g: &GatewayRecord, r: &GatewayRoute) -> Value {
    json!({
        "gatewayArn": g.arn,
        "gatewayRouteArn": r.arn,
        "portName": r.port_name,
        "serviceUrl": r.service_url,
        "accessType": g.access_type(),
        "status": r.status.as_str(),
        "resources": { "hostSharedAlb": [{
            "loadBalancerArn": r.load_balancer_arn,
            "listenerArn": r.listener_arn,
            "listenerRuleArn": r.listener_rule_arn,
            "targetGroupArn": r.target_group_arn,
        }]},
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListRoutesInput {
    gateway: Option<String>,
    cluster: Option<String>,
    service: Option<String>,
    service_container_port_name: Option<String>,
    #[serde(default)]
    status: Vec<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub fn list_routes(
    state: &State,
    ctx: &Context,
    input: ListRoutesInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    statuses(&input.status, &RouteStatus::ALL, 7)?;
    let (gateways, cluster) = listing(state, &scope, &input.gateway, &input.cluster)?;
    // A service name may match services of several clusters; an ARN matches one.
    let service = input.service.as_deref().filter(|s| !s.is_empty());
    let matches_service = |arn: &str| match service {
        None => true,
        Some(s) if s.starts_with("arn:") => arn == s,
        Some(s) => arn.rsplit('/').next() == Some(s),
    };
    let mut items = Vec::new();
    for g in gateways {
        for r in &g.routes {
            let keep = cluster.as_ref().is_none_or(|c| *c == r.cluster_arn)
                && matches_service(&r.service_arn)
                && input
                    .service_container_port_name
                    .as_ref()
                    .is_none_or(|p| *p == r.port_name)
                && (input.status.is_empty() || input.status.iter().any(|s| s == r.status.as_str()));
            if keep {
                items.push(json!({
                    "gatewayRouteArn": r.arn,
                    "gatewayArn": g.arn,
                    "clusterArn": r.cluster_arn,
                    "serviceArn": r.service_arn,
                    "serviceContainerPortName": r.port_name,
                    "status": r.status.as_str(),
                }));
            }
        }
    }
    let key = |v: &Value| {
        v["gatewayRouteArn"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (page, next) = page_of(items, key, input.max_results, &input.next_token)?;
    Ok(json!({ "gatewayRoutes": page, "nextToken": next }))
}
