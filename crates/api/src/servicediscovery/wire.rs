//! What Cloud Map's operations share on the wire: required members, tags, filters,
//! pagination, and the `Namespace`, `Service` and `Operation` shapes built from records.

use std::collections::BTreeMap;

use flotilla_control::servicediscovery::{namespaces, services};
use flotilla_model::servicediscovery::{
    DiscoveryServiceRecord, NamespaceRecord, OperationRecord, OperationStatus,
};
use flotilla_model::timestamp::to_epoch_seconds;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, SdWireError};
use crate::pagination::{page_size, paginate, Order};
use crate::State;

/// A required string member.
pub fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, SdWireError> {
    value
        .as_deref()
        .ok_or_else(|| invalid(format!("{name} is required.")))
}

/// A tag as Cloud Map spells it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireTag {
    key: Option<String>,
    value: Option<String>,
}

/// Tags as (key, value) pairs; both members are required.
pub fn tags(tags: Option<Vec<WireTag>>) -> Result<Vec<(String, String)>, SdWireError> {
    let tags = tags.unwrap_or_default();
    if tags.len() > 200 {
        return Err(invalid("Tags may hold at most 200 tags."));
    }
    tags.into_iter()
        .map(|t| match (t.key, t.value) {
            (Some(k), Some(v)) => Ok((k, v)),
            _ => Err(invalid("Every tag needs a Key and a Value.")),
        })
        .collect()
}

pub fn wire_tags(tags: &[(String, String)]) -> Value {
    tags.iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

/// One element of a `Filters` list.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireFilter {
    pub name: Option<String>,
    pub values: Option<Vec<String>>,
    pub condition: Option<String>,
}

/// A filter read: its name, condition (EQ when not given) and values.
pub struct Filter {
    pub name: String,
    pub condition: String,
    pub values: Vec<String>,
}

/// Read filters; `allowed` gives each filter name the conditions it takes.
pub fn filters(
    given: Option<Vec<WireFilter>>,
    allowed: &[(&str, &[&str])],
) -> Result<Vec<Filter>, SdWireError> {
    let mut out = Vec::new();
    for f in given.unwrap_or_default() {
        let name = required(&f.name, "Filters.Name")?.to_string();
        let condition = f.condition.unwrap_or_else(|| "EQ".to_string());
        let values = f
            .values
            .ok_or_else(|| invalid(format!("Filter {name} needs Values.")))?;
        let Some((_, conditions)) = allowed.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            return Err(invalid(format!(
                "Filter name {name} is not valid here; use {}.",
                names.join(", ")
            )));
        };
        if !conditions.contains(&condition.as_str()) {
            return Err(invalid(format!(
                "Filter {name} takes the condition {}, not {condition}.",
                conditions.join(" or ")
            )));
        }
        for v in &values {
            if v.is_empty() || v.chars().count() > 255 {
                return Err(invalid(format!(
                    "Filter {name}'s values must be 1 to 255 characters long."
                )));
            }
        }
        let count_ok = match condition.as_str() {
            "EQ" | "BEGINS_WITH" => values.len() == 1,
            "BETWEEN" => values.len() == 2,
            _ => !values.is_empty(),
        };
        if !count_ok {
            return Err(invalid(format!(
                "Filter {name} with condition {condition} takes {} value(s); got {}.",
                match condition.as_str() {
                    "BETWEEN" => "2",
                    "IN" => "1 or more",
                    _ => "1",
                },
                values.len()
            )));
        }
        out.push(Filter {
            name,
            condition,
            values,
        });
    }
    Ok(out)
}

/// One page of `items` (sorted by `key`), `MaxResults` 1 to 100 (100 by default).
pub fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), SdWireError> {
    let size = page_size(max_results, 100)
        .map_err(|_| invalid("MaxResults must be between 1 and 100."))?;
    if next_token.is_some_and(|t| t.len() > 4096) {
        return Err(invalid("NextToken must be at most 4096 characters long."));
    }
    paginate(items, key, Order::Asc, next_token, size)
        .map_err(|_| invalid("NextToken is not one this operation handed out."))
}

fn namespace_properties(ns: &NamespaceRecord) -> Value {
    let dns = ns.namespace_type.is_dns().then(|| {
        json!({
            "HostedZoneId": ns.hosted_zone_id,
            "SOA": ns.soa_ttl.map(|t| json!({"TTL": t})),
        })
    });
    json!({"DnsProperties": dns, "HttpProperties": {"HttpName": ns.name}})
}

/// `Namespace` (GetNamespace) or, with `summary`, `NamespaceSummary` (ListNamespaces).
pub fn namespace(state: &State, ns: &NamespaceRecord, summary: bool) -> Value {
    json!({
        "Id": ns.id,
        "Arn": ns.arn,
        "ResourceOwner": state.account(),
        "Name": ns.name,
        "Type": ns.namespace_type.as_str(),
        "Description": ns.description,
        "ServiceCount": namespaces::service_count(state, ns),
        "Properties": namespace_properties(ns),
        "CreateDate": to_epoch_seconds(&ns.created_at),
        "CreatorRequestId": if summary { None } else { ns.creator_request_id.clone() },
    })
}

/// `Service` (GetService, CreateService) or, with `summary`, `ServiceSummary`.
pub fn service(state: &State, s: &DiscoveryServiceRecord, summary: bool) -> Value {
    let dns = s.dns.as_ref().map(|d| {
        json!({
            "NamespaceId": s.namespace_id,
            "RoutingPolicy": d.routing_policy.as_str(),
            "DnsRecords": d.records.iter()
                .map(|r| json!({"Type": r.rtype.as_str(), "TTL": r.ttl}))
                .collect::<Vec<_>>(),
        })
    });
    let hc = s.health_check.as_ref().map(|h| {
        json!({
            "Type": h.check_type.as_str(),
            "ResourcePath": h.resource_path,
            "FailureThreshold": h.failure_threshold,
        })
    });
    let custom = s
        .custom_health
        .map(|c| json!({ "FailureThreshold": c.failure_threshold }));
    json!({
        "Id": s.id,
        "Arn": s.arn,
        "ResourceOwner": state.account(),
        "Name": s.name,
        "NamespaceId": if summary { None } else { Some(&s.namespace_id) },
        "Description": s.description,
        "InstanceCount": services::instance_count(state, s),
        "DnsConfig": dns,
        "Type": s.service_type.as_str(),
        "HealthCheckConfig": hc,
        "HealthCheckCustomConfig": custom,
        "CreateDate": to_epoch_seconds(&s.created_at),
        "CreatorRequestId": if summary { None } else { s.creator_request_id.clone() },
        "CreatedByAccount": state.account(),
    })
}

/// `Operation` (GetOperation).
pub fn operation(state: &State, op: &OperationRecord, status: OperationStatus) -> Value {
    json!({
        "Id": op.id,
        "OwnerAccount": state.account(),
        "Type": op.operation_type.as_str(),
        "Status": status.as_str(),
        "CreateDate": to_epoch_seconds(&op.created_at),
        "UpdateDate": to_epoch_seconds(&op.created_at),
        "Targets": op.targets,
    })
}

/// An `Attributes` map, checked against the model's bounds.
pub fn attributes(
    map: Option<BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, SdWireError> {
    let map = map.unwrap_or_default();
    flotilla_model::servicediscovery::rules::attributes(&map).map_err(invalid)?;
    Ok(map)
}

/// The `OperationId` answer.
pub fn operation_id(op: &OperationRecord) -> Value {
    json!({ "OperationId": op.id })
}
