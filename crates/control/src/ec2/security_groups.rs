//! Security groups and their rules: create (with EC2's allow-all egress rule), describe,
//! delete (refused for a VPC's default group and while another group's rule or a load
//! balancer names it), authorize and revoke in either direction (all of a request's rules
//! or none), and the rules one by one as DescribeSecurityGroupRules shows them.

use std::collections::BTreeSet;
use std::sync::Arc;

use flotilla_model::ec2::cidr::Cidr;
use flotilla_model::ec2::filter::{self, Filter};
use flotilla_model::ec2::rules::{
    check_description, Peer, Permission, Protocol, SgRule, MAX_RULES_PER_DIRECTION,
};
use flotilla_model::ec2::{
    Ec2Tag, ResourceType, RuleOf, SecurityGroupRecord, DEFAULT_GROUP_NAME, MAX_SECURITY_GROUPS,
};
use flotilla_model::record::encode;
use flotilla_model::Scope;
use flotilla_store::{Compare, Op, Txn};

use super::{check_id, check_tags, new_id, select, vpcs, Ec2Error, Quota, ATTEMPTS};
use crate::{keys, ControlError, Entry, State};

/// EC2's egress rule of every new group: all traffic to anywhere.
pub(crate) fn allow_all_out() -> SgRule {
    SgRule {
        id: new_id(ResourceType::SecurityGroupRule),
        permission: Permission {
            protocol: Protocol::All,
            from_port: -1,
            to_port: -1,
        },
        peer: Peer::Cidr(Cidr::default()),
        description: None,
        tags: vec![],
    }
}

/// The security group `id` names.
pub fn get(state: &State, scope: &Scope, id: &str) -> Result<Entry<SecurityGroupRecord>, Ec2Error> {
    check_id(ResourceType::SecurityGroup, id)?;
    state
        .ec2()
        .security_groups
        .get(keys::security_group(&scope.region, id).as_bytes())
        .ok_or_else(|| Ec2Error::not_found(ResourceType::SecurityGroup, id))
}

/// The group of `name` in VPC `vpc_id`.
fn by_name(
    state: &State,
    scope: &Scope,
    vpc_id: &str,
    name: &str,
) -> Option<Entry<SecurityGroupRecord>> {
    state
        .ec2()
        .security_groups
        .range(keys::security_group(&scope.region, "").as_bytes())
        .iter()
        .find(|(_, g)| g.value.vpc_id == vpc_id && g.value.group_name == name)
        .map(|(_, g)| g.clone())
}

/// A group named by id or, in the default VPC, by name (as the requests that take a
/// `GroupName` allow).
pub fn resolve(
    state: &State,
    scope: &Scope,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<Entry<SecurityGroupRecord>, Ec2Error> {
    match (id, name) {
        (Some(id), _) => get(state, scope, id),
        (None, Some(name)) => {
            let vpc = vpcs::default_vpc(state, scope).ok_or_else(|| {
                Ec2Error::Missing(format!(
                    "There is no default VPC to find the security group '{name}' in; name \
                     the group by its GroupId."
                ))
            })?;
            by_name(state, scope, &vpc.vpc_id, name).ok_or_else(|| {
                Ec2Error::NotFound(
                    ResourceType::SecurityGroup,
                    format!(
                        "The security group '{name}' does not exist in default VPC '{}'",
                        vpc.vpc_id
                    ),
                )
            })
        }
        (None, None) => Err(Ec2Error::Missing(
            "The request must contain the parameter groupId or groupName".into(),
        )),
    }
}

/// DescribeSecurityGroups: by ids, by names (of the default VPC), by filters.
pub async fn list(
    state: &State,
    scope: &Scope,
    ids: &[String],
    names: &[String],
    filters: &[Filter],
) -> Result<Vec<Arc<SecurityGroupRecord>>, Ec2Error> {
    vpcs::ensure_defaults(state, scope).await?;
    let mut found = select(
        &state.ec2().security_groups,
        keys::security_group,
        scope,
        ResourceType::SecurityGroup,
        ids,
        filters,
    )?;
    if !names.is_empty() {
        for name in names {
            resolve(state, scope, None, Some(name))?;
        }
        found.retain(|g| {
            names.contains(&g.group_name)
                && vpcs::default_vpc(state, scope).is_some_and(|v| v.vpc_id == g.vpc_id)
        });
    }
    Ok(found)
}

/// What CreateSecurityGroup is given.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    pub name: String,
    pub description: String,
    /// The default VPC when absent.
    pub vpc_id: Option<String>,
    pub tags: Vec<Ec2Tag>,
}

/// A group's name and description: 1-255 characters each, the description of
/// `a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*`; a name may not be `sg-*` or `default`.
fn check_group(new: &NewGroup) -> Result<(), Ec2Error> {
    let len = new.name.chars().count();
    if len == 0 || len > 255 {
        return Err(Ec2Error::InvalidParameter(format!(
            "Invalid security group name '{}': it must be 1 to 255 characters long.",
            new.name
        )));
    }
    if new.name.starts_with("sg-") {
        return Err(Ec2Error::InvalidParameter(
            "Group names may not be in the format sg-*".into(),
        ));
    }
    if new.name == DEFAULT_GROUP_NAME {
        return Err(Ec2Error::InvalidParameter(
            "Cannot use reserved security group name: default".into(),
        ));
    }
    if new.description.is_empty() {
        return Err(Ec2Error::Missing(
            "The request must contain the parameter groupDescription".into(),
        ));
    }
    check_description(&new.description).map_err(|_| {
        Ec2Error::InvalidParameter(format!(
            "Invalid security group description '{}': at most 255 characters of a-z, A-Z, \
             0-9, spaces and ._-:/()#,@[]+=&;{{}}!$*.",
            new.description
        ))
    })
}

/// CreateSecurityGroup.
pub async fn create(
    state: &State,
    scope: &Scope,
    new: NewGroup,
) -> Result<SecurityGroupRecord, Ec2Error> {
    vpcs::ensure_defaults(state, scope).await?;
    check_group(&new)?;
    check_tags(&new.tags)?;
    let vpc_id = match &new.vpc_id {
        Some(id) => vpcs::get(state, scope, id)?.value.vpc_id.clone(),
        None => vpcs::default_vpc(state, scope)
            .ok_or_else(|| Ec2Error::Missing("No default VPC for this user; name a VpcId.".into()))?
            .vpc_id
            .clone(),
    };
    let count = state
        .ec2()
        .security_groups
        .count_prefix(keys::security_group(&scope.region, "").as_bytes());
    if count >= MAX_SECURITY_GROUPS {
        return Err(Ec2Error::Limit(
            Quota::SecurityGroups,
            format!(
                "The maximum number of security groups ({MAX_SECURITY_GROUPS}) has been \
                 reached."
            ),
        ));
    }
    let group = SecurityGroupRecord {
        group_id: new_id(ResourceType::SecurityGroup),
        group_name: new.name.clone(),
        description: new.description.clone(),
        vpc_id: vpc_id.clone(),
        owner_id: scope.account.clone(),
        ingress: vec![],
        egress: vec![allow_all_out()],
        tags: new.tags,
    };
    let key = keys::security_group(&scope.region, &group.group_id);
    let name_key = keys::security_group_name(&scope.region, &vpc_id, &new.name);
    let txn = Txn {
        compares: vec![
            Compare::absent(key.clone()),
            Compare::absent(name_key.clone()),
        ],
        success: vec![
            Op::put(key, encode(&group)),
            Op::put(name_key, group.group_id.clone().into_bytes()),
        ],
        failure: vec![],
    };
    if !state.commit(txn).await?.succeeded {
        return Err(Ec2Error::DuplicateGroup(format!(
            "The security group '{}' already exists for VPC '{vpc_id}'",
            new.name
        )));
    }
    Ok(group)
}

/// DeleteSecurityGroup: not a default group, and not while another group's rule or a
/// load balancer names it.
pub async fn delete(
    state: &State,
    scope: &Scope,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<String, Ec2Error> {
    for _ in 0..ATTEMPTS {
        let group = resolve(state, scope, id, name)?;
        let g = &group.value;
        if g.group_name == DEFAULT_GROUP_NAME {
            return Err(Ec2Error::CannotDelete(format!(
                "the specified group: \"{}\" name: \"default\" cannot be deleted by a user",
                g.group_id
            )));
        }
        let referenced = state
            .ec2()
            .security_groups
            .range(keys::security_group(&scope.region, "").as_bytes())
            .iter()
            .any(|(_, other)| {
                other.value.group_id != g.group_id && other.value.references(&g.group_id)
            });
        let on_lb = state
            .elbv2()
            .load_balancers
            .range(keys::load_balancer(&scope.region, "").as_bytes())
            .iter()
            .any(|(_, lb)| lb.value.security_groups.contains(&g.group_id));
        let on_task = !super::interfaces::addresses_in_group(state, scope, &g.group_id).is_empty();
        if referenced || on_lb || on_task {
            return Err(Ec2Error::InUse(format!(
                "resource {} has a dependent object",
                g.group_id
            )));
        }
        let key = keys::security_group(&scope.region, &g.group_id);
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), group.mod_revision)],
            success: vec![
                Op::delete(key),
                Op::delete(keys::security_group_name(
                    &scope.region,
                    &g.vpc_id,
                    &g.group_name,
                )),
            ],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(g.group_id.clone());
        }
    }
    Err(ControlError::Contended("The security group kept changing; retry.".into()).into())
}

/// A rule's peer as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewPeer {
    Cidr(String),
    /// Another group, by id or (in the same VPC) by name.
    Group {
        id: Option<String>,
        name: Option<String>,
    },
}

/// One rule of an authorize or revoke request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    pub permission: Permission,
    pub peer: NewPeer,
    pub description: Option<String>,
}

/// The peer `peer` names, for a rule of `group`.
fn resolve_peer(
    state: &State,
    scope: &Scope,
    group: &SecurityGroupRecord,
    peer: &NewPeer,
) -> Result<Peer, Ec2Error> {
    match peer {
        NewPeer::Cidr(text) => text
            .parse::<Cidr>()
            .map(Peer::Cidr)
            .map_err(|_| Ec2Error::InvalidParameter(format!("CIDR block {text} is malformed"))),
        NewPeer::Group { id: Some(id), .. } => {
            let other = get(state, scope, id)?;
            if other.value.vpc_id != group.vpc_id {
                return Err(Ec2Error::NotFound(
                    ResourceType::SecurityGroup,
                    format!(
                        "You have specified two resources that belong to different networks: \
                         {} is in {} and {id} in {}.",
                        group.group_id, group.vpc_id, other.value.vpc_id
                    ),
                ));
            }
            Ok(Peer::Group(id.clone()))
        }
        NewPeer::Group {
            id: None,
            name: Some(name),
        } => by_name(state, scope, &group.vpc_id, name)
            .map(|g| Peer::Group(g.value.group_id.clone()))
            .ok_or_else(|| {
                Ec2Error::NotFound(
                    ResourceType::SecurityGroup,
                    format!(
                        "The security group '{name}' does not exist in VPC '{}'",
                        group.vpc_id
                    ),
                )
            }),
        NewPeer::Group {
            id: None,
            name: None,
        } => Err(Ec2Error::Missing(
            "A rule's group pair must name a GroupId or a GroupName.".into(),
        )),
    }
}

/// Change a group with `change` and write it back, retrying on a concurrent change.
pub(crate) async fn update<T>(
    state: &State,
    scope: &Scope,
    id: Option<&str>,
    name: Option<&str>,
    mut change: impl FnMut(&mut SecurityGroupRecord) -> Result<T, Ec2Error>,
) -> Result<(SecurityGroupRecord, T), Ec2Error> {
    for _ in 0..ATTEMPTS {
        let entry = resolve(state, scope, id, name)?;
        let mut group = (*entry.value).clone();
        let out = change(&mut group)?;
        let key = keys::security_group(&scope.region, &group.group_id);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&group))
            .await?
        {
            return Ok((group, out));
        }
    }
    Err(ControlError::Contended("The security group kept changing; retry.".into()).into())
}

/// AuthorizeSecurityGroupIngress / Egress: every rule is added, or none (a duplicate, a
/// missing peer group or the quota refuses the whole request). Answers the new rules.
pub async fn authorize(
    state: &State,
    scope: &Scope,
    group: (Option<&str>, Option<&str>),
    egress: bool,
    rules: Vec<NewRule>,
    tags: Vec<Ec2Tag>,
) -> Result<(SecurityGroupRecord, Vec<SgRule>), Ec2Error> {
    if rules.is_empty() {
        return Err(Ec2Error::Missing(
            "No permissions given: name an IpPermissions entry (or IpProtocol with CidrIp or \
             a source group)."
                .into(),
        ));
    }
    check_tags(&tags)?;
    for rule in &rules {
        if let Some(d) = &rule.description {
            check_description(d).map_err(Ec2Error::InvalidParameter)?;
        }
    }
    update(state, scope, group.0, group.1, |g| {
        let mut added = Vec::new();
        for rule in &rules {
            let peer = resolve_peer(state, scope, g, &rule.peer)?;
            let list = if egress { &g.egress } else { &g.ingress };
            if list
                .iter()
                .chain(&added)
                .any(|r: &SgRule| r.same_as(&rule.permission, &peer))
            {
                return Err(Ec2Error::DuplicateRule(SgRule::duplicate_message(
                    &rule.permission,
                    &peer,
                )));
            }
            added.push(SgRule {
                id: new_id(ResourceType::SecurityGroupRule),
                permission: rule.permission,
                peer,
                description: rule.description.clone(),
                tags: tags.clone(),
            });
        }
        let list = if egress {
            &mut g.egress
        } else {
            &mut g.ingress
        };
        if list.len() + added.len() > MAX_RULES_PER_DIRECTION {
            return Err(Ec2Error::Limit(
                Quota::RulesPerGroup,
                "The maximum number of rules per security group has been reached.".into(),
            ));
        }
        list.extend(added.iter().cloned());
        Ok(added)
    })
    .await
}

/// What a revoke removed, and the rules it named that the group does not have.
#[derive(Debug, Clone, Default)]
pub struct Revoked {
    pub revoked: Vec<SgRule>,
    pub unknown: Vec<NewRule>,
}

/// RevokeSecurityGroupIngress / Egress: by rule ids (each must be one of the group's rules
/// in that direction) or by permissions (those the group does not have are answered as
/// unknown, as EC2 does).
pub async fn revoke(
    state: &State,
    scope: &Scope,
    group: (Option<&str>, Option<&str>),
    egress: bool,
    rule_ids: &[String],
    rules: Vec<NewRule>,
) -> Result<Revoked, Ec2Error> {
    if rule_ids.is_empty() && rules.is_empty() {
        return Err(Ec2Error::Missing(
            "Name the rules to revoke: SecurityGroupRuleIds or IpPermissions.".into(),
        ));
    }
    let (_, out) = update(state, scope, group.0, group.1, |g| {
        let mut out = Revoked::default();
        let gid = g.group_id.clone();
        for id in rule_ids {
            check_id(ResourceType::SecurityGroupRule, id)?;
            let list = if egress {
                &mut g.egress
            } else {
                &mut g.ingress
            };
            let Some(i) = list.iter().position(|r| r.id == *id) else {
                return Err(Ec2Error::NotFound(
                    ResourceType::SecurityGroupRule,
                    format!(
                        "The security group rule ID '{id}' does not exist in {} rules of {gid}",
                        if egress { "the egress" } else { "the ingress" }
                    ),
                ));
            };
            out.revoked.push(list.remove(i));
        }
        for rule in &rules {
            let peer = match resolve_peer(state, scope, g, &rule.peer) {
                Ok(p) => p,
                Err(Ec2Error::NotFound(..)) => {
                    out.unknown.push(rule.clone());
                    continue;
                }
                Err(e) => return Err(e),
            };
            let list = if egress {
                &mut g.egress
            } else {
                &mut g.ingress
            };
            match list.iter().position(|r| r.same_as(&rule.permission, &peer)) {
                Some(i) => out.revoked.push(list.remove(i)),
                None => out.unknown.push(rule.clone()),
            }
        }
        Ok(out)
    })
    .await?;
    Ok(out)
}

/// A rule as DescribeSecurityGroupRules answers it.
#[derive(Debug, Clone)]
pub struct RuleEntry {
    pub group: Arc<SecurityGroupRecord>,
    pub rule: SgRule,
    pub egress: bool,
}

/// DescribeSecurityGroupRules: by rule ids, by filters (`group-id`,
/// `security-group-rule-id`, tags).
pub async fn rules(
    state: &State,
    scope: &Scope,
    ids: &[String],
    filters: &[Filter],
) -> Result<Vec<RuleEntry>, Ec2Error> {
    vpcs::ensure_defaults(state, scope).await?;
    let sample = SecurityGroupRecord::default();
    let sample_rule = allow_all_out();
    filter::check(
        filters,
        &RuleOf {
            group: &sample,
            rule: &sample_rule,
            egress: false,
        },
    )
    .map_err(|name| Ec2Error::InvalidParameter(format!("The filter '{name}' is invalid")))?;
    for id in ids {
        check_id(ResourceType::SecurityGroupRule, id)?;
    }
    let groups = state
        .ec2()
        .security_groups
        .range(keys::security_group(&scope.region, "").as_bytes());
    let mut out = Vec::new();
    for (_, g) in groups.iter() {
        for (rule, egress) in g.value.rules() {
            let of = RuleOf {
                group: &g.value,
                rule,
                egress,
            };
            if (ids.is_empty() || ids.contains(&rule.id)) && filter::passes(filters, &of) {
                out.push(RuleEntry {
                    group: g.value.clone(),
                    rule: rule.clone(),
                    egress,
                });
            }
        }
    }
    if let Some(missing) = ids.iter().find(|id| !out.iter().any(|r| r.rule.id == **id)) {
        return Err(Ec2Error::not_found(
            ResourceType::SecurityGroupRule,
            missing,
        ));
    }
    Ok(out)
}

/// Whether `permission` admits TCP traffic to `port`.
fn admits_tcp(permission: &Permission, port: u16) -> bool {
    match permission.protocol {
        Protocol::All => true,
        Protocol::Tcp => (permission.from_port..=permission.to_port).contains(&i32::from(port)),
        _ => false,
    }
}

/// The addresses that are members of security group `group_id` in `scope`: the awsvpc
/// tasks it is attached to, and for each load balancer it is attached to, the listener
/// address and the addresses the load balancer connects to targets from (the hosts' own
/// address on each subnet of its VPC: a load balancer reaches a task through the host's
/// bridge for the task's subnet).
pub fn members(state: &State, scope: &Scope, group_id: &str) -> BTreeSet<std::net::Ipv4Addr> {
    let mut out: BTreeSet<_> = super::interfaces::addresses_in_group(state, scope, group_id)
        .into_iter()
        .collect();
    let lbs = state
        .elbv2()
        .load_balancers
        .range(keys::load_balancer(&scope.region, "").as_bytes());
    let mut vpcs = BTreeSet::new();
    for (_, lb) in lbs.iter() {
        if !lb.value.security_groups.iter().any(|g| g == group_id) {
            continue;
        }
        // Its address on every running server.
        for address in crate::nodes::addresses(state, lb.value.address) {
            if let std::net::IpAddr::V4(a) = address {
                out.insert(a);
            }
        }
        vpcs.insert(lb.value.vpc_id.clone());
    }
    if !vpcs.is_empty() {
        let subnets = state
            .ec2()
            .subnets
            .range(keys::subnet(&scope.region, "").as_bytes());
        out.extend(
            subnets
                .iter()
                .filter(|(_, s)| vpcs.contains(&s.value.vpc_id))
                .filter_map(|(_, s)| flotilla_model::ec2::interface::gateway(&s.value.cidr_block)),
        );
    }
    out
}

/// The client addresses a load balancer in `groups` admits on TCP `port`: every CIDR
/// their ingress rules allow there, and the member addresses of each group they name.
/// `None` when it admits anyone: it has no group, only its VPC's default group (AWS's
/// default group admits only its own members, which would shut out every client; a load
/// balancer that names no group is open, as it was before security groups existed), or
/// only groups EC2 does not know (ids stored before the EC2 API checked them).
pub fn listener_sources(
    state: &State,
    scope: &Scope,
    vpc_id: &str,
    groups: &[String],
    port: u16,
) -> Option<Vec<Cidr>> {
    let default_only = match groups {
        [] => true,
        [one] => {
            vpcs::get(state, scope, vpc_id).is_ok_and(|v| v.value.default_security_group_id == *one)
        }
        _ => false,
    };
    if default_only {
        return None;
    }
    let known: Vec<_> = groups
        .iter()
        .filter_map(|id| get(state, scope, id).ok())
        .collect();
    if known.is_empty() {
        return None;
    }
    let mut sources = Vec::new();
    for group in known {
        for rule in group
            .value
            .ingress
            .iter()
            .filter(|r| admits_tcp(&r.permission, port))
        {
            match &rule.peer {
                Peer::Cidr(c) => sources.push(*c),
                Peer::Group(g) => sources.extend(
                    members(state, scope, g)
                        .into_iter()
                        .filter_map(|a| Cidr::new(a, 32)),
                ),
            }
        }
    }
    sources.sort();
    sources.dedup();
    Some(sources)
}
