//! DescribeScalingActivities: the activities kept on each target, newest first, with
//! activities that did not scale only when IncludeNotScaledActivities asks for them.

use flotilla_aws::Context;
use flotilla_control::autoscaling as control;
use flotilla_model::autoscaling::{Activity, ScalableTargetRecord};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::AsWireError;
use super::wire;
use crate::State;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInput {
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    include_not_scaled_activities: Option<bool>,
}

fn shape(t: &ScalableTargetRecord, a: &Activity) -> Value {
    Value::Object(wire::naming(
        &t.resource_id,
        json!({
        "ActivityId": a.id,
        "Description": a.description,
        "Cause": a.cause,
        "StartTime": wire::time(&a.start),
        "EndTime": a.end.as_ref().map(wire::time),
        "StatusCode": a.status.as_str(),
        "StatusMessage": a.status_message,
        "NotScaledReasons": (!a.not_scaled.is_empty()).then(|| a.not_scaled.iter().map(|r| json!({
            "Code": r.code,
            "MinCapacity": r.min,
            "MaxCapacity": r.max,
            "CurrentCapacity": r.current,
        })).collect::<Vec<_>>()),
        }),
    ))
}

pub fn describe(s: &State, ctx: &Context, i: DescribeInput) -> Result<Value, AsWireError> {
    let only = wire::filter(&i.service_namespace, &i.resource_id, &i.scalable_dimension)?;
    let with_not_scaled = i.include_not_scaled_activities.unwrap_or(false);
    let mut items: Vec<(String, Value)> = Vec::new();
    for t in control::targets_of(s, &ctx.region) {
        if only.as_ref().is_some_and(|r| *r != t.resource_id) {
            continue;
        }
        for a in &t.activities {
            if a.not_scaled.is_empty() || with_not_scaled {
                // Newest first: the key sorts descending times ascending.
                let key = format!("{:020}/{}", i64::MAX - a.start.timestamp_micros(), a.id);
                items.push((key, shape(&t, a)));
            }
        }
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let (page, next) = wire::page(items, |x| x.0.clone(), &i.next_token, i.max_results)?;
    Ok(json!({
        "ScalingActivities": page.into_iter().map(|x| x.1).collect::<Vec<_>>(),
        "NextToken": next,
    }))
}
