//! Subnets: create (a block of /16 to /28 inside the VPC's, overlapping none of its other
//! subnets, in a zone the region has), describe, delete (refused while a load balancer is
//! in it). A subnet is written with its VPC's generation bumped in the same transaction,
//! so two subnets made at once can never overlap.

use std::sync::Arc;

use flotilla_model::ec2::cidr::Cidr;
use flotilla_model::ec2::filter::Filter;
use flotilla_model::ec2::{Ec2Tag, ResourceType, SubnetRecord, VpcRecord, MAX_SUBNETS_PER_VPC};
use flotilla_model::record::encode;
use flotilla_model::Scope;
use flotilla_store::{Compare, Op, Txn};

use super::{check_id, check_tags, new_id, select, vpcs, zones, Ec2Error, Quota, ATTEMPTS};
use crate::{keys, ControlError, Entry, State};

/// The subnet `id` names.
pub fn get(state: &State, scope: &Scope, id: &str) -> Result<Entry<SubnetRecord>, Ec2Error> {
    check_id(ResourceType::Subnet, id)?;
    state
        .ec2()
        .subnets
        .get(keys::subnet(&scope.region, id).as_bytes())
        .ok_or_else(|| Ec2Error::not_found(ResourceType::Subnet, id))
}

/// DescribeSubnets.
pub async fn list(
    state: &State,
    scope: &Scope,
    ids: &[String],
    filters: &[Filter],
) -> Result<Vec<Arc<SubnetRecord>>, Ec2Error> {
    vpcs::ensure_defaults(state, scope).await?;
    select(
        &state.ec2().subnets,
        keys::subnet,
        scope,
        ResourceType::Subnet,
        ids,
        filters,
    )
}

/// The blocks of the VPC's subnets.
pub(crate) fn blocks_of(state: &State, scope: &Scope, vpc_id: &str) -> Vec<Cidr> {
    state
        .ec2()
        .subnets
        .range(keys::subnet(&scope.region, "").as_bytes())
        .iter()
        .filter(|(_, s)| s.value.vpc_id == vpc_id)
        .map(|(_, s)| s.value.cidr_block)
        .collect()
}

/// Write a new subnet if its VPC did not change since `vpc` was read (the VPC's
/// generation goes up with it); false when it did, with the views caught up to the change.
pub(crate) async fn put_new(
    state: &State,
    scope: &Scope,
    vpc: &Entry<VpcRecord>,
    subnet: &SubnetRecord,
) -> Result<bool, Ec2Error> {
    let region = &scope.region;
    let vpc_key = keys::vpc(region, &vpc.value.vpc_id);
    let subnet_key = keys::subnet(region, &subnet.subnet_id);
    let mut bumped = (*vpc.value).clone();
    bumped.generation += 1;
    let txn = Txn {
        compares: vec![
            Compare::unchanged(vpc_key.clone(), vpc.mod_revision),
            Compare::absent(subnet_key.clone()),
        ],
        success: vec![
            Op::put(vpc_key, encode(&bumped)),
            Op::put(subnet_key, encode(subnet)),
        ],
        failure: vec![],
    };
    let result = state.commit(txn).await?;
    if !result.succeeded {
        state.caught_up(result.revision).await?;
    }
    Ok(result.succeeded)
}

/// What CreateSubnet is given.
#[derive(Debug, Clone, Default)]
pub struct NewSubnet {
    pub vpc_id: String,
    pub cidr_block: String,
    /// A zone of the region; the first of its zones when absent.
    pub availability_zone: Option<String>,
    pub tags: Vec<Ec2Tag>,
}

/// CreateSubnet.
pub async fn create(
    state: &State,
    scope: &Scope,
    new: NewSubnet,
) -> Result<SubnetRecord, Ec2Error> {
    vpcs::ensure_defaults(state, scope).await?;
    let cidr: Cidr = new.cidr_block.parse().map_err(|_| {
        Ec2Error::InvalidParameter(format!(
            "Value ({}) for parameter cidrBlock is invalid. This is not a valid CIDR block.",
            new.cidr_block
        ))
    })?;
    check_tags(&new.tags)?;
    let known = zones(state, scope);
    let zone = match &new.availability_zone {
        Some(z) if known.contains(z) => z.clone(),
        Some(z) => {
            return Err(Ec2Error::InvalidParameter(format!(
                "Value ({z}) for parameter availabilityZone is invalid. Subnets can currently \
                 only be created in the following availability zones: {}.",
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            )))
        }
        None => known.iter().next().cloned().unwrap_or_default(),
    };
    for _ in 0..ATTEMPTS {
        let vpc = vpcs::get(state, scope, &new.vpc_id)?;
        if !(16..=28).contains(&cidr.prefix()) || !vpc.value.cidr_block.contains(&cidr) {
            return Err(Ec2Error::Range(
                ResourceType::Subnet,
                format!(
                    "The CIDR '{cidr}' is invalid: a subnet's block must be /16 to /28 and \
                     inside its VPC's block {}.",
                    vpc.value.cidr_block
                ),
            ));
        }
        let taken = blocks_of(state, scope, &new.vpc_id);
        if taken.iter().any(|t| t.overlaps(&cidr)) {
            return Err(Ec2Error::Conflict(format!(
                "The CIDR '{cidr}' conflicts with another subnet"
            )));
        }
        if taken.len() >= MAX_SUBNETS_PER_VPC {
            return Err(Ec2Error::Limit(
                Quota::Subnets,
                format!(
                    "The maximum number of subnets per VPC ({MAX_SUBNETS_PER_VPC}) has been \
                     reached."
                ),
            ));
        }
        let subnet = SubnetRecord {
            subnet_id: new_id(ResourceType::Subnet),
            vpc_id: new.vpc_id.clone(),
            owner_id: scope.account.clone(),
            cidr_block: cidr,
            availability_zone: zone.clone(),
            default_for_az: false,
            map_public_ip_on_launch: false,
            tags: new.tags.clone(),
        };
        if put_new(state, scope, &vpc, &subnet).await? {
            return Ok(subnet);
        }
    }
    Err(ControlError::Contended(format!("The VPC {} kept changing; retry.", new.vpc_id)).into())
}

/// DeleteSubnet: refused while a load balancer or a task is in it.
pub async fn delete(state: &State, scope: &Scope, id: &str) -> Result<(), Ec2Error> {
    for _ in 0..ATTEMPTS {
        let subnet = get(state, scope, id)?;
        let in_use = state
            .elbv2()
            .load_balancers
            .range(keys::load_balancer(&scope.region, "").as_bytes())
            .iter()
            .any(|(_, lb)| lb.value.subnets.iter().any(|s| s == id))
            || !super::interfaces::list(state, scope, id).is_empty();
        if in_use {
            return Err(Ec2Error::InUse(format!(
                "The subnet '{id}' has dependencies and cannot be deleted."
            )));
        }
        let vpc = vpcs::get(state, scope, &subnet.value.vpc_id)?;
        let vpc_key = keys::vpc(&scope.region, &vpc.value.vpc_id);
        let subnet_key = keys::subnet(&scope.region, id);
        let mut bumped = (*vpc.value).clone();
        bumped.generation += 1;
        let txn = Txn {
            compares: vec![
                Compare::unchanged(vpc_key.clone(), vpc.mod_revision),
                Compare::unchanged(subnet_key.clone(), subnet.mod_revision),
            ],
            success: vec![Op::put(vpc_key, encode(&bumped)), Op::delete(subnet_key)],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!("The subnet {id} kept changing; retry.")).into())
}
