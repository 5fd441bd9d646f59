//! PutAttributes, ListAttributes and DeleteAttributes: custom attributes of container
//! instances (the only target type ECS has).

use crate::ecs::error::EcsError;
use flotilla_aws::Context;
use flotilla_model::task_definition::Attribute;
use serde::Deserialize;
use serde_json::{json, Value};

use super::clusters::active_cluster_name;
use super::container_instances::{find, put, validate_attributes};
use crate::ecs::error::{from_model, invalid};
use crate::pagination::{page_size, paginate, Order};
use crate::{keys, State};

const TARGET_TYPE: &str = "container-instance";

#[derive(Deserialize)]
pub struct AttributesInput {
    cluster: Option<String>,
    #[serde(default)]
    attributes: Vec<Attribute>,
}

fn target_not_found(id: &str) -> EcsError {
    crate::ecs::error::not_found(
        flotilla_model::Resource::AttributeTarget,
        format!(
            "The specified target '{id}' could not be found; name a container instance of the \
             cluster."
        ),
    )
}

/// Set (`put` true) or remove attributes, grouped by their target instance.
async fn change(
    state: &State,
    ctx: &Context,
    input: AttributesInput,
    put_them: bool,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    if input.attributes.is_empty() || input.attributes.len() > 10 {
        return Err(invalid("attributes must hold between 1 and 10 attributes."));
    }
    if put_them {
        validate_attributes(&input.attributes)?;
    }
    for a in &input.attributes {
        if a.target_type.as_deref().is_some_and(|t| t != TARGET_TYPE) {
            return Err(invalid(format!("targetType must be {TARGET_TYPE}.")));
        }
        let target = a
            .target_id
            .as_deref()
            .ok_or_else(|| invalid(format!("Attribute '{}' needs a targetId.", a.name)))?;
        let (key, entry) =
            find(state, &scope, &cluster, target).map_err(|_| target_not_found(target))?;
        let mut record = (*entry.value).clone();
        if put_them {
            record.put_attribute(&a.name, a.value.clone());
            if record.attributes.len() > 128 {
                return Err(from_model(flotilla_model::ModelError::new(
                    flotilla_model::ErrorKind::LimitExceeded,
                    "A container instance can have at most 128 attributes.",
                )));
            }
        } else {
            record.attributes.retain(|x| x.name != a.name);
        }
        record.version += 1;
        put(state, &key, entry.mod_revision, &record).await?;
    }
    Ok(json!({ "attributes": input.attributes }))
}

pub async fn put_attributes(
    state: &State,
    ctx: &Context,
    input: AttributesInput,
) -> Result<Value, EcsError> {
    change(state, ctx, input, true).await
}

pub async fn delete_attributes(
    state: &State,
    ctx: &Context,
    input: AttributesInput,
) -> Result<Value, EcsError> {
    change(state, ctx, input, false).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    cluster: Option<String>,
    target_type: Option<String>,
    attribute_name: Option<String>,
    attribute_value: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    if input.target_type.as_deref() != Some(TARGET_TYPE) {
        return Err(invalid(format!(
            "targetType is required and must be {TARGET_TYPE}."
        )));
    }
    if input.attribute_value.is_some() && input.attribute_name.is_none() {
        return Err(invalid(
            "attributeValue can only be used together with attributeName.",
        ));
    }
    let size = page_size(input.max_results, 100)?;
    let prefix = keys::in_cluster(keys::CONTAINER_INSTANCES, &scope.region, &cluster);
    let mut found = Vec::new();
    for (_, e) in state.instances().range(prefix.as_bytes()) {
        for a in &e.value.attributes {
            let name_ok = input.attribute_name.as_ref().is_none_or(|n| *n == a.name);
            let value_ok = input
                .attribute_value
                .as_ref()
                .is_none_or(|v| Some(v) == a.value.as_ref());
            if name_ok && value_ok {
                found.push(Attribute {
                    name: a.name.clone(),
                    value: a.value.clone(),
                    target_type: Some(TARGET_TYPE.into()),
                    target_id: Some(e.value.container_instance_arn.clone()),
                });
            }
        }
    }
    let key = |a: &Attribute| format!("{}\u{0}{}", a.target_id.as_deref().unwrap_or(""), a.name);
    found.sort_by_key(key);
    let (page, next) = paginate(found, key, Order::Asc, input.next_token.as_deref(), size)?;
    Ok(json!({ "attributes": page, "nextToken": next }))
}
