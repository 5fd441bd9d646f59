//! ECS-native deployment strategies behind a load balancer: `deploymentConfiguration`'s
//! `strategy` (ROLLING, BLUE_GREEN, LINEAR, CANARY), `bakeTimeInMinutes`,
//! `linearConfiguration`, `canaryConfiguration` and `lifecycleHooks`, and a load balancer's
//! `advancedConfiguration` (the alternate target group and the production and test
//! listener rules); validated as ECS validates them, and the progress of one such
//! deployment ([`Shift`]) as the service controller stores it.
//!
//! The stage machine that moves a [`Shift`] is pure logic in `flotilla-scheduler`
//! (`bluegreen`); the controller drives it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{ModelError, Result};
use crate::timestamp;

/// `deploymentConfiguration.strategy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Strategy {
    #[default]
    Rolling,
    BlueGreen,
    Linear,
    Canary,
}

impl Strategy {
    pub fn parse(s: &str) -> Result<Strategy> {
        Ok(match s {
            "ROLLING" => Strategy::Rolling,
            "BLUE_GREEN" => Strategy::BlueGreen,
            "LINEAR" => Strategy::Linear,
            "CANARY" => Strategy::Canary,
            _ => {
                return Err(ModelError::invalid(format!(
                    "deploymentConfiguration.strategy '{s}' is invalid: use ROLLING, \
                     BLUE_GREEN, LINEAR or CANARY."
                )))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Rolling => "ROLLING",
            Strategy::BlueGreen => "BLUE_GREEN",
            Strategy::Linear => "LINEAR",
            Strategy::Canary => "CANARY",
        }
    }

    /// Whether it shifts traffic between two target groups (all but ROLLING).
    pub fn shifts_traffic(self) -> bool {
        self != Strategy::Rolling
    }
}

/// The lifecycle stages of a service deployment (`ServiceDeploymentLifecycleStage`), in
/// the order a blue/green, linear or canary deployment passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LifecycleStage {
    ReconcileService,
    PreScaleUp,
    ScaleUp,
    PostScaleUp,
    TestTrafficShift,
    PostTestTrafficShift,
    ProductionTrafficShift,
    PostProductionTrafficShift,
    BakeTime,
    CleanUp,
}

/// Every stage, in order.
pub const STAGES: [LifecycleStage; 10] = [
    LifecycleStage::ReconcileService,
    LifecycleStage::PreScaleUp,
    LifecycleStage::ScaleUp,
    LifecycleStage::PostScaleUp,
    LifecycleStage::TestTrafficShift,
    LifecycleStage::PostTestTrafficShift,
    LifecycleStage::ProductionTrafficShift,
    LifecycleStage::PostProductionTrafficShift,
    LifecycleStage::BakeTime,
    LifecycleStage::CleanUp,
];

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::ReconcileService => "RECONCILE_SERVICE",
            LifecycleStage::PreScaleUp => "PRE_SCALE_UP",
            LifecycleStage::ScaleUp => "SCALE_UP",
            LifecycleStage::PostScaleUp => "POST_SCALE_UP",
            LifecycleStage::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            LifecycleStage::PostTestTrafficShift => "POST_TEST_TRAFFIC_SHIFT",
            LifecycleStage::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            LifecycleStage::PostProductionTrafficShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
            LifecycleStage::BakeTime => "BAKE_TIME",
            LifecycleStage::CleanUp => "CLEAN_UP",
        }
    }

    pub fn parse(s: &str) -> Option<LifecycleStage> {
        STAGES.into_iter().find(|x| x.as_str() == s)
    }

    /// The stage after this one (`None` after CLEAN_UP).
    pub fn next(self) -> Option<LifecycleStage> {
        STAGES
            .iter()
            .position(|s| *s == self)
            .and_then(|i| STAGES.get(i + 1))
            .copied()
    }
}

/// A traffic share with one decimal (ECS's percentages are multiples of 0.1), in tenths of
/// a percent: 1000 is all of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Permille(pub u32);

impl Permille {
    pub const ALL: Permille = Permille(1000);

    /// `percent` (a multiple of 0.1 within `min..=100`), or why not.
    fn of_percent(percent: f64, min: f64, what: &str) -> Result<Permille> {
        let tenths = (percent * 10.0).round();
        if !percent.is_finite()
            || percent < min
            || percent > 100.0
            || (percent * 10.0 - tenths).abs() > 1e-6
        {
            return Err(ModelError::invalid(format!(
                "{what} must be a multiple of 0.1 from {min:.1} to 100.0; got {percent}."
            )));
        }
        Ok(Permille(tenths as u32))
    }

    pub fn percent(self) -> f64 {
        f64::from(self.0) / 10.0
    }
}

/// `linearConfiguration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linear {
    pub step: Permille,
    pub step_bake_time_in_minutes: i64,
}

/// `canaryConfiguration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Canary {
    pub canary: Permille,
    pub canary_bake_time_in_minutes: i64,
}

/// What a lifecycle hook does when it times out (and what ContinueServiceDeployment asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookAction {
    Continue,
    Rollback,
}

impl HookAction {
    pub fn parse(s: &str, what: &str) -> Result<HookAction> {
        match s {
            "CONTINUE" => Ok(HookAction::Continue),
            "ROLLBACK" => Ok(HookAction::Rollback),
            _ => Err(ModelError::invalid(format!(
                "{what} '{s}' is invalid: use CONTINUE or ROLLBACK."
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HookAction::Continue => "CONTINUE",
            HookAction::Rollback => "ROLLBACK",
        }
    }
}

/// A PAUSE lifecycle hook (the only kind that can run here: Lambda functions cannot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseHook {
    pub lifecycle_stages: Vec<LifecycleStage>,
    pub timeout_in_minutes: i64,
    pub timeout_action: HookAction,
}

/// The strategy part of a service's `deploymentConfiguration`, with its defaults filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyConfig {
    #[serde(default)]
    pub strategy: Strategy,
    /// Whether the user named a strategy (ECS shows `strategy` only then).
    #[serde(default)]
    pub given: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_time_in_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear: Option<Linear>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<PauseHook>,
}

/// `linearConfiguration` as a request gives it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinearInput {
    pub step_percent: Option<f64>,
    pub step_bake_time_in_minutes: Option<i64>,
}

/// `canaryConfiguration` as a request gives it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryInput {
    pub canary_percent: Option<f64>,
    pub canary_bake_time_in_minutes: Option<i64>,
}

/// `timeoutConfiguration` of a lifecycle hook as a request gives it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookTimeoutInput {
    pub timeout_in_minutes: Option<i64>,
    pub action: Option<String>,
}

/// One `lifecycleHooks` entry as a request gives it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookInput {
    pub target_type: Option<String>,
    pub hook_target_arn: Option<String>,
    pub role_arn: Option<String>,
    #[serde(default)]
    pub lifecycle_stages: Vec<String>,
    pub hook_details: Option<Value>,
    pub timeout_configuration: Option<HookTimeoutInput>,
}

/// The strategy fields of a request's `deploymentConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyInput {
    pub strategy: Option<String>,
    pub bake_time_in_minutes: Option<i64>,
    pub linear_configuration: Option<LinearInput>,
    pub canary_configuration: Option<CanaryInput>,
    pub lifecycle_hooks: Option<Vec<HookInput>>,
}

/// The longest bake a strategy allows: a day.
const MAX_BAKE_MINUTES: i64 = 1440;

fn check_minutes(what: &str, m: i64) -> Result<i64> {
    if (0..=MAX_BAKE_MINUTES).contains(&m) {
        Ok(m)
    } else {
        Err(ModelError::invalid(format!(
            "{what} must be between 0 and {MAX_BAKE_MINUTES} minutes; got {m}."
        )))
    }
}

impl StrategyConfig {
    /// `input` over `self`, validated for a service of `scheduling_strategy`. A change of
    /// strategy drops the other strategy's settings.
    pub fn merged(&self, input: &StrategyInput, scheduling_strategy: &str) -> Result<Self> {
        let mut out = self.clone();
        if let Some(s) = &input.strategy {
            let s = Strategy::parse(s)?;
            if s != out.strategy {
                out.linear = None;
                out.canary = None;
            }
            out.strategy = s;
            out.given = true;
        }
        if let Some(m) = input.bake_time_in_minutes {
            out.bake_time_in_minutes = Some(check_minutes("bakeTimeInMinutes", m)?);
        }
        if let Some(l) = &input.linear_configuration {
            if out.strategy != Strategy::Linear {
                return Err(ModelError::invalid(
                    "linearConfiguration is only valid with the LINEAR deployment strategy.",
                ));
            }
            out.linear = Some(Linear {
                step: Permille::of_percent(
                    l.step_percent.unwrap_or(10.0),
                    3.0,
                    "linearConfiguration.stepPercent",
                )?,
                step_bake_time_in_minutes: check_minutes(
                    "linearConfiguration.stepBakeTimeInMinutes",
                    l.step_bake_time_in_minutes.unwrap_or(6),
                )?,
            });
        }
        if let Some(c) = &input.canary_configuration {
            if out.strategy != Strategy::Canary {
                return Err(ModelError::invalid(
                    "canaryConfiguration is only valid with the CANARY deployment strategy.",
                ));
            }
            out.canary = Some(Canary {
                canary: Permille::of_percent(
                    c.canary_percent.unwrap_or(5.0),
                    0.1,
                    "canaryConfiguration.canaryPercent",
                )?,
                canary_bake_time_in_minutes: check_minutes(
                    "canaryConfiguration.canaryBakeTimeInMinutes",
                    c.canary_bake_time_in_minutes.unwrap_or(10),
                )?,
            });
        }
        if let Some(hooks) = &input.lifecycle_hooks {
            out.hooks = hooks.iter().map(pause_hook).collect::<Result<_>>()?;
        }
        out.fill_defaults();
        if out.strategy.shifts_traffic() && scheduling_strategy == super::DAEMON {
            return Err(ModelError::invalid(format!(
                "The {} deployment strategy is not supported for services with the DAEMON \
                 scheduling strategy.",
                out.strategy.as_str()
            )));
        }
        if !out.strategy.shifts_traffic() && !out.hooks.is_empty() {
            return Err(ModelError::invalid(
                "lifecycleHooks are only supported with the BLUE_GREEN, LINEAR and CANARY \
                 deployment strategies.",
            ));
        }
        Ok(out)
    }

    /// The defaults ECS documents for the settings of the chosen strategy.
    fn fill_defaults(&mut self) {
        match self.strategy {
            Strategy::Linear if self.linear.is_none() => {
                self.linear = Some(Linear {
                    step: Permille(100),
                    step_bake_time_in_minutes: 6,
                })
            }
            Strategy::Canary if self.canary.is_none() => {
                self.canary = Some(Canary {
                    canary: Permille(50),
                    canary_bake_time_in_minutes: 10,
                })
            }
            _ => {}
        }
    }

    /// The bake after all production traffic has shifted.
    pub fn bake_minutes(&self) -> i64 {
        self.bake_time_in_minutes.unwrap_or(0)
    }

    /// Write the strategy fields into a wire `deploymentConfiguration`.
    pub fn render(&self, out: &mut Value) {
        let Some(obj) = out.as_object_mut() else {
            return;
        };
        if self.given {
            obj.insert("strategy".into(), json!(self.strategy.as_str()));
        }
        if let Some(m) = self.bake_time_in_minutes {
            obj.insert("bakeTimeInMinutes".into(), json!(m));
        }
        if let Some(l) = self.linear {
            obj.insert(
                "linearConfiguration".into(),
                json!({
                    "stepPercent": l.step.percent(),
                    "stepBakeTimeInMinutes": l.step_bake_time_in_minutes,
                }),
            );
        }
        if let Some(c) = self.canary {
            obj.insert(
                "canaryConfiguration".into(),
                json!({
                    "canaryPercent": c.canary.percent(),
                    "canaryBakeTimeInMinutes": c.canary_bake_time_in_minutes,
                }),
            );
        }
        if !self.hooks.is_empty() {
            let hooks: Vec<Value> = self
                .hooks
                .iter()
                .map(|h| {
                    json!({
                        "targetType": "PAUSE",
                        "lifecycleStages": h.lifecycle_stages.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                        "timeoutConfiguration": {
                            "timeoutInMinutes": h.timeout_in_minutes,
                            "action": h.timeout_action.as_str(),
                        },
                    })
                })
                .collect();
            obj.insert("lifecycleHooks".into(), json!(hooks));
        }
    }
}

/// The stages ECS lets a hook run at: all but SCALE_UP, BAKE_TIME and CLEAN_UP.
fn hookable(s: LifecycleStage) -> bool {
    !matches!(
        s,
        LifecycleStage::ScaleUp | LifecycleStage::BakeTime | LifecycleStage::CleanUp
    )
}

fn pause_hook(h: &HookInput) -> Result<PauseHook> {
    match h.target_type.as_deref().unwrap_or("AWS_LAMBDA") {
        "PAUSE" => {}
        "AWS_LAMBDA" => {
            return Err(ModelError::invalid(
                "lifecycleHooks: AWS_LAMBDA hooks are not supported: Flotilla cannot invoke \
                 Lambda functions. Use targetType PAUSE and ContinueServiceDeployment.",
            ))
        }
        other => {
            return Err(ModelError::invalid(format!(
                "lifecycleHooks: targetType '{other}' is invalid: use AWS_LAMBDA or PAUSE."
            )))
        }
    }
    if h.lifecycle_stages.is_empty() {
        return Err(ModelError::invalid(
            "lifecycleHooks: each hook needs at least one lifecycleStages entry.",
        ));
    }
    let mut stages = Vec::new();
    for s in &h.lifecycle_stages {
        match LifecycleStage::parse(s).filter(|s| hookable(*s)) {
            Some(s) if !stages.contains(&s) => stages.push(s),
            Some(_) => {}
            None => {
                return Err(ModelError::invalid(format!(
                    "lifecycleHooks: lifecycle stage '{s}' is invalid: use RECONCILE_SERVICE, \
                     PRE_SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, \
                     PRODUCTION_TRAFFIC_SHIFT or POST_PRODUCTION_TRAFFIC_SHIFT."
                )))
            }
        }
    }
    let timeout = h.timeout_configuration.clone().unwrap_or_default();
    let minutes = timeout.timeout_in_minutes.unwrap_or(1440);
    if !(1..=20160).contains(&minutes) {
        return Err(ModelError::invalid(format!(
            "lifecycleHooks: timeoutConfiguration.timeoutInMinutes must be between 1 and \
             20160; got {minutes}."
        )));
    }
    let action = match &timeout.action {
        Some(a) => HookAction::parse(a, "lifecycleHooks: timeoutConfiguration.action")?,
        None => HookAction::Rollback,
    };
    Ok(PauseHook {
        lifecycle_stages: stages,
        timeout_in_minutes: minutes,
        timeout_action: action,
    })
}

/// A load balancer's `advancedConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_target_group_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_listener_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_listener_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

/// Check the `loadBalancers` of a service deployed with `strategy`: a traffic-shifting
/// strategy needs, on every entry, an alternate target group and a production listener
/// rule (rule ARNs, as for an Application Load Balancer).
pub fn validate_advanced(strategy: Strategy, lbs: &[super::LoadBalancer]) -> Result<()> {
    if !strategy.shifts_traffic() {
        return Ok(());
    }
    let name = strategy.as_str();
    if lbs.is_empty() {
        return Err(ModelError::invalid(format!(
            "The {name} deployment strategy needs loadBalancers with an advancedConfiguration."
        )));
    }
    for lb in lbs {
        let Some(a) = &lb.advanced_configuration else {
            return Err(ModelError::invalid(format!(
                "loadBalancers: with the {name} deployment strategy each entry needs an \
                 advancedConfiguration (alternateTargetGroupArn, productionListenerRule, \
                 roleArn)."
            )));
        };
        match &a.alternate_target_group_arn {
            Some(arn) if arn.starts_with("arn:") && arn.contains(":targetgroup/") => {
                if lb.target_group_arn.as_ref() == Some(arn) {
                    return Err(ModelError::invalid(
                        "advancedConfiguration.alternateTargetGroupArn must differ from the \
                         targetGroupArn.",
                    ));
                }
            }
            _ => {
                return Err(ModelError::invalid(
                    "advancedConfiguration.alternateTargetGroupArn must be a target group ARN.",
                ))
            }
        }
        for (what, rule, required) in [
            ("productionListenerRule", &a.production_listener_rule, true),
            ("testListenerRule", &a.test_listener_rule, false),
        ] {
            match rule {
                Some(r) if r.starts_with("arn:") && r.contains(":listener-rule/") => {}
                None if !required => {}
                _ => {
                    return Err(ModelError::invalid(format!(
                        "advancedConfiguration.{what} must be a listener rule ARN."
                    )))
                }
            }
        }
        if a.role_arn.as_deref().unwrap_or("").is_empty() {
            return Err(ModelError::invalid(
                "advancedConfiguration.roleArn is required.",
            ));
        }
    }
    Ok(())
}

/// Where one lifecycle hook stands in a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookStatus {
    AwaitingAction,
    Succeeded,
    Failed,
    TimedOut,
}

impl HookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::AwaitingAction => "AWAITING_ACTION",
            HookStatus::Succeeded => "SUCCEEDED",
            HookStatus::Failed => "FAILED",
            HookStatus::TimedOut => "TIMED_OUT",
        }
    }
}

/// A PAUSE hook the deployment reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRun {
    pub hook_id: String,
    pub stage: LifecycleStage,
    pub status: HookStatus,
    #[serde(with = "timestamp")]
    pub expires_at: DateTime<Utc>,
    pub timeout_action: HookAction,
}

/// The progress of a blue/green, linear or canary deployment: the stage it is in, how much
/// production traffic its (green) target groups get, and the hooks it reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shift {
    pub stage: LifecycleStage,
    #[serde(with = "timestamp")]
    pub stage_at: DateTime<Utc>,
    /// The green side's share of production traffic.
    pub production: Permille,
    /// When that share last changed: the bake of a step counts from here.
    #[serde(with = "timestamp")]
    pub production_at: DateTime<Utc>,
    /// Whether the test listener rule forwards to green.
    pub test_on_green: bool,
    /// The target group this deployment's tasks register in, by `loadBalancers` entry.
    pub target_groups: Vec<String>,
    /// The deployment whose tasks take production traffic until the shift (none for the
    /// service's first deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookRun>,
}

impl Shift {
    /// A shift that starts now with green's tasks in `target_groups`.
    pub fn start(target_groups: Vec<String>, blue: Option<String>, now: DateTime<Utc>) -> Shift {
        Shift {
            stage: LifecycleStage::ReconcileService,
            stage_at: now,
            production: Permille(0),
            production_at: now,
            test_on_green: false,
            target_groups,
            blue,
            hooks: vec![],
        }
    }

    /// The hook waiting for ContinueServiceDeployment, if one is.
    pub fn awaiting(&self) -> Option<&HookRun> {
        self.hooks
            .iter()
            .find(|h| h.status == HookStatus::AwaitingAction)
    }

    /// Resolve the awaiting hook `hook_id` as `status`; false when no such hook waits.
    pub fn resolve(&mut self, hook_id: &str, status: HookStatus) -> bool {
        match self
            .hooks
            .iter_mut()
            .find(|h| h.hook_id == hook_id && h.status == HookStatus::AwaitingAction)
        {
            Some(h) => {
                h.status = status;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    // The strategy enum shares its name with proptest's trait.
    use proptest::strategy::Strategy;

    fn input(v: Value) -> StrategyInput {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn percentages_are_multiples_of_a_tenth_within_bounds() {
        let c = StrategyConfig::default();
        let ok = c
            .merged(
                &input(json!({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 12.5}})),
                "REPLICA",
            )
            .unwrap();
        assert_eq!(ok.linear.unwrap().step, Permille(125));
        assert_eq!(ok.linear.unwrap().step_bake_time_in_minutes, 6);
        for bad in [2.9, 100.1, 12.55, 0.0, -5.0] {
            let i =
                input(json!({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": bad}}));
            assert!(c.merged(&i, "REPLICA").is_err(), "{bad}");
        }
        let i = input(json!({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.1}}));
        assert_eq!(
            c.merged(&i, "REPLICA").unwrap().canary.unwrap().canary,
            Permille(1)
        );
    }

    #[test]
    fn settings_of_another_strategy_and_lambda_hooks_are_refused() {
        let c = StrategyConfig::default();
        let i = input(json!({"strategy": "BLUE_GREEN", "linearConfiguration": {}}));
        assert!(c.merged(&i, "REPLICA").is_err());
        let i = input(json!({"strategy": "BLUE_GREEN", "lifecycleHooks": [
            {"hookTargetArn": "arn:aws:lambda:us-east-1:1:function:f", "lifecycleStages": ["POST_SCALE_UP"]}
        ]}));
        let e = c.merged(&i, "REPLICA").unwrap_err();
        assert!(e.message.contains("Lambda"), "{e}");
        let i = input(json!({"strategy": "BLUE_GREEN", "lifecycleHooks": [
            {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}
        ]}));
        let ok = c.merged(&i, "REPLICA").unwrap();
        assert_eq!(ok.hooks[0].timeout_action, HookAction::Rollback);
        assert!(c
            .merged(&input(json!({"strategy": "BLUE_GREEN"})), "DAEMON")
            .is_err());
        assert!(c
            .merged(&input(json!({"strategy": "SIDEWAYS"})), "REPLICA")
            .is_err());
        assert!(c
            .merged(&input(json!({"bakeTimeInMinutes": 1441})), "REPLICA")
            .is_err());
    }

    fn any_percent() -> impl Strategy<Value = Option<f64>> {
        proptest::option::of(prop_oneof![
            -1e9f64..1e9,
            (0u32..1200).prop_map(|t| f64::from(t) / 10.0),
            Just(f64::INFINITY),
        ])
    }

    fn any_word() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            Just("ROLLING".to_string()),
            Just("BLUE_GREEN".to_string()),
            Just("LINEAR".to_string()),
            Just("CANARY".to_string()),
            Just("PAUSE".to_string()),
            ".{0,12}",
        ])
    }

    proptest! {
        /// Whatever a request's strategy fields hold, they are refused with a message or
        /// give settings within ECS's bounds; never a panic.
        #[test]
        fn any_strategy_input_is_refused_or_in_bounds(
            strategy in any_word(),
            bake in proptest::option::of(-5i64..3000),
            step in any_percent(),
            step_bake in proptest::option::of(-5i64..3000),
            canary in any_percent(),
            hook_type in any_word(),
            stages in proptest::collection::vec(".{0,30}", 0..3),
            timeout in proptest::option::of(-5i64..30000),
            daemon in any::<bool>(),
        ) {
            let input = StrategyInput {
                strategy,
                bake_time_in_minutes: bake,
                linear_configuration: Some(LinearInput { step_percent: step, step_bake_time_in_minutes: step_bake }),
                canary_configuration: Some(CanaryInput { canary_percent: canary, canary_bake_time_in_minutes: step_bake }),
                lifecycle_hooks: Some(vec![HookInput {
                    target_type: hook_type,
                    lifecycle_stages: stages,
                    timeout_configuration: Some(HookTimeoutInput { timeout_in_minutes: timeout, action: None }),
                    ..Default::default()
                }]),
            };
            let scheduling = if daemon { "DAEMON" } else { "REPLICA" };
            match StrategyConfig::default().merged(&input, scheduling) {
                Err(e) => prop_assert!(!e.message.is_empty()),
                Ok(c) => {
                    prop_assert!(c.bake_minutes() >= 0 && c.bake_minutes() <= MAX_BAKE_MINUTES);
                    if let Some(l) = c.linear {
                        prop_assert!(l.step.0 >= 30 && l.step.0 <= 1000);
                    }
                    if let Some(k) = c.canary {
                        prop_assert!(k.canary.0 >= 1 && k.canary.0 <= 1000);
                    }
                    for h in &c.hooks {
                        prop_assert!(!h.lifecycle_stages.is_empty());
                    }
                }
            }
        }
    }

    #[test]
    fn stages_come_in_order() {
        assert_eq!(
            LifecycleStage::ScaleUp.next(),
            Some(LifecycleStage::PostScaleUp)
        );
        assert_eq!(LifecycleStage::CleanUp.next(), None);
        for s in STAGES {
            assert_eq!(LifecycleStage::parse(s.as_str()), Some(s));
        }
    }
}
