//! What the operations share: reading the (ServiceNamespace, ResourceId,
//! ScalableDimension) triple every operation names, required members, pagination with
//! Application Auto Scaling's bounds and codes, and timestamps.

use chrono::{DateTime, Utc};
use flotilla_model::autoscaling::{self as model, DIMENSION, NAMESPACE};
use flotilla_model::timestamp::to_epoch_seconds;
use serde_json::{Map, Value};

use super::error::{bad_token, invalid, AsWireError};
use crate::pagination::{paginate, Order};

/// Largest (and default) MaxResults.
pub const MAX_RESULTS: i64 = 50;

/// A required member.
pub fn required<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, AsWireError> {
    v.as_deref()
        .ok_or_else(|| invalid(format!("1 validation error detected: {name} is required.")))
}

/// A ResourceIdMaxLen1600 member: 1 to 1600 characters.
pub fn bounded<'a>(v: &'a str, name: &str) -> Result<&'a str, AsWireError> {
    let n = v.chars().count();
    if !(1..=1600).contains(&n) {
        return Err(invalid(format!(
            "{name} must be 1 to 1600 characters long; got {n}."
        )));
    }
    Ok(v)
}

/// The ECS service's resource id an operation names (all three members required).
pub fn target(
    namespace: &Option<String>,
    resource_id: &Option<String>,
    dimension: &Option<String>,
) -> Result<String, AsWireError> {
    let ns = required(namespace, "ServiceNamespace")?;
    let rid = bounded(required(resource_id, "ResourceId")?, "ResourceId")?;
    let dim = required(dimension, "ScalableDimension")?;
    model::check_dimension(ns, dim)?;
    model::parse_resource_id(rid)?;
    Ok(rid.to_string())
}

/// The optional filters of a Describe operation: the namespace (required), and a
/// dimension and resource id if given.
pub fn filter(
    namespace: &Option<String>,
    resource_id: &Option<String>,
    dimension: &Option<String>,
) -> Result<Option<String>, AsWireError> {
    let ns = required(namespace, "ServiceNamespace")?;
    model::check_dimension(ns, dimension.as_deref().unwrap_or(DIMENSION))?;
    match resource_id {
        Some(r) => Ok(Some(bounded(r, "ResourceId")?.to_string())),
        None => Ok(None),
    }
}

/// At most 50 names in a ResourceIds / PolicyNames / ScheduledActionNames filter.
pub fn names(list: &Option<Vec<String>>, name: &str) -> Result<(), AsWireError> {
    match list {
        Some(l) if l.len() > 50 => Err(invalid(format!(
            "{name} can hold at most 50 values; got {}.",
            l.len()
        ))),
        Some(l) => l.iter().try_for_each(|v| bounded(v, name).map(|_| ())),
        None => Ok(()),
    }
}

/// One page of `items` (sorted by `key`), with NextToken.
pub fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    token: &Option<String>,
    max_results: Option<i64>,
) -> Result<(Vec<T>, Option<String>), AsWireError> {
    let size = match max_results {
        None => MAX_RESULTS,
        Some(n) if (1..=MAX_RESULTS).contains(&n) => n,
        Some(n) => {
            return Err(invalid(format!(
                "MaxResults must be between 1 and {MAX_RESULTS}; got {n}."
            )))
        }
    };
    paginate(items, key, Order::Asc, token.as_deref(), size as usize).map_err(|_| bad_token())
}

/// A timestamp as JSON 1.1 writes it: epoch seconds.
pub fn time(t: &DateTime<Utc>) -> Value {
    Value::from(to_epoch_seconds(t))
}

/// An answer's object: the namespace, resource id and dimension every one names, then
/// the members of `rest` (an object).
pub fn naming(resource_id: &str, rest: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("ServiceNamespace".into(), NAMESPACE.into());
    m.insert("ResourceId".into(), resource_id.into());
    m.insert("ScalableDimension".into(), DIMENSION.into());
    if let Value::Object(r) = rest {
        m.extend(r);
    }
    m
}
