//! Account settings: explicit settings are stored per principal; the account default is
//! the root principal's setting; anything unset has the built-in default.

use flotilla_model::account_setting::{self, Setting};
use flotilla_model::record::encode;
use flotilla_store::{Op, Txn};

use crate::{keys, ControlError, State};

/// The setting `name` stored for `principal` itself, if any.
pub fn explicit(state: &State, region: &str, principal: &str, name: &str) -> Option<Setting> {
    let key = keys::account_setting(region, principal, name);
    state
        .account_settings()
        .get(key.as_bytes())
        .map(|e| (*e.value).clone())
}

/// The value in force for `principal`: its own, else the root's (`root`), else the
/// built-in default.
pub fn effective(
    state: &State,
    region: &str,
    root: &str,
    principal: &str,
    name: &str,
) -> Result<Setting, ControlError> {
    if let Some(s) = explicit(state, region, principal, name) {
        return Ok(s);
    }
    if let Some(s) = explicit(state, region, root, name) {
        return Ok(Setting {
            principal_arn: principal.to_string(),
            ..s
        });
    }
    let value = account_setting::default_value(name)?;
    Ok(Setting {
        name: name.to_string(),
        value: value.to_string(),
        principal_arn: principal.to_string(),
        kind: "aws_managed".into(),
    })
}

/// Store an explicit setting (replacing the principal's own, if any).
pub async fn put(state: &State, region: &str, setting: &Setting) -> Result<(), ControlError> {
    let key = keys::account_setting(region, &setting.principal_arn, &setting.name);
    state
        .commit(Txn {
            success: vec![Op::put(key, encode(setting))],
            ..Txn::default()
        })
        .await?;
    Ok(())
}

/// Remove the principal's own setting `name`.
pub async fn remove(
    state: &State,
    region: &str,
    principal: &str,
    name: &str,
) -> Result<(), ControlError> {
    let key = keys::account_setting(region, principal, name);
    state
        .commit(Txn {
            success: vec![Op::delete(key)],
            ..Txn::default()
        })
        .await?;
    Ok(())
}
