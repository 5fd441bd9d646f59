//! EC2's networking subset: [`vpcs`] (with each region's default VPC and its default
//! subnets), [`subnets`], [`security_groups`] and their rules, and [`tags`] on all of them;
//! [`firewall`] maps security groups to what a host enforces.
//! [`check_network`] is what ECS, ELBv2 and Cloud Map call to check the subnet, security
//! group and VPC ids they are given.
//!
//! One record per VPC, subnet and security group (`keys.rs`); a group's rules live in its
//! record. Writes that must not race with each other are one transaction: a subnet with
//! its VPC's generation (no two subnets get overlapping blocks), a security group with its
//! name's key (no two groups of one VPC share a name), a VPC with its default security
//! group. Errors are [`Ec2Error`], which `flotilla-api` maps to EC2's codes in one place.

pub mod firewall;
pub mod interfaces;
pub mod security_groups;
pub mod subnets;
pub mod tags;
pub mod vpcs;

use std::collections::BTreeSet;
use std::sync::Arc;

use flotilla_model::ec2::filter::{self, Filter, Filterable};
use flotilla_model::ec2::interface::NetworkInterfaceRecord;
use flotilla_model::ec2::{
    Ec2Tag, ResourceType, SecurityGroupRecord, SubnetRecord, VpcRecord, BUILTIN_ZONE,
};
use flotilla_model::Scope;
use flotilla_store::view::View;
use flotilla_store::{Revision, Store, StoreError};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::{keys, ControlError, State};

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 16;

/// Why an EC2 operation failed, in terms the wire mapping picks EC2's codes by.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Ec2Error {
    /// A parameter's value is malformed or out of range (InvalidParameterValue).
    #[error("{0}")]
    InvalidParameter(String),
    /// A required parameter is missing (MissingParameter).
    #[error("{0}")]
    Missing(String),
    /// Parameters that may not be given together (InvalidParameterCombination).
    #[error("{0}")]
    Combination(String),
    /// An id not of the form its kind has (InvalidVpcID.Malformed, InvalidID, ...).
    #[error("{1}")]
    Malformed(Option<ResourceType>, String),
    /// No resource has this id (InvalidVpcID.NotFound, InvalidGroup.NotFound, ...).
    #[error("{1}")]
    NotFound(ResourceType, String),
    /// A security group of that name exists in the VPC (InvalidGroup.Duplicate).
    #[error("{0}")]
    DuplicateGroup(String),
    /// The rule exists already (InvalidPermission.Duplicate).
    #[error("{0}")]
    DuplicateRule(String),
    /// A CIDR block a VPC or a subnet may not have (InvalidVpc.Range, InvalidSubnet.Range).
    #[error("{1}")]
    Range(ResourceType, String),
    /// A subnet's block overlaps another subnet's (InvalidSubnet.Conflict).
    #[error("{0}")]
    Conflict(String),
    /// Something depends on the resource (DependencyViolation).
    #[error("{0}")]
    InUse(String),
    /// A default security group cannot be deleted (CannotDelete).
    #[error("{0}")]
    CannotDelete(String),
    /// A quota was reached.
    #[error("{1}")]
    Limit(Quota, String),
    /// The control plane failed (the store, a contended write, shutdown).
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// EC2's quotas, each with its own error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    Vpcs,
    Subnets,
    SecurityGroups,
    RulesPerGroup,
    Tags,
}

impl Ec2Error {
    /// Whether sending the same request again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Ec2Error::Control(e) => e.is_retriable(),
            _ => false,
        }
    }

    /// EC2's not-found error for an id of `kind`, worded as EC2 words it.
    pub fn not_found(kind: ResourceType, id: &str) -> Ec2Error {
        let message = match kind {
            ResourceType::Vpc => format!("The vpc ID '{id}' does not exist"),
            ResourceType::Subnet => format!("The subnet ID '{id}' does not exist"),
            ResourceType::SecurityGroup => format!("The security group '{id}' does not exist"),
            ResourceType::SecurityGroupRule => {
                format!("The security group rule ID '{id}' does not exist")
            }
            ResourceType::NetworkInterface => {
                format!("The networkInterface ID '{id}' does not exist")
            }
        };
        Ec2Error::NotFound(kind, message)
    }
}

/// How another service's operation sees an EC2 error: a missing or malformed id as its
/// kind's not-found (ELBv2 answers SubnetNotFound, InvalidSecurityGroup), the rest as an
/// invalid parameter.
impl From<Ec2Error> for ControlError {
    fn from(e: Ec2Error) -> Self {
        use flotilla_model::{ErrorKind, ModelError, Resource};
        let resource = |kind: ResourceType| match kind {
            ResourceType::Vpc => Resource::Vpc,
            ResourceType::Subnet => Resource::Subnet,
            ResourceType::SecurityGroup | ResourceType::SecurityGroupRule => {
                Resource::SecurityGroup
            }
            ResourceType::NetworkInterface => Resource::Other,
        };
        match e {
            Ec2Error::Control(c) => c,
            Ec2Error::NotFound(kind, m) | Ec2Error::Malformed(Some(kind), m) => {
                ModelError::new(ErrorKind::NotFound(resource(kind)), m).into()
            }
            other => ControlError::invalid(other.to_string()),
        }
    }
}

impl From<StoreError> for Ec2Error {
    fn from(e: StoreError) -> Self {
        Ec2Error::Control(e.into())
    }
}

/// The record written once per region with its default VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultVpcMark {
    pub vpc_id: String,
}

impl flotilla_model::record::Record for DefaultVpcMark {
    const KIND: &'static str = "ec2-default-vpc";
    const VERSION: u32 = 1;
}

/// EC2's views.
pub struct Views {
    pub vpcs: View<VpcRecord>,
    pub subnets: View<SubnetRecord>,
    pub security_groups: View<SecurityGroupRecord>,
    pub defaults: View<DefaultVpcMark>,
    pub interfaces: View<NetworkInterfaceRecord>,
}

impl Views {
    pub(crate) async fn start(store: &Arc<dyn Store>) -> Result<Views, StoreError> {
        let p = |s: &str| s.as_bytes().to_vec();
        use crate::state::decoder as d;
        Ok(Views {
            vpcs: View::start(store.clone(), p(keys::VPCS), d).await?,
            subnets: View::start(store.clone(), p(keys::SUBNETS), d).await?,
            security_groups: View::start(store.clone(), p(keys::SECURITY_GROUPS), d).await?,
            defaults: View::start(store.clone(), p(keys::DEFAULT_VPC), d).await?,
            interfaces: View::start(store.clone(), p(keys::NETWORK_INTERFACES), d).await?,
        })
    }

    pub(crate) async fn wait_for(&self, rev: Revision) -> Result<(), StoreError> {
        let (a, b, c, d, e) = tokio::join!(
            self.vpcs.wait_for(rev),
            self.subnets.wait_for(rev),
            self.security_groups.wait_for(rev),
            self.defaults.wait_for(rev),
            self.interfaces.wait_for(rev),
        );
        a.and(b).and(c).and(d).and(e)
    }
}

/// A new id of `kind`: its prefix and 17 random hexadecimal digits.
pub(crate) fn new_id(kind: ResourceType) -> String {
    let n: u128 = rand::rng().random::<u128>() & ((1u128 << 68) - 1);
    format!("{}-{n:017x}", kind.prefix())
}

/// Refuse `id` unless it is well-formed for `kind`.
pub(crate) fn check_id(kind: ResourceType, id: &str) -> Result<(), Ec2Error> {
    if flotilla_model::ec2::is_id(kind, id) {
        Ok(())
    } else {
        Err(Ec2Error::Malformed(
            Some(kind),
            format!("Invalid id: \"{id}\" (expecting \"{}-...\")", kind.prefix()),
        ))
    }
}

/// The records of one region under `prefix_of(region, "")`, filtered: every id in `ids`
/// must exist (else `kind`'s not-found error naming it), and only those are answered when
/// any are given; `filters` must use names the kind knows.
pub(crate) fn select<T: Filterable + Default>(
    view: &View<T>,
    prefix_of: fn(&str, &str) -> String,
    scope: &Scope,
    kind: ResourceType,
    ids: &[String],
    filters: &[Filter],
) -> Result<Vec<Arc<T>>, Ec2Error> {
    filter::check(filters, &T::default())
        .map_err(|name| Ec2Error::InvalidParameter(format!("The filter '{name}' is invalid")))?;
    let mut out = Vec::new();
    if ids.is_empty() {
        out.extend(
            view.range(prefix_of(&scope.region, "").as_bytes())
                .iter()
                .map(|(_, e)| e.value.clone()),
        );
    } else {
        let unique: BTreeSet<&String> = ids.iter().collect();
        for id in unique {
            check_id(kind, id)?;
            let entry = view
                .get(prefix_of(&scope.region, id).as_bytes())
                .ok_or_else(|| Ec2Error::not_found(kind, id))?;
            out.push(entry.value);
        }
    }
    out.retain(|r| filter::passes(filters, r.as_ref()));
    Ok(out)
}

/// The availability zones of a region: the built-in one, those its container instances
/// report, and those its subnets are in.
pub fn zones(state: &State, scope: &Scope) -> BTreeSet<String> {
    let mut zones = BTreeSet::from([BUILTIN_ZONE.to_string()]);
    let instances = state
        .instances()
        .range(keys::container_instances_of_region(&scope.region).as_bytes());
    zones.extend(instances.iter().filter_map(|(_, e)| {
        e.value
            .attribute("ecs.availability-zone")
            .filter(|z| !z.is_empty())
            .map(String::from)
    }));
    let subnets = state
        .ec2()
        .subnets
        .range(keys::subnet(&scope.region, "").as_bytes());
    zones.extend(
        subnets
            .iter()
            .map(|(_, e)| e.value.availability_zone.clone()),
    );
    zones
}

/// What a network configuration named, once checked: the VPC its subnets are in and the
/// security groups (the VPC's default group when none was named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedNetwork {
    pub vpc_id: String,
    pub subnets: Vec<Arc<SubnetRecord>>,
    pub security_groups: Vec<String>,
}

/// Check the subnets and security groups a task, a service or a load balancer is given:
/// each must exist in the region, the subnets must all be in one VPC, and the groups in
/// that VPC. No group named means the VPC's default group.
pub async fn check_network(
    state: &State,
    scope: &Scope,
    subnets: &[String],
    groups: &[String],
) -> Result<CheckedNetwork, Ec2Error> {
    vpcs::ensure_defaults(state, scope).await?;
    let views = state.ec2();
    let mut found = Vec::new();
    for id in subnets {
        check_id(ResourceType::Subnet, id)?;
        let entry = views
            .subnets
            .get(keys::subnet(&scope.region, id).as_bytes())
            .ok_or_else(|| Ec2Error::not_found(ResourceType::Subnet, id))?;
        found.push(entry.value);
    }
    let Some(first) = found.first() else {
        return Err(Ec2Error::Missing(
            "At least one subnet must be given.".into(),
        ));
    };
    let vpc_id = first.vpc_id.clone();
    if let Some(other) = found.iter().find(|s| s.vpc_id != vpc_id) {
        return Err(Ec2Error::InvalidParameter(format!(
            "The subnets must all be in one VPC: {} is in {vpc_id} and {} in {}.",
            first.subnet_id, other.subnet_id, other.vpc_id
        )));
    }
    let mut security_groups = Vec::new();
    for id in groups {
        check_id(ResourceType::SecurityGroup, id)?;
        let group = views
            .security_groups
            .get(keys::security_group(&scope.region, id).as_bytes())
            .ok_or_else(|| Ec2Error::not_found(ResourceType::SecurityGroup, id))?;
        if group.value.vpc_id != vpc_id {
            return Err(Ec2Error::InvalidParameter(format!(
                "The security group {id} is in {}, not in the subnets' VPC {vpc_id}.",
                group.value.vpc_id
            )));
        }
        security_groups.push(id.clone());
    }
    if security_groups.is_empty() {
        let vpc = vpcs::get(state, scope, &vpc_id)?;
        security_groups.push(vpc.value.default_security_group_id.clone());
    }
    Ok(CheckedNetwork {
        vpc_id,
        subnets: found,
        security_groups,
    })
}

/// The network a load balancer (or anything else that may omit it) is given: what
/// [`check_network`] finds for the subnets named, or with none named the default VPC's
/// default subnets, and its default security group unless groups are named.
pub async fn resolve_network(
    state: &State,
    scope: &Scope,
    subnets: &[String],
    groups: &[String],
) -> Result<CheckedNetwork, Ec2Error> {
    if !subnets.is_empty() {
        return check_network(state, scope, subnets, groups).await;
    }
    vpcs::ensure_defaults(state, scope).await?;
    let vpc = vpcs::default_vpc(state, scope).ok_or_else(|| {
        Ec2Error::Missing("The region has no default VPC; name the subnets.".into())
    })?;
    let defaults: Vec<String> = state
        .ec2()
        .subnets
        .range(keys::subnet(&scope.region, "").as_bytes())
        .iter()
        .filter(|(_, s)| s.value.vpc_id == vpc.vpc_id && s.value.default_for_az)
        .map(|(_, s)| s.value.subnet_id.clone())
        .collect();
    check_network(state, scope, &defaults, groups).await
}

/// Whether `id` names a VPC of the region (what a target group or a Cloud Map namespace
/// may be given).
pub async fn check_vpc(state: &State, scope: &Scope, id: &str) -> Result<(), Ec2Error> {
    vpcs::ensure_defaults(state, scope).await?;
    check_id(ResourceType::Vpc, id)?;
    vpcs::get(state, scope, id).map(drop)
}

/// Check a request's tags (TagSpecifications or CreateTags).
pub(crate) fn check_tags(tags: &[Ec2Tag]) -> Result<(), Ec2Error> {
    if tags.len() > flotilla_model::ec2::MAX_TAGS {
        return Err(Ec2Error::Limit(
            Quota::Tags,
            format!(
                "The maximum number of tags per resource ({}) would be exceeded.",
                flotilla_model::ec2::MAX_TAGS
            ),
        ));
    }
    tags.iter()
        .try_for_each(flotilla_model::ec2::check_tag)
        .map_err(Ec2Error::InvalidParameter)
}

#[cfg(test)]
mod tests;
