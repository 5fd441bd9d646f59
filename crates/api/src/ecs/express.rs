//! Express service operations: CreateExpressGatewayService,
//! DescribeExpressGatewayService, UpdateExpressGatewayService,
//! DeleteExpressGatewayService. The composition (task definition, load balancer, target
//! group, listener, service, scaling) is `flotilla_control::ecs::express`; this file reads
//! the wire input and writes `ECSExpressGatewayService`.

use flotilla_aws::Context;
use flotilla_control::ecs::express::{self, NewExpress, Settings};
use flotilla_model::service::express::{Configuration, Container, Network, Scaling};
use flotilla_model::service::{ServiceRecord, ServiceStatus};
use flotilla_model::tag::Tag;
use flotilla_model::timestamp::to_epoch_seconds;
use serde::Deserialize;
use serde_json::{json, Value};

use super::wants_tags;
use crate::ecs::error::{invalid, EcsError};
use crate::State;

/// The members CreateExpressGatewayService and UpdateExpressGatewayService share.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SettingsInput {
    execution_role_arn: Option<String>,
    task_role_arn: Option<String>,
    health_check_path: Option<String>,
    primary_container: Option<Container>,
    network_configuration: Option<Network>,
    cpu: Option<String>,
    memory: Option<String>,
    cpu_architecture: Option<String>,
    scaling_target: Option<Scaling>,
    task_definition_arn: Option<String>,
}

impl From<SettingsInput> for Settings {
    fn from(i: SettingsInput) -> Settings {
        Settings {
            execution_role_arn: i.execution_role_arn,
            task_role_arn: i.task_role_arn,
            health_check_path: i.health_check_path,
            primary_container: i.primary_container,
            network_configuration: i.network_configuration,
            cpu: i.cpu,
            memory: i.memory,
            cpu_architecture: i.cpu_architecture,
            scaling_target: i.scaling_target,
            task_definition_arn: i.task_definition_arn,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    infrastructure_role_arn: Option<String>,
    service_name: Option<String>,
    cluster: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(flatten)]
    settings: SettingsInput,
}

pub async fn create(state: &State, ctx: &Context, input: CreateInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let role = input
        .infrastructure_role_arn
        .filter(|r| !r.is_empty())
        .ok_or_else(|| invalid("infrastructureRoleArn is required."))?;
    let new = NewExpress {
        cluster: input.cluster,
        service_name: input.service_name,
        infrastructure_role_arn: role,
        settings: input.settings.into(),
        tags: input.tags,
    };
    let svc = express::create(state, &scope, new, &ctx.principal_arn, chrono::Utc::now()).await?;
    Ok(json!({ "service": to_wire(&svc, true) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    service_arn: Option<String>,
    #[serde(default)]
    include: Vec<String>,
}

/// DescribeExpressGatewayService: an unknown ARN is ResourceNotFoundException, as the
/// model lists.
pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arn = required_arn(input.service_arn)?;
    let tags = wants_tags(&input.include, &["TAGS"])?;
    let entry = express::find(state, &scope, &arn).map_err(|e| match e {
        e if is_service_not_found(&e) => crate::ecs::error::not_found(
            flotilla_model::Resource::Other,
            format!("The Express service {arn} was not found."),
        ),
        e => e.into(),
    })?;
    Ok(json!({ "service": to_wire(&entry.value, tags) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    service_arn: Option<String>,
    #[serde(flatten)]
    settings: SettingsInput,
}

pub async fn update(state: &State, ctx: &Context, input: UpdateInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arn = required_arn(input.service_arn)?;
    let settings: Settings = input.settings.into();
    let svc = express::update(
        state,
        &scope,
        &arn,
        &settings,
        &ctx.principal_arn,
        chrono::Utc::now(),
    )
    .await?;
    let x = svc.express.as_deref();
    let target = x.and_then(|x| x.latest().map(|c| configuration(c, &x.endpoint)));
    Ok(json!({ "service": {
        "serviceArn": svc.service_arn,
        "cluster": svc.cluster_arn,
        "serviceName": svc.service_name,
        "status": status(&svc),
        "targetConfiguration": target,
        "createdAt": to_epoch_seconds(&svc.created_at),
        "updatedAt": x.map(|x| to_epoch_seconds(&x.updated_at)),
    }}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteInput {
    service_arn: Option<String>,
}

pub async fn delete(state: &State, ctx: &Context, input: DeleteInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arn = required_arn(input.service_arn)?;
    let svc = express::delete(state, &scope, &arn, chrono::Utc::now()).await?;
    Ok(json!({ "service": to_wire(&svc, true) }))
}

fn required_arn(arn: Option<String>) -> Result<String, EcsError> {
    arn.filter(|a| !a.is_empty())
        .ok_or_else(|| invalid("serviceArn is required."))
}

fn is_service_not_found(e: &flotilla_control::ControlError) -> bool {
    matches!(e, flotilla_control::ControlError::Model(m)
        if m.kind == flotilla_model::ErrorKind::NotFound(flotilla_model::Resource::Service))
}

/// `ExpressGatewayServiceStatus`.
fn status(svc: &ServiceRecord) -> Value {
    let (code, reason) = match svc.status {
        ServiceStatus::Active => ("ACTIVE", None),
        ServiceStatus::Draining => (
            "DRAINING",
            Some("The service is being deleted: its tasks are stopping."),
        ),
        ServiceStatus::Inactive => (
            "INACTIVE",
            Some("The service was deleted with its load balancer and target group."),
        ),
    };
    json!({ "statusCode": code, "statusReason": reason })
}

/// `ExpressGatewayServiceConfiguration` with its ingress path.
fn configuration(c: &Configuration, endpoint: &str) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    v["ingressPaths"] = json!([{ "accessType": "PUBLIC", "endpoint": endpoint }]);
    v
}

/// `ECSExpressGatewayService`: the configurations of the service's live deployments,
/// the PRIMARY's first.
fn to_wire(svc: &ServiceRecord, tags: bool) -> Value {
    let Some(x) = svc.express.as_deref() else {
        return Value::Null;
    };
    let live: Vec<&str> = svc
        .deployments
        .iter()
        .map(|d| d.service_revision_arn.as_str())
        .collect();
    let active: Vec<Value> = x
        .of_revisions(&live)
        .into_iter()
        .map(|c| configuration(c, &x.endpoint))
        .collect();
    let mut out = json!({
        "cluster": svc.cluster_arn,
        "serviceName": svc.service_name,
        "serviceArn": svc.service_arn,
        "infrastructureRoleArn": x.infrastructure_role_arn,
        "status": status(svc),
        "currentDeployment": svc.primary().map(|d| d.service_deployment_arn.clone()),
        "activeConfigurations": active,
        "createdAt": to_epoch_seconds(&svc.created_at),
        "updatedAt": to_epoch_seconds(&x.updated_at),
    });
    if tags {
        out["tags"] = serde_json::to_value(&svc.tags).unwrap_or_default();
    }
    out
}
