//! ECS account settings: the names ECS knows, their built-in defaults, the values each
//! accepts, and the stored record of one explicit setting.
//!
//! A setting is explicit for one principal (a user, a role or the account's root). The
//! effective value for a principal is its own explicit value, else the root's, else the
//! built-in default.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::record::Record;

/// Every setting name with its built-in default value.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("serviceLongArnFormat", "enabled"),
    ("taskLongArnFormat", "enabled"),
    ("containerInstanceLongArnFormat", "enabled"),
    ("awsvpcTrunking", "disabled"),
    ("containerInsights", "disabled"),
    ("fargateFIPSMode", "disabled"),
    ("tagResourceAuthorization", "on"),
    ("fargateTaskRetirementWaitPeriod", "7"),
    ("guardDutyActivate", "off"),
    ("defaultLogDriverMode", "non-blocking"),
    ("fargateEventWindows", "disabled"),
];

/// The built-in default of a setting, or an error naming the valid names.
pub fn default_value(name: &str) -> Result<&'static str> {
    DEFAULTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = DEFAULTS.iter().map(|(n, _)| *n).collect();
            ModelError::invalid(format!(
                "Account setting name '{name}' is invalid; valid names are: {}.",
                names.join(", ")
            ))
        })
}

/// Check a value for a setting name.
pub fn validate(name: &str, value: &str) -> Result<()> {
    default_value(name)?;
    let allowed: &[&str] = match name {
        "fargateTaskRetirementWaitPeriod" => &["0", "7", "14"],
        "containerInsights" => &["enabled", "disabled", "enhanced"],
        "defaultLogDriverMode" => &["blocking", "non-blocking"],
        "tagResourceAuthorization" | "guardDutyActivate" => &["on", "off"],
        _ => &["enabled", "disabled"],
    };
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ModelError::invalid(format!(
            "Value '{value}' is invalid for account setting {name}; use one of: {}.",
            allowed.join(", ")
        )))
    }
}

/// One explicit setting of one principal, as stored and as the `Setting` wire shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Setting {
    pub name: String,
    pub value: String,
    pub principal_arn: String,
    /// `user` for explicit settings, `aws_managed` for defaults nobody set.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Record for Setting {
    const KIND: &'static str = "account-setting";
    const VERSION: u32 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert!(validate("containerInsights", "enhanced").is_ok());
        assert!(validate("serviceLongArnFormat", "enabled").is_ok());
        assert!(validate("serviceLongArnFormat", "on").is_err());
        assert!(validate("fargateTaskRetirementWaitPeriod", "14").is_ok());
        assert!(validate("fargateTaskRetirementWaitPeriod", "3").is_err());
        assert!(validate("nope", "enabled").is_err());
        assert_eq!(default_value("taskLongArnFormat").unwrap(), "enabled");
    }
}
