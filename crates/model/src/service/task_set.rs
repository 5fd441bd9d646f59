//! Task sets of a service with the EXTERNAL deployment controller: the stored task set, its
//! lifecycle and the arithmetic ECS applies to it (`scale` → `computedDesiredCount`,
//! stability).
//!
//! ```text
//! status:     ACTIVE ◄──UpdateServicePrimaryTaskSet (another)──► PRIMARY
//!             ACTIVE | PRIMARY ──DeleteTaskSet──► DRAINING ──its tasks stopped──► (gone)
//! stability:  STABILIZING ◄──► STEADY_STATE (as the controller finds it)
//! ```
//!
//! The status and stability fields are private: they change only through the transition
//! methods below.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{LoadBalancer, NetworkConfiguration, ServiceRegistry};
use crate::error::{ModelError, Result};
use crate::tag::Tag;
use crate::timestamp;

/// How many task sets a service may have at once (ECS's quota).
pub const MAX_TASK_SETS: usize = 5;

/// `deploymentController.type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentController {
    /// The rolling update the service controller carries out (with its deployments).
    #[default]
    Ecs,
    /// Blue/green through CodeDeploy (refused: there is no CodeDeploy).
    CodeDeploy,
    /// The user drives task sets (CreateTaskSet, UpdateTaskSet, ...).
    External,
}

impl DeploymentController {
    /// The controller a request's `deploymentController.type` names.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "ECS" => Ok(Self::Ecs),
            "CODE_DEPLOY" => Ok(Self::CodeDeploy),
            "EXTERNAL" => Ok(Self::External),
            other => Err(ModelError::invalid(format!(
                "deploymentController.type '{other}' is invalid: use ECS, CODE_DEPLOY or \
                 EXTERNAL."
            ))),
        }
    }

    pub fn is_ecs(&self) -> bool {
        *self == Self::Ecs
    }
}

/// A task set's place in its service (`TaskSet.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskSetStatus {
    /// Serving production traffic.
    Primary,
    /// Not serving production traffic.
    Active,
    /// Deleted: its tasks are being deregistered and stopped.
    Draining,
}

/// `TaskSet.stabilityStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StabilityStatus {
    SteadyState,
    Stabilizing,
}

/// `Scale`: a percentage of the service's desired count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scale {
    pub value: f64,
    pub unit: ScaleUnit,
}

/// `Scale.unit`: ECS knows one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScaleUnit {
    #[default]
    Percent,
}

impl Default for Scale {
    /// A task set created without a scale runs the whole desired count.
    fn default() -> Self {
        Scale {
            value: 100.0,
            unit: ScaleUnit::Percent,
        }
    }
}

impl Scale {
    /// A scale from a request: `value` between 0 and 100, `unit` PERCENT.
    pub fn new(value: Option<f64>, unit: Option<&str>) -> Result<Scale> {
        let unit = match unit.unwrap_or("PERCENT") {
            "PERCENT" => ScaleUnit::Percent,
            other => {
                return Err(ModelError::invalid(format!(
                    "scale.unit '{other}' is invalid: use PERCENT."
                )))
            }
        };
        let value = value.unwrap_or(100.0);
        if !value.is_finite() || !(0.0..=100.0).contains(&value) {
            return Err(ModelError::invalid(format!(
                "scale.value must be a percentage between 0 and 100; got {value}."
            )));
        }
        Ok(Scale { value, unit })
    }

    /// `desired × value %`, rounded up as ECS rounds it (1.2 tasks are 2).
    pub fn of(&self, desired: i64) -> i64 {
        let exact = desired.max(0) as f64 * self.value / 100.0;
        // A hair below the next integer is that integer: 3 × 33.333…% is 1, not 2.
        (exact - 1e-9).ceil().max(0.0) as i64
    }
}

/// One task set of a service, as stored in the service record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSet {
    /// `ecs-svc/` and 19 digits; the `startedBy` of its tasks.
    pub id: String,
    pub task_set_arn: String,
    status: TaskSetStatus,
    pub task_definition: String,
    pub launch_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfiguration>,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    pub service_registries: Vec<ServiceRegistry>,
    scale: Scale,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    stability_status: StabilityStatus,
    #[serde(with = "timestamp")]
    stability_status_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    updated_at: DateTime<Utc>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

/// What CreateTaskSet asks for.
pub struct NewTaskSet {
    pub id: String,
    pub task_set_arn: String,
    pub task_definition: String,
    pub launch_type: String,
    pub network_configuration: Option<NetworkConfiguration>,
    pub load_balancers: Vec<LoadBalancer>,
    pub service_registries: Vec<ServiceRegistry>,
    pub scale: Scale,
    pub external_id: Option<String>,
    pub tags: Vec<Tag>,
    pub client_token: Option<String>,
}

// === impl TaskSet ===

impl TaskSet {
    /// A new ACTIVE task set, STABILIZING until the controller finds it steady.
    pub fn create(t: NewTaskSet, now: DateTime<Utc>) -> TaskSet {
        TaskSet {
            id: t.id,
            task_set_arn: t.task_set_arn,
            status: TaskSetStatus::Active,
            task_definition: t.task_definition,
            launch_type: t.launch_type,
            network_configuration: t.network_configuration,
            load_balancers: t.load_balancers,
            service_registries: t.service_registries,
            scale: t.scale,
            external_id: t.external_id,
            stability_status: StabilityStatus::Stabilizing,
            stability_status_at: now,
            created_at: now,
            updated_at: now,
            tags: t.tags,
            client_token: t.client_token,
        }
    }

    pub fn status(&self) -> TaskSetStatus {
        self.status
    }

    pub fn scale(&self) -> Scale {
        self.scale
    }

    pub fn stability_status(&self) -> StabilityStatus {
        self.stability_status
    }

    pub fn stability_status_at(&self) -> DateTime<Utc> {
        self.stability_status_at
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    pub fn is_draining(&self) -> bool {
        self.status == TaskSetStatus::Draining
    }

    /// Whether `id` (an id or ARN) names this task set.
    pub fn is(&self, id: &str) -> bool {
        self.id == id || self.task_set_arn == id
    }

    /// How many tasks it should run while the service wants `service_desired`: its scale
    /// of that, and none once it is draining.
    pub fn computed_desired_count(&self, service_desired: i64) -> i64 {
        if self.is_draining() {
            0
        } else {
            self.scale.of(service_desired)
        }
    }

    /// UpdateTaskSet: a new scale; STABILIZING until the controller finds it steady.
    pub fn rescale(&mut self, scale: Scale, now: DateTime<Utc>) {
        if self.scale != scale {
            self.scale = scale;
            self.updated_at = now;
            self.stabilizing(now);
        }
    }

    /// UpdateServicePrimaryTaskSet named this one.
    pub fn promote(&mut self, now: DateTime<Utc>) {
        if self.status == TaskSetStatus::Active {
            self.status = TaskSetStatus::Primary;
            self.updated_at = now;
        }
    }

    /// Another task set became the primary.
    pub fn demote(&mut self, now: DateTime<Utc>) {
        if self.status == TaskSetStatus::Primary {
            self.status = TaskSetStatus::Active;
            self.updated_at = now;
        }
    }

    /// DeleteTaskSet: DRAINING; its tasks stop, then it is gone.
    pub fn drain(&mut self, now: DateTime<Utc>) {
        if self.status != TaskSetStatus::Draining {
            self.status = TaskSetStatus::Draining;
            self.updated_at = now;
            self.stabilizing(now);
        }
    }

    /// What the controller found: steady or not. Whether that changed the stored status.
    pub fn observe(&mut self, steady: bool, now: DateTime<Utc>) -> bool {
        let status = if steady {
            StabilityStatus::SteadyState
        } else {
            StabilityStatus::Stabilizing
        };
        if self.stability_status == status {
            return false;
        }
        self.stability_status = status;
        self.stability_status_at = now;
        true
    }

    fn stabilizing(&mut self, now: DateTime<Utc>) {
        self.observe(false, now);
    }
}

/// Whether a task set with `running` tasks (all healthy, on ACTIVE instances, when
/// `all_healthy`) and `pending` ones is in a steady state for `computed` desired tasks:
/// ECS's definition of STEADY_STATE.
pub fn steady(computed: i64, running: i64, pending: i64, all_healthy: bool) -> bool {
    running == computed && pending == 0 && all_healthy
}

/// A task set id: a deployment id's shape (`ecs-svc/` and 19 digits).
pub fn new_task_set_id() -> String {
    super::new_deployment_id()
}

/// Check an `externalId`: at most 255 characters (Cloud Map's attribute value bound).
pub fn validate_external_id(id: &str) -> Result<()> {
    if id.chars().count() > 255 {
        return Err(ModelError::invalid(
            "externalId can be at most 255 characters long.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(scale: f64) -> TaskSet {
        TaskSet::create(
            NewTaskSet {
                id: "ecs-svc/1".into(),
                task_set_arn: "arn".into(),
                task_definition: "td".into(),
                launch_type: "EC2".into(),
                network_configuration: None,
                load_balancers: vec![],
                service_registries: vec![],
                scale: Scale::new(Some(scale), None).unwrap(),
                external_id: None,
                tags: vec![],
                client_token: None,
            },
            Utc::now(),
        )
    }

    #[test]
    fn computed_desired_count_rounds_up() {
        assert_eq!(set(100.0).computed_desired_count(4), 4);
        assert_eq!(set(50.0).computed_desired_count(3), 2);
        assert_eq!(set(30.0).computed_desired_count(4), 2);
        assert_eq!(set(0.0).computed_desired_count(10), 0);
        assert_eq!(set(100.0 / 3.0).computed_desired_count(3), 1);
        assert_eq!(set(10.0).computed_desired_count(0), 0);
        assert_eq!(set(0.1).computed_desired_count(1), 1);
    }

    #[test]
    fn a_draining_task_set_wants_nothing() {
        let mut t = set(100.0);
        t.drain(Utc::now());
        assert_eq!(t.status(), TaskSetStatus::Draining);
        assert_eq!(t.computed_desired_count(5), 0);
        // A draining task set is never made primary again.
        t.promote(Utc::now());
        assert_eq!(t.status(), TaskSetStatus::Draining);
    }

    #[test]
    fn promote_and_demote_move_between_primary_and_active() {
        let mut t = set(100.0);
        assert_eq!(t.status(), TaskSetStatus::Active);
        t.promote(Utc::now());
        assert_eq!(t.status(), TaskSetStatus::Primary);
        t.demote(Utc::now());
        assert_eq!(t.status(), TaskSetStatus::Active);
    }

    #[test]
    fn stability_changes_only_when_it_changes() {
        let mut t = set(100.0);
        assert_eq!(t.stability_status(), StabilityStatus::Stabilizing);
        let later = t.stability_status_at() + chrono::Duration::seconds(5);
        assert!(t.observe(true, later));
        assert_eq!(t.stability_status(), StabilityStatus::SteadyState);
        assert_eq!(t.stability_status_at(), later);
        assert!(!t.observe(true, later + chrono::Duration::seconds(1)));
        assert_eq!(t.stability_status_at(), later);
        // A new scale makes it stabilize again.
        t.rescale(Scale::new(Some(50.0), None).unwrap(), later);
        assert_eq!(t.stability_status(), StabilityStatus::Stabilizing);
    }

    #[test]
    fn steady_state_is_ecs_definition() {
        assert!(steady(2, 2, 0, true));
        assert!(!steady(2, 1, 1, true));
        assert!(!steady(2, 2, 0, false));
        assert!(!steady(2, 3, 0, true));
        assert!(steady(0, 0, 0, true));
    }

    #[test]
    fn scale_is_checked() {
        assert!(Scale::new(Some(-1.0), None).is_err());
        assert!(Scale::new(Some(100.5), None).is_err());
        assert!(Scale::new(Some(f64::NAN), None).is_err());
        assert!(Scale::new(Some(50.0), Some("COUNT")).is_err());
        assert_eq!(Scale::new(None, None).unwrap(), Scale::default());
    }

    #[test]
    fn controllers_parse() {
        assert_eq!(
            DeploymentController::parse("EXTERNAL").unwrap(),
            DeploymentController::External
        );
        assert!(DeploymentController::parse("BLUE").is_err());
    }

    proptest! {
        /// The computed count is never below the exact share nor a whole task above it,
        /// and never more than the desired count.
        #[test]
        fn computed_count_is_the_share_rounded_up(desired in 0i64..100_000, value in 0.0f64..=100.0) {
            let n = Scale::new(Some(value), None).unwrap().of(desired);
            let exact = desired as f64 * value / 100.0;
            prop_assert!(n as f64 >= exact - 1e-6);
            prop_assert!((n as f64) < exact + 1.0);
            prop_assert!(n <= desired);
        }
    }
}
