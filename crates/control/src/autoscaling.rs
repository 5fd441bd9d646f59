//! Application Auto Scaling's domain operations: scalable targets ([`targets`]: register,
//! deregister with everything that hangs off them, tags), scaling policies ([`policies`]:
//! put and delete, with the CloudWatch alarms target tracking owns, made in [`alarms`]),
//! scheduled actions ([`scheduled`]), and what the autoscaling controller does when it
//! acts ([`scale`]: set the ECS service's desired count the way UpdateService does and
//! record the activity).
//!
//! One key per target, policy and scheduled action (`keys::as_*`); every write is a
//! compare-and-swap. Errors are [`AutoScalingError`], which `flotilla-api` maps to
//! Application Auto Scaling's wire codes.

pub mod alarms;
pub mod policies;
pub mod scale;
pub mod scheduled;
pub mod targets;

#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;

use flotilla_model::autoscaling::{
    Invalid, ScalableTargetRecord, ScalingPolicyRecord, ScheduledActionRecord, DIMENSION, NAMESPACE,
};
use flotilla_store::view::View;
use flotilla_store::{Revision, Store, StoreError};

use crate::cloudwatch::CloudWatchError;
use crate::{keys, ControlError, Entry, State};

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 16;

/// Why an Application Auto Scaling operation failed, in terms the wire mapping picks
/// codes by.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AutoScalingError {
    /// The request breaks a rule (ValidationException).
    #[error("{0}")]
    Validation(String),
    /// The target, policy or scheduled action named does not exist.
    #[error("{0}")]
    ObjectNotFound(String),
    /// The ARN a tagging operation names does not exist.
    #[error("{message}")]
    ResourceNotFound { arn: String, message: String },
    /// A quota was reached.
    #[error("{0}")]
    LimitExceeded(String),
    /// More tags than a target may carry.
    #[error("{message}")]
    TooManyTags { arn: String, message: String },
    /// An alarm a policy owns could not be written or removed.
    #[error("{0}")]
    FailedResourceAccess(String),
    #[error(transparent)]
    Control(#[from] ControlError),
}

impl From<Invalid> for AutoScalingError {
    fn from(e: Invalid) -> Self {
        AutoScalingError::Validation(e.0)
    }
}

impl From<StoreError> for AutoScalingError {
    fn from(e: StoreError) -> Self {
        AutoScalingError::Control(e.into())
    }
}

impl From<CloudWatchError> for AutoScalingError {
    fn from(e: CloudWatchError) -> Self {
        match e {
            CloudWatchError::Rule(r) => AutoScalingError::Validation(r.to_string()),
            CloudWatchError::LimitExceeded(m) => AutoScalingError::LimitExceeded(m),
            CloudWatchError::Control(c) => AutoScalingError::Control(c),
            other => AutoScalingError::FailedResourceAccess(other.to_string()),
        }
    }
}

pub type Result<T, E = AutoScalingError> = std::result::Result<T, E>;

/// Application Auto Scaling's views.
pub struct Views {
    pub targets: View<ScalableTargetRecord>,
    pub policies: View<ScalingPolicyRecord>,
    pub scheduled: View<ScheduledActionRecord>,
}

impl Views {
    pub(crate) async fn start(store: &Arc<dyn Store>) -> Result<Views, StoreError> {
        let prefix = |p: &str| p.as_bytes().to_vec();
        Ok(Views {
            targets: View::start(
                store.clone(),
                prefix(keys::AS_TARGETS),
                crate::state::decoder,
            )
            .await?,
            policies: View::start(
                store.clone(),
                prefix(keys::AS_POLICIES),
                crate::state::decoder,
            )
            .await?,
            scheduled: View::start(
                store.clone(),
                prefix(keys::AS_SCHEDULED),
                crate::state::decoder,
            )
            .await?,
        })
    }

    pub(crate) async fn wait_for(&self, rev: Revision) -> Result<(), StoreError> {
        self.targets.wait_for(rev).await?;
        self.policies.wait_for(rev).await?;
        self.scheduled.wait_for(rev).await
    }
}

/// Every record of `view` under `prefix`, in key order.
fn under<T>(view: &View<T>, prefix: &str) -> Vec<Arc<T>> {
    view.range(prefix.as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// The scalable target of `resource_id`, with its revision.
pub fn target_entry(
    state: &State,
    region: &str,
    resource_id: &str,
) -> Option<Entry<ScalableTargetRecord>> {
    state
        .autoscaling()
        .targets
        .get(keys::as_target(region, resource_id).as_bytes())
}

/// Every scalable target of `region`, by resource id.
pub fn targets_of(state: &State, region: &str) -> Vec<Arc<ScalableTargetRecord>> {
    under(
        &state.autoscaling().targets,
        &keys::as_region(keys::AS_TARGETS, region),
    )
}

/// The policies of `region`, of one target when `resource_id` is given.
pub fn policies_of(
    state: &State,
    region: &str,
    resource_id: Option<&str>,
) -> Vec<Arc<ScalingPolicyRecord>> {
    let prefix = match resource_id {
        Some(r) => keys::as_children(keys::AS_POLICIES, region, r),
        None => keys::as_region(keys::AS_POLICIES, region),
    };
    under(&state.autoscaling().policies, &prefix)
}

/// The scheduled actions of `region`, of one target when `resource_id` is given.
pub fn scheduled_of(
    state: &State,
    region: &str,
    resource_id: Option<&str>,
) -> Vec<Arc<ScheduledActionRecord>> {
    let prefix = match resource_id {
        Some(r) => keys::as_children(keys::AS_SCHEDULED, region, r),
        None => keys::as_region(keys::AS_SCHEDULED, region),
    };
    under(&state.autoscaling().scheduled, &prefix)
}

/// The words AWS uses for "this target" in its messages.
fn described(resource_id: &str) -> String {
    format!(
        "service namespace: {NAMESPACE}, resource ID: {resource_id}, scalable dimension: \
         {DIMENSION}"
    )
}

/// The target a policy or scheduled action is put on; ObjectNotFound when it is not
/// registered.
fn registered(
    state: &State,
    region: &str,
    resource_id: &str,
) -> Result<Entry<ScalableTargetRecord>> {
    target_entry(state, region, resource_id).ok_or_else(|| {
        AutoScalingError::ObjectNotFound(format!(
            "No scalable target registered for {}",
            described(resource_id)
        ))
    })
}

/// Rewrite the target of `resource_id` with `change` (false: nothing to write) by
/// compare-and-swap; None when it is not registered.
pub async fn update_target(
    state: &State,
    region: &str,
    resource_id: &str,
    mut change: impl FnMut(&mut ScalableTargetRecord) -> Result<bool>,
) -> Result<Option<ScalableTargetRecord>> {
    let key = keys::as_target(region, resource_id);
    for _ in 0..ATTEMPTS {
        let Some(e) = target_entry(state, region, resource_id) else {
            return Ok(None);
        };
        let mut t = (*e.value).clone();
        if !change(&mut t)? {
            return Ok(Some(t));
        }
        if state
            .put_if_unchanged(&key, e.mod_revision, flotilla_model::record::encode(&t))
            .await?
        {
            return Ok(Some(t));
        }
    }
    Err(contended(resource_id))
}

fn contended(resource_id: &str) -> AutoScalingError {
    ControlError::Contended(format!(
        "The scalable target {resource_id} kept changing; retry."
    ))
    .into()
}

/// Delete `key` (whatever its revision) and wait until the views have seen it.
async fn delete_key(state: &State, key: &str) -> Result<()> {
    let txn = flotilla_store::Txn {
        compares: vec![],
        success: vec![flotilla_store::Op::delete(key)],
        failure: vec![],
    };
    state.commit(txn).await?;
    Ok(())
}
