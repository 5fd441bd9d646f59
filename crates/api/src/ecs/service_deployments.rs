//! Service deployments and revisions: ListServiceDeployments, DescribeServiceDeployments,
//! DescribeServiceRevisions, StopServiceDeployment, ContinueServiceDeployment.
//!
//! A service deployment is the same stored deployment DescribeServices shows in
//! `deployments`, seen through the newer API; revisions are what each deployment runs.

use crate::ecs::error::EcsError;
use flotilla_aws::Context;
use flotilla_control::Entry;
use flotilla_model::service::strategy::HookAction;
use flotilla_model::service::{self, Deployment, RolloutState, ServiceRecord};
use flotilla_model::timestamp::{from_epoch_seconds, to_epoch_seconds};
use flotilla_model::{Arn, Scope};
use serde::Deserialize;
use serde_json::{json, Value};

use super::clusters::active_cluster_name;
use crate::ecs::error::invalid;
use crate::pagination::{page_size, paginate, Order};
use crate::{keys, State};
use flotilla_control::ecs::services::{self, counted_tasks, counts, find, tasks_of, StopType};
use flotilla_control::ControlError;

/// The service an ARN of the form `...:KIND/cluster/service/id` belongs to.
fn owner(state: &State, scope: &Scope, arn: &str, kind: &str) -> Option<Entry<ServiceRecord>> {
    let a = Arn::parse(arn).filter(|a| a.service == "ecs" && a.region == scope.region)?;
    let mut parts = a.resource.splitn(4, '/');
    if parts.next()? != kind {
        return None;
    }
    let (cluster, name) = (parts.next()?, parts.next()?);
    state
        .services()
        .get(keys::service(&scope.region, cluster, name).as_bytes())
}

fn ts(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<f64> {
    t.as_ref().map(to_epoch_seconds)
}

fn brief(svc: &ServiceRecord, d: &Deployment) -> Value {
    json!({
        "serviceDeploymentArn": d.service_deployment_arn,
        "serviceArn": svc.service_arn,
        "clusterArn": svc.cluster_arn,
        "startedAt": to_epoch_seconds(&d.created_at),
        "createdAt": to_epoch_seconds(&d.created_at),
        "finishedAt": ts(d.finished_at()),
        "targetServiceRevisionArn": d.service_revision_arn,
        "status": d.deployment_status(),
        "statusReason": d.status_reason(),
    })
}

fn full(state: &State, region: &str, svc: &ServiceRecord, d: &Deployment) -> Value {
    let tasks = counted_tasks(state, region, svc, tasks_of(state, region, svc));
    let c = counts(&tasks, Some(&d.id));
    let sources: Vec<Value> = d
        .source_revisions
        .iter()
        .map(|arn| {
            let live = svc
                .deployments
                .iter()
                .find(|x| x.service_revision_arn == *arn && x.id != d.id);
            let c = live
                .map(|x| counts(&tasks, Some(&x.id)))
                .unwrap_or_default();
            json!({
                "arn": arn,
                "requestedTaskCount": live.map(|x| x.desired_count).unwrap_or(0),
                "runningTaskCount": c.running,
                "pendingTaskCount": c.pending,
            })
        })
        .collect();
    let breaker = d.deployment_configuration.deployment_circuit_breaker;
    let breaker_status = if !breaker.enable {
        "DISABLED"
    } else if d.rollout_state() == RolloutState::Failed {
        "TRIGGERED"
    } else {
        "MONITORING"
    };
    json!({
        "serviceDeploymentArn": d.service_deployment_arn,
        "serviceArn": svc.service_arn,
        "clusterArn": svc.cluster_arn,
        "createdAt": to_epoch_seconds(&d.created_at),
        "startedAt": to_epoch_seconds(&d.created_at),
        "finishedAt": ts(d.finished_at()),
        "stoppedAt": ts(d.stopped_at()),
        "updatedAt": to_epoch_seconds(&d.updated_at),
        "sourceServiceRevisions": sources,
        "targetServiceRevision": {
            "arn": d.service_revision_arn,
            "requestedTaskCount": d.desired_count,
            "runningTaskCount": c.running,
            "pendingTaskCount": c.pending,
        },
        "status": d.deployment_status(),
        "statusReason": d.status_reason(),
        "deploymentConfiguration": super::services::deployment_configuration(
            &d.deployment_configuration,
            &d.deployment_strategy,
        ),
        "lifecycleStage": d.shift.as_ref().map(|s| s.stage.as_str()),
        "lifecycleHookDetails": d.shift.as_ref().map(hook_details),
        "rollback": d.rollback(),
        "deploymentCircuitBreaker": {
            "status": breaker_status,
            "failureCount": d.failed_tasks,
            "threshold": service::circuit_breaker_threshold(d.desired_count),
        },
        "alarms": { "status": "DISABLED" },
    })
}

/// The PAUSE hooks a deployment reached (`lifecycleHookDetails`).
fn hook_details(shift: &service::Shift) -> Vec<Value> {
    shift
        .hooks
        .iter()
        .map(|h| {
            json!({
                "hookId": h.hook_id,
                "targetType": "PAUSE",
                "status": h.status.as_str(),
                "expiresAt": to_epoch_seconds(&h.expires_at),
                "timeoutAction": h.timeout_action.as_str(),
            })
        })
        .collect()
}

#[derive(Deserialize, Default)]
struct CreatedAt {
    before: Option<f64>,
    after: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    service: Option<String>,
    cluster: Option<String>,
    #[serde(default)]
    status: Vec<String>,
    #[serde(default)]
    created_at: Option<CreatedAt>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

const STATUSES: &[&str] = &[
    "PENDING",
    "SUCCESSFUL",
    "STOPPED",
    "STOP_REQUESTED",
    "IN_PROGRESS",
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_SUCCESSFUL",
    "ROLLBACK_FAILED",
];

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let id = input
        .service
        .ok_or_else(|| invalid("service is required."))?;
    let svc = find(state, &scope, &cluster, &id)?;
    let size = page_size(input.max_results, 100)?;
    let size = if input.max_results.is_none() {
        20
    } else {
        size
    };
    for s in &input.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(invalid(format!(
                "status '{s}' is invalid: use {}.",
                STATUSES.join(", ")
            )));
        }
    }
    let window = input.created_at.unwrap_or_default();
    let before = window.before.and_then(from_epoch_seconds);
    let after = window.after.and_then(from_epoch_seconds);
    let mut items: Vec<&Deployment> = svc
        .value
        .deployments
        .iter()
        .chain(svc.value.history.iter())
        .filter(|d| {
            input.status.is_empty()
                || input
                    .status
                    .iter()
                    .any(|s| s == d.deployment_status().as_str())
        })
        .filter(|d| before.is_none_or(|b| d.created_at < b))
        .filter(|d| after.is_none_or(|a| d.created_at > a))
        .collect();
    items.sort_by_key(|d| std::cmp::Reverse(d.created_at));
    let key = |d: &&Deployment| format!("{:020}{}", d.created_at.timestamp_micros(), d.id);
    let (page, next) = paginate(items, key, Order::Desc, input.next_token.as_deref(), size)?;
    let out: Vec<Value> = page.iter().map(|d| brief(&svc.value, d)).collect();
    Ok(json!({ "serviceDeployments": out, "nextToken": next }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    #[serde(default)]
    service_deployment_arns: Vec<String>,
}

pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arns = input.service_deployment_arns;
    if arns.is_empty() || arns.len() > 20 {
        return Err(invalid(
            "serviceDeploymentArns must name between 1 and 20 service deployments.",
        ));
    }
    let (found, failures) = super::describe_each(
        &arns,
        |arn| {
            let svc = owner(state, &scope, arn, "service-deployment")?;
            let d = svc.value.deployment(arn)?;
            Some(full(state, &scope.region, &svc.value, d))
        },
        |arn| Some(arn.to_string()),
    );
    Ok(json!({ "serviceDeployments": found, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionsInput {
    #[serde(default)]
    service_revision_arns: Vec<String>,
}

pub fn describe_revisions(
    state: &State,
    ctx: &Context,
    input: RevisionsInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arns = input.service_revision_arns;
    if arns.is_empty() || arns.len() > 20 {
        return Err(invalid(
            "serviceRevisionArns must name between 1 and 20 service revisions.",
        ));
    }
    let (found, failures) = super::describe_each(
        &arns,
        |arn| {
            let svc = owner(state, &scope, arn, "service-revision")?;
            let svc = &svc.value;
            svc.revisions
                .iter()
                .find(|r| r.service_revision_arn == *arn)
                .map(|r| {
                    let mut out = json!({
                        "serviceRevisionArn": r.service_revision_arn,
                        "serviceArn": svc.service_arn,
                        "clusterArn": svc.cluster_arn,
                        "taskDefinition": r.task_definition,
                        "launchType": super::services::non_empty(&r.launch_type),
                        "capacityProviderStrategy":
                            super::services::strategy_wire(&r.capacity_provider_strategy),
                        "loadBalancers": r.load_balancers,
                        "serviceRegistries": r.service_registries,
                        "networkConfiguration": svc.network_configuration,
                        "containerImages": r.container_images,
                        "guardDutyEnabled": false,
                        "createdAt": to_epoch_seconds(&r.created_at),
                    });
                    if !r.gateway_connectors.is_empty() {
                        out["gatewayConnectors"] = json!(r.gateway_connectors);
                        out["ecsManagedResources"] =
                            json!({ "gatewayConnections": connections(state, &scope, svc) });
                    }
                    out
                })
        },
        |arn| Some(arn.to_string()),
    );
    Ok(json!({ "serviceRevisions": found, "failures": failures }))
}

/// The gateway routes a service has now, as its revisions show them.
fn connections(state: &State, scope: &Scope, svc: &ServiceRecord) -> Vec<Value> {
    flotilla_control::ecs::gateways::list(state, scope)
        .iter()
        .flat_map(|g| {
            g.routes
                .iter()
                .filter(|r| r.service_arn == svc.service_arn)
                .map(|r| super::gateways::connection(g, r))
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopInput {
    service_deployment_arn: Option<String>,
    stop_type: Option<String>,
}

fn deployment_not_found() -> ControlError {
    ControlError::not_found(
        flotilla_model::Resource::ServiceDeployment,
        "The service deployment does not exist.",
    )
}

/// The stored key of the service that owns service deployment `arn`.
fn deployment_owner(state: &State, scope: &Scope, arn: &str) -> Result<String, EcsError> {
    let svc = owner(state, scope, arn, "service-deployment").ok_or_else(deployment_not_found)?;
    svc.value.deployment(arn).ok_or_else(deployment_not_found)?;
    let cluster = services::cluster_of(&svc.value);
    Ok(keys::service(
        &scope.region,
        cluster,
        &svc.value.service_name,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContinueInput {
    service_deployment_arn: Option<String>,
    hook_id: Option<String>,
    action: Option<String>,
}

/// ContinueServiceDeployment: resolve the PAUSE hook a deployment waits at.
pub async fn continue_(
    state: &State,
    ctx: &Context,
    input: ContinueInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arn = input
        .service_deployment_arn
        .ok_or_else(|| invalid("serviceDeploymentArn is required."))?;
    let hook = input
        .hook_id
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("hookId is required."))?;
    let action = HookAction::parse(input.action.as_deref().unwrap_or("CONTINUE"), "action")?;
    let key = deployment_owner(state, &scope, &arn)?;
    services::shift::continue_deployment(state, &key, &arn, &hook, action, chrono::Utc::now())
        .await?;
    Ok(json!({ "serviceDeploymentArn": arn }))
}

pub async fn stop(state: &State, ctx: &Context, input: StopInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arn = input
        .service_deployment_arn
        .ok_or_else(|| invalid("serviceDeploymentArn is required."))?;
    let stop_type = input.stop_type.unwrap_or_else(|| "ROLLBACK".into());
    if stop_type != "ROLLBACK" && stop_type != "ABORT" {
        return Err(invalid(format!(
            "stopType '{stop_type}' is invalid: use ABORT or ROLLBACK."
        )));
    }
    let key = deployment_owner(state, &scope, &arn)?;
    let how = if stop_type == "ROLLBACK" {
        StopType::Rollback
    } else {
        StopType::Abort
    };
    services::stop_deployment(state, &key, &arn, how, chrono::Utc::now()).await?;
    Ok(json!({ "serviceDeploymentArn": arn }))
}
