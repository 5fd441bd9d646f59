//! CreateHttpNamespace, CreatePrivateDnsNamespace, CreatePublicDnsNamespace,
//! GetNamespace, ListNamespaces, the three UpdateXxxNamespace operations and
//! DeleteNamespace.

use flotilla_aws::Context;
use flotilla_control::servicediscovery::namespaces::{self, NamespaceChange, NewNamespace};
use flotilla_model::servicediscovery::{rules, NamespaceType};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, SdWireError};
use super::wire::{self, required, WireFilter, WireTag};
use crate::State;

#[derive(Deserialize)]
pub struct WireSoa {
    #[serde(rename = "TTL")]
    ttl: Option<i64>,
}

#[derive(Deserialize)]
pub struct WireDnsProperties {
    #[serde(rename = "SOA")]
    soa: Option<WireSoa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireProperties {
    dns_properties: Option<WireDnsProperties>,
}

/// `Properties.DnsProperties.SOA.TTL`, every level required once `Properties` is given.
fn soa_ttl(properties: Option<WireProperties>) -> Result<Option<u32>, SdWireError> {
    let Some(p) = properties else {
        return Ok(None);
    };
    let ttl = p
        .dns_properties
        .ok_or_else(|| invalid("Properties.DnsProperties is required."))?
        .soa
        .ok_or_else(|| invalid("Properties.DnsProperties.SOA is required."))?
        .ttl
        .ok_or_else(|| invalid("Properties.DnsProperties.SOA.TTL is required."))?;
    Ok(Some(rules::ttl("SOA.TTL", ttl).map_err(invalid)?))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateInput {
    name: Option<String>,
    creator_request_id: Option<String>,
    description: Option<String>,
    vpc: Option<String>,
    tags: Option<Vec<WireTag>>,
    properties: Option<WireProperties>,
}

pub async fn create(
    state: &State,
    ctx: &Context,
    namespace_type: NamespaceType,
    input: CreateInput,
) -> Result<Value, SdWireError> {
    let name = required(&input.name, "Name")?.to_string();
    if namespace_type == NamespaceType::DnsPrivate {
        let vpc = required(&input.vpc, "Vpc")?;
        let scope = crate::scope(state, ctx);
        flotilla_control::ec2::check_vpc(state, &scope, vpc)
            .await
            .map_err(|e| invalid(crate::ec2::error::explained(&e)))?;
    } else if input.vpc.is_some() {
        return Err(invalid("Vpc is not a member of this operation."));
    }
    if namespace_type == NamespaceType::Http && input.properties.is_some() {
        return Err(invalid(
            "Properties is not a member of CreateHttpNamespace.",
        ));
    }
    let new = NewNamespace {
        name,
        namespace_type,
        description: input.description,
        creator_request_id: input.creator_request_id,
        vpc: input.vpc,
        soa_ttl: soa_ttl(input.properties)?,
        tags: wire::tags(input.tags)?,
    };
    let op = namespaces::create(state, &ctx.region, new).await?;
    Ok(wire::operation_id(&op))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdInput {
    id: Option<String>,
}

pub fn get(state: &State, ctx: &Context, input: IdInput) -> Result<Value, SdWireError> {
    let id = required(&input.id, "Id")?;
    let ns = namespaces::get(state, &ctx.region, id)?.value;
    Ok(json!({"Namespace": wire::namespace(state, &ns, false)}))
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
        &[
            ("TYPE", &["EQ", "IN"]),
            ("NAME", &["EQ", "BEGINS_WITH"]),
            ("HTTP_NAME", &["EQ", "BEGINS_WITH"]),
            ("RESOURCE_OWNER", &["EQ"]),
        ],
    )?;
    for f in &filters {
        if f.name == "TYPE" {
            if let Some(bad) = f.values.iter().find(|v| NamespaceType::parse(v).is_none()) {
                return Err(invalid(format!(
                    "TYPE filter value {bad} is not a namespace type: use DNS_PUBLIC, \
                     DNS_PRIVATE or HTTP."
                )));
            }
        }
        if f.name == "RESOURCE_OWNER" && !matches!(f.values[0].as_str(), "SELF" | "OTHER_ACCOUNTS")
        {
            return Err(invalid(
                "RESOURCE_OWNER filter takes SELF or OTHER_ACCOUNTS.",
            ));
        }
    }
    let found: Vec<_> = namespaces::list(state, &ctx.region)
        .into_iter()
        .filter(|ns| {
            filters.iter().all(|f| {
                let text = |value: &str| match f.condition.as_str() {
                    "BEGINS_WITH" => value.starts_with(f.values[0].as_str()),
                    _ => value == f.values[0],
                };
                match f.name.as_str() {
                    "TYPE" => f.values.iter().any(|v| v == ns.namespace_type.as_str()),
                    "NAME" | "HTTP_NAME" => text(&ns.name),
                    _ => f.values[0] == "SELF",
                }
            })
        })
        .collect();
    let (page, next) = wire::page(
        found,
        |ns| ns.id.clone(),
        input.max_results,
        input.next_token.as_deref(),
    )?;
    let items: Vec<Value> = page
        .iter()
        .map(|ns| wire::namespace(state, ns, true))
        .collect();
    Ok(json!({"Namespaces": items, "NextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireNamespaceChange {
    description: Option<String>,
    properties: Option<WireProperties>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateInput {
    id: Option<String>,
    updater_request_id: Option<String>,
    namespace: Option<WireNamespaceChange>,
}

pub async fn update(
    state: &State,
    ctx: &Context,
    namespace_type: NamespaceType,
    input: UpdateInput,
) -> Result<Value, SdWireError> {
    let id = required(&input.id, "Id")?;
    let change = input
        .namespace
        .ok_or_else(|| invalid("Namespace is required."))?;
    if namespace_type == NamespaceType::Http {
        required(&change.description, "Namespace.Description")?;
        if change.properties.is_some() {
            return Err(invalid("An HTTP namespace has no Properties to change."));
        }
    }
    let change = NamespaceChange {
        description: change.description,
        soa_ttl: soa_ttl(change.properties)?,
    };
    let op = namespaces::update(
        state,
        &ctx.region,
        id,
        namespace_type,
        change,
        input.updater_request_id.as_deref(),
    )
    .await?;
    Ok(wire::operation_id(&op))
}

pub async fn delete(state: &State, ctx: &Context, input: IdInput) -> Result<Value, SdWireError> {
    let id = required(&input.id, "Id")?;
    let op = namespaces::delete(state, &ctx.region, id).await?;
    Ok(wire::operation_id(&op))
}
