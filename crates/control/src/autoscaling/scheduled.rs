//! Scheduled actions: PutScheduledAction (create, or update what is given) and
//! DeleteScheduledAction. The autoscaling controller runs them ([`due`]) and records each
//! run in the action ([`mark_run`]).

use chrono::{DateTime, Utc};
use flotilla_model::autoscaling::schedule::check_timezone;
use flotilla_model::autoscaling::{
    self as model, check_bounds, check_name, Schedule, ScheduledActionRecord,
};
use flotilla_model::record::encode;

use super::{described, registered, scheduled_of, AutoScalingError, Result, ATTEMPTS};
use crate::{keys, ControlError, Entry, State};

/// What PutScheduledAction asks for; `None` leaves a setting as it is (Schedule is
/// required for a new action).
#[derive(Debug, Clone, Default)]
pub struct ScheduledInput {
    pub resource_id: String,
    pub name: String,
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub min_capacity: Option<i64>,
    pub max_capacity: Option<i64>,
}

fn entry(
    state: &State,
    region: &str,
    resource_id: &str,
    name: &str,
) -> Option<Entry<ScheduledActionRecord>> {
    state
        .autoscaling()
        .scheduled
        .get(keys::as_scheduled(region, resource_id, name).as_bytes())
}

fn check(a: &ScheduledActionRecord) -> Result<()> {
    Schedule::parse(&a.schedule)?;
    if let Some(tz) = &a.timezone {
        check_timezone(tz)?;
    }
    if let (Some(s), Some(e)) = (a.start, a.end) {
        if s >= e {
            return Err(AutoScalingError::Validation(
                "StartTime must be before EndTime.".into(),
            ));
        }
    }
    if let Some(n) = a.min_capacity {
        model::check_capacity("MinCapacity", n)?;
    }
    if let Some(n) = a.max_capacity {
        model::check_capacity("MaxCapacity", n)?;
    }
    if let (Some(min), Some(max)) = (a.min_capacity, a.max_capacity) {
        check_bounds(min, max)?;
    }
    Ok(())
}

/// Create or update a scheduled action of a registered target.
pub async fn put(
    state: &State,
    region: &str,
    input: &ScheduledInput,
) -> Result<ScheduledActionRecord> {
    check_name("ScheduledActionName", &input.name, true)?;
    registered(state, region, &input.resource_id)?;
    let key = keys::as_scheduled(region, &input.resource_id, &input.name);
    for _ in 0..ATTEMPTS {
        let existing = entry(state, region, &input.resource_id, &input.name);
        let mut a = match &existing {
            Some(e) => (*e.value).clone(),
            None => {
                if scheduled_of(state, region, Some(&input.resource_id)).len()
                    >= model::MAX_SCHEDULED
                {
                    return Err(AutoScalingError::LimitExceeded(format!(
                        "A scalable target can have at most {} scheduled actions.",
                        model::MAX_SCHEDULED
                    )));
                }
                let Some(schedule) = &input.schedule else {
                    return Err(AutoScalingError::Validation(
                        "Schedule is required to create a scheduled action.".into(),
                    ));
                };
                let uuid = uuid::Uuid::new_v4().to_string();
                ScheduledActionRecord {
                    name: input.name.clone(),
                    arn: model::scheduled_arn(
                        region,
                        state.account(),
                        &uuid,
                        &input.resource_id,
                        &input.name,
                    ),
                    uuid,
                    resource_id: input.resource_id.clone(),
                    schedule: schedule.clone(),
                    timezone: None,
                    start: None,
                    end: None,
                    min_capacity: None,
                    max_capacity: None,
                    created: state.clock().now(),
                    last_run: None,
                }
            }
        };
        if let Some(s) = &input.schedule {
            a.schedule = s.clone();
        }
        a.timezone = input.timezone.clone().or(a.timezone);
        a.start = input.start.or(a.start);
        a.end = input.end.or(a.end);
        a.min_capacity = input.min_capacity.or(a.min_capacity);
        a.max_capacity = input.max_capacity.or(a.max_capacity);
        check(&a)?;
        let rev = existing.map_or(0, |e| e.mod_revision);
        if state.put_if_unchanged(&key, rev, encode(&a)).await? {
            return Ok(a);
        }
    }
    Err(ControlError::Contended(format!(
        "The scheduled action {} kept changing; retry.",
        input.name
    ))
    .into())
}

/// Delete a scheduled action.
pub async fn delete(state: &State, region: &str, resource_id: &str, name: &str) -> Result<()> {
    if entry(state, region, resource_id, name).is_none() {
        return Err(AutoScalingError::ObjectNotFound(format!(
            "No scheduled action found for {}, scheduled action name: {name}",
            described(resource_id)
        )));
    }
    super::delete_key(state, &keys::as_scheduled(region, resource_id, name)).await
}

/// Whether `a` should run at `now`: within its StartTime and EndTime, with an occurrence
/// since it last ran (or was created).
pub fn due(a: &ScheduledActionRecord, now: DateTime<Utc>) -> bool {
    let Ok(schedule) = Schedule::parse(&a.schedule) else {
        return false;
    };
    if a.start.is_some_and(|s| now < s) || a.end.is_some_and(|e| now > e) {
        return false;
    }
    let anchor = a.start.unwrap_or(a.created);
    let from = a
        .last_run
        .unwrap_or(a.created)
        .max(anchor - chrono::Duration::seconds(1));
    schedule.fires_between(anchor, from, now)
}

/// Record that `a` ran at `now` (compare-and-swap on the revision it was read at; false
/// when it changed meanwhile).
pub async fn mark_run(
    state: &State,
    region: &str,
    a: &ScheduledActionRecord,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(e) = entry(state, region, &a.resource_id, &a.name) else {
        return Ok(false);
    };
    let mut run = (*e.value).clone();
    run.last_run = Some(now);
    let key = keys::as_scheduled(region, &a.resource_id, &a.name);
    Ok(state
        .put_if_unchanged(&key, e.mod_revision, encode(&run))
        .await?)
}
