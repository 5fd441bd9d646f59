//! Target groups: create, find, modify (health check), attributes, delete.

use std::sync::Arc;

use chrono::Utc;
use flotilla_model::elbv2::target_group::{validate_attribute, ATTRIBUTE_DEFAULTS};
use flotilla_model::elbv2::{
    self, HealthCheck, TargetGroupProtocol, TargetGroupRecord, TargetType,
};
use flotilla_model::record::encode;
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::{ErrorKind, ModelError, Resource, Scope};
use flotilla_store::{Compare, Op, Txn};

use super::{arn_prefix, resource_of, ATTEMPTS};
use crate::{keys, ControlError, Entry, State};

/// What CreateTargetGroup asks for; health check fields left `None` take the defaults.
#[derive(Debug, Clone, Default)]
pub struct NewTargetGroup {
    pub name: String,
    pub protocol: Option<TargetGroupProtocol>,
    pub protocol_version: Option<String>,
    pub port: Option<u16>,
    pub vpc_id: Option<String>,
    pub target_type: Option<TargetType>,
    pub health_check: HealthCheckChange,
    pub ip_address_type: Option<String>,
    pub tags: Vec<Tag>,
}

/// Health check settings a request names (CreateTargetGroup, ModifyTargetGroup).
#[derive(Debug, Clone, Default)]
pub struct HealthCheckChange {
    pub enabled: Option<bool>,
    pub protocol: Option<TargetGroupProtocol>,
    /// `Some(None)`: `traffic-port`.
    pub port: Option<Option<u16>>,
    pub path: Option<String>,
    pub interval_seconds: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub healthy_threshold: Option<u32>,
    pub unhealthy_threshold: Option<u32>,
    pub matcher: Option<String>,
}

impl HealthCheckChange {
    fn apply(&self, hc: &mut HealthCheck) {
        if let Some(v) = self.enabled {
            hc.enabled = v;
        }
        if let Some(v) = self.protocol {
            hc.protocol = v;
        }
        if let Some(v) = self.port {
            hc.port = v;
        }
        if let Some(v) = &self.path {
            hc.path.clone_from(v);
        }
        if let Some(v) = self.interval_seconds {
            hc.interval_seconds = v;
        }
        if let Some(v) = self.timeout_seconds {
            hc.timeout_seconds = v;
        }
        if let Some(v) = self.healthy_threshold {
            hc.healthy_threshold = v;
        }
        if let Some(v) = self.unhealthy_threshold {
            hc.unhealthy_threshold = v;
        }
        if let Some(v) = &self.matcher {
            hc.matcher.clone_from(v);
        }
    }
}

fn not_found(what: &str) -> ControlError {
    ControlError::not_found(
        Resource::TargetGroup,
        format!("One or more target groups not found: {what}"),
    )
}

/// Create a target group, or return the one of that name when its settings are the same
/// (CreateTargetGroup is idempotent); DuplicateTargetGroupName when they differ.
pub async fn create(
    state: &State,
    scope: &Scope,
    new: NewTargetGroup,
) -> Result<TargetGroupRecord, ControlError> {
    elbv2::validate_name("Target group", &new.name)?;
    validate_tags(&new.tags)?;
    let protocol = new.protocol.ok_or_else(|| {
        ControlError::invalid("A protocol (HTTP or HTTPS) must be given for a target group")
    })?;
    let port = new.port.ok_or_else(|| {
        ControlError::invalid("A port must be given for a target group of type instance or ip")
    })?;
    if port == 0 {
        return Err(ControlError::invalid(
            "Target group port must be between 1 and 65535",
        ));
    }
    let protocol_version = new.protocol_version.unwrap_or_else(|| "HTTP1".into());
    if !["HTTP1", "HTTP2", "GRPC"].contains(&protocol_version.as_str()) {
        return Err(ControlError::invalid(format!(
            "Protocol version '{protocol_version}' must be HTTP1, HTTP2 or GRPC"
        )));
    }
    // A VPC named must exist; none named is the default VPC (AWS asks for one).
    let vpc_id = match new.vpc_id {
        Some(id) => {
            crate::ec2::check_vpc(state, scope, &id).await?;
            Some(id)
        }
        None => {
            crate::ec2::vpcs::ensure_defaults(state, scope).await?;
            crate::ec2::vpcs::default_vpc(state, scope).map(|v| v.vpc_id.clone())
        }
    };
    let mut health_check = HealthCheck::default_for(protocol);
    new.health_check.apply(&mut health_check);
    health_check.validate()?;
    let record = TargetGroupRecord {
        arn: String::new(),
        name: new.name.clone(),
        protocol,
        protocol_version,
        port,
        vpc_id,
        target_type: new.target_type.unwrap_or(TargetType::Instance),
        health_check,
        ip_address_type: new.ip_address_type.unwrap_or_else(|| "ipv4".into()),
        attributes: Default::default(),
        tags: new.tags,
        created_at: Utc::now(),
    };
    let key = keys::target_group(&scope.region, &new.name);
    for _ in 0..ATTEMPTS {
        if let Some(e) = state.elbv2().target_groups.get(key.as_bytes()) {
            let old = &e.value;
            let same = old.protocol == record.protocol
                && old.port == record.port
                && old.target_type == record.target_type
                && old.protocol_version == record.protocol_version
                && old.health_check == record.health_check;
            if same {
                return Ok((**old).clone());
            }
            return Err(ModelError::new(
                ErrorKind::AlreadyExists(Resource::TargetGroup),
                format!(
                    "A target group with the same name '{}' exists, but with different settings",
                    new.name
                ),
            )
            .into());
        }
        let mut record = record.clone();
        record.arn = format!(
            "{}targetgroup/{}/{}",
            arn_prefix(scope),
            new.name,
            elbv2::new_id()
        );
        if state.put_if_unchanged(&key, 0, encode(&record)).await? {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!(
        "The target group {} kept changing while it was being created; retry.",
        new.name
    )))
}

/// The name in a target group ARN of this scope.
pub(crate) fn name_of<'a>(scope: &Scope, arn: &'a str) -> Option<&'a str> {
    let rest = resource_of(scope, arn)?.strip_prefix("targetgroup/")?;
    let (name, id) = rest.split_once('/')?;
    (!id.is_empty() && !id.contains('/')).then_some(name)
}

/// The target group an ARN names; TargetGroupNotFound otherwise.
pub fn by_arn(
    state: &State,
    scope: &Scope,
    arn: &str,
) -> Result<Entry<TargetGroupRecord>, ControlError> {
    let name = name_of(scope, arn)
        .ok_or_else(|| ControlError::invalid(format!("'{arn}' is not a valid target group ARN")))?;
    state
        .elbv2()
        .target_groups
        .get(keys::target_group(&scope.region, name).as_bytes())
        .filter(|e| e.value.arn == arn)
        .ok_or_else(|| not_found(&format!("'{arn}'")))
}

pub fn by_name(
    state: &State,
    scope: &Scope,
    name: &str,
) -> Result<Entry<TargetGroupRecord>, ControlError> {
    state
        .elbv2()
        .target_groups
        .get(keys::target_group(&scope.region, name).as_bytes())
        .ok_or_else(|| not_found(&format!("'{name}'")))
}

/// The region's target groups, by name.
pub fn list(state: &State, scope: &Scope) -> Vec<Arc<TargetGroupRecord>> {
    state
        .elbv2()
        .target_groups
        .range(format!("{}{}/", keys::TARGET_GROUPS, scope.region).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// The ARNs of the load balancers whose listeners or rules forward to `arn`.
pub fn load_balancers_of(state: &State, scope: &Scope, arn: &str) -> Vec<String> {
    let mut out: Vec<String> = super::listeners::using_group(state, scope, arn)
        .into_iter()
        .map(|l| l.load_balancer_arn.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Delete a target group (and its registrations); ResourceInUse while a listener or rule
/// forwards to it. Deleting one that does not exist succeeds.
pub async fn delete(state: &State, scope: &Scope, arn: &str) -> Result<(), ControlError> {
    for _ in 0..ATTEMPTS {
        let entry = match by_arn(state, scope, arn) {
            Ok(e) => e,
            Err(ControlError::Model(e)) if e.kind == ErrorKind::NotFound(Resource::TargetGroup) => {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        if let Some(user) = super::listeners::using_group(state, scope, arn).first() {
            return Err(ModelError::new(
                ErrorKind::InUse,
                format!(
                    "Target group '{arn}' is currently in use by a listener or a rule ({})",
                    user.arn
                ),
            )
            .into());
        }
        let key = keys::target_group(&scope.region, &entry.value.name);
        let mut ops = vec![Op::delete(key.clone())];
        for (k, _) in state
            .elbv2()
            .targets
            .range(keys::targets_of(&scope.region, &entry.value.name).as_bytes())
            .iter()
        {
            ops.push(Op::delete(k.to_vec()));
        }
        let txn = Txn {
            compares: vec![Compare::unchanged(key, entry.mod_revision)],
            success: ops,
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!(
        "The target group {arn} kept changing while it was being deleted; retry."
    )))
}

/// Change a target group with `change` and write it back, retrying on a concurrent change.
pub async fn update(
    state: &State,
    scope: &Scope,
    arn: &str,
    change: impl FnMut(&mut TargetGroupRecord) -> Result<(), ControlError>,
) -> Result<TargetGroupRecord, ControlError> {
    let read = || {
        let entry = by_arn(state, scope, arn)?;
        Ok((keys::target_group(&scope.region, &entry.value.name), entry))
    };
    super::update_record(state, &format!("The target group {arn}"), read, change).await
}

/// ModifyTargetGroup: its health check.
pub async fn modify_health_check(
    state: &State,
    scope: &Scope,
    arn: &str,
    change: &HealthCheckChange,
) -> Result<TargetGroupRecord, ControlError> {
    update(state, scope, arn, |tg| {
        change.apply(&mut tg.health_check);
        tg.health_check.validate()?;
        Ok(())
    })
    .await
}

/// Set attributes (each checked); those equal to their default are no longer stored.
pub async fn modify_attributes(
    state: &State,
    scope: &Scope,
    arn: &str,
    attributes: &[(String, String)],
) -> Result<TargetGroupRecord, ControlError> {
    if attributes.is_empty() {
        return Err(ControlError::invalid(
            "At least one attribute must be given",
        ));
    }
    for (k, v) in attributes {
        validate_attribute(k, v)?;
    }
    update(state, scope, arn, |tg| {
        super::set_attributes(&mut tg.attributes, ATTRIBUTE_DEFAULTS, attributes);
        Ok(())
    })
    .await
}

/// Check a service's `loadBalancers` entry as ECS does: its target group exists and a
/// load balancer's listener or rule forwards to it.
pub fn check_for_service(state: &State, scope: &Scope, arn: &str) -> Result<(), ControlError> {
    let found = by_arn(state, scope, arn)
        .map_err(|_| ControlError::invalid(format!("Unable to find target group '{arn}'.")))?;
    if load_balancers_of(state, scope, &found.value.arn).is_empty() {
        return Err(ControlError::invalid(format!(
            "The target group with targetGroupArn {arn} does not have an associated load balancer."
        )));
    }
    Ok(())
}
