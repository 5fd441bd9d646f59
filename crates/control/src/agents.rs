//! The agent protocol's side of the control plane: an agent's heartbeat (its key on a
//! lease), the tasks a poll answers, and applying the status reports agents send. The
//! endpoint in `flotilla-api` only decodes and encodes the messages.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;

use flotilla_model::agent_protocol::{DesiredTask, PollResponse, SubmitResult};
use flotilla_model::container_instance::ContainerInstanceRecord;
use flotilla_model::firewall::HostFirewall;
use flotilla_model::record::encode;
use flotilla_model::task::{TaskRecord, TaskReport, TaskStatus};
use flotilla_model::{Arn, Scope};
use flotilla_store::{Compare, Op, Revision, StoreError, Txn};

use crate::ecs::task_definitions;
use crate::{keys, ControlError, State};

/// One poll of the agent of `instance` (an entry of the instances view) in `cluster`:
/// keeps its heartbeat, and answers the tasks it must hear of — all of them when `since`
/// is 0, else those changed after `since`, waiting up to `wait` (at most half the agent
/// TTL) for one, or for the instance's firewall to differ from the one the agent holds.
pub async fn poll(
    state: &State,
    scope: &Scope,
    cluster: &str,
    instance: &ContainerInstanceRecord,
    held: Held,
    wait: Duration,
) -> Result<PollResponse, ControlError> {
    let since = held.since;
    let instance_arn = instance.container_instance_arn.clone();
    heartbeat(state, scope, cluster, instance.id()).await?;
    let ttl = state.config().agent_ttl;
    let wait = wait.min(ttl / 2);
    let deadline = tokio::time::Instant::now() + wait;
    let mut changes = state.task_index().subscribe(&instance_arn);
    // An agent that names no firewall holds none (an empty one).
    let held_firewall = held
        .firewall
        .unwrap_or_else(|| HostFirewall::default().fingerprint());
    // Security groups, their rules and their members (tasks' interfaces, load balancers)
    // change the instance's firewall without changing its tasks.
    let ec2 = state.ec2();
    let mut network_changes = [
        ec2.security_groups.key_changes(),
        ec2.interfaces.key_changes(),
        ec2.subnets.key_changes(),
        state.elbv2().load_balancers.key_changes(),
    ];
    loop {
        changes.borrow_and_update();
        // Every task change up to this revision is both indexed and in the tasks view, so
        // it is in the answer.
        let revision = state.task_index().applied().min(state.tasks().revision());
        let tasks = desired(state, &instance_arn, since);
        let firewall = host_firewall(state, scope, instance);
        let firewall_changed = held_firewall != firewall.fingerprint();
        if since == 0
            || !tasks.is_empty()
            || firewall_changed
            || tokio::time::Instant::now() >= deadline
        {
            let status = state
                .instances()
                .get(keys::container_instance(&scope.region, cluster, instance.id()).as_bytes())
                .map(|e| e.value.status.clone())
                .unwrap_or_default();
            return Ok(PollResponse {
                revision: revision.max(since),
                full: since == 0,
                tasks,
                heartbeat_ttl_millis: ttl.as_millis() as u64,
                instance_status: status,
                store_id: state.store_id().to_string(),
                registry: crate::ecr::auth::agent_credentials(state, scope),
                firewall,
            });
        }
        // Wake when a task of this instance changes, when the network does (or the wait
        // ends).
        let [a, b, c, d] = &mut network_changes;
        let _ = tokio::time::timeout_at(deadline, async {
            tokio::select! {
                _ = changes.changed() => {}
                _ = a.next() => {}
                _ = b.next() => {}
                _ = c.next() => {}
                _ = d.next() => {}
            }
        })
        .await;
    }
}

/// What the agent holds, as its poll says: the revision of its last answer and the
/// fingerprint of the firewall it enforces.
#[derive(Debug, Clone, Default)]
pub struct Held {
    pub since: i64,
    pub firewall: Option<String>,
}

/// What the host of `instance_arn` enforces: the security groups of its awsvpc tasks that
/// have not stopped, and the routes to their subnets' tasks on other hosts.
pub fn host_firewall(
    state: &State,
    scope: &Scope,
    instance: &ContainerInstanceRecord,
) -> HostFirewall {
    let instance_arn = instance.container_instance_arn.as_str();
    // Most hosts run no awsvpc task: answer them without visiting their tasks (a poll
    // asks on every wake-up, and a host may run hundreds).
    let interfaces = state
        .task_index()
        .with_load(instance_arn, |l| l.map_or(0, |l| l.interfaces));
    if interfaces == 0 {
        return HostFirewall::default();
    }
    let mut subnets = BTreeSet::new();
    let interfaces: BTreeMap<String, (Ipv4Addr, Vec<String>)> = state
        .task_index()
        .tasks_of(instance_arn, 0)
        .into_iter()
        .filter_map(|key| state.tasks().get(&key))
        .filter(|e| e.value.last_status < TaskStatus::Stopped)
        .filter_map(|e| {
            let n = e.value.network.as_ref()?;
            subnets.insert(n.subnet_id.clone());
            Some((
                e.value.task_arn.clone(),
                (n.address, n.security_groups.clone()),
            ))
        })
        .collect();
    if interfaces.is_empty() {
        return HostFirewall::default();
    }
    let mut fw = crate::ec2::firewall::host(state, scope, &interfaces);
    let mine = instance
        .attribute(crate::elbv2::targets::HOST_ADDRESS_ATTRIBUTE)
        .and_then(|a| a.parse().ok());
    if let Some(mine) = mine {
        fw.remote_tasks = remote_tasks(state, scope, &subnets, mine);
    }
    fw
}

/// For each of `subnets`, the tasks on other hosts and those hosts' addresses: every
/// interface whose task runs on an instance with a `flotilla.host-address` other than
/// `mine` (hosts that name no address are taken for this one).
fn remote_tasks(
    state: &State,
    scope: &Scope,
    subnets: &BTreeSet<String>,
    mine: Ipv4Addr,
) -> BTreeMap<String, BTreeMap<Ipv4Addr, Ipv4Addr>> {
    let tasks = state.tasks();
    let host_of = |task: &TaskRecord| -> Option<Ipv4Addr> {
        crate::elbv2::targets::host_address_of(state, scope, task)?
            .parse()
            .ok()
    };
    let mut out = BTreeMap::new();
    for subnet in subnets {
        let remote: BTreeMap<Ipv4Addr, Ipv4Addr> =
            crate::ec2::interfaces::list(state, scope, subnet)
                .iter()
                .filter_map(|i| {
                    let task = tasks.get(i.task_key.as_bytes())?;
                    let host = host_of(&task.value).filter(|h| *h != mine)?;
                    Some((i.private_ip_address, host))
                })
                .collect();
        if !remote.is_empty() {
            out.insert(subnet.clone(), remote);
        }
    }
    out
}

/// Apply a batch of the agent's status reports about the tasks of `instance_arn`: in one
/// transaction when it can, else one report at a time. A report about a task this server
/// does not know, or that another instance runs, is acknowledged and dropped (sending it
/// again could not help); only a failure a retry may cure is not accepted.
pub async fn submit(
    state: &State,
    scope: &Scope,
    instance_arn: &str,
    reports: &[TaskReport],
) -> Vec<SubmitResult> {
    if apply_all(state, scope, instance_arn, reports).await {
        return reports
            .iter()
            .map(|r| SubmitResult {
                task_arn: r.task_arn.clone(),
                accepted: true,
                error: None,
            })
            .collect();
    }
    let mut results = Vec::with_capacity(reports.len());
    for report in reports {
        let outcome = apply(state, scope, instance_arn, report).await;
        results.push(SubmitResult {
            task_arn: report.task_arn.clone(),
            accepted: outcome.is_ok(),
            error: outcome.err(),
        });
    }
    results
}

/// Keep the instance's agent key alive (or create it on a fresh lease).
async fn heartbeat(
    state: &State,
    scope: &Scope,
    cluster: &str,
    instance_id: &str,
) -> Result<(), ControlError> {
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
            Err(e) => return Err(e.into()),
        }
    }
    let lease = store.lease_grant(state.config().agent_ttl).await?;
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
fn desired(state: &State, instance_arn: &str, since: i64) -> Vec<DesiredTask> {
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
            let definition = task_definitions::of_task(state, &e.value.task_definition_arn)?;
            let mut task = (*e.value).clone();
            task.desired_status = task.desired_for_agent();
            Some(DesiredTask { task, definition })
        })
        .collect()
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
        if !task.apply_report(report, state.clock().now()) {
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
        *dirty |= task.apply_report(report, state.clock().now());
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
