//! Scalable targets: RegisterScalableTarget (create, or update what is given: bounds,
//! role, suspended state), DeregisterScalableTarget (the target, its policies with the
//! alarms they own, and its scheduled actions), and tags by ARN.

use std::collections::BTreeMap;

use flotilla_model::autoscaling::{
    self as model, check_bounds, parse_resource_id, ScalableTargetRecord, SuspendedState,
};
use flotilla_model::record::encode;
use flotilla_store::{Compare, Op, Txn};

use super::{
    described, policies_of, registered, scheduled_of, target_entry, targets_of, update_target,
    AutoScalingError, Result, ATTEMPTS,
};
use crate::{keys, ControlError, State};

/// What RegisterScalableTarget asks for; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub resource_id: String,
    pub min_capacity: Option<i64>,
    pub max_capacity: Option<i64>,
    pub role_arn: Option<String>,
    pub dynamic_in_suspended: Option<bool>,
    pub dynamic_out_suspended: Option<bool>,
    pub scheduled_suspended: Option<bool>,
    /// Only used when the target is created.
    pub tags: BTreeMap<String, String>,
}

fn apply(r: &Registration, s: &mut SuspendedState) {
    if let Some(v) = r.dynamic_in_suspended {
        s.dynamic_in = v;
    }
    if let Some(v) = r.dynamic_out_suspended {
        s.dynamic_out = v;
    }
    if let Some(v) = r.scheduled_suspended {
        s.scheduled = v;
    }
}

/// Register a scalable target for an existing ECS service, or update the one registered.
pub async fn register(
    state: &State,
    region: &str,
    r: &Registration,
) -> Result<ScalableTargetRecord> {
    let svc = parse_resource_id(&r.resource_id)?;
    let key = keys::service(region, &svc.cluster, &svc.service);
    if state.services().get(key.as_bytes()).is_none() {
        return Err(AutoScalingError::Validation(format!(
            "ECS service doesn't exist: {}",
            r.resource_id
        )));
    }
    model::check_tags(&r.tags)?;
    let target_key = keys::as_target(region, &r.resource_id);
    for _ in 0..ATTEMPTS {
        let now = state.clock().now();
        let (rev, record) = match target_entry(state, region, &r.resource_id) {
            Some(e) => {
                let mut t = (*e.value).clone();
                t.min_capacity = r.min_capacity.unwrap_or(t.min_capacity);
                t.max_capacity = r.max_capacity.unwrap_or(t.max_capacity);
                if let Some(role) = &r.role_arn {
                    t.role_arn = role.clone();
                }
                apply(r, &mut t.suspended);
                (e.mod_revision, t)
            }
            None => {
                let (Some(min), Some(max)) = (r.min_capacity, r.max_capacity) else {
                    return Err(AutoScalingError::Validation(
                        "MinCapacity and MaxCapacity are required to register a new \
                         scalable target."
                            .into(),
                    ));
                };
                if targets_of(state, region).len() >= model::MAX_TARGETS {
                    return Err(AutoScalingError::LimitExceeded(format!(
                        "The maximum number of scalable targets ({}) for service namespace \
                         ecs has been reached.",
                        model::MAX_TARGETS
                    )));
                }
                let id = uuid::Uuid::new_v4().simple().to_string();
                let mut suspended = SuspendedState::default();
                apply(r, &mut suspended);
                let record = ScalableTargetRecord {
                    arn: model::target_arn(region, state.account(), &id),
                    id,
                    resource_id: r.resource_id.clone(),
                    min_capacity: min,
                    max_capacity: max,
                    role_arn: r
                        .role_arn
                        .clone()
                        .unwrap_or_else(|| model::service_linked_role(state.account())),
                    suspended,
                    created: now,
                    tags: r.tags.clone(),
                    last_scale_out: None,
                    last_scale_in: None,
                    invoked: BTreeMap::new(),
                    activities: vec![],
                };
                (0, record)
            }
        };
        check_bounds(record.min_capacity, record.max_capacity)?;
        if state
            .put_if_unchanged(&target_key, rev, encode(&record))
            .await?
        {
            return Ok(record);
        }
    }
    Err(super::contended(&r.resource_id))
}

/// Deregister the target of `resource_id`: delete the alarms its policies own, then the
/// target, its policies and its scheduled actions in one transaction.
pub async fn deregister(state: &State, region: &str, resource_id: &str) -> Result<()> {
    let Some(target) = target_entry(state, region, resource_id) else {
        return Err(AutoScalingError::ObjectNotFound(format!(
            "No scalable target found for {}",
            described(resource_id)
        )));
    };
    let policies = policies_of(state, region, Some(resource_id));
    for p in &policies {
        super::alarms::remove(state, region, &p.alarms).await?;
    }
    let compares = vec![Compare::unchanged(
        keys::as_target(region, resource_id).as_str(),
        target.mod_revision,
    )];
    let mut ops = vec![Op::delete(keys::as_target(region, resource_id).as_str())];
    for p in &policies {
        ops.push(Op::delete(
            keys::as_policy(region, resource_id, &p.name).as_str(),
        ));
    }
    for a in scheduled_of(state, region, Some(resource_id)) {
        ops.push(Op::delete(
            keys::as_scheduled(region, resource_id, &a.name).as_str(),
        ));
    }
    let txn = Txn {
        compares,
        success: ops,
        failure: vec![],
    };
    if !state.commit(txn).await?.succeeded {
        return Err(ControlError::Contended(format!(
            "The scalable target {resource_id} changed while being deregistered; retry."
        ))
        .into());
    }
    Ok(())
}

/// The target a scalable target ARN names.
pub fn by_arn(state: &State, region: &str, arn: &str) -> Result<ScalableTargetRecord> {
    let not_found = || AutoScalingError::ResourceNotFound {
        arn: arn.to_string(),
        message: format!("Scalable target with ARN {arn} not found."),
    };
    let id = model::target_id_of_arn(arn, region, state.account()).ok_or_else(not_found)?;
    targets_of(state, region)
        .into_iter()
        .find(|t| t.id == id)
        .map(|t| (*t).clone())
        .ok_or_else(not_found)
}

/// Add or replace tags on the target `arn` names.
pub async fn tag(
    state: &State,
    region: &str,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    let target = by_arn(state, region, arn)?;
    update_target(state, region, &target.resource_id, |t| {
        let mut all = t.tags.clone();
        all.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        if all.len() > model::MAX_TAGS {
            return Err(AutoScalingError::TooManyTags {
                arn: arn.to_string(),
                message: format!(
                    "A scalable target can have at most {} tags.",
                    model::MAX_TAGS
                ),
            });
        }
        model::check_tags(&all)?;
        t.tags = all;
        Ok(true)
    })
    .await?;
    Ok(())
}

/// Remove tags by key from the target `arn` names.
pub async fn untag(state: &State, region: &str, arn: &str, tag_keys: &[String]) -> Result<()> {
    let target = by_arn(state, region, arn)?;
    update_target(state, region, &target.resource_id, |t| {
        let before = t.tags.len();
        t.tags.retain(|k, _| !tag_keys.contains(k));
        Ok(t.tags.len() != before)
    })
    .await?;
    Ok(())
}

/// The registered target of `resource_id`, ObjectNotFound otherwise (for the operations
/// that hang things off a target).
pub fn require(state: &State, region: &str, resource_id: &str) -> Result<ScalableTargetRecord> {
    Ok((*registered(state, region, resource_id)?.value).clone())
}
