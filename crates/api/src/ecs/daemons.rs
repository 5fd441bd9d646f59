//! Daemon operations: CreateDaemon, UpdateDaemon, DeleteDaemon, DescribeDaemon,
//! ListDaemons, and a daemon's deployments and revisions (DescribeDaemonDeployments,
//! ListDaemonDeployments, DescribeDaemonRevisions). Counts of running, missing and
//! draining daemon tasks are derived from the tasks view, never stored.

use std::sync::Arc;

use flotilla_aws::Context;
use flotilla_control::ecs::clusters;
use flotilla_control::ecs::daemons::{self, counts, Settings};
use flotilla_model::capacity_provider as cp;
use flotilla_model::container_instance::ContainerInstanceRecord;
use flotilla_model::daemon::{
    self, DaemonRecord, DaemonStatus, Deployment, DeploymentConfigurationInput, DeploymentStatus,
    Revision,
};
use flotilla_model::tag::Tag;
use flotilla_model::task::{TaskRecord, TaskStatus};
use flotilla_model::timestamp::{from_epoch_seconds, to_epoch_seconds};
use flotilla_model::Scope;
use serde::Deserialize;
use serde_json::{json, Value};

use super::failure;
use crate::ecs::error::{invalid, EcsError};
use crate::pagination::{page_size, paginate, Order};
use crate::{keys, State};

/// What CreateDaemon and UpdateDaemon both set.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsInput {
    daemon_task_definition_arn: Option<String>,
    #[serde(default)]
    capacity_provider_arns: Vec<String>,
    deployment_configuration: Option<DeploymentConfigurationInput>,
    propagate_tags: Option<String>,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: Option<bool>,
    enable_execute_command: Option<bool>,
    critical: Option<bool>,
}

impl SettingsInput {
    fn checked(self) -> Result<Settings, EcsError> {
        Ok(Settings {
            daemon_task_definition: required(
                self.daemon_task_definition_arn,
                "daemonTaskDefinitionArn",
            )?,
            capacity_providers: self.capacity_provider_arns,
            deployment_configuration: self.deployment_configuration,
            propagate_tags: self.propagate_tags,
            enable_ecs_managed_tags: self.enable_ecs_managed_tags,
            enable_execute_command: self.enable_execute_command,
            critical: self.critical,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    daemon_name: Option<String>,
    cluster_arn: Option<String>,
    #[serde(flatten)]
    settings: SettingsInput,
    #[serde(default)]
    tags: Vec<Tag>,
    client_token: Option<String>,
}

fn required(s: Option<String>, what: &str) -> Result<String, EcsError> {
    s.filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(format!("{what} is required.")))
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> Value {
    to_epoch_seconds(&t).into()
}

/// What Create-, Update- and DeleteDaemon answer.
fn answer(d: &DaemonRecord, scope: &Scope, with_updated: bool) -> Value {
    let mut out = json!({
        "daemonArn": d.daemon_arn,
        "status": status(d.status),
        "createdAt": ts(d.created_at),
        "deploymentArn": d.current().map(|c| deployment_arn(scope, d, c)),
    });
    if with_updated {
        out["updatedAt"] = ts(d.updated_at);
    }
    out
}

fn status(s: DaemonStatus) -> &'static str {
    match s {
        DaemonStatus::Active => "ACTIVE",
        DaemonStatus::DeleteInProgress => "DELETE_IN_PROGRESS",
    }
}

fn deployment_arn(scope: &Scope, d: &DaemonRecord, c: &Deployment) -> String {
    daemon::deployment_arn(scope, d.cluster(), &d.daemon_name, &c.id)
}

fn revision_arn(scope: &Scope, d: &DaemonRecord, id: &str) -> String {
    daemon::revision_arn(scope, d.cluster(), &d.daemon_name, id)
}

pub async fn create(state: &State, ctx: &Context, input: CreateInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let name = required(input.daemon_name, "daemonName")?;
    let settings = input.settings.checked()?;
    let d = daemons::create(
        state,
        &scope,
        input.cluster_arn.as_deref(),
        &name,
        settings,
        input.tags,
        input.client_token,
    )
    .await?;
    Ok(answer(&d, &scope, false))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    daemon_arn: Option<String>,
    #[serde(flatten)]
    settings: SettingsInput,
}

pub async fn update(state: &State, ctx: &Context, input: UpdateInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arn = required(input.daemon_arn, "daemonArn")?;
    let settings = input.settings.checked()?;
    let d = daemons::update(state, &scope, &arn, settings).await?;
    Ok(answer(&d, &scope, true))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonInput {
    daemon_arn: Option<String>,
}

pub async fn delete(state: &State, ctx: &Context, input: DaemonInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arn = required(input.daemon_arn, "daemonArn")?;
    let d = daemons::delete(state, &scope, &arn).await?;
    Ok(answer(&d, &scope, true))
}

/// What a daemon's counts are read from: its cluster's instances and its tasks.
struct Seen {
    instances: Vec<Arc<ContainerInstanceRecord>>,
    tasks: Vec<Arc<TaskRecord>>,
}

impl Seen {
    fn of(state: &State, scope: &Scope, d: &DaemonRecord) -> Seen {
        Seen {
            instances: daemons::instances_of(state, &scope.region, d.cluster()),
            tasks: daemons::tasks_of(state, &scope.region, d),
        }
    }
}

/// `DaemonRevisionDetail` (`deployment` false) or `DaemonDeploymentRevisionDetail`.
fn revision_detail(
    scope: &Scope,
    d: &DaemonRecord,
    r: &Revision,
    seen: &Seen,
    deployment: bool,
) -> Value {
    let by = counts(r, &seen.instances, &seen.tasks);
    let (mut running, mut without, mut draining) = (0, 0, 0);
    let providers: Vec<Value> = by
        .iter()
        .map(|(p, c)| {
            running += c.running;
            without += c.without;
            draining += c.draining;
            if deployment {
                json!({
                    "arn": cp::arn(scope, p),
                    "runningInstanceCount": c.running,
                    "withoutDaemonInstanceCount": c.without,
                    "drainingInstanceCount": c.draining,
                })
            } else {
                json!({
                    "arn": cp::arn(scope, p),
                    "runningCount": c.running,
                    "withoutDaemonCount": c.without,
                })
            }
        })
        .collect();
    let arn = revision_arn(scope, d, &r.id);
    if deployment {
        json!({
            "arn": arn,
            "capacityProviders": providers,
            "totalRunningInstanceCount": running,
            "totalWithoutDaemonInstanceCount": without,
            "totalDrainingInstanceCount": draining,
        })
    } else {
        json!({
            "arn": arn,
            "capacityProviders": providers,
            "totalRunningCount": running,
            "totalWithoutDaemonCount": without,
        })
    }
}

pub fn describe(state: &State, ctx: &Context, input: DaemonInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arn = required(input.daemon_arn, "daemonArn")?;
    let (_, entry) = daemons::resolve(state, &scope, &arn)?;
    let d = &entry.value;
    let seen = Seen::of(state, &scope, d);
    // The target and every revision whose tasks still run.
    let current: Vec<Value> = (d.revisions.iter())
        .filter(|r| {
            d.target().is_some_and(|t| t.id == r.id)
                || seen.tasks.iter().any(|t| {
                    t.started_by.as_deref() == Some(&r.id) && t.last_status < TaskStatus::Stopped
                })
        })
        .map(|r| revision_detail(&scope, d, r, &seen, false))
        .collect();
    Ok(json!({ "daemon": {
        "daemonArn": d.daemon_arn,
        "clusterArn": d.cluster_arn,
        "status": status(d.status),
        "currentRevisions": current,
        "deploymentArn": d.current().map(|c| deployment_arn(&scope, d, c)),
        "createdAt": ts(d.created_at),
        "updatedAt": ts(d.updated_at),
    }}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    cluster_arn: Option<String>,
    #[serde(default)]
    capacity_provider_arns: Vec<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let size = page_size(input.max_results, 100)?;
    let cluster = clusters::active(state, &scope, input.cluster_arn.as_deref())?;
    let providers: Vec<&str> = (input.capacity_provider_arns.iter())
        .map(|p| flotilla_control::ecs::capacity_providers::name_of(p))
        .collect();
    let prefix = keys::in_cluster(keys::DAEMONS, &scope.region, &cluster.value.cluster_name);
    let items: Vec<(String, Value)> = state
        .daemons()
        .range(prefix.as_bytes())
        .into_iter()
        .filter(|(_, e)| {
            providers.is_empty()
                || (e.value.revisions.last()).is_some_and(|r| {
                    r.capacity_providers
                        .iter()
                        .any(|p| providers.contains(&p.as_str()))
                })
        })
        .map(|(k, e)| {
            let d = &e.value;
            let v = json!({
                "daemonArn": d.daemon_arn,
                "status": status(d.status),
                "createdAt": ts(d.created_at),
                "updatedAt": ts(d.updated_at),
            });
            (String::from_utf8_lossy(&k).into_owned(), v)
        })
        .collect();
    let (page, next) = paginate(
        items,
        |(k, _)| k.clone(),
        Order::Asc,
        input.next_token.as_deref(),
        size,
    )?;
    let out: Vec<Value> = page.into_iter().map(|(_, v)| v).collect();
    Ok(json!({ "daemonSummariesList": out, "nextToken": next }))
}

/// The daemon and the id a deployment or revision ARN names, if it exists.
fn owner(
    state: &State,
    scope: &Scope,
    arn: &str,
    kind: &str,
) -> Option<(Arc<DaemonRecord>, String)> {
    let (cluster, name, id) = daemon::parse_arn(arn, kind, scope).ok()?;
    let d = state
        .daemons()
        .get(keys::daemon(&scope.region, &cluster, &name).as_bytes())?;
    Some((d.value, id))
}

fn batch(arns: &[String], what: &str) -> Result<(), EcsError> {
    if arns.is_empty() || arns.len() > 20 {
        return Err(invalid(format!("{what} must name between 1 and 20 ARNs.")));
    }
    Ok(())
}

fn opt_ts(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map(ts).unwrap_or(Value::Null)
}

/// `DaemonDeployment`.
fn deployment_wire(scope: &Scope, d: &DaemonRecord, c: &Deployment, seen: &Seen) -> Value {
    let detail = |id: &String| {
        d.revision(id)
            .map(|r| revision_detail(scope, d, r, seen, true))
    };
    let alarms = c
        .deployment_configuration
        .alarms
        .clone()
        .unwrap_or_default();
    json!({
        "daemonDeploymentArn": deployment_arn(scope, d, c),
        "clusterArn": d.cluster_arn,
        "status": c.status.as_str(),
        "statusReason": c.status_reason,
        "targetDaemonRevision": c.target_revision.as_ref().and_then(detail),
        "sourceDaemonRevisions": c.source_revisions.iter().filter_map(detail).collect::<Vec<_>>(),
        "circuitBreaker": { "status": "DISABLED", "failureCount": 0, "threshold": 0 },
        "alarms": {
            "status": if alarms.enable { "MONITORING" } else { "DISABLED" },
            "alarmNames": alarms.alarm_names,
            "triggeredAlarmNames": [],
        },
        "deploymentConfiguration": c.deployment_configuration,
        "createdAt": ts(c.created_at),
        "startedAt": opt_ts(c.started_at),
        "stoppedAt": opt_ts(c.stopped_at),
        "finishedAt": opt_ts(c.finished_at),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeDeploymentsInput {
    #[serde(default)]
    daemon_deployment_arns: Vec<String>,
}

pub fn describe_deployments(
    state: &State,
    ctx: &Context,
    input: DescribeDeploymentsInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    batch(&input.daemon_deployment_arns, "daemonDeploymentArns")?;
    let (mut out, mut failures) = (Vec::new(), Vec::new());
    for arn in &input.daemon_deployment_arns {
        let found = owner(state, &scope, arn, "daemon-deployment").and_then(|(d, id)| {
            let c = d.deployment(&id)?;
            Some(deployment_wire(&scope, &d, c, &Seen::of(state, &scope, &d)))
        });
        match found {
            Some(v) => out.push(v),
            None => failures.push(failure(arn, "MISSING")),
        }
    }
    Ok(json!({ "daemonDeployments": out, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedAt {
    before: Option<f64>,
    after: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListDeploymentsInput {
    daemon_arn: Option<String>,
    #[serde(default)]
    status: Vec<String>,
    created_at: Option<CreatedAt>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// ListDaemonDeployments: newest first.
pub fn list_deployments(
    state: &State,
    ctx: &Context,
    input: ListDeploymentsInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let arn = required(input.daemon_arn, "daemonArn")?;
    let size = page_size(input.max_results, 100)?;
    for s in &input.status {
        if !DeploymentStatus::ALL.contains(&s.as_str()) {
            return Err(invalid(format!(
                "status '{s}' is invalid: use {}.",
                DeploymentStatus::ALL.join(", ")
            )));
        }
    }
    let bound = |t: Option<f64>| t.and_then(from_epoch_seconds);
    let (before, after) = input
        .created_at
        .map(|c| (bound(c.before), bound(c.after)))
        .unwrap_or_default();
    let (_, entry) = daemons::resolve(state, &scope, &arn)?;
    let d = &entry.value;
    let items: Vec<(String, Value)> = (d.deployments.iter().rev())
        .filter(|c| input.status.is_empty() || input.status.iter().any(|s| s == c.status.as_str()))
        .filter(|c| before.is_none_or(|b| c.created_at < b) && after.is_none_or(|a| c.created_at > a))
        .enumerate()
        .map(|(i, c)| {
            let v = json!({
                "daemonDeploymentArn": deployment_arn(&scope, d, c),
                "daemonArn": d.daemon_arn,
                "clusterArn": d.cluster_arn,
                "status": c.status.as_str(),
                "statusReason": c.status_reason,
                "targetDaemonRevisionArn": c.target_revision.as_ref().map(|r| revision_arn(&scope, d, r)),
                "createdAt": ts(c.created_at),
                "startedAt": opt_ts(c.started_at),
                "stoppedAt": opt_ts(c.stopped_at),
                "finishedAt": opt_ts(c.finished_at),
            });
            (format!("{i:06}"), v)
        })
        .collect();
    let (page, next) = paginate(
        items,
        |(k, _)| k.clone(),
        Order::Asc,
        input.next_token.as_deref(),
        size,
    )?;
    let out: Vec<Value> = page.into_iter().map(|(_, v)| v).collect();
    Ok(json!({ "daemonDeployments": out, "nextToken": next }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeRevisionsInput {
    #[serde(default)]
    daemon_revision_arns: Vec<String>,
}

pub fn describe_revisions(
    state: &State,
    ctx: &Context,
    input: DescribeRevisionsInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    batch(&input.daemon_revision_arns, "daemonRevisionArns")?;
    let (mut out, mut failures) = (Vec::new(), Vec::new());
    for arn in &input.daemon_revision_arns {
        let found = owner(state, &scope, arn, "daemon-revision").and_then(|(d, id)| {
            let r = d.revision(&id)?;
            Some(json!({
                "daemonRevisionArn": revision_arn(&scope, &d, &r.id),
                "clusterArn": d.cluster_arn,
                "daemonArn": d.daemon_arn,
                "daemonTaskDefinitionArn": r.daemon_task_definition_arn,
                "createdAt": ts(r.created_at),
                "containerImages": r.container_images,
                "propagateTags": r.propagate_tags,
                "enableECSManagedTags": r.enable_ecs_managed_tags,
                "enableExecuteCommand": r.enable_execute_command,
                "critical": r.critical,
            }))
        });
        match found {
            Some(v) => out.push(v),
            None => failures.push(failure(arn, "MISSING")),
        }
    }
    Ok(json!({ "daemonRevisions": out, "failures": failures }))
}
