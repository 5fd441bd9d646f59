//! Targets: registration, deregistration (draining), and their health as DescribeTargetHealth
//! shows it — the registration from the store, the observation from the data plane.

use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, Utc};
use flotilla_model::container_instance::ContainerInstanceRecord;
use flotilla_model::elbv2::plane::{HealthReport, Observed, TargetKey, UnhealthyReason};
use flotilla_model::elbv2::{TargetGroupRecord, TargetRecord, TargetType};
use flotilla_model::record::encode;
use flotilla_model::{ErrorKind, ModelError, Resource, Scope};
use flotilla_store::{Compare, Op, Txn};

use super::target_groups;
use crate::{keys, ControlError, Entry, State};

/// Targets a group may hold.
pub const MAX_TARGETS: usize = 1000;

/// The attribute an agent registers with the address other hosts reach it at; instance
/// targets are sent there. Without it (one host), the loopback address.
pub const HOST_ADDRESS_ATTRIBUTE: &str = "flotilla.host-address";

/// The `flotilla.host-address` of the instance `task` runs on, if it has one.
pub fn host_address_of(
    state: &State,
    scope: &Scope,
    task: &flotilla_model::task::TaskRecord,
) -> Option<String> {
    let cluster = task.cluster_arn.rsplit('/').next().unwrap_or_default();
    let id = task.container_instance_arn.as_deref()?.rsplit('/').next()?;
    let instance = state
        .instances()
        .get(keys::container_instance(&scope.region, cluster, id).as_bytes())?;
    instance
        .value
        .attribute(HOST_ADDRESS_ATTRIBUTE)
        .map(str::to_string)
}

/// A target as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    pub id: String,
    pub port: Option<u16>,
    pub availability_zone: Option<String>,
}

fn invalid_target(message: String) -> ControlError {
    ControlError::not_found(Resource::Target, message)
}

/// The container instance with this EC2 instance id in the scope's region.
pub fn instance(
    state: &State,
    scope: &Scope,
    id: &str,
) -> Option<std::sync::Arc<ContainerInstanceRecord>> {
    state
        .instances()
        .range(format!("{}{}/", keys::CONTAINER_INSTANCES, scope.region).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .find(|i| i.ec2_instance_id == id)
}

/// Where requests for a target go: an instance's host address, or the IP itself.
pub fn address(
    state: &State,
    scope: &Scope,
    tg: &TargetGroupRecord,
    t: &TargetRecord,
) -> Option<SocketAddr> {
    let ip: IpAddr = match tg.target_type {
        TargetType::Ip => t.id.parse().ok()?,
        TargetType::Instance => {
            let i = instance(state, scope, &t.id)?;
            i.attribute(HOST_ADDRESS_ATTRIBUTE)
                .and_then(|a| a.parse().ok())
                .unwrap_or(IpAddr::from([127, 0, 0, 1]))
        }
    };
    Some(SocketAddr::new(ip, t.port))
}

/// Register targets (again, for one that is draining). Instance ids must name registered
/// container instances, IP targets must be addresses (InvalidTarget otherwise).
pub async fn register(
    state: &State,
    scope: &Scope,
    tg_arn: &str,
    targets: &[TargetRef],
    task_arn: Option<&str>,
) -> Result<(), ControlError> {
    let tg = target_groups::by_arn(state, scope, tg_arn)?;
    if targets.is_empty() {
        return Err(ControlError::invalid("At least one target must be given"));
    }
    let mut ops = Vec::new();
    let mut compares = Vec::new();
    let now = Utc::now();
    for t in targets {
        match tg.value.target_type {
            TargetType::Instance => {
                if instance(state, scope, &t.id).is_none() {
                    return Err(invalid_target(format!(
                        "The following targets are not valid instances: '{}'",
                        t.id
                    )));
                }
            }
            TargetType::Ip => {
                if t.id.parse::<IpAddr>().is_err() {
                    return Err(invalid_target(format!(
                        "The IP address '{}' is not a valid IPv4 or IPv6 address",
                        t.id
                    )));
                }
            }
        }
        let port = t.port.unwrap_or(tg.value.port);
        if port == 0 {
            return Err(ControlError::invalid(
                "Target port must be between 1 and 65535",
            ));
        }
        let key = keys::target(&scope.region, &tg.value.name, &t.id, port);
        let existing = state.elbv2().targets.get(key.as_bytes());
        if existing
            .as_ref()
            .is_some_and(|e| e.value.deregistered_at.is_none())
        {
            continue;
        }
        let record = TargetRecord {
            target_group_arn: tg.value.arn.clone(),
            id: t.id.clone(),
            port,
            availability_zone: t.availability_zone.clone(),
            registered_at: now,
            deregistered_at: None,
            task_arn: task_arn.map(String::from),
        };
        compares.push(Compare::unchanged(
            key.clone(),
            existing.map_or(0, |e| e.mod_revision),
        ));
        ops.push(Op::put(key, encode(&record)));
    }
    if ops.is_empty() {
        return Ok(());
    }
    let held = state
        .elbv2()
        .targets
        .count_prefix(keys::targets_of(&scope.region, &tg.value.name).as_bytes());
    if held + ops.len() > MAX_TARGETS {
        return Err(ModelError::new(
            ErrorKind::LimitExceeded,
            format!("A target group can hold at most {MAX_TARGETS} targets"),
        )
        .into());
    }
    let txn = Txn {
        compares,
        success: ops,
        failure: vec![],
    };
    if !state.commit(txn).await?.succeeded {
        return Err(ControlError::Contended(
            "The targets changed while they were being registered; retry.".into(),
        ));
    }
    Ok(())
}

/// Deregister targets: each starts draining now. InvalidTarget for one not registered.
pub async fn deregister(
    state: &State,
    scope: &Scope,
    tg_arn: &str,
    targets: &[TargetRef],
) -> Result<(), ControlError> {
    let tg = target_groups::by_arn(state, scope, tg_arn)?;
    if targets.is_empty() {
        return Err(ControlError::invalid("At least one target must be given"));
    }
    let now = Utc::now();
    let mut ops = Vec::new();
    let mut compares = Vec::new();
    for t in targets {
        let port = t.port.unwrap_or(tg.value.port);
        let key = keys::target(&scope.region, &tg.value.name, &t.id, port);
        let Some(e) = state.elbv2().targets.get(key.as_bytes()) else {
            return Err(invalid_target(format!(
                "The following targets are not registered in target group '{tg_arn}': '{}:{port}'",
                t.id
            )));
        };
        if e.value.deregistered_at.is_some() {
            continue;
        }
        let mut record = (*e.value).clone();
        record.deregistered_at = Some(now);
        compares.push(Compare::unchanged(key.clone(), e.mod_revision));
        ops.push(Op::put(key, encode(&record)));
    }
    if ops.is_empty() {
        return Ok(());
    }
    let txn = Txn {
        compares,
        success: ops,
        failure: vec![],
    };
    if !state.commit(txn).await?.succeeded {
        return Err(ControlError::Contended(
            "The targets changed while they were being deregistered; retry.".into(),
        ));
    }
    Ok(())
}

/// The registered (and draining) targets of a group.
pub fn of_group(state: &State, scope: &Scope, tg: &TargetGroupRecord) -> Vec<Entry<TargetRecord>> {
    state
        .elbv2()
        .targets
        .range(keys::targets_of(&scope.region, &tg.name).as_bytes())
        .iter()
        .map(|(_, e)| e.clone())
        .collect()
}

/// `TargetHealth` of DescribeTargetHealth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub state: &'static str,
    pub reason: Option<&'static str>,
    pub description: Option<String>,
}

impl Health {
    fn new(state: &'static str, reason: &'static str, description: impl Into<String>) -> Health {
        Health {
            state,
            reason: Some(reason),
            description: Some(description.into()),
        }
    }
}

/// One row of DescribeTargetHealth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealth {
    pub id: String,
    pub port: u16,
    pub availability_zone: Option<String>,
    pub health_check_port: String,
    pub health: Health,
}

/// What the data plane's observation of a target means in ALB's states and reasons.
pub fn health_of(
    tg: &TargetGroupRecord,
    in_use: bool,
    record: &TargetRecord,
    report: &HealthReport,
) -> Health {
    if record.deregistered_at.is_some() {
        return Health::new(
            "draining",
            "Target.DeregistrationInProgress",
            "Target deregistration is in progress",
        );
    }
    if !in_use {
        return Health::new(
            "unused",
            "Target.NotInUse",
            "Target group is not configured to receive traffic from the load balancer",
        );
    }
    let key = TargetKey {
        id: record.id.clone(),
        port: record.port,
    };
    match report.target(&tg.arn, &key) {
        None => Health::new(
            "initial",
            "Elb.RegistrationInProgress",
            "Target registration is in progress",
        ),
        Some(Observed::Initial) => Health::new(
            "initial",
            "Elb.InitialHealthChecking",
            "Initial health checks in progress",
        ),
        Some(Observed::Healthy) => Health {
            state: "healthy",
            reason: None,
            description: None,
        },
        Some(Observed::Unhealthy(why)) => match why {
            UnhealthyReason::ResponseCodeMismatch(code) => Health::new(
                "unhealthy",
                "Target.ResponseCodeMismatch",
                format!("Health checks failed with these codes: [{code}]"),
            ),
            UnhealthyReason::Timeout => {
                Health::new("unhealthy", "Target.Timeout", "Request timed out")
            }
            UnhealthyReason::FailedHealthChecks => Health::new(
                "unhealthy",
                "Target.FailedHealthChecks",
                "Health checks failed",
            ),
        },
        Some(Observed::Draining { .. }) => Health::new(
            "draining",
            "Target.DeregistrationInProgress",
            "Target deregistration is in progress",
        ),
        Some(Observed::NotInUse) => Health::new(
            "unused",
            "Target.NotInUse",
            "Target group is not configured to receive traffic from the load balancer",
        ),
    }
}

/// DescribeTargetHealth: every registered target, or the ones asked about (those not
/// registered show as unused, Target.NotRegistered).
pub fn describe_health(
    state: &State,
    scope: &Scope,
    tg_arn: &str,
    asked: Option<&[TargetRef]>,
) -> Result<Vec<TargetHealth>, ControlError> {
    let tg = target_groups::by_arn(state, scope, tg_arn)?;
    let in_use = !super::listeners::using_group(state, scope, tg_arn).is_empty();
    let report = state.elbv2().health();
    let hc_port = |port: u16| {
        tg.value
            .health_check
            .port
            .map_or_else(|| port.to_string(), |p| p.to_string())
    };
    let registered = of_group(state, scope, &tg.value);
    let row = |r: &TargetRecord| TargetHealth {
        id: r.id.clone(),
        port: r.port,
        availability_zone: r.availability_zone.clone(),
        health_check_port: hc_port(r.port),
        health: health_of(&tg.value, in_use, r, &report),
    };
    let Some(asked) = asked else {
        return Ok(registered.iter().map(|e| row(&e.value)).collect());
    };
    let mut out = Vec::new();
    for t in asked {
        if tg.value.target_type == TargetType::Instance
            && t.id.starts_with("i-")
            && instance(state, scope, &t.id).is_none()
            && !registered.iter().any(|e| e.value.id == t.id)
        {
            return Err(invalid_target(format!(
                "The following targets are not valid instances: '{}'",
                t.id
            )));
        }
        let port = t.port.unwrap_or(tg.value.port);
        match registered
            .iter()
            .find(|e| e.value.id == t.id && (t.port.is_none() || e.value.port == port))
        {
            Some(e) => out.push(row(&e.value)),
            None => out.push(TargetHealth {
                id: t.id.clone(),
                port,
                availability_zone: None,
                health_check_port: hc_port(port),
                health: Health::new(
                    "unused",
                    "Target.NotRegistered",
                    "Target is not registered to the target group",
                ),
            }),
        }
    }
    Ok(out)
}

/// When a draining target's record goes: its group's deregistration delay after it was
/// deregistered.
pub fn drain_deadline(tg: &TargetGroupRecord, t: &TargetRecord) -> Option<DateTime<Utc>> {
    let since = t.deregistered_at?;
    Some(since + chrono::Duration::seconds(tg.deregistration_delay_seconds() as i64))
}

/// Delete draining targets whose deregistration delay has passed, and targets whose group
/// is gone. Run by the leader.
pub async fn expire(state: &State) -> Result<(), ControlError> {
    let now = Utc::now();
    let mut ops = Vec::new();
    for (key, e) in state.elbv2().targets.range(keys::TARGETS.as_bytes()).iter() {
        let Some(scope) = flotilla_model::Arn::parse(&e.value.target_group_arn)
            .map(|a| Scope::new(a.region, a.account))
        else {
            continue;
        };
        let tg = target_groups::by_arn(state, &scope, &e.value.target_group_arn).ok();
        let gone = match &tg {
            None => true,
            Some(tg) => drain_deadline(&tg.value, &e.value).is_some_and(|d| d <= now),
        };
        if gone {
            ops.push(Op::delete(key.to_vec()));
        }
    }
    if ops.is_empty() {
        return Ok(());
    }
    let txn = Txn {
        compares: vec![],
        success: ops,
        failure: vec![],
    };
    state.commit(txn).await?;
    Ok(())
}
