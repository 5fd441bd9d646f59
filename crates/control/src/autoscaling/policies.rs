//! Scaling policies: PutScalingPolicy (create, or replace the configuration keeping the
//! ARN; target tracking puts its alarms first) and DeleteScalingPolicy (its alarms, then
//! the policy).

use flotilla_model::autoscaling::{self as model, check_name, PolicyConfig, ScalingPolicyRecord};
use flotilla_model::record::encode;

use super::{alarms, described, policies_of, registered, AutoScalingError, Result, ATTEMPTS};
use crate::{keys, ControlError, Entry, State};

fn entry(
    state: &State,
    region: &str,
    resource_id: &str,
    name: &str,
) -> Option<Entry<ScalingPolicyRecord>> {
    state
        .autoscaling()
        .policies
        .get(keys::as_policy(region, resource_id, name).as_bytes())
}

/// The policy `name` of a target, ObjectNotFound as AWS words it.
pub fn get(
    state: &State,
    region: &str,
    resource_id: &str,
    name: &str,
) -> Result<ScalingPolicyRecord> {
    entry(state, region, resource_id, name)
        .map(|e| (*e.value).clone())
        .ok_or_else(|| {
            AutoScalingError::ObjectNotFound(format!(
                "No scaling policy found for {}, policy name: {name}",
                described(resource_id)
            ))
        })
}

/// Create or update the policy `name` of the registered target `resource_id`.
pub async fn put(
    state: &State,
    region: &str,
    resource_id: &str,
    name: &str,
    config: PolicyConfig,
) -> Result<ScalingPolicyRecord> {
    check_name("PolicyName", name, false)?;
    match &config {
        PolicyConfig::TargetTracking(tt) => tt.check()?,
        PolicyConfig::Step(s) => s.check()?,
    }
    registered(state, region, resource_id)?;
    let key = keys::as_policy(region, resource_id, name);
    for _ in 0..ATTEMPTS {
        let existing = entry(state, region, resource_id, name);
        let mut record = match &existing {
            Some(e) => (*e.value).clone(),
            None => {
                if policies_of(state, region, Some(resource_id)).len() >= model::MAX_POLICIES {
                    return Err(AutoScalingError::LimitExceeded(format!(
                        "A scalable target can have at most {} scaling policies.",
                        model::MAX_POLICIES
                    )));
                }
                let uuid = uuid::Uuid::new_v4().to_string();
                ScalingPolicyRecord {
                    name: name.to_string(),
                    arn: model::policy_arn(region, state.account(), &uuid, resource_id, name),
                    uuid,
                    resource_id: resource_id.to_string(),
                    config: config.clone(),
                    alarms: vec![],
                    created: state.clock().now(),
                }
            }
        };
        record.config = config.clone();
        record.alarms = match &config {
            PolicyConfig::TargetTracking(tt) => {
                alarms::put_for(state, region, resource_id, &record.arn, tt, &record.alarms).await?
            }
            PolicyConfig::Step(_) => {
                alarms::remove(state, region, &record.alarms).await?;
                vec![]
            }
        };
        let rev = existing.map_or(0, |e| e.mod_revision);
        if state.put_if_unchanged(&key, rev, encode(&record)).await? {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!("The scaling policy {name} kept changing; retry.")).into())
}

/// Delete the policy `name` of `resource_id` and the alarms it owns.
pub async fn delete(state: &State, region: &str, resource_id: &str, name: &str) -> Result<()> {
    let policy = get(state, region, resource_id, name)?;
    alarms::remove(state, region, &policy.alarms).await?;
    super::delete_key(state, &keys::as_policy(region, resource_id, name)).await
}
