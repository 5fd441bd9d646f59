//! Account settings: PutAccountSetting, PutAccountSettingDefault, DeleteAccountSetting,
//! ListAccountSettings. Explicit settings are stored per principal; the account default
//! is the root principal's setting; anything unset has the built-in default.

use crate::ecs::error::EcsError;
use flotilla_aws::Context;
use flotilla_control::ecs::account_settings as settings;
use flotilla_model::account_setting::{self, Setting, DEFAULTS};
use flotilla_model::Arn;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ecs::error::invalid;
use crate::pagination::{page_size, paginate, Order};
use crate::State;

/// The principal a request acts for: the given ARN (an IAM user, role or root of this
/// account) or the caller.
fn principal(state: &State, ctx: &Context, given: Option<String>) -> Result<String, EcsError> {
    let Some(arn) = given.filter(|s| !s.is_empty()) else {
        return Ok(ctx.principal_arn.clone());
    };
    let valid = Arn::parse(&arn).is_some_and(|a| {
        a.service == "iam"
            && a.account == state.account()
            && (a.resource == "root"
                || a.resource.starts_with("user/")
                || a.resource.starts_with("role/"))
    });
    if valid {
        Ok(arn)
    } else {
        Err(invalid(format!(
            "principalArn '{arn}' is not an IAM user, role or root ARN of account {}.",
            state.account()
        )))
    }
}

fn explicit(state: &State, ctx: &Context, principal: &str, name: &str) -> Option<Setting> {
    settings::explicit(state, &ctx.region, principal, name)
}

/// The value in force for `principal`: its own, else the account default, else the
/// built-in default.
fn effective(
    state: &State,
    ctx: &Context,
    principal: &str,
    name: &str,
) -> Result<Setting, EcsError> {
    let root = format!("arn:aws:iam::{}:root", state.account());
    Ok(settings::effective(
        state,
        &ctx.region,
        &root,
        principal,
        name,
    )?)
}

async fn store(state: &State, ctx: &Context, setting: &Setting) -> Result<(), EcsError> {
    Ok(settings::put(state, &ctx.region, setting).await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutInput {
    name: Option<String>,
    value: Option<String>,
    principal_arn: Option<String>,
}

fn checked(input: &PutInput) -> Result<(String, String), EcsError> {
    let name = input
        .name
        .clone()
        .ok_or_else(|| invalid("name is required."))?;
    let value = input
        .value
        .clone()
        .ok_or_else(|| invalid("value is required."))?;
    account_setting::validate(&name, &value)?;
    Ok((name, value))
}

pub async fn put(state: &State, ctx: &Context, input: PutInput) -> Result<Value, EcsError> {
    let (name, value) = checked(&input)?;
    let principal_arn = principal(state, ctx, input.principal_arn)?;
    let setting = Setting {
        name,
        value,
        principal_arn,
        kind: "user".into(),
    };
    store(state, ctx, &setting).await?;
    Ok(json!({ "setting": setting }))
}

pub async fn put_default(state: &State, ctx: &Context, input: PutInput) -> Result<Value, EcsError> {
    let (name, value) = checked(&input)?;
    let principal_arn = format!("arn:aws:iam::{}:root", state.account());
    let setting = Setting {
        name,
        value,
        principal_arn,
        kind: "user".into(),
    };
    store(state, ctx, &setting).await?;
    Ok(json!({ "setting": setting }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteInput {
    name: Option<String>,
    principal_arn: Option<String>,
}

/// Remove an explicit setting; the answer is the setting that was removed (or, when none
/// was set, the one in force, which is unchanged).
pub async fn delete(state: &State, ctx: &Context, input: DeleteInput) -> Result<Value, EcsError> {
    let name = input.name.ok_or_else(|| invalid("name is required."))?;
    account_setting::default_value(&name)?;
    let principal_arn = principal(state, ctx, input.principal_arn)?;
    let Some(setting) = explicit(state, ctx, &principal_arn, &name) else {
        return Ok(json!({ "setting": effective(state, ctx, &principal_arn, &name)? }));
    };
    settings::remove(state, &ctx.region, &principal_arn, &name).await?;
    Ok(json!({ "setting": setting }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    name: Option<String>,
    value: Option<String>,
    principal_arn: Option<String>,
    #[serde(default)]
    effective_settings: bool,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, EcsError> {
    if input.value.is_some() && input.name.is_none() {
        return Err(invalid("value can only be used together with name."));
    }
    if let Some(name) = &input.name {
        account_setting::default_value(name)?;
    }
    let size = page_size(input.max_results, 10)?;
    let principal_arn = principal(state, ctx, input.principal_arn)?;
    let names: Vec<&str> = match &input.name {
        Some(n) => vec![n.as_str()],
        None => DEFAULTS.iter().map(|(n, _)| *n).collect(),
    };
    let mut settings = Vec::new();
    for name in names {
        let s = if input.effective_settings {
            Some(effective(state, ctx, &principal_arn, name)?)
        } else {
            explicit(state, ctx, &principal_arn, name)
        };
        settings.extend(s.filter(|s| input.value.as_ref().is_none_or(|v| *v == s.value)));
    }
    settings.sort_by(|a, b| a.name.cmp(&b.name));
    let (page, next) = paginate(
        settings,
        |s| s.name.clone(),
        Order::Asc,
        input.next_token.as_deref(),
        size,
    )?;
    Ok(json!({ "settings": page, "nextToken": next }))
}
