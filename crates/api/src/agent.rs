//! The agent protocol service (`FlotillaAgent_v1`, see `flotilla_model::agent_protocol`):
//! the long-poll that hands agents their desired tasks and doubles as their heartbeat, and
//! the batched status reports they send back.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use flotilla_model::agent_protocol::{
    self, DesiredTask, PollRequest, PollResponse, SubmitRequest, SubmitResponse, SubmitResult,
};
use flotilla_model::record::encode;
use flotilla_model::task::{TaskRecord, TaskReport, TaskStatus};
use flotilla_model::{Arn, Scope};
use flotilla_store::{Compare, Op, Revision, StoreError, Txn};

use crate::ecs::error::{client, from_store, EcsError};
use crate::ecs::{clusters::cluster_name, container_instances};
use crate::{keys, State};
use flotilla_control::ecs::task_definitions;

/// The longest a poll is held.
const MAX_WAIT: Duration = Duration::from_secs(20);

pub struct Agent {
    spec: AwsServiceSpec,
    state: State,
}

impl Agent {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: agent_protocol::SIGNING_NAME,
            protocol: Protocol::Json11,
            target_prefix: agent_protocol::TARGET_PREFIX,
            xmlns: "",
        };
        Agent { spec, state }
    }
}

#[async_trait]
impl AwsService for Agent {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let out = match operation {
            agent_protocol::POLL => serde_json::to_value(
                poll(&self.state, ctx, input.json()?)
                    .await
                    .map_err(AwsError::from)?,
            ),
            agent_protocol::SUBMIT => serde_json::to_value(
                submit(&self.state, ctx, input.json()?)
                    .await
                    .map_err(AwsError::from)?,
            ),
            other => return Err(AwsError::unknown_operation(other)),
        };
        out.map(Output::Json)
            .map_err(|e| AwsError::server("ServerException", e.to_string()))
    }
}

/// Keep the instance's agent key alive (or create it on a fresh lease).
async fn heartbeat(
    state: &State,
    scope: &Scope,
    cluster: &str,
    instance_id: &str,
) -> Result<(), EcsError> {
    let key = keys::agent(&scope.region, cluster, instance_id);
    let store = state.store();
    if let Some((lease, kept_at)) = state.agent_lease(&key) {
        // A keep-alive is a store write: one per quarter TTL is enough. Polls are at most
        // half a TTL apart, so the lease never gets closer than a quarter TTL to expiring
        // while the agent polls.
        let present = || state.agents().get(key.as_bytes()).is_some();
        if kept_at.elapsed() < state.config().agent_ttl / 4 && present() {
            return Ok(());
        }
        match store.lease_keep_alive(lease).await {
            Ok(()) if present() => {
                state.set_agent_lease(&key, Some(lease));
                return Ok(());
            }
            Ok(()) | Err(StoreError::LeaseNotFound(_)) => {}
            Err(e) => return Err(from_store(e)),
        }
    }
    let lease = store
        .lease_grant(state.config().agent_ttl)
        .await
        .map_err(from_store)?;
    let txn = Txn {
        success: vec![Op::Put {
            key: key.clone().into_bytes(),
            value: b"{}".to_vec(),
            lease,
        }],
        ..Txn::default()
    };
    state.commit(txn).await?;
    state.set_agent_lease(&key, Some(lease));
    Ok(())
}

/// The desired tasks of an instance: all not yet stopped (`since` 0), or those changed
/// after `since`.
fn desired(state: &State, scope: &Scope, instance_arn: &str, since: i64) -> Vec<DesiredTask> {
    state
        .task_index()
        .tasks_of(instance_arn, since)
        .into_iter()
        .filter_map(|key| state.tasks().get(&key))
        .filter(|e| {
            if since == 0 {
                e.value.last_status < TaskStatus::Stopped
            } else {
                e.mod_revision > since
            }
        })
        .filter_map(|e| {
            let def = task_definitions::by_ref(state, scope, &e.value.task_definition_arn)?;
            Some(DesiredTask {
                task: (*e.value).clone(),
                definition: def.value.definition.clone(),
            })
        })
        .collect()
}

async fn poll(state: &State, ctx: &Context, req: PollRequest) -> Result<PollResponse, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = cluster_name(Some(&req.cluster))?;
    let (_, instance) =
        container_instances::find(state, &scope, &cluster, &req.container_instance_arn)
            .map_err(|_| client("This container instance is not registered; register it again."))?;
    let instance_arn = instance.value.container_instance_arn.clone();
    heartbeat(state, &scope, &cluster, instance.value.id()).await?;
    let ttl = state.config().agent_ttl;
    let wait = Duration::from_millis(req.wait_millis)
        .min(MAX_WAIT)
        .min(ttl / 2);
    let deadline = tokio::time::Instant::now() + wait;
    let mut changes = state.task_index().subscribe(&instance_arn);
    loop {
        changes.borrow_and_update();
        // Every task change up to this revision is both indexed and in the tasks view, so
        // it is in the answer.
        let revision = state.task_index().applied().min(state.tasks().revision());
        let tasks = desired(state, &scope, &instance_arn, req.since);
        if req.since == 0 || !tasks.is_empty() || tokio::time::Instant::now() >= deadline {
            let status = state
                .instances()
                .get(
                    keys::container_instance(&scope.region, &cluster, instance.value.id())
                        .as_bytes(),
                )
                .map(|e| e.value.status.clone())
                .unwrap_or_default();
            return Ok(PollResponse {
                revision: revision.max(req.since),
                full: req.since == 0,
                tasks,
                heartbeat_ttl_millis: ttl.as_millis() as u64,
                instance_status: status,
            });
        }
        // Wake when a task of this instance changes (or the wait ends).
        let _ = tokio::time::timeout_at(deadline, changes.changed()).await;
    }
}

/// The cluster and id a task ARN names.
fn task_location(arn: &str) -> Option<(String, String)> {
    let a = Arn::parse(arn).filter(|a| a.resource_parts().0 == "task")?;
    let (cluster, id) = a.resource_parts().1.split_once('/')?;
    Some((cluster.to_string(), id.to_string()))
}

async fn apply(
    state: &State,
    scope: &Scope,
    instance_arn: &str,
    report: &TaskReport,
) -> Result<(), String> {
    // A report about a task this server does not know, or that another instance runs, is
    // acknowledged and dropped: sending it again could not help. Only a failure a retry may
    // cure is an error.
    let Some((cluster, id)) = task_location(&report.task_arn) else {
        tracing::warn!(
            task = report.task_arn,
            "report for something that is not a task dropped"
        );
        return Ok(());
    };
    let key = keys::task(&scope.region, &cluster, &id);
    for _ in 0..16 {
        let Some(entry) = state.tasks().get(key.as_bytes()) else {
            tracing::warn!(task = report.task_arn, "report for an unknown task dropped");
            return Ok(());
        };
        if entry.value.container_instance_arn.as_deref() != Some(instance_arn) {
            tracing::warn!(
                task = report.task_arn,
                "report from another instance dropped"
            );
            return Ok(());
        }
        let mut task = (*entry.value).clone();
        if !task.apply_report(report, chrono::Utc::now()) {
            return Ok(());
        }
        match state
            .put_if_unchanged(&key, entry.mod_revision, encode(&task))
            .await
        {
            Ok(true) => return Ok(()),
            Ok(false) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("the task kept changing; send the report again".into())
}

/// Apply a whole batch in one transaction (one commit for many reports; several reports
/// about one task are applied to it in order and written once). False when the batch
/// cannot go in at once (a task changed meanwhile): then each report is applied on its
/// own.
async fn apply_all(
    state: &State,
    scope: &Scope,
    instance_arn: &str,
    reports: &[TaskReport],
) -> bool {
    // Each task once, with every report about it applied in order.
    let mut changed: Vec<(String, Revision, TaskRecord, bool)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for report in reports {
        let Some((cluster, id)) = task_location(&report.task_arn) else {
            continue;
        };
        let key = keys::task(&scope.region, &cluster, &id);
        let i = match at.get(&key) {
            Some(i) => *i,
            None => {
                let Some(entry) = state.tasks().get(key.as_bytes()) else {
                    continue;
                };
                if entry.value.container_instance_arn.as_deref() != Some(instance_arn) {
                    continue;
                }
                changed.push((
                    key.clone(),
                    entry.mod_revision,
                    (*entry.value).clone(),
                    false,
                ));
                at.insert(key, changed.len() - 1);
                changed.len() - 1
            }
        };
        let (_, _, task, dirty) = &mut changed[i];
        *dirty |= task.apply_report(report, chrono::Utc::now());
    }
    let mut txn = Txn::default();
    for (key, rev, task, dirty) in changed {
        if dirty {
            txn.compares.push(Compare::unchanged(key.clone(), rev));
            txn.success.push(Op::put(key, encode(&task)));
        }
    }
    if txn.success.is_empty() {
        return true;
    }
    matches!(state.commit(txn).await, Ok(r) if r.succeeded)
}

async fn submit(
    state: &State,
    ctx: &Context,
    req: SubmitRequest,
) -> Result<SubmitResponse, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = cluster_name(Some(&req.cluster))?;
    let (_, instance) =
        container_instances::find(state, &scope, &cluster, &req.container_instance_arn)
            .map_err(|_| client("This container instance is not registered; register it again."))?;
    let arn = instance.value.container_instance_arn.clone();
    let accepted = |report: &TaskReport| SubmitResult {
        task_arn: report.task_arn.clone(),
        accepted: true,
        error: None,
    };
    if apply_all(state, &scope, &arn, &req.reports).await {
        return Ok(SubmitResponse {
            results: req.reports.iter().map(accepted).collect(),
        });
    }
    let mut results = Vec::with_capacity(req.reports.len());
    for report in &req.reports {
        let outcome = apply(state, &scope, &arn, report).await;
        results.push(SubmitResult {
            task_arn: report.task_arn.clone(),
            accepted: outcome.is_ok(),
            error: outcome.err(),
        });
    }
    Ok(SubmitResponse { results })
}
