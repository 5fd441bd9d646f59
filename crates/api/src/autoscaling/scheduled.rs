//! PutScheduledAction, DescribeScheduledActions and DeleteScheduledAction.

use chrono::{DateTime, Utc};
use flotilla_aws::Context;
use flotilla_control::autoscaling::{self as control, scheduled};
use flotilla_model::autoscaling::ScheduledActionRecord;
use flotilla_model::timestamp::from_epoch_seconds;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, AsWireError};
use super::wire::{self, required};
use crate::State;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Bounds {
    min_capacity: Option<i64>,
    max_capacity: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInput {
    service_namespace: Option<String>,
    schedule: Option<String>,
    timezone: Option<String>,
    scheduled_action_name: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    scalable_target_action: Option<Bounds>,
}

fn time(v: Option<f64>, name: &str) -> Result<Option<DateTime<Utc>>, AsWireError> {
    v.map(|s| {
        from_epoch_seconds(s).ok_or_else(|| invalid(format!("{name} is not a valid time: {s}.")))
    })
    .transpose()
}

pub async fn put(s: &State, ctx: &Context, i: PutInput) -> Result<Value, AsWireError> {
    let name = required(&i.scheduled_action_name, "ScheduledActionName")?.to_string();
    let resource_id = wire::target(&i.service_namespace, &i.resource_id, &i.scalable_dimension)?;
    for (v, n) in [(&i.schedule, "Schedule"), (&i.timezone, "Timezone")] {
        if let Some(v) = v {
            wire::bounded(v, n)?;
        }
    }
    let bounds = i.scalable_target_action.unwrap_or(Bounds {
        min_capacity: None,
        max_capacity: None,
    });
    let input = scheduled::ScheduledInput {
        resource_id,
        name,
        schedule: i.schedule,
        timezone: i.timezone,
        start: time(i.start_time, "StartTime")?,
        end: time(i.end_time, "EndTime")?,
        min_capacity: bounds.min_capacity,
        max_capacity: bounds.max_capacity,
    };
    scheduled::put(s, &ctx.region, &input).await?;
    Ok(json!({}))
}

fn shape(a: &ScheduledActionRecord) -> Value {
    Value::Object(wire::naming(
        &a.resource_id,
        json!({
        "ScheduledActionName": a.name,
        "ScheduledActionARN": a.arn,
        "Schedule": a.schedule,
        "Timezone": a.timezone,
        "StartTime": a.start.as_ref().map(wire::time),
        "EndTime": a.end.as_ref().map(wire::time),
        "ScalableTargetAction": {"MinCapacity": a.min_capacity, "MaxCapacity": a.max_capacity},
        "CreationTime": wire::time(&a.created),
        }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInput {
    scheduled_action_names: Option<Vec<String>>,
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub fn describe(s: &State, ctx: &Context, i: DescribeInput) -> Result<Value, AsWireError> {
    let only = wire::filter(&i.service_namespace, &i.resource_id, &i.scalable_dimension)?;
    wire::names(&i.scheduled_action_names, "ScheduledActionNames")?;
    let items: Vec<_> = control::scheduled_of(s, &ctx.region, only.as_deref())
        .into_iter()
        .filter(|a| {
            i.scheduled_action_names
                .as_ref()
                .is_none_or(|n| n.contains(&a.name))
        })
        .collect();
    let (page, next) = wire::page(
        items,
        |a| format!("{}\u{0}{}", a.resource_id, a.name),
        &i.next_token,
        i.max_results,
    )?;
    Ok(json!({
        "ScheduledActions": page.iter().map(|a| shape(a)).collect::<Vec<_>>(),
        "NextToken": next,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteInput {
    service_namespace: Option<String>,
    scheduled_action_name: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
}

pub async fn delete(s: &State, ctx: &Context, i: DeleteInput) -> Result<Value, AsWireError> {
    let name = required(&i.scheduled_action_name, "ScheduledActionName")?.to_string();
    let resource_id = wire::target(&i.service_namespace, &i.resource_id, &i.scalable_dimension)?;
    scheduled::delete(s, &ctx.region, &resource_id, &name).await?;
    Ok(json!({}))
}
