//! Application Auto Scaling's resource types: scalable targets with their bounded
//! activities ([`target`]), scaling policies ([`policy`]) and scheduled actions with
//! their schedules ([`schedule`]), and the rules for the names, resource ids and ARNs
//! they carry (here).
//!
//! Flotilla scales one dimension: an ECS service's desired count (`ecs` /
//! `ecs:service:DesiredCount`, resource id `service/CLUSTER/SERVICE`). Nothing here
//! stores or acts; the control plane does (`flotilla-control`'s `autoscaling`).

pub mod policy;
pub mod schedule;
pub mod target;

pub use policy::{
    AlarmRef, Customized, PolicyConfig, Predefined, ScalingPolicyRecord, StepAdjustment,
    StepScaling, TargetTracking, TrackedMetric,
};
pub use schedule::{Schedule, ScheduledActionRecord};
pub use target::{
    Activity, ActivityStatus, InvokedAt, NotScaledReason, ScalableTargetRecord, ScaleMark,
    SuspendedState, MAX_ACTIVITIES,
};

/// The one service namespace served.
pub const NAMESPACE: &str = "ecs";
/// The one scalable dimension served.
pub const DIMENSION: &str = "ecs:service:DesiredCount";
/// The service namespaces the API model knows (the others are refused with a message).
pub const KNOWN_NAMESPACES: &[&str] = &[
    "ecs",
    "elasticmapreduce",
    "ec2",
    "appstream",
    "dynamodb",
    "rds",
    "sagemaker",
    "custom-resource",
    "comprehend",
    "lambda",
    "cassandra",
    "kafka",
    "elasticache",
    "neptune",
    "workspaces",
];
/// Target tracking's cooldowns when none is given, for ECS (seconds).
pub const DEFAULT_COOLDOWN: i64 = 300;
/// Policies per scalable target (AWS's quota).
pub const MAX_POLICIES: usize = 50;
/// Scheduled actions per scalable target (AWS's quota).
pub const MAX_SCHEDULED: usize = 200;
/// Scalable targets per region for one namespace (AWS's quota).
pub const MAX_TARGETS: usize = 3000;
/// Tags per scalable target.
pub const MAX_TAGS: usize = 50;

/// A request broke one of Application Auto Scaling's rules; the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

pub type Result<T, E = Invalid> = std::result::Result<T, E>;

fn invalid<T>(message: impl Into<String>) -> Result<T> {
    Err(Invalid(message.into()))
}

/// The ECS service a resource id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsService {
    pub cluster: String,
    pub service: String,
}

/// Check a namespace and dimension pair: only ECS services' desired count is served.
pub fn check_dimension(namespace: &str, dimension: &str) -> Result<()> {
    if !KNOWN_NAMESPACES.contains(&namespace) {
        return invalid(format!(
            "1 validation error detected: Value '{namespace}' at 'serviceNamespace' failed to \
             satisfy constraint: Member must satisfy enum value set: [{}]",
            KNOWN_NAMESPACES.join(", ")
        ));
    }
    if namespace != NAMESPACE {
        return invalid(format!(
            "Unsupported service namespace {namespace}: Flotilla scales ECS services only \
             (ServiceNamespace ecs, ScalableDimension {DIMENSION})."
        ));
    }
    if dimension != DIMENSION {
        return invalid(format!(
            "Unsupported scalable dimension {dimension} for service namespace ecs: use \
             {DIMENSION}."
        ));
    }
    Ok(())
}

/// Read `service/CLUSTER/SERVICE`.
pub fn parse_resource_id(id: &str) -> Result<EcsService> {
    let parts: Vec<&str> = id.split('/').collect();
    match parts.as_slice() {
        ["service", cluster, service]
            if !cluster.is_empty()
                && !service.is_empty()
                && crate::cluster::validate_name(cluster).is_ok() =>
        {
            Ok(EcsService {
                cluster: cluster.to_string(),
                service: service.to_string(),
            })
        }
        _ => invalid(format!(
            "Unsupported resource ID {id}: an ECS service's resource ID is \
             service/CLUSTER_NAME/SERVICE_NAME."
        )),
    }
}

/// A policy or scheduled action name: 1 to 256 printable characters (`what` names the
/// member in the message); scheduled action names also refuse `:`, `/`, `|` and leading
/// or trailing spaces.
pub fn check_name(what: &str, name: &str, scheduled: bool) -> Result<()> {
    let len = name.chars().count();
    if !(1..=256).contains(&len) {
        return invalid(format!(
            "{what} must be 1 to 256 characters long; got {len}."
        ));
    }
    if name.chars().any(char::is_control) {
        return invalid(format!("{what} must not contain control characters."));
    }
    if scheduled && (name.contains([':', '/', '|']) || name.starts_with(' ') || name.ends_with(' '))
    {
        return invalid(format!(
            "{what} must not contain ':', '/' or '|', nor start or end with a space."
        ));
    }
    Ok(())
}

/// A capacity: a non-negative integer.
pub fn check_capacity(what: &str, n: i64) -> Result<()> {
    if !(0..=i64::from(i32::MAX)).contains(&n) {
        return invalid(format!("{what} must be a non-negative integer; got {n}."));
    }
    Ok(())
}

/// MinCapacity must not exceed MaxCapacity.
pub fn check_bounds(min: i64, max: i64) -> Result<()> {
    check_capacity("MinCapacity", min)?;
    check_capacity("MaxCapacity", max)?;
    if min > max {
        return invalid(format!(
            "Minimum capacity ({min}) cannot be greater than maximum capacity ({max})."
        ));
    }
    Ok(())
}

/// Tags: keys 1 to 128 characters, values up to 256, at most [`MAX_TAGS`], no `aws:` keys.
pub fn check_tags<'a>(tags: impl IntoIterator<Item = (&'a String, &'a String)>) -> Result<()> {
    let mut n = 0;
    for (k, v) in tags {
        n += 1;
        if !(1..=128).contains(&k.chars().count()) {
            return invalid(format!("Tag key {k:?} must be 1 to 128 characters long."));
        }
        if v.chars().count() > 256 {
            return invalid(format!(
                "The value of tag {k:?} must be at most 256 characters long."
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return invalid(format!("Tag key {k:?} uses the reserved prefix aws:."));
        }
    }
    if n > MAX_TAGS {
        return invalid(format!(
            "A scalable target can have at most {MAX_TAGS} tags; got {n}."
        ));
    }
    Ok(())
}

/// `arn:aws:application-autoscaling:REGION:ACCOUNT:scalable-target/ID`.
pub fn target_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:application-autoscaling:{region}:{account}:scalable-target/{id}")
}

/// The id in a scalable target ARN of this region and account.
pub fn target_id_of_arn<'a>(arn: &'a str, region: &str, account: &str) -> Option<&'a str> {
    arn.strip_prefix(&target_arn(region, account, ""))
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// `arn:aws:autoscaling:REGION:ACCOUNT:scalingPolicy:UUID:resource/ecs/RESOURCE:policyName/NAME`.
pub fn policy_arn(region: &str, account: &str, uuid: &str, resource: &str, name: &str) -> String {
    format!(
        "arn:aws:autoscaling:{region}:{account}:scalingPolicy:{uuid}:resource/ecs/{resource}:policyName/{name}"
    )
}

/// `arn:aws:autoscaling:REGION:ACCOUNT:scheduledAction:UUID:resource/ecs/RESOURCE:scheduledActionName/NAME`.
pub fn scheduled_arn(
    region: &str,
    account: &str,
    uuid: &str,
    resource: &str,
    name: &str,
) -> String {
    format!(
        "arn:aws:autoscaling:{region}:{account}:scheduledAction:{uuid}:resource/ecs/{resource}:scheduledActionName/{name}"
    )
}

/// The role Application Auto Scaling uses for ECS when none is given.
pub fn service_linked_role(account: &str) -> String {
    format!(
        "arn:aws:iam::{account}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
    )
}

#[cfg(test)]
mod tests;
