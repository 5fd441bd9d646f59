//! VPCs: create (with the VPC's default security group, in one transaction), describe,
//! delete (refused while subnets or other security groups remain), and the default VPC of
//! a region with one default subnet per availability zone ([`ensure_defaults`]), made the
//! first time anything of EC2 is asked of the region and when an agent reports a new zone.

use std::sync::Arc;

use flotilla_model::ec2::cidr::Cidr;
use flotilla_model::ec2::filter::Filter;
use flotilla_model::ec2::rules::{Peer, Permission, SgRule};
use flotilla_model::ec2::{
    Ec2Tag, ResourceType, SecurityGroupRecord, SubnetRecord, VpcRecord, DEFAULT_GROUP_NAME,
    DEFAULT_SUBNET_PREFIX, MAX_VPCS,
};
use flotilla_model::record::encode;
use flotilla_model::Scope;
use flotilla_store::{Compare, Op, Txn};

use super::{
    check_id, check_tags, new_id, select, zones, DefaultVpcMark, Ec2Error, Quota, ATTEMPTS,
};
use crate::{keys, ControlError, Entry, State};

/// The VPC `id` names.
pub fn get(state: &State, scope: &Scope, id: &str) -> Result<Entry<VpcRecord>, Ec2Error> {
    check_id(ResourceType::Vpc, id)?;
    state
        .ec2()
        .vpcs
        .get(keys::vpc(&scope.region, id).as_bytes())
        .ok_or_else(|| Ec2Error::not_found(ResourceType::Vpc, id))
}

/// The region's default VPC, if it has one.
pub fn default_vpc(state: &State, scope: &Scope) -> Option<Arc<VpcRecord>> {
    let mark = state
        .ec2()
        .defaults
        .get(keys::default_vpc(&scope.region).as_bytes())?;
    get(state, scope, &mark.value.vpc_id).ok().map(|e| e.value)
}

/// DescribeVpcs.
pub async fn list(
    state: &State,
    scope: &Scope,
    ids: &[String],
    filters: &[Filter],
) -> Result<Vec<Arc<VpcRecord>>, Ec2Error> {
    ensure_defaults(state, scope).await?;
    select(
        &state.ec2().vpcs,
        keys::vpc,
        scope,
        ResourceType::Vpc,
        ids,
        filters,
    )
}

/// The default security group every VPC is made with: all traffic from its own members
/// in, all traffic out.
fn default_group(scope: &Scope, vpc_id: &str, group_id: &str) -> SecurityGroupRecord {
    let all = Permission::new("-1", None, None).unwrap_or(Permission {
        protocol: flotilla_model::ec2::rules::Protocol::All,
        from_port: -1,
        to_port: -1,
    });
    SecurityGroupRecord {
        group_id: group_id.to_string(),
        group_name: DEFAULT_GROUP_NAME.into(),
        description: "default VPC security group".into(),
        vpc_id: vpc_id.to_string(),
        owner_id: scope.account.clone(),
        ingress: vec![SgRule {
            id: new_id(ResourceType::SecurityGroupRule),
            permission: all,
            peer: Peer::Group(group_id.to_string()),
            description: None,
            tags: vec![],
        }],
        egress: vec![super::security_groups::allow_all_out()],
        tags: vec![],
    }
}

/// The writes that make a VPC with its default security group.
fn vpc_ops(scope: &Scope, vpc: &VpcRecord) -> (Vec<Compare>, Vec<Op>) {
    let group = default_group(scope, &vpc.vpc_id, &vpc.default_security_group_id);
    let keys = [
        keys::vpc(&scope.region, &vpc.vpc_id),
        keys::security_group(&scope.region, &group.group_id),
        keys::security_group_name(&scope.region, &vpc.vpc_id, DEFAULT_GROUP_NAME),
    ];
    let compares = keys.iter().map(|k| Compare::absent(k.clone())).collect();
    let ops = vec![
        Op::put(keys[0].clone(), encode(vpc)),
        Op::put(keys[1].clone(), encode(&group)),
        Op::put(keys[2].clone(), group.group_id.clone().into_bytes()),
    ];
    (compares, ops)
}

/// CreateVpc: a block of /16 to /28.
pub async fn create(
    state: &State,
    scope: &Scope,
    cidr_block: &str,
    tags: Vec<Ec2Tag>,
) -> Result<VpcRecord, Ec2Error> {
    ensure_defaults(state, scope).await?;
    let cidr: Cidr = cidr_block.parse().map_err(|_| {
        Ec2Error::InvalidParameter(format!(
            "Value ({cidr_block}) for parameter cidrBlock is invalid. This is not a valid CIDR \
             block."
        ))
    })?;
    if !(16..=28).contains(&cidr.prefix()) {
        return Err(Ec2Error::Range(
            ResourceType::Vpc,
            format!("The CIDR '{cidr_block}' is invalid: a VPC's block must be /16 to /28."),
        ));
    }
    check_tags(&tags)?;
    let count = state
        .ec2()
        .vpcs
        .count_prefix(keys::vpc(&scope.region, "").as_bytes());
    if count >= MAX_VPCS {
        return Err(Ec2Error::Limit(
            Quota::Vpcs,
            format!("The maximum number of VPCs ({MAX_VPCS}) has been reached."),
        ));
    }
    let vpc = VpcRecord {
        vpc_id: new_id(ResourceType::Vpc),
        owner_id: scope.account.clone(),
        cidr_block: cidr,
        is_default: false,
        default_security_group_id: new_id(ResourceType::SecurityGroup),
        tags,
        generation: 0,
    };
    let (compares, success) = vpc_ops(scope, &vpc);
    let txn = Txn {
        compares,
        success,
        failure: vec![],
    };
    if !state.commit(txn).await?.succeeded {
        return Err(ControlError::Contended("A new VPC id was taken; retry.".into()).into());
    }
    Ok(vpc)
}

/// DeleteVpc: refused while it holds subnets or security groups other than its default
/// one; the default group goes with it.
pub async fn delete(state: &State, scope: &Scope, id: &str) -> Result<(), Ec2Error> {
    for _ in 0..ATTEMPTS {
        let vpc = get(state, scope, id)?;
        let views = state.ec2();
        let subnets = views
            .subnets
            .range(keys::subnet(&scope.region, "").as_bytes());
        let groups = views
            .security_groups
            .range(keys::security_group(&scope.region, "").as_bytes());
        let has_subnet = subnets.iter().any(|(_, s)| s.value.vpc_id == id);
        let has_group = groups.iter().any(|(_, g)| {
            g.value.vpc_id == id && g.value.group_id != vpc.value.default_security_group_id
        });
        if has_subnet || has_group {
            return Err(Ec2Error::InUse(format!(
                "The vpc '{id}' has dependencies and cannot be deleted."
            )));
        }
        let vpc_key = keys::vpc(&scope.region, id);
        let group_key = keys::security_group(&scope.region, &vpc.value.default_security_group_id);
        let mut compares = vec![Compare::unchanged(vpc_key.clone(), vpc.mod_revision)];
        if let Some(g) = views.security_groups.get(group_key.as_bytes()) {
            compares.push(Compare::unchanged(group_key.clone(), g.mod_revision));
        }
        let txn = Txn {
            compares,
            success: vec![
                Op::delete(vpc_key),
                Op::delete(group_key),
                Op::delete(keys::security_group_name(
                    &scope.region,
                    id,
                    DEFAULT_GROUP_NAME,
                )),
            ],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!("The VPC {id} kept changing; retry.")).into())
}

/// Make the region's default VPC if it never had one (a default VPC deleted by the user
/// stays deleted, as on EC2), then a default subnet for each zone that has none.
pub async fn ensure_defaults(state: &State, scope: &Scope) -> Result<(), Ec2Error> {
    let mark_key = keys::default_vpc(&scope.region);
    if state.ec2().defaults.get(mark_key.as_bytes()).is_none() {
        let cidr: Cidr = state.config().default_vpc_cidr;
        let vpc = VpcRecord {
            vpc_id: new_id(ResourceType::Vpc),
            owner_id: scope.account.clone(),
            cidr_block: cidr,
            is_default: true,
            default_security_group_id: new_id(ResourceType::SecurityGroup),
            tags: vec![],
            generation: 0,
        };
        let (mut compares, mut success) = vpc_ops(scope, &vpc);
        compares.push(Compare::absent(mark_key.clone()));
        let mark = DefaultVpcMark {
            vpc_id: vpc.vpc_id.clone(),
        };
        success.push(Op::put(mark_key, encode(&mark)));
        // Losing the race to another server is fine: its default VPC is the region's.
        let result = state
            .commit(Txn {
                compares,
                success,
                failure: vec![],
            })
            .await?;
        if result.succeeded {
            tracing::info!(region = %scope.region, vpc = %vpc.vpc_id, "made the default VPC");
        } else {
            state.caught_up(result.revision).await?;
        }
    }
    let Some(vpc) = default_vpc(state, scope) else {
        return Ok(());
    };
    for zone in zones(state, scope) {
        ensure_default_subnet(state, scope, &vpc.vpc_id, &zone).await?;
    }
    Ok(())
}

/// Give the default VPC a default subnet in `zone` unless it has one: the first /20 of its
/// block that no subnet overlaps.
async fn ensure_default_subnet(
    state: &State,
    scope: &Scope,
    vpc_id: &str,
    zone: &str,
) -> Result<(), Ec2Error> {
    let has = |state: &State| {
        state
            .ec2()
            .subnets
            .range(keys::subnet(&scope.region, "").as_bytes())
            .iter()
            .any(|(_, s)| {
                s.value.vpc_id == vpc_id
                    && s.value.default_for_az
                    && s.value.availability_zone == zone
            })
    };
    if has(state) {
        return Ok(());
    }
    for _ in 0..ATTEMPTS {
        let vpc = get(state, scope, vpc_id)?;
        let taken = super::subnets::blocks_of(state, scope, vpc_id);
        let free = (0..)
            .map_while(|i| vpc.value.cidr_block.subdivision(DEFAULT_SUBNET_PREFIX, i))
            .find(|c| !taken.iter().any(|t| t.overlaps(c)));
        let Some(cidr) = free else {
            tracing::warn!(%zone, vpc = %vpc_id, "no free block left for a default subnet");
            return Ok(());
        };
        let subnet = SubnetRecord {
            subnet_id: new_id(ResourceType::Subnet),
            vpc_id: vpc_id.to_string(),
            owner_id: scope.account.clone(),
            cidr_block: cidr,
            availability_zone: zone.to_string(),
            default_for_az: true,
            map_public_ip_on_launch: true,
            tags: vec![],
        };
        if super::subnets::put_new(state, scope, &vpc, &subnet).await? {
            tracing::info!(%zone, subnet = %subnet.subnet_id, %cidr, "made a default subnet");
            return Ok(());
        }
        if has(state) {
            return Ok(());
        }
    }
    Err(ControlError::Contended(format!("The VPC {vpc_id} kept changing; retry.")).into())
}
