//! CreateService, GetService, ListServices, UpdateService, DeleteService and the service
//! attribute operations.

use std::collections::BTreeMap;

use flotilla_aws::Context;
use flotilla_control::servicediscovery::services::{self, NewService, ServiceChange};
use flotilla_model::dns::RecordType;
use flotilla_model::servicediscovery::{
    rules, CustomHealth, DnsRecordSpec, HealthCheck, HealthCheckType, RoutingPolicy,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, SdWireError};
use super::wire::{self, required, WireFilter, WireTag};
use crate::State;

#[derive(Deserialize)]
pub struct WireDnsRecord {
    #[serde(rename = "Type")]
    rtype: Option<String>,
    #[serde(rename = "TTL")]
    ttl: Option<i64>,
}

fn dns_records(records: Option<Vec<WireDnsRecord>>) -> Result<Vec<DnsRecordSpec>, SdWireError> {
    let records = records.ok_or_else(|| invalid("DnsConfig.DnsRecords is required."))?;
    records
        .into_iter()
        .map(|r| {
            let t = required(&r.rtype, "DnsRecords.Type")?;
            let rtype = match RecordType::parse(t) {
                Some(
                    rt @ (RecordType::A | RecordType::Aaaa | RecordType::Srv | RecordType::Cname),
                ) => rt,
                _ => {
                    return Err(invalid(format!(
                        "DnsRecords.Type {t} is not valid: use SRV, A, AAAA or CNAME."
                    )))
                }
            };
            let ttl = r
                .ttl
                .ok_or_else(|| invalid("DnsRecords.TTL is required."))?;
            let ttl = rules::ttl("DnsRecords.TTL", ttl).map_err(invalid)?;
            Ok(DnsRecordSpec { rtype, ttl })
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireDnsConfig {
    namespace_id: Option<String>,
    routing_policy: Option<String>,
    dns_records: Option<Vec<WireDnsRecord>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireHealthCheck {
    #[serde(rename = "Type")]
    check_type: Option<String>,
    resource_path: Option<String>,
    failure_threshold: Option<i64>,
}

fn health_check(hc: WireHealthCheck) -> Result<HealthCheck, SdWireError> {
    let t = required(&hc.check_type, "HealthCheckConfig.Type")?;
    let t = HealthCheckType::parse(t).ok_or_else(|| {
        invalid(format!(
            "HealthCheckConfig.Type {t} is not valid: use HTTP, HTTPS or TCP."
        ))
    })?;
    rules::health_check(t, hc.resource_path.as_deref(), hc.failure_threshold).map_err(invalid)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireCustomHealth {
    failure_threshold: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateInput {
    name: Option<String>,
    namespace_id: Option<String>,
    creator_request_id: Option<String>,
    description: Option<String>,
    dns_config: Option<WireDnsConfig>,
    health_check_config: Option<WireHealthCheck>,
    health_check_custom_config: Option<WireCustomHealth>,
    tags: Option<Vec<WireTag>>,
    #[serde(rename = "Type")]
    service_type: Option<String>,
}

pub async fn create(
    state: &State,
    ctx: &Context,
    input: CreateInput,
) -> Result<Value, SdWireError> {
    let name = required(&input.name, "Name")?.to_string();
    let dns_namespace = input
        .dns_config
        .as_ref()
        .and_then(|d| d.namespace_id.clone());
    if let Some(n) = &dns_namespace {
        rules::max_len("DnsConfig.NamespaceId", n, 64).map_err(invalid)?;
    }
    let namespace_id = match (&input.namespace_id, &dns_namespace) {
        (Some(a), Some(b)) if a != b => {
            return Err(invalid(
                "NamespaceId and DnsConfig.NamespaceId name different namespaces; give \
                 NamespaceId only.",
            ))
        }
        (Some(a), _) => a.clone(),
        (None, Some(b)) => b.clone(),
        (None, None) => return Err(invalid("NamespaceId is required.")),
    };
    let dns = match input.dns_config {
        None => None,
        Some(d) => {
            let routing = match d.routing_policy.as_deref() {
                None => RoutingPolicy::Multivalue,
                Some(p) => RoutingPolicy::parse(p).ok_or_else(|| {
                    invalid(format!(
                        "DnsConfig.RoutingPolicy {p} is not valid: use MULTIVALUE or WEIGHTED."
                    ))
                })?,
            };
            let records = dns_records(d.dns_records)?;
            Some(rules::dns_config(routing, &records).map_err(invalid)?)
        }
    };
    let http_only = match input.service_type.as_deref() {
        None => false,
        Some("HTTP") => true,
        Some(t) => {
            return Err(invalid(format!(
                "Type {t} is not valid: the only Type is HTTP."
            )))
        }
    };
    let custom_health = input
        .health_check_custom_config
        .map(|c| {
            c.failure_threshold
                .map(|t| rules::failure_threshold("HealthCheckCustomConfig.FailureThreshold", t))
                .transpose()
                .map(|failure_threshold| CustomHealth { failure_threshold })
                .map_err(invalid)
        })
        .transpose()?;
    let new = NewService {
        name,
        namespace_id,
        description: input.description,
        creator_request_id: input.creator_request_id,
        dns,
        health_check: input.health_check_config.map(health_check).transpose()?,
        custom_health,
        http_only,
        tags: wire::tags(input.tags)?,
    };
    let record = services::create(state, &ctx.region, new).await?;
    Ok(json!({"Service": wire::service(state, &record, false)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdInput {
    id: Option<String>,
}

pub fn get(state: &State, ctx: &Context, input: IdInput) -> Result<Value, SdWireError> {
    let id = required(&input.id, "Id")?;
    let s = services::get(state, &ctx.region, id)?.value;
    Ok(json!({"Service": wire::service(state, &s, false)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    next_token: Option<String>,
    max_results: Option<i64>,
    filters: Option<Vec<WireFilter>>,
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, SdWireError> {
    let filters = wire::filters(
        input.filters,
        &[("NAMESPACE_ID", &["EQ", "IN"]), ("RESOURCE_OWNER", &["EQ"])],
    )?;
    let found: Vec<_> = services::list(state, &ctx.region)
        .into_iter()
        .filter(|s| {
            filters.iter().all(|f| match f.name.as_str() {
                "NAMESPACE_ID" => f.values.iter().any(|v| {
                    flotilla_model::servicediscovery::id_of(v, "namespace")
                        .is_some_and(|(id, _)| id == s.namespace_id)
                }),
                _ => f.values[0] == "SELF",
            })
        })
        .collect();
    let (page, next) = wire::page(
        found,
        |s| s.id.clone(),
        input.max_results,
        input.next_token.as_deref(),
    )?;
    let items: Vec<Value> = page.iter().map(|s| wire::service(state, s, true)).collect();
    Ok(json!({"Services": items, "NextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireDnsConfigChange {
    dns_records: Option<Vec<WireDnsRecord>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireServiceChange {
    description: Option<String>,
    dns_config: Option<WireDnsConfigChange>,
    health_check_config: Option<WireHealthCheck>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateInput {
    id: Option<String>,
    service: Option<WireServiceChange>,
}

pub async fn update(
    state: &State,
    ctx: &Context,
    input: UpdateInput,
) -> Result<Value, SdWireError> {
    let id = required(&input.id, "Id")?;
    let change = input
        .service
        .ok_or_else(|| invalid("Service is required."))?;
    let change = ServiceChange {
        description: change.description,
        dns_records: change
            .dns_config
            .map(|d| dns_records(d.dns_records))
            .transpose()?,
        health_check: change.health_check_config.map(health_check).transpose()?,
    };
    let op = services::update(state, &ctx.region, id, change).await?;
    Ok(wire::operation_id(&op))
}

pub async fn delete(state: &State, ctx: &Context, input: IdInput) -> Result<Value, SdWireError> {
    let id = required(&input.id, "Id")?;
    services::delete(state, &ctx.region, id).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceIdInput {
    service_id: Option<String>,
}

pub fn get_attributes(
    state: &State,
    ctx: &Context,
    input: ServiceIdInput,
) -> Result<Value, SdWireError> {
    let id = required(&input.service_id, "ServiceId")?;
    let s = services::get(state, &ctx.region, id)?.value;
    Ok(json!({"ServiceAttributes": {
        "ServiceArn": s.arn,
        "ResourceOwner": state.account(),
        "Attributes": s.attributes,
    }}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAttributesInput {
    service_id: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
}

pub async fn update_attributes(
    state: &State,
    ctx: &Context,
    input: UpdateAttributesInput,
) -> Result<Value, SdWireError> {
    let id = required(&input.service_id, "ServiceId")?;
    let attributes = input
        .attributes
        .ok_or_else(|| invalid("Attributes is required."))?;
    services::update_attributes(state, &ctx.region, id, attributes).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAttributesInput {
    service_id: Option<String>,
    attributes: Option<Vec<String>>,
}

pub async fn delete_attributes(
    state: &State,
    ctx: &Context,
    input: DeleteAttributesInput,
) -> Result<Value, SdWireError> {
    let id = required(&input.service_id, "ServiceId")?;
    let names = input
        .attributes
        .ok_or_else(|| invalid("Attributes is required."))?;
    services::delete_attributes(state, &ctx.region, id, names).await?;
    Ok(json!({}))
}
