//! ECS capacity providers: the built-in `FARGATE` and `FARGATE_SPOT`, custom (auto scaling
//! group) providers as stored, their names and settings as AWS validates them, capacity
//! provider strategies (`base` and `weight`) and the rules a strategy must keep.
//!
//! Which container instances belong to a custom provider is decided by the instance's
//! registration: the agent registers the attribute [`ATTRIBUTE`] with the provider's name.
//! `FARGATE` and `FARGATE_SPOT` place on the instances of no custom provider.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::record::Record;
use crate::tag::Tag;
use crate::Scope;

/// The built-in providers every account has; they cannot be created, updated or deleted.
pub const FARGATE: &str = "FARGATE";
pub const FARGATE_SPOT: &str = "FARGATE_SPOT";
pub const BUILT_IN: [&str; 2] = [FARGATE, FARGATE_SPOT];

/// The instance attribute that names the custom provider an instance belongs to
/// (`flotilla agent --capacity-provider NAME` registers it).
pub const ATTRIBUTE: &str = "flotilla.capacity-provider";

/// Provider statuses (`CapacityProviderStatus`).
pub const ACTIVE: &str = "ACTIVE";
pub const INACTIVE: &str = "INACTIVE";

/// At most this many providers in one strategy (AWS documents 6; the model's list has no
/// bound of its own).
pub const MAX_STRATEGY_ITEMS: usize = 20;

/// Whether `name` is one of the built-in Fargate providers.
pub fn is_built_in(name: &str) -> bool {
    BUILT_IN.contains(&name)
}

/// The ARN of provider `name`: `arn:aws:ecs:REGION:ACCOUNT:capacity-provider/NAME`.
pub fn arn(scope: &Scope, name: &str) -> String {
    scope
        .arn("ecs", format!("capacity-provider/{name}"))
        .to_string()
}

static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[A-Za-z0-9_-]{1,255}$").expect("static regex"));

/// Check the name of a new custom provider: up to 255 letters, numbers, underscores and
/// hyphens, not starting with `aws`, `ecs` or `fargate` (those are reserved).
pub fn validate_name(name: &str) -> Result<()> {
    if !NAME.is_match(name) {
        return Err(ModelError::invalid(format!(
            "Capacity provider name '{name}' is invalid: up to 255 letters (uppercase and \
             lowercase), numbers, underscores, and hyphens are allowed."
        )));
    }
    let lower = name.to_ascii_lowercase();
    if let Some(p) = ["aws", "ecs", "fargate"]
        .iter()
        .find(|p| lower.starts_with(*p))
    {
        return Err(ModelError::invalid(format!(
            "Capacity provider name '{name}' is invalid: names starting with '{p}' are \
             reserved."
        )));
    }
    Ok(())
}

/// One item of a capacity provider strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyItem {
    pub capacity_provider: String,
    #[serde(default, deserialize_with = "zero_if_null")]
    pub weight: i64,
    #[serde(default, deserialize_with = "zero_if_null")]
    pub base: i64,
}

/// Earlier builds stored a cluster's default strategy as given, where `null` meant 0.
fn zero_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.unwrap_or(0))
}

/// Read a strategy from the wire: each item names a provider (1-255 characters) and may
/// give `weight` 0-1000 and `base` 0-100000 (InvalidParameterException otherwise), then
/// hold it to [`check_strategy`]'s rules.
pub fn parse_strategy(items: &[serde_json::Value]) -> Result<Vec<StrategyItem>> {
    if items.len() > MAX_STRATEGY_ITEMS {
        return Err(ModelError::invalid(format!(
            "A capacity provider strategy can have at most {MAX_STRATEGY_ITEMS} items."
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let bad = |why: &str| ModelError::invalid(format!("capacityProviderStrategy[{i}]: {why}."));
        let provider = item["capacityProvider"].as_str().unwrap_or("");
        if provider.is_empty() || provider.len() > 255 {
            return Err(bad(
                "capacityProvider must be a name of 1 to 255 characters",
            ));
        }
        let number = |field: &str, max: i64| match &item[field] {
            serde_json::Value::Null => Ok(0),
            v => v
                .as_i64()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| bad(&format!("{field} {v} must be an integer from 0 to {max}"))),
        };
        let weight = number("weight", 1000)?;
        let base = number("base", 100_000)?;
        out.push(StrategyItem {
            capacity_provider: provider.to_string(),
            weight,
            base,
        });
    }
    check_strategy(&out)?;
    Ok(out)
}

/// The rules a strategy keeps beyond each item's bounds: each provider once, at most one
/// item with a base, Fargate providers not mixed with custom ones, and (when not empty) at
/// least one weight above zero.
pub fn check_strategy(items: &[StrategyItem]) -> Result<()> {
    for (i, item) in items.iter().enumerate() {
        if items[..i]
            .iter()
            .any(|o| o.capacity_provider == item.capacity_provider)
        {
            return Err(ModelError::invalid(format!(
                "The capacity provider strategy names {} more than once.",
                item.capacity_provider
            )));
        }
    }
    if items.iter().filter(|i| i.base > 0).count() > 1 {
        return Err(ModelError::invalid(
            "Only one capacity provider in a capacity provider strategy can have a base \
             greater than zero.",
        ));
    }
    let fargate = items
        .iter()
        .filter(|i| is_built_in(&i.capacity_provider))
        .count();
    if fargate != 0 && fargate != items.len() {
        return Err(ModelError::invalid(
            "A capacity provider strategy cannot mix the FARGATE or FARGATE_SPOT capacity \
             providers with Auto Scaling group capacity providers.",
        ));
    }
    if !items.is_empty() && items.iter().all(|i| i.weight == 0) {
        return Err(ModelError::invalid(
            "At least one capacity provider in a capacity provider strategy must have a \
             weight greater than zero.",
        ));
    }
    Ok(())
}

/// `ManagedScaling` of an auto scaling group provider. Stored and shown; Flotilla scales
/// no group (see docs/compatibility.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedScaling {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_capacity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_scaling_step_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_scaling_step_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_warmup_period: Option<i64>,
}

impl ManagedScaling {
    /// What AWS reports for a provider created without `managedScaling`.
    fn defaults() -> ManagedScaling {
        ManagedScaling {
            status: Some("DISABLED".into()),
            target_capacity: Some(100),
            minimum_scaling_step_size: Some(1),
            maximum_scaling_step_size: Some(10_000),
            instance_warmup_period: Some(300),
        }
    }

    /// Check the model's bounds and enums.
    pub fn validate(&self) -> Result<()> {
        check_enabled("managedScaling.status", self.status.as_deref())?;
        for (field, value, min, max) in [
            ("targetCapacity", self.target_capacity, 1, 100),
            (
                "minimumScalingStepSize",
                self.minimum_scaling_step_size,
                1,
                10_000,
            ),
            (
                "maximumScalingStepSize",
                self.maximum_scaling_step_size,
                1,
                10_000,
            ),
            (
                "instanceWarmupPeriod",
                self.instance_warmup_period,
                0,
                10_000,
            ),
        ] {
            if let Some(v) = value.filter(|v| !(min..=max).contains(v)) {
                return Err(ModelError::invalid(format!(
                    "managedScaling.{field} {v} is invalid: use a value from {min} to {max}."
                )));
            }
        }
        if let (Some(lo), Some(hi)) = (
            self.minimum_scaling_step_size,
            self.maximum_scaling_step_size,
        ) {
            if lo > hi {
                return Err(ModelError::invalid(format!(
                    "managedScaling.minimumScalingStepSize {lo} cannot be greater than \
                     maximumScalingStepSize {hi}."
                )));
            }
        }
        Ok(())
    }

    /// This configuration with the fields `update` gives replaced.
    fn merged(&self, update: &ManagedScaling) -> ManagedScaling {
        ManagedScaling {
            status: update.status.clone().or_else(|| self.status.clone()),
            target_capacity: update.target_capacity.or(self.target_capacity),
            minimum_scaling_step_size: update
                .minimum_scaling_step_size
                .or(self.minimum_scaling_step_size),
            maximum_scaling_step_size: update
                .maximum_scaling_step_size
                .or(self.maximum_scaling_step_size),
            instance_warmup_period: update
                .instance_warmup_period
                .or(self.instance_warmup_period),
        }
    }
}

fn check_enabled(field: &str, value: Option<&str>) -> Result<()> {
    match value {
        None | Some("ENABLED" | "DISABLED") => Ok(()),
        Some(other) => Err(ModelError::invalid(format!(
            "{field} '{other}' is invalid: use ENABLED or DISABLED."
        ))),
    }
}

/// `AutoScalingGroupProvider` (and, with `auto_scaling_group_arn` absent, the
/// `AutoScalingGroupProviderUpdate` of UpdateCapacityProvider).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingGroupProvider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_scaling: Option<ManagedScaling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_termination_protection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_draining: Option<String>,
}

impl AutoScalingGroupProvider {
    /// Check a CreateCapacityProvider's provider and fill in what AWS reports by default.
    pub fn checked_new(mut self) -> Result<AutoScalingGroupProvider> {
        match self.auto_scaling_group_arn.as_deref() {
            Some(a) if !a.is_empty() && a.len() <= 1600 => {}
            _ => {
                return Err(ModelError::invalid(
                    "autoScalingGroupProvider.autoScalingGroupArn is required.",
                ))
            }
        }
        self.check_settings()?;
        let given = self.managed_scaling.take();
        self.managed_scaling =
            Some(ManagedScaling::defaults().merged(&given.unwrap_or(ManagedScaling::defaults())));
        self.managed_termination_protection
            .get_or_insert_with(|| "DISABLED".into());
        self.managed_draining
            .get_or_insert_with(|| "ENABLED".into());
        Ok(self)
    }

    fn check_settings(&self) -> Result<()> {
        if let Some(m) = &self.managed_scaling {
            m.validate()?;
        }
        check_enabled(
            "managedTerminationProtection",
            self.managed_termination_protection.as_deref(),
        )?;
        check_enabled("managedDraining", self.managed_draining.as_deref())
    }

    /// Apply UpdateCapacityProvider's `update` (which cannot change the group's ARN).
    pub fn updated(&self, update: &AutoScalingGroupProvider) -> Result<AutoScalingGroupProvider> {
        if update.auto_scaling_group_arn.is_some() {
            return Err(ModelError::invalid(
                "The Auto Scaling group of a capacity provider cannot be changed.",
            ));
        }
        update.check_settings()?;
        let mut next = self.clone();
        if let Some(m) = &update.managed_scaling {
            let merged = next
                .managed_scaling
                .clone()
                .unwrap_or_else(ManagedScaling::defaults)
                .merged(m);
            merged.validate()?;
            next.managed_scaling = Some(merged);
        }
        if let Some(p) = &update.managed_termination_protection {
            next.managed_termination_protection = Some(p.clone());
        }
        if let Some(d) = &update.managed_draining {
            next.managed_draining = Some(d.clone());
        }
        Ok(next)
    }
}

/// A custom capacity provider as stored. The built-in ones are never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProviderRecord {
    pub capacity_provider_arn: String,
    pub name: String,
    /// ACTIVE, or INACTIVE once deleted (still describable until created again).
    pub status: String,
    pub auto_scaling_group_provider: AutoScalingGroupProvider,
    /// `CREATE_COMPLETE`, `UPDATE_COMPLETE` or `DELETE_COMPLETE`: Flotilla changes a
    /// provider at once.
    pub update_status: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub created_at: DateTime<Utc>,
}

impl Record for CapacityProviderRecord {
    const KIND: &'static str = "capacity-provider";
    const VERSION: u32 = 1;
}

impl CapacityProviderRecord {
    pub fn is_active(&self) -> bool {
        self.status == ACTIVE
    }
}

/// The `CapacityProvider` shape of a custom provider.
pub fn to_wire(p: &CapacityProviderRecord, tags: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "capacityProviderArn": p.capacity_provider_arn,
        "name": p.name,
        "status": p.status,
        "autoScalingGroupProvider": p.auto_scaling_group_provider,
        "updateStatus": p.update_status,
        "type": "EC2_AUTOSCALING",
    });
    if tags {
        v["tags"] = serde_json::json!(p.tags);
    }
    v
}

/// The `CapacityProvider` shape of a built-in provider.
pub fn built_in_wire(scope: &Scope, name: &str, tags: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "capacityProviderArn": arn(scope, name),
        "name": name,
        "status": ACTIVE,
        "type": name,
    });
    if tags {
        v["tags"] = serde_json::json!([]);
    }
    v
}

#[cfg(test)]
mod tests;
