//! Load balancers: create (with its own address and DNS name), find, delete (with its
//! listeners and rules), attributes and state.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Utc;
use flotilla_model::elbv2::load_balancer::validate_attribute;
use flotilla_model::elbv2::{self, LbState, LoadBalancerRecord};
use flotilla_model::record::encode;
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::{ErrorKind, ModelError, Resource, Scope};
use flotilla_store::{Compare, Op, Txn};

use super::{arn_prefix, resource_of, ATTEMPTS};
use crate::{keys, ControlError, Entry, State};

/// What CreateLoadBalancer asks for.
#[derive(Debug, Clone, Default)]
pub struct NewLoadBalancer {
    pub name: String,
    pub scheme: Option<String>,
    pub ip_address_type: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub tags: Vec<Tag>,
}

fn not_found(what: &str) -> ControlError {
    ControlError::not_found(
        Resource::LoadBalancer,
        format!("One or more load balancers not found: {what}"),
    )
}

/// Create a load balancer, or return the one of that name when it has the same settings
/// (CreateLoadBalancer is idempotent); DuplicateLoadBalancerName when they differ.
pub async fn create(
    state: &State,
    scope: &Scope,
    new: NewLoadBalancer,
) -> Result<LoadBalancerRecord, ControlError> {
    elbv2::validate_name("Load balancer", &new.name)?;
    validate_tags(&new.tags)?;
    let scheme = new.scheme.unwrap_or_else(|| "internet-facing".into());
    if !["internet-facing", "internal"].contains(&scheme.as_str()) {
        return Err(ControlError::invalid(format!(
            "Scheme '{scheme}' must be 'internet-facing' or 'internal'"
        )));
    }
    let ip_address_type = new.ip_address_type.unwrap_or_else(|| "ipv4".into());
    if !["ipv4", "dualstack"].contains(&ip_address_type.as_str()) {
        return Err(ControlError::invalid(format!(
            "IP address type '{ip_address_type}' must be 'ipv4' or 'dualstack'"
        )));
    }
    let network =
        crate::ec2::resolve_network(state, scope, &new.subnets, &new.security_groups).await?;
    let subnets: Vec<String> = network
        .subnets
        .iter()
        .map(|s| s.subnet_id.clone())
        .collect();
    let key = keys::load_balancer(&scope.region, &new.name);
    for _ in 0..ATTEMPTS {
        if let Some(e) = state.elbv2().load_balancers.get(key.as_bytes()) {
            let same = e.value.scheme == scheme
                && (new.subnets.is_empty() || e.value.subnets == subnets)
                && (new.security_groups.is_empty()
                    || e.value.security_groups == new.security_groups);
            if same {
                return Ok((*e.value).clone());
            }
            return Err(ModelError::new(
                ErrorKind::AlreadyExists(Resource::LoadBalancer),
                format!(
                    "A load balancer with the name '{}' already exists with other settings",
                    new.name
                ),
            )
            .into());
        }
        let taken: Vec<IpAddr> = state
            .elbv2()
            .load_balancers
            .range(keys::LOAD_BALANCERS.as_bytes())
            .iter()
            .map(|(_, e)| e.value.address)
            .collect();
        let pool = &state.config().lb_addresses;
        let address = pool.pick(&taken).ok_or_else(|| {
            ControlError::from(ModelError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "Every address of the load balancer address range {pool} is taken; \
                     delete a load balancer or start the server with a wider --lb-bind"
                ),
            ))
        })?;
        let id = elbv2::new_id();
        let record = LoadBalancerRecord {
            arn: format!("{}loadbalancer/app/{}/{id}", arn_prefix(scope), new.name),
            dns_name: format!(
                "{}-{id}.{}.elb.{}",
                new.name,
                scope.region,
                state.config().lb_dns_suffix
            )
            .to_ascii_lowercase(),
            id,
            name: new.name.clone(),
            address,
            scheme: scheme.clone(),
            ip_address_type: ip_address_type.clone(),
            vpc_id: network.vpc_id.clone(),
            subnets: subnets.clone(),
            security_groups: network.security_groups.clone(),
            state: LbState::Provisioning,
            attributes: Default::default(),
            tags: new.tags.clone(),
            created_at: Utc::now(),
        };
        if state.put_if_unchanged(&key, 0, encode(&record)).await? {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!(
        "The load balancer {} kept changing while it was being created; retry.",
        new.name
    )))
}

/// The name in a load balancer ARN of this scope.
fn name_of<'a>(scope: &Scope, arn: &'a str) -> Option<&'a str> {
    let rest = resource_of(scope, arn)?.strip_prefix("loadbalancer/app/")?;
    let (name, id) = rest.split_once('/')?;
    (!id.is_empty() && !id.contains('/')).then_some(name)
}

/// The load balancer an ARN names; LoadBalancerNotFound otherwise.
pub fn by_arn(
    state: &State,
    scope: &Scope,
    arn: &str,
) -> Result<Entry<LoadBalancerRecord>, ControlError> {
    let name = name_of(scope, arn).ok_or_else(|| {
        ControlError::invalid(format!("'{arn}' is not a valid load balancer ARN"))
    })?;
    state
        .elbv2()
        .load_balancers
        .get(keys::load_balancer(&scope.region, name).as_bytes())
        .filter(|e| e.value.arn == arn)
        .ok_or_else(|| not_found(&format!("'{arn}'")))
}

pub fn by_name(
    state: &State,
    scope: &Scope,
    name: &str,
) -> Result<Entry<LoadBalancerRecord>, ControlError> {
    state
        .elbv2()
        .load_balancers
        .get(keys::load_balancer(&scope.region, name).as_bytes())
        .ok_or_else(|| not_found(&format!("'{name}'")))
}

/// The region's load balancers, by name.
pub fn list(state: &State, scope: &Scope) -> Vec<Arc<LoadBalancerRecord>> {
    state
        .elbv2()
        .load_balancers
        .range(format!("{}{}/", keys::LOAD_BALANCERS, scope.region).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// Delete a load balancer with its listeners and their rules. Deleting one that does not
/// exist succeeds, as on AWS; one with deletion protection is refused.
pub async fn delete(state: &State, scope: &Scope, arn: &str) -> Result<(), ControlError> {
    for _ in 0..ATTEMPTS {
        let entry = match by_arn(state, scope, arn) {
            Ok(e) => e,
            Err(ControlError::Model(e))
                if e.kind == ErrorKind::NotFound(Resource::LoadBalancer) =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        if entry.value.deletion_protected() {
            return Err(ModelError::new(
                ErrorKind::Conflict,
                format!(
                    "Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
                ),
            )
            .into());
        }
        let key = keys::load_balancer(&scope.region, &entry.value.name);
        let mut compares = vec![Compare::unchanged(key.clone(), entry.mod_revision)];
        let mut ops = vec![Op::delete(key)];
        let listeners = state
            .elbv2()
            .listeners
            .range(keys::listeners_of(&scope.region, &entry.value.id).as_bytes());
        for (k, l) in listeners.iter() {
            compares.push(Compare::unchanged(k.to_vec(), l.mod_revision));
            ops.push(Op::delete(k.to_vec()));
            let lid = l.value.arn.rsplit('/').next().unwrap_or_default();
            for (rk, _) in state
                .elbv2()
                .rules
                .range(keys::rules_of(&scope.region, lid).as_bytes())
                .iter()
            {
                ops.push(Op::delete(rk.to_vec()));
            }
        }
        let txn = Txn {
            compares,
            success: ops,
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!(
        "The load balancer {arn} kept changing while it was being deleted; retry."
    )))
}

/// Change a load balancer with `change` and write it back, retrying on a concurrent change.
pub async fn update(
    state: &State,
    scope: &Scope,
    arn: &str,
    change: impl FnMut(&mut LoadBalancerRecord) -> Result<(), ControlError>,
) -> Result<LoadBalancerRecord, ControlError> {
    let read = || {
        let entry = by_arn(state, scope, arn)?;
        Ok((keys::load_balancer(&scope.region, &entry.value.name), entry))
    };
    super::update_record(state, &format!("The load balancer {arn}"), read, change).await
}

/// Set attributes (each checked); those equal to their default are no longer stored.
pub async fn modify_attributes(
    state: &State,
    scope: &Scope,
    arn: &str,
    attributes: &[(String, String)],
) -> Result<LoadBalancerRecord, ControlError> {
    if attributes.is_empty() {
        return Err(ControlError::invalid(
            "At least one attribute must be given",
        ));
    }
    for (k, v) in attributes {
        validate_attribute(k, v)?;
    }
    update(state, scope, arn, |lb| {
        super::set_attributes(
            &mut lb.attributes,
            elbv2::load_balancer::ATTRIBUTE_DEFAULTS,
            attributes,
        );
        Ok(())
    })
    .await
}

/// Mark every provisioning load balancer active: the data plane serves what the feed
/// publishes, and the feed publishes every load balancer it finds. Run by the leader.
pub async fn activate(state: &State) -> Result<(), ControlError> {
    let pending: Vec<_> = state
        .elbv2()
        .load_balancers
        .range(keys::LOAD_BALANCERS.as_bytes())
        .iter()
        .filter(|(_, e)| e.value.state == LbState::Provisioning)
        .map(|(k, e)| (k.clone(), e.clone()))
        .collect();
    for (key, entry) in pending {
        let mut record = (*entry.value).clone();
        record.state = LbState::Active;
        let key = String::from_utf8_lossy(&key).into_owned();
        state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?;
    }
    Ok(())
}
