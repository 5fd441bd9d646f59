//! CloudWatch's domain operations on metric alarms: put (create, or replace the
//! definition and keep the state), delete, set a state (with its history item), enable
//! and disable actions, tags, and lookups by region, name and ARN.
//!
//! One key per alarm (`keys::cw_alarm`); every write is a compare-and-swap on that key,
//! so the leader's evaluator and an API call never overwrite each other. Alarms' data
//! points are not here: the metric store is a data plane below the server
//! (`flotilla-telemetry`), which the evaluator reads and then calls [`set_state`].
//! Errors are [`CloudWatchError`], which `flotilla-api` maps to CloudWatch's wire codes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::cloudwatch::alarm::AlarmMetric;
use flotilla_model::cloudwatch::{AlarmRecord, AlarmState, HistoryItem, HistoryKind, RuleError};
use flotilla_model::record::encode;
use flotilla_store::view::View;
use flotilla_store::{Op, Revision, Store, StoreError};

use crate::{keys, ControlError, Entry, State};

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 16;
/// Metric alarms per region (CloudWatch's default quota).
pub const MAX_ALARMS: usize = 10_000;

/// Why a CloudWatch operation failed, in terms the wire mapping picks codes by.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CloudWatchError {
    /// The request breaks one of CloudWatch's rules.
    #[error("{0}")]
    Rule(#[from] RuleError),
    /// No alarm of that name (or ARN).
    #[error("{0}")]
    AlarmNotFound(String),
    /// No resource of that ARN (the tagging operations).
    #[error("{0}")]
    ResourceNotFound(String),
    /// A quota was reached.
    #[error("{0}")]
    LimitExceeded(String),
    /// StateReasonData is not JSON.
    #[error("{0}")]
    InvalidFormat(String),
    #[error(transparent)]
    Control(#[from] ControlError),
}

impl From<StoreError> for CloudWatchError {
    fn from(e: StoreError) -> Self {
        CloudWatchError::Control(e.into())
    }
}

pub type Result<T, E = CloudWatchError> = std::result::Result<T, E>;

/// CloudWatch's views.
pub struct Views {
    pub alarms: View<AlarmRecord>,
}

impl Views {
    pub(crate) async fn start(store: &Arc<dyn Store>) -> Result<Views, StoreError> {
        Ok(Views {
            alarms: View::start(
                store.clone(),
                keys::CW_ALARMS.as_bytes().to_vec(),
                crate::state::decoder,
            )
            .await?,
        })
    }

    pub(crate) async fn wait_for(&self, rev: Revision) -> Result<(), StoreError> {
        self.alarms.wait_for(rev).await
    }
}

/// The ARN of alarm `name`.
pub fn alarm_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}")
}

/// Every alarm of `region`, by name.
pub fn alarms(state: &State, region: &str) -> Vec<Arc<AlarmRecord>> {
    state
        .cloudwatch()
        .alarms
        .range(keys::cw_alarms(region).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// Every alarm of every region with its region (the evaluator's list).
pub fn all_alarms(state: &State) -> Vec<(String, Arc<AlarmRecord>)> {
    state
        .cloudwatch()
        .alarms
        .range(keys::CW_ALARMS.as_bytes())
        .iter()
        .filter_map(|(k, e)| {
            let rest = std::str::from_utf8(k).ok()?.strip_prefix(keys::CW_ALARMS)?;
            let (region, _) = rest.split_once('/')?;
            Some((region.to_string(), e.value.clone()))
        })
        .collect()
}

fn entry(state: &State, region: &str, name: &str) -> Option<Entry<AlarmRecord>> {
    state
        .cloudwatch()
        .alarms
        .get(keys::cw_alarm(region, name).as_bytes())
}

/// The alarm `name` of `region`.
pub fn alarm(state: &State, region: &str, name: &str) -> Option<Arc<AlarmRecord>> {
    entry(state, region, name).map(|e| e.value)
}

/// The name of the alarm an ARN of this region and account names.
pub fn name_of_arn(state: &State, region: &str, arn: &str) -> Result<String> {
    let prefix = alarm_arn(region, state.account(), "");
    let name = arn
        .strip_prefix(&prefix)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            CloudWatchError::ResourceNotFound(format!(
                "No alarm has the ARN {arn} in this Region and account."
            ))
        })?;
    if entry(state, region, name).is_none() {
        return Err(CloudWatchError::ResourceNotFound(format!(
            "The alarm {name} does not exist."
        )));
    }
    Ok(name.to_string())
}

/// Rewrite alarm `name` with `change` (which answers false to leave it as it is) by
/// compare-and-swap; None when there is no such alarm.
async fn update(
    state: &State,
    region: &str,
    name: &str,
    mut change: impl FnMut(&mut AlarmRecord) -> Result<bool>,
) -> Result<Option<AlarmRecord>> {
    let key = keys::cw_alarm(region, name);
    for _ in 0..ATTEMPTS {
        let Some(e) = entry(state, region, name) else {
            return Ok(None);
        };
        let mut a = (*e.value).clone();
        if !change(&mut a)? {
            return Ok(Some(a));
        }
        if state
            .put_if_unchanged(&key, e.mod_revision, encode(&a))
            .await?
        {
            return Ok(Some(a));
        }
    }
    Err(ControlError::Contended(format!("The alarm {name} kept changing; retry.")).into())
}

/// The ConfigurationUpdate history item of a create or an update.
fn configuration_item(a: &AlarmRecord, created: bool, now: DateTime<Utc>) -> HistoryItem {
    let (kind, member) = if created {
        ("Create", "createdAlarm")
    } else {
        ("Update", "updatedAlarm")
    };
    let mut alarm = serde_json::json!({
        "alarmName": a.name,
        "alarmArn": a.arn,
        "threshold": a.threshold,
        "comparisonOperator": a.comparison.as_str(),
        "evaluationPeriods": a.evaluation_periods,
        "treatMissingData": a.treat_missing_data.as_str(),
        "actionsEnabled": a.actions_enabled,
        "alarmActions": a.alarm_actions,
        "okActions": a.ok_actions,
        "insufficientDataActions": a.insufficient_data_actions,
    });
    if let AlarmMetric::Single(s) = &a.metric {
        alarm["namespace"] = s.metric.namespace.clone().into();
        alarm["metricName"] = s.metric.metric_name.clone().into();
        alarm["statistic"] = s.stat.as_str().into();
        alarm["period"] = s.period.into();
    }
    HistoryItem {
        timestamp: now,
        kind: HistoryKind::ConfigurationUpdate,
        summary: format!(
            "Alarm \"{}\" {}",
            a.name,
            if created { "created" } else { "updated" }
        ),
        data: serde_json::json!({"version": "1.0", "type": kind, member: alarm}).to_string(),
    }
}

/// Create alarm `new.name`, or replace its definition keeping its state, history and
/// tags (tags given with an update are ignored, as CloudWatch does).
pub async fn put(state: &State, region: &str, mut new: AlarmRecord) -> Result<AlarmRecord> {
    let key = keys::cw_alarm(region, &new.name);
    for _ in 0..ATTEMPTS {
        let now = state.clock().now();
        let (rev, record) = match entry(state, region, &new.name) {
            Some(e) => {
                let old = &e.value;
                let mut a = new.clone();
                a.state = old.state;
                a.state_reason = old.state_reason.clone();
                a.state_reason_data = old.state_reason_data.clone();
                a.state_updated = old.state_updated;
                a.state_transitioned = old.state_transitioned;
                a.tags = old.tags.clone();
                a.history = old.history.clone();
                a.configuration_updated = now;
                let item = configuration_item(&a, false, now);
                a.push_history(item);
                (e.mod_revision, a)
            }
            None => {
                if alarms(state, region).len() >= MAX_ALARMS {
                    return Err(CloudWatchError::LimitExceeded(format!(
                        "The maximum number of alarms ({MAX_ALARMS}) in this Region has been reached."
                    )));
                }
                new.state = AlarmState::InsufficientData;
                new.state_reason = "Unchecked: Initial alarm creation".into();
                new.state_reason_data = None;
                new.state_updated = now;
                new.state_transitioned = now;
                new.configuration_updated = now;
                new.history = vec![configuration_item(&new, true, now)];
                (0, new.clone())
            }
        };
        if state.put_if_unchanged(&key, rev, encode(&record)).await? {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!("The alarm {} kept changing; retry.", new.name)).into())
}

/// Delete alarms by name; every name must exist (CloudWatch deletes none otherwise).
pub async fn delete(state: &State, region: &str, names: &[String]) -> Result<()> {
    let mut ops = Vec::new();
    let mut compares = Vec::new();
    for name in names {
        let key = keys::cw_alarm(region, name);
        let Some(e) = entry(state, region, name) else {
            return Err(CloudWatchError::AlarmNotFound(format!(
                "The alarm {name} does not exist."
            )));
        };
        compares.push(flotilla_store::Compare::unchanged(
            key.as_str(),
            e.mod_revision,
        ));
        ops.push(Op::delete(key.as_str()));
    }
    let txn = flotilla_store::Txn {
        compares,
        success: ops,
        failure: vec![],
    };
    if !state.commit(txn).await?.succeeded {
        return Err(ControlError::Contended(
            "The alarms changed while being deleted; retry.".into(),
        )
        .into());
    }
    Ok(())
}

/// Move alarm `name` to `value` with a reason (and history item) if its state or reason
/// differs; answers the alarm as written. SetAlarmState and the evaluator both come here.
pub async fn set_state(
    state: &State,
    region: &str,
    name: &str,
    value: AlarmState,
    reason: String,
    reason_data: Option<String>,
) -> Result<AlarmRecord> {
    if let Some(d) = &reason_data {
        if serde_json::from_str::<serde_json::Value>(d).is_err() {
            return Err(CloudWatchError::InvalidFormat(
                "The parameter StateReasonData is not valid JSON.".into(),
            ));
        }
    }
    let now = state.clock().now();
    update(state, region, name, |a| {
        a.set_state(value, reason.clone(), reason_data.clone(), now);
        Ok(true)
    })
    .await?
    .ok_or_else(|| CloudWatchError::AlarmNotFound(format!("The alarm {name} does not exist.")))
}

/// Like [`set_state`], but only if the alarm is still in `from` (the evaluator: an API
/// call that changed the state meanwhile wins). Answers whether it moved.
pub async fn transition(
    state: &State,
    region: &str,
    name: &str,
    from: AlarmState,
    to: AlarmState,
    reason: String,
    reason_data: String,
) -> Result<bool> {
    let now = state.clock().now();
    let mut moved = false;
    update(state, region, name, |a| {
        moved = a.state == from;
        if moved {
            a.set_state(to, reason.clone(), Some(reason_data.clone()), now);
        }
        Ok(moved)
    })
    .await?;
    Ok(moved)
}

/// Turn the actions of the named alarms on or off (names that do not exist are skipped,
/// as CloudWatch does).
pub async fn set_actions_enabled(
    state: &State,
    region: &str,
    names: &[String],
    enabled: bool,
) -> Result<()> {
    for name in names {
        update(state, region, name, |a| {
            let changed = a.actions_enabled != enabled;
            a.actions_enabled = enabled;
            Ok(changed)
        })
        .await?;
    }
    Ok(())
}

/// Add or replace tags of the alarm `arn` names.
pub async fn tag(state: &State, region: &str, arn: &str, tags: &[(String, String)]) -> Result<()> {
    let name = name_of_arn(state, region, arn)?;
    update(state, region, &name, |a| {
        for (k, v) in tags {
            match a.tags.iter_mut().find(|t| t.0 == *k) {
                Some(t) => t.1 = v.clone(),
                None => a.tags.push((k.clone(), v.clone())),
            }
        }
        flotilla_model::cloudwatch::rules::tags(&a.tags)?;
        Ok(true)
    })
    .await?;
    Ok(())
}

/// Remove tags by key from the alarm `arn` names.
pub async fn untag(state: &State, region: &str, arn: &str, keys: &[String]) -> Result<()> {
    let name = name_of_arn(state, region, arn)?;
    update(state, region, &name, |a| {
        let before = a.tags.len();
        a.tags.retain(|t| !keys.contains(&t.0));
        Ok(a.tags.len() != before)
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
