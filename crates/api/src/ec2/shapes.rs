//! EC2's resources as its XML shows them (lists as `<xSet><item>...</item></xSet>`), and
//! the request structures read from its parameters: filters, tag specifications and
//! permissions.

use flotilla_aws::xml::XmlWriter;
use flotilla_control::ec2::security_groups::{NewPeer, NewRule, RuleEntry};
use flotilla_model::ec2::filter::Filter;
use flotilla_model::ec2::interface::NetworkInterfaceRecord;
use flotilla_model::ec2::rules::{Peer, Permission, SgRule};
use flotilla_model::ec2::{
    zone_id, Ec2Tag, SecurityGroupRecord, SubnetRecord, VpcRecord, DHCP_OPTIONS_ID,
};
use flotilla_model::Scope;

use super::error::{invalid, Ec2WireError};
use crate::query::Params;

/// A list member: `<name>` with an `<item>` per element.
pub fn set<T>(
    w: &mut XmlWriter,
    name: &str,
    items: &[T],
    mut each: impl FnMut(&mut XmlWriter, &T),
) {
    w.node(name, |w| {
        for item in items {
            w.node("item", |w| each(w, item));
        }
    });
}

pub fn tag_set(w: &mut XmlWriter, tags: &[Ec2Tag]) {
    set(w, "tagSet", tags, |w, t| {
        w.leaf("key", &t.key);
        w.leaf("value", &t.value);
    });
}

pub fn arn(scope: &Scope, kind: &str, id: &str) -> String {
    format!(
        "arn:{}:ec2:{}:{}:{kind}/{id}",
        scope.partition, scope.region, scope.account
    )
}

pub fn vpc(w: &mut XmlWriter, v: &VpcRecord) {
    w.leaf("vpcId", &v.vpc_id);
    w.leaf("ownerId", &v.owner_id);
    w.leaf("state", "available");
    w.leaf("cidrBlock", &v.cidr_block.to_string());
    set(w, "cidrBlockAssociationSet", &[&v.cidr_block], |w, c| {
        w.leaf(
            "associationId",
            &format!("vpc-cidr-assoc-{}", v.vpc_id.trim_start_matches("vpc-")),
        );
        w.leaf("cidrBlock", &c.to_string());
        w.node("cidrBlockState", |w| {
            w.leaf("state", "associated");
        });
    });
    w.leaf("dhcpOptionsId", DHCP_OPTIONS_ID);
    w.leaf("instanceTenancy", "default");
    w.leaf("isDefault", &v.is_default.to_string());
    tag_set(w, &v.tags);
}

/// A subnet, `in_use` of its addresses held by network interfaces.
pub fn subnet(w: &mut XmlWriter, scope: &Scope, s: &SubnetRecord, in_use: usize) {
    w.leaf("subnetId", &s.subnet_id);
    w.leaf("subnetArn", &arn(scope, "subnet", &s.subnet_id));
    w.leaf("state", "available");
    w.leaf("vpcId", &s.vpc_id);
    w.leaf("ownerId", &s.owner_id);
    w.leaf("cidrBlock", &s.cidr_block.to_string());
    let available = s.usable_addresses().saturating_sub(in_use as u64);
    w.leaf("availableIpAddressCount", &available.to_string());
    w.leaf("availabilityZone", &s.availability_zone);
    w.leaf("availabilityZoneId", &zone_id(&s.availability_zone));
    w.leaf("defaultForAz", &s.default_for_az.to_string());
    w.leaf(
        "mapPublicIpOnLaunch",
        &s.map_public_ip_on_launch.to_string(),
    );
    w.leaf("assignIpv6AddressOnCreation", "false");
    w.leaf("ipv6Native", "false");
    w.node("ipv6CidrBlockAssociationSet", |_| {});
    tag_set(w, &s.tags);
}

/// An awsvpc task's network interface, as EC2 shows the interfaces ECS makes for tasks.
pub fn network_interface(
    w: &mut XmlWriter,
    scope: &Scope,
    i: &NetworkInterfaceRecord,
    group_name: &dyn Fn(&str) -> String,
) {
    let address = i.private_ip_address.to_string();
    let dns = i.private_dns_name(&scope.region);
    w.leaf("networkInterfaceId", &i.network_interface_id);
    w.leaf("subnetId", &i.subnet_id);
    w.leaf("vpcId", &i.vpc_id);
    w.leaf("availabilityZone", &i.availability_zone);
    w.leaf(
        "description",
        &format!(
            "arn:{}:ecs:{}:{}:attachment/{}",
            scope.partition, scope.region, scope.account, i.attachment_id
        ),
    );
    w.leaf("ownerId", &i.owner_id);
    w.leaf("requesterId", "ecs");
    w.leaf("requesterManaged", "true");
    w.leaf("status", "in-use");
    w.leaf("macAddress", &i.mac_address());
    w.leaf("privateIpAddress", &address);
    w.leaf("privateDnsName", &dns);
    w.leaf("sourceDestCheck", "true");
    w.leaf("interfaceType", "interface");
    set(w, "groupSet", &i.security_groups, |w, g| {
        w.leaf("groupId", g);
        w.leaf("groupName", &group_name(g));
    });
    w.node("attachment", |w| {
        w.leaf("attachmentId", &i.ec2_attachment_id());
        w.leaf("deviceIndex", "1");
        w.leaf("networkCardIndex", "0");
        w.leaf("instanceOwnerId", "amazon-aws");
        w.leaf("status", "attached");
        w.leaf("deleteOnTermination", "true");
    });
    set(w, "privateIpAddressesSet", &[()], |w, _| {
        w.leaf("privateIpAddress", &address);
        w.leaf("privateDnsName", &dns);
        w.leaf("primary", "true");
    });
    w.node("ipv6AddressesSet", |_| {});
    w.node("tagSet", |_| {});
}

/// The rules of one direction grouped as `IpPermissions`: one per protocol and port
/// range, with its CIDRs and groups, in the order the rules were added.
fn permissions(w: &mut XmlWriter, name: &str, account: &str, rules: &[SgRule]) {
    let mut groups: Vec<(Permission, Vec<&SgRule>)> = Vec::new();
    for rule in rules {
        match groups.iter_mut().find(|(p, _)| *p == rule.permission) {
            Some((_, members)) => members.push(rule),
            None => groups.push((rule.permission, vec![rule])),
        }
    }
    set(w, name, &groups, |w, (p, members)| {
        w.leaf("ipProtocol", &p.protocol.wire());
        if p.has_ports() {
            w.leaf("fromPort", &p.from_port.to_string());
            w.leaf("toPort", &p.to_port.to_string());
        }
        let pairs: Vec<&&SgRule> = members
            .iter()
            .filter(|r| matches!(r.peer, Peer::Group(_)))
            .collect();
        set(w, "groups", &pairs, |w, r| {
            if let Peer::Group(g) = &r.peer {
                w.leaf("userId", account);
                w.leaf("groupId", g);
            }
            if let Some(d) = &r.description {
                w.leaf("description", d);
            }
        });
        let ranges: Vec<&&SgRule> = members
            .iter()
            .filter(|r| matches!(r.peer, Peer::Cidr(_)))
            .collect();
        set(w, "ipRanges", &ranges, |w, r| {
            if let Peer::Cidr(c) = &r.peer {
                w.leaf("cidrIp", &c.to_string());
            }
            if let Some(d) = &r.description {
                w.leaf("description", d);
            }
        });
        w.node("ipv6Ranges", |_| {});
        w.node("prefixListIds", |_| {});
    });
}

pub fn security_group(w: &mut XmlWriter, scope: &Scope, g: &SecurityGroupRecord) {
    w.leaf("ownerId", &g.owner_id);
    w.leaf("groupId", &g.group_id);
    w.leaf("groupName", &g.group_name);
    w.leaf("groupDescription", &g.description);
    w.leaf("vpcId", &g.vpc_id);
    w.leaf(
        "securityGroupArn",
        &arn(scope, "security-group", &g.group_id),
    );
    permissions(w, "ipPermissions", &g.owner_id, &g.ingress);
    permissions(w, "ipPermissionsEgress", &g.owner_id, &g.egress);
    tag_set(w, &g.tags);
}

/// What every shape of a rule starts with: its id, group, direction, protocol and ports.
fn rule_head(w: &mut XmlWriter, group_id: &str, r: &SgRule, egress: bool) {
    w.leaf("securityGroupRuleId", &r.id);
    w.leaf("groupId", group_id);
    w.leaf("isEgress", &egress.to_string());
    w.leaf("ipProtocol", &r.permission.protocol.wire());
    w.leaf("fromPort", &r.permission.from_port.to_string());
    w.leaf("toPort", &r.permission.to_port.to_string());
}

/// One rule as DescribeSecurityGroupRules and Authorize* show it.
pub fn rule(
    w: &mut XmlWriter,
    scope: &Scope,
    group: &SecurityGroupRecord,
    r: &SgRule,
    egress: bool,
) {
    rule_head(w, &group.group_id, r, egress);
    w.leaf("groupOwnerId", &group.owner_id);
    match &r.peer {
        Peer::Cidr(c) => {
            w.leaf("cidrIpv4", &c.to_string());
        }
        Peer::Group(g) => {
            w.node("referencedGroupInfo", |w| {
                w.leaf("groupId", g);
                w.leaf("userId", &group.owner_id);
            });
        }
    }
    if let Some(d) = &r.description {
        w.leaf("description", d);
    }
    w.leaf(
        "securityGroupRuleArn",
        &arn(scope, "security-group-rule", &r.id),
    );
    tag_set(w, &r.tags);
}

pub fn rule_entry(w: &mut XmlWriter, scope: &Scope, e: &RuleEntry) {
    rule(w, scope, &e.group, &e.rule, e.egress);
}

/// A revoked rule (RevokedSecurityGroupRule: the peer group is a plain id).
pub fn revoked_rule(w: &mut XmlWriter, group_id: &str, r: &SgRule, egress: bool) {
    rule_head(w, group_id, r, egress);
    match &r.peer {
        Peer::Cidr(c) => {
            w.leaf("cidrIpv4", &c.to_string());
        }
        Peer::Group(g) => {
            w.leaf("referencedGroupId", g);
        }
    }
    if let Some(d) = &r.description {
        w.leaf("description", d);
    }
}

/// A permission a revoke named that the group does not have, as the request gave it.
pub fn unknown_permission(w: &mut XmlWriter, r: &NewRule) {
    w.leaf("ipProtocol", &r.permission.protocol.wire());
    if r.permission.has_ports() {
        w.leaf("fromPort", &r.permission.from_port.to_string());
        w.leaf("toPort", &r.permission.to_port.to_string());
    }
    match &r.peer {
        NewPeer::Cidr(c) => set(w, "ipRanges", &[c], |w, c| {
            w.leaf("cidrIp", c);
        }),
        NewPeer::Group { id, name } => set(w, "groups", &[(id, name)], |w, (id, name)| {
            if let Some(id) = id {
                w.leaf("groupId", id);
            }
            if let Some(name) = name {
                w.leaf("groupName", name);
            }
        }),
    }
}

/// `Filter.N.Name` / `Filter.N.Value.M`.
pub fn filters(p: &Params, list: &str) -> Result<Vec<Filter>, Ec2WireError> {
    p.members(list)
        .into_iter()
        .map(|f| {
            Ok(Filter {
                name: f.required("Name")?.to_string(),
                values: f.strings("Value"),
            })
        })
        .collect()
}

/// Tags from a `Tag.N.Key` / `Tag.N.Value` list.
pub fn tags(p: &Params, list: &str) -> Result<Vec<Ec2Tag>, Ec2WireError> {
    p.members(list)
        .into_iter()
        .map(|t| {
            Ok(Ec2Tag {
                key: t.required("Key")?.to_string(),
                value: t.get("Value").unwrap_or("").to_string(),
            })
        })
        .collect()
}

/// The tags of `TagSpecification.N` for a resource of type `kind`; a specification of
/// another type is refused, as EC2 refuses it.
pub fn tag_specifications(p: &Params, kind: &str) -> Result<Vec<Ec2Tag>, Ec2WireError> {
    let mut out = Vec::new();
    for spec in p.members("TagSpecification") {
        let rtype = spec.get("ResourceType").unwrap_or("");
        if rtype != kind {
            return Err(invalid(format!(
                "'{rtype}' is not a valid taggable resource type for this operation; \
                 expected '{kind}'."
            )));
        }
        out.extend(tags(&spec, "Tag")?);
    }
    Ok(out)
}

fn port(p: &Params, name: &str) -> Result<Option<i32>, Ec2WireError> {
    Ok(p.int(name, -1, 65535)?.map(|n| n as i32))
}

/// The rules an Authorize* or Revoke* request names: `IpPermissions.N` (each with its
/// `IpRanges` and `Groups`), or the older flat form (`IpProtocol`, `FromPort`, `ToPort`,
/// `CidrIp`, `SourceSecurityGroupName`).
pub fn rules(p: &Params) -> Result<Vec<NewRule>, Ec2WireError> {
    let mut out = Vec::new();
    for perm in p.members("IpPermissions") {
        let protocol = perm.required("IpProtocol")?;
        let permission =
            Permission::new(protocol, port(&perm, "FromPort")?, port(&perm, "ToPort")?)
                .map_err(invalid)?;
        for range in perm.members("IpRanges") {
            out.push(NewRule {
                permission,
                peer: NewPeer::Cidr(range.required("CidrIp")?.to_string()),
                description: range.get("Description").map(String::from),
            });
        }
        for pair in perm.members("Groups") {
            out.push(NewRule {
                permission,
                peer: NewPeer::Group {
                    id: pair.get("GroupId").map(String::from),
                    name: pair.get("GroupName").map(String::from),
                },
                description: pair.get("Description").map(String::from),
            });
        }
        if perm.has("Ipv6Ranges") || perm.has("PrefixListIds") {
            return Err(invalid(
                "IPv6 ranges and prefix lists are not supported; name IPv4 CIDRs or security \
                 groups.",
            ));
        }
        if !perm.has("IpRanges") && !perm.has("Groups") {
            return Err(Ec2WireError::from(
                flotilla_control::ec2::Ec2Error::Missing(
                    "An IpPermissions entry must name IpRanges or Groups.".into(),
                ),
            ));
        }
    }
    let flat_peer = match (p.get("CidrIp"), p.get("SourceSecurityGroupName")) {
        (Some(c), None) => Some(NewPeer::Cidr(c.to_string())),
        (None, Some(n)) => Some(NewPeer::Group {
            id: None,
            name: Some(n.to_string()),
        }),
        (Some(_), Some(_)) => {
            return Err(flotilla_control::ec2::Ec2Error::Combination(
                "CidrIp and SourceSecurityGroupName may not be given together.".into(),
            )
            .into())
        }
        (None, None) => None,
    };
    if let Some(peer) = flat_peer {
        if !out.is_empty() {
            return Err(flotilla_control::ec2::Ec2Error::Combination(
                "Name the rules either in IpPermissions or with IpProtocol and CidrIp, not both."
                    .into(),
            )
            .into());
        }
        let permission = Permission::new(
            p.get("IpProtocol").unwrap_or("-1"),
            port(p, "FromPort")?,
            port(p, "ToPort")?,
        )
        .map_err(invalid)?;
        out.push(NewRule {
            permission,
            peer,
            description: None,
        });
    }
    Ok(out)
}
