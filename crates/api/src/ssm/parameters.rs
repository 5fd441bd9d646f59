//! PutParameter, GetParameter, GetParameters, GetParametersByPath, DeleteParameter,
//! DeleteParameters and DescribeParameters.

use std::sync::Arc;

use flotilla_aws::Context;
use flotilla_control::secrets::parameters::{self as control, Put, SsmError, TierChoice};
use flotilla_model::secrets::parameter::{
    self, ParameterFilter, ParameterRecord, ParameterType, ParameterVersion,
};
use flotilla_model::timestamp::to_epoch_seconds;
use flotilla_model::Scope;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{bad_token, may_not_decrypt, validation, SsmWireError};
use super::may_decrypt;
use crate::pagination::{paginate, Order};
use crate::State;

fn required<'a, T>(v: &'a Option<T>, member: &str) -> Result<&'a T, SsmWireError> {
    v.as_ref().ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn enum_error(value: &str, member: &str, set: &str) -> SsmWireError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{set}]"
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireTag {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInput {
    name: Option<String>,
    description: Option<String>,
    value: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    key_id: Option<String>,
    overwrite: Option<bool>,
    allowed_pattern: Option<String>,
    tags: Option<Vec<WireTag>>,
    tier: Option<String>,
    policies: Option<String>,
    data_type: Option<String>,
}

pub async fn put(state: &State, ctx: &Context, input: PutInput) -> Result<Value, SsmWireError> {
    let name = required(&input.name, "name")?.clone();
    let value = required(&input.value, "value")?.clone();
    let kind = match input.kind.as_deref() {
        None => None,
        Some(t) => Some(
            ParameterType::parse(t)
                .ok_or_else(|| enum_error(t, "type", "SecureString, StringList, String"))?,
        ),
    };
    let tier = match input.tier.as_deref() {
        None => None,
        Some("Standard") => Some(TierChoice::Standard),
        Some("Advanced") => Some(TierChoice::Advanced),
        Some("Intelligent-Tiering") => Some(TierChoice::IntelligentTiering),
        Some(t) => {
            return Err(enum_error(
                t,
                "tier",
                "Standard, Advanced, Intelligent-Tiering",
            ))
        }
    };
    if input.policies.is_some() {
        return Err(validation(
            "Parameter policies (expiration and change notifications) are not supported by Flotilla.",
        ));
    }
    let tags = input
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            Ok((
                required(&t.key, "tags.member.key")?.clone(),
                required(&t.value, "tags.member.value")?.clone(),
            ))
        })
        .collect::<Result<Vec<_>, SsmWireError>>()?;
    let put = Put {
        name,
        value,
        kind,
        description: input.description,
        key_id: input.key_id,
        overwrite: input.overwrite.unwrap_or(false),
        allowed_pattern: input.allowed_pattern,
        tags,
        tier,
        data_type: input.data_type,
        modified_by: ctx.principal_arn.clone(),
    };
    let (version, tier) = control::put(state, &crate::scope(state, ctx), put).await?;
    Ok(json!({"Version": version, "Tier": tier.as_str()}))
}

/// A version's value as answered: decrypted only when asked and allowed.
fn value(
    state: &State,
    ctx: &Context,
    scope: &Scope,
    record: &ParameterRecord,
    version: &ParameterVersion,
    decrypt: bool,
) -> Result<String, SsmWireError> {
    if decrypt && version.kind == ParameterType::SecureString && !may_decrypt(state, ctx) {
        return Err(may_not_decrypt(&ctx.principal_arn));
    }
    Ok(control::value(state, scope, record, version, decrypt)?)
}

/// The `Parameter` shape.
fn shape(
    state: &State,
    ctx: &Context,
    scope: &Scope,
    record: &ParameterRecord,
    version: &ParameterVersion,
    selector: Option<&str>,
    decrypt: bool,
) -> Result<Value, SsmWireError> {
    Ok(json!({
        "Name": record.name,
        "Type": version.kind.as_str(),
        "Value": value(state, ctx, scope, record, version, decrypt)?,
        "Version": version.version,
        "Selector": selector,
        "LastModifiedDate": to_epoch_seconds(&version.modified_at),
        "ARN": parameter::arn(&scope.region, &scope.account, &record.name),
        "DataType": record.data_type,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInput {
    name: Option<String>,
    with_decryption: Option<bool>,
}

pub fn get(state: &State, ctx: &Context, input: GetInput) -> Result<Value, SsmWireError> {
    let name = required(&input.name, "name")?;
    let scope = crate::scope(state, ctx);
    let found = control::get(state, &scope, name)?;
    let decrypt = input.with_decryption.unwrap_or(false);
    let p = shape(
        state,
        ctx,
        &scope,
        &found.record,
        found.version(),
        found.selector.as_deref(),
        decrypt,
    )?;
    Ok(json!({ "Parameter": p }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetManyInput {
    names: Option<Vec<String>>,
    with_decryption: Option<bool>,
}

/// Check a list of 1 to 10 names.
fn names(names: &Option<Vec<String>>) -> Result<&[String], SsmWireError> {
    let names = required(names, "names")?;
    if names.is_empty() || names.len() > 10 {
        return Err(validation(format!(
            "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10; {} names were given.",
            names.len()
        )));
    }
    Ok(names)
}

pub fn get_many(state: &State, ctx: &Context, input: GetManyInput) -> Result<Value, SsmWireError> {
    let names = names(&input.names)?;
    let scope = crate::scope(state, ctx);
    let decrypt = input.with_decryption.unwrap_or(false);
    let (mut found, mut invalid) = (vec![], vec![]);
    let mut seen = std::collections::HashSet::new();
    for name in names.iter().filter(|n| seen.insert(n.as_str())) {
        match control::get(state, &scope, name) {
            Ok(f) => found.push(shape(
                state,
                ctx,
                &scope,
                &f.record,
                f.version(),
                f.selector.as_deref(),
                decrypt,
            )?),
            Err(SsmError::NotFound(_) | SsmError::VersionNotFound(_)) => invalid.push(name.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(json!({"Parameters": found, "InvalidParameters": invalid}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireStringFilter {
    key: Option<String>,
    option: Option<String>,
    values: Option<Vec<String>>,
}

fn string_filters(
    filters: Option<Vec<WireStringFilter>>,
    by_path: bool,
) -> Result<Vec<ParameterFilter>, SsmWireError> {
    filters
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            let key = required(&f.key, "parameterFilters.member.key")?;
            ParameterFilter::new(
                key,
                f.option.as_deref(),
                f.values.unwrap_or_default(),
                by_path,
            )
            .map_err(|e| SsmError::from(e).into())
        })
        .collect()
}

/// A page size in `1..=max`, `max` by default.
fn page_size(n: Option<i64>, max: i64) -> Result<usize, SsmWireError> {
    match n {
        None => Ok(max as usize),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => Err(validation(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

/// One page of parameters (in name order) and the next page's token.
fn page(
    params: Vec<Arc<ParameterRecord>>,
    token: Option<&str>,
    size: usize,
) -> Result<(Vec<Arc<ParameterRecord>>, Option<String>), SsmWireError> {
    paginate(params, |p| p.name.clone(), Order::Asc, token, size).map_err(|_| bad_token())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ByPathInput {
    path: Option<String>,
    recursive: Option<bool>,
    parameter_filters: Option<Vec<WireStringFilter>>,
    with_decryption: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub fn by_path(state: &State, ctx: &Context, input: ByPathInput) -> Result<Value, SsmWireError> {
    let path = required(&input.path, "path")?;
    let filters = string_filters(input.parameter_filters, true)?;
    let size = page_size(input.max_results, 10)?;
    let scope = crate::scope(state, ctx);
    let found = control::by_path(
        state,
        &scope,
        path,
        input.recursive.unwrap_or(false),
        &filters,
    )?;
    let (found, next) = page(found, input.next_token.as_deref(), size)?;
    let decrypt = input.with_decryption.unwrap_or(false);
    let params = found
        .iter()
        .filter_map(|p| p.current().map(|v| (p, v)))
        .map(|(p, v)| shape(state, ctx, &scope, p, v, None, decrypt))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"Parameters": params, "NextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameInput {
    name: Option<String>,
}

pub async fn delete(state: &State, ctx: &Context, input: NameInput) -> Result<Value, SsmWireError> {
    let name = required(&input.name, "name")?;
    control::delete(state, &crate::scope(state, ctx), name).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamesInput {
    names: Option<Vec<String>>,
}

pub async fn delete_many(
    state: &State,
    ctx: &Context,
    input: NamesInput,
) -> Result<Value, SsmWireError> {
    let names = names(&input.names)?;
    let (deleted, invalid) = control::delete_many(state, &crate::scope(state, ctx), names).await?;
    Ok(json!({"DeletedParameters": deleted, "InvalidParameters": invalid}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireFilter {
    key: Option<String>,
    values: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInput {
    filters: Option<Vec<WireFilter>>,
    parameter_filters: Option<Vec<WireStringFilter>>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The `ParameterMetadata` shape.
fn metadata(scope: &Scope, p: &ParameterRecord) -> Option<Value> {
    let v = p.current()?;
    Some(json!({
        "Name": p.name,
        "ARN": parameter::arn(&scope.region, &scope.account, &p.name),
        "Type": v.kind.as_str(),
        "KeyId": v.key_id,
        "LastModifiedDate": to_epoch_seconds(&v.modified_at),
        "LastModifiedUser": v.modified_by,
        "Description": p.description,
        "AllowedPattern": p.allowed_pattern,
        "Version": v.version,
        "Tier": p.tier.as_str(),
        "Policies": [],
        "DataType": p.data_type,
    }))
}

pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, SsmWireError> {
    if input.filters.is_some() && input.parameter_filters.is_some() {
        return Err(validation(
            "You can use either Filters or ParameterFilters in a single request, but not both.",
        ));
    }
    // The older `Filters`: Name by prefix, Type and KeyId by equality.
    let legacy = input
        .filters
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            let key = required(&f.key, "filters.member.key")?.clone();
            let option = (key == "Name").then_some("BeginsWith");
            if !["Name", "Type", "KeyId"].contains(&key.as_str()) {
                return Err(enum_error(&key, "filters.member.key", "Name, Type, KeyId"));
            }
            ParameterFilter::new(&key, option, f.values.unwrap_or_default(), false)
                .map_err(|e| SsmError::from(e).into())
        })
        .collect::<Result<Vec<_>, SsmWireError>>()?;
    let mut filters = string_filters(input.parameter_filters, false)?;
    filters.extend(legacy);
    let size = match input.max_results {
        None => 10,
        n => page_size(n, 50)?,
    };
    let scope = crate::scope(state, ctx);
    let found = control::list(state, &scope, &filters);
    let (found, next) = page(found, input.next_token.as_deref(), size)?;
    let params: Vec<Value> = found.iter().filter_map(|p| metadata(&scope, p)).collect();
    Ok(json!({"Parameters": params, "NextToken": next}))
}
