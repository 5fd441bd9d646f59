//! EC2's networking subset: VPCs, subnets, security groups with their rules, tags and
//! availability zones, as stored records with EC2's rules for them.
//!
//! [`cidr`]: CIDR blocks; [`rules`]: security group rules, normalised one per peer;
//! [`filter`]: the `Filter.N` language every Describe call takes; [`interface`]: the
//! network interfaces of awsvpc tasks, each the claim on its address.
//!
//! Ids are a type prefix and 17 hexadecimal digits (`vpc-0a1b...`), as EC2's long ids are.

pub mod cidr;
pub mod filter;
pub mod interface;
pub mod rules;

use serde::{Deserialize, Serialize};

use crate::record::Record;
use cidr::Cidr;
use filter::Filterable;
use rules::{Peer, SgRule};

/// The default VPC's block (EC2's own default VPCs use it too).
pub const DEFAULT_VPC_CIDR: &str = "172.31.0.0/16";
/// Each default subnet is the next /20 of the default VPC's block.
pub const DEFAULT_SUBNET_PREFIX: u8 = 20;
/// The zone every region has from the start (an agent that names no zone reports it).
pub const BUILTIN_ZONE: &str = "local-1a";
/// The name of every VPC's default security group.
pub const DEFAULT_GROUP_NAME: &str = "default";
/// EC2 keeps the first four addresses of a subnet (network, router, DNS, reserved) and
/// its last (broadcast) for itself.
pub const RESERVED_ADDRESSES: u64 = 5;
/// At most this many VPCs per region (EC2's default quota).
pub const MAX_VPCS: usize = 5;
/// At most this many subnets per VPC.
pub const MAX_SUBNETS_PER_VPC: usize = 200;
/// At most this many security groups per region.
pub const MAX_SECURITY_GROUPS: usize = 2500;
/// At most this many tags per resource.
pub const MAX_TAGS: usize = 50;

/// One tag as EC2 keeps it (a missing value is the empty string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec2Tag {
    pub key: String,
    pub value: String,
}

/// EC2's tag rules: keys 1-127 characters not starting with `aws:`, values at most 255.
pub fn check_tag(tag: &Ec2Tag) -> Result<(), String> {
    let len = tag.key.chars().count();
    if len == 0 || len > 127 {
        return Err(format!(
            "Tag key '{}' must be 1 to 127 characters long.",
            tag.key
        ));
    }
    if tag.key.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!(
            "Tag keys starting with 'aws:' are reserved for internal use: '{}'.",
            tag.key
        ));
    }
    if tag.value.chars().count() > 255 {
        return Err(format!(
            "The value of tag '{}' must be at most 255 characters long.",
            tag.key
        ));
    }
    Ok(())
}

/// Add or replace tags by key; more than [`MAX_TAGS`] in the end is refused.
pub fn merge_tags(have: &mut Vec<Ec2Tag>, new: &[Ec2Tag]) -> Result<(), String> {
    for tag in new {
        check_tag(tag)?;
        match have.iter_mut().find(|t| t.key == tag.key) {
            Some(t) => t.value = tag.value.clone(),
            None => have.push(tag.clone()),
        }
    }
    if have.len() > MAX_TAGS {
        return Err(format!(
            "A resource may have at most {MAX_TAGS} tags; this would give it {}.",
            have.len()
        ));
    }
    Ok(())
}

/// Remove tags as DeleteTags does: by key, or by key and value when a value is given.
pub fn delete_tags(have: &mut Vec<Ec2Tag>, gone: &[(String, Option<String>)]) {
    have.retain(|t| {
        !gone
            .iter()
            .any(|(k, v)| *k == t.key && v.as_ref().is_none_or(|v| *v == t.value))
    });
}

/// The kinds of resource an id names, by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    Vpc,
    Subnet,
    SecurityGroup,
    SecurityGroupRule,
    NetworkInterface,
}

impl ResourceType {
    /// The id prefix, without its dash.
    pub fn prefix(self) -> &'static str {
        match self {
            ResourceType::Vpc => "vpc",
            ResourceType::Subnet => "subnet",
            ResourceType::SecurityGroup => "sg",
            ResourceType::SecurityGroupRule => "sgr",
            ResourceType::NetworkInterface => "eni",
        }
    }

    /// The `ResourceType` DescribeTags shows and TagSpecifications name.
    pub fn wire(self) -> &'static str {
        match self {
            ResourceType::Vpc => "vpc",
            ResourceType::Subnet => "subnet",
            ResourceType::SecurityGroup => "security-group",
            ResourceType::SecurityGroupRule => "security-group-rule",
            ResourceType::NetworkInterface => "network-interface",
        }
    }

    /// The type of the resource `id` names, when it is well-formed.
    pub fn of(id: &str) -> Option<ResourceType> {
        [
            ResourceType::Vpc,
            ResourceType::Subnet,
            ResourceType::SecurityGroupRule,
            ResourceType::SecurityGroup,
            ResourceType::NetworkInterface,
        ]
        .into_iter()
        .find(|t| is_id(*t, id))
    }
}

/// Whether `id` is well-formed for `kind`: its prefix, a dash, 8 or 17 hexadecimal digits.
pub fn is_id(kind: ResourceType, id: &str) -> bool {
    id.strip_prefix(kind.prefix())
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// The zone id EC2 would show for a zone name: a trailing letter becomes `-azN`
/// (`local-1a` is `local-1-az1`), any other name gets `-az1`.
pub fn zone_id(zone: &str) -> String {
    match zone.chars().last() {
        Some(c @ 'a'..='z') if zone.len() > 1 => {
            format!(
                "{}-az{}",
                &zone[..zone.len() - 1],
                c as u32 - 'a' as u32 + 1
            )
        }
        _ => format!("{zone}-az1"),
    }
}

/// A VPC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcRecord {
    pub vpc_id: String,
    pub owner_id: String,
    pub cidr_block: Cidr,
    pub is_default: bool,
    /// Its security group named `default`, made and deleted with it.
    pub default_security_group_id: String,
    #[serde(default)]
    pub tags: Vec<Ec2Tag>,
    /// Bumped by every subnet created in or deleted from the VPC, in the same
    /// transaction, so that two subnets can never be given overlapping blocks.
    #[serde(default)]
    pub generation: u64,
}

impl Record for VpcRecord {
    const KIND: &'static str = "ec2-vpc";
    const VERSION: u32 = 1;
}

/// DHCP options: every VPC shows the same built-in set.
pub const DHCP_OPTIONS_ID: &str = "dopt-00000000000000001";

impl Filterable for VpcRecord {
    fn values(&self, name: &str) -> Option<Vec<String>> {
        let one = |v: String| Some(vec![v]);
        match name {
            "vpc-id" => one(self.vpc_id.clone()),
            "cidr" | "cidr-block-association.cidr-block" => one(self.cidr_block.to_string()),
            "is-default" => one(self.is_default.to_string()),
            "owner-id" => one(self.owner_id.clone()),
            "state" | "cidr-block-association.state" => one("available".into()),
            "dhcp-options-id" => one(DHCP_OPTIONS_ID.into()),
            _ => None,
        }
    }

    fn tags(&self) -> &[Ec2Tag] {
        &self.tags
    }
}

/// A subnet of a VPC, in one availability zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubnetRecord {
    pub subnet_id: String,
    pub vpc_id: String,
    pub owner_id: String,
    pub cidr_block: Cidr,
    pub availability_zone: String,
    pub default_for_az: bool,
    pub map_public_ip_on_launch: bool,
    #[serde(default)]
    pub tags: Vec<Ec2Tag>,
}

impl Record for SubnetRecord {
    const KIND: &'static str = "ec2-subnet";
    const VERSION: u32 = 1;
}

impl SubnetRecord {
    /// How many addresses tasks can be given: the block less EC2's five.
    pub fn usable_addresses(&self) -> u64 {
        self.cidr_block.size().saturating_sub(RESERVED_ADDRESSES)
    }
}

impl Filterable for SubnetRecord {
    fn values(&self, name: &str) -> Option<Vec<String>> {
        let one = |v: String| Some(vec![v]);
        match name {
            "subnet-id" => one(self.subnet_id.clone()),
            "vpc-id" => one(self.vpc_id.clone()),
            "cidr" | "cidr-block" | "cidrBlock" => one(self.cidr_block.to_string()),
            "availability-zone" | "availabilityZone" => one(self.availability_zone.clone()),
            "availability-zone-id" | "availabilityZoneId" => one(zone_id(&self.availability_zone)),
            "default-for-az" | "defaultForAz" => one(self.default_for_az.to_string()),
            "map-public-ip-on-launch" => one(self.map_public_ip_on_launch.to_string()),
            "owner-id" => one(self.owner_id.clone()),
            "state" => one("available".into()),
            _ => None,
        }
    }

    fn tags(&self) -> &[Ec2Tag] {
        &self.tags
    }
}

/// A security group and its rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupRecord {
    pub group_id: String,
    pub group_name: String,
    pub description: String,
    pub vpc_id: String,
    pub owner_id: String,
    #[serde(default)]
    pub ingress: Vec<SgRule>,
    #[serde(default)]
    pub egress: Vec<SgRule>,
    #[serde(default)]
    pub tags: Vec<Ec2Tag>,
}

impl Record for SecurityGroupRecord {
    const KIND: &'static str = "ec2-security-group";
    const VERSION: u32 = 1;
}

impl SecurityGroupRecord {
    /// Whether any rule of this group names `group_id` as its peer.
    pub fn references(&self, group_id: &str) -> bool {
        self.ingress
            .iter()
            .chain(&self.egress)
            .any(|r| r.peer == Peer::Group(group_id.to_string()))
    }

    /// The group's rules, each with whether it is an egress rule.
    pub fn rules(&self) -> impl Iterator<Item = (&SgRule, bool)> {
        self.ingress
            .iter()
            .map(|r| (r, false))
            .chain(self.egress.iter().map(|r| (r, true)))
    }
}

/// The values of `rules` for the `ip-permission.*` filters.
fn permission_values(rules: &[SgRule], field: &str) -> Option<Vec<String>> {
    let values = rules.iter().filter_map(|r| match field {
        "cidr" => match &r.peer {
            Peer::Cidr(c) => Some(c.to_string()),
            Peer::Group(_) => None,
        },
        "group-id" => match &r.peer {
            Peer::Group(g) => Some(g.clone()),
            Peer::Cidr(_) => None,
        },
        "protocol" => Some(r.permission.protocol.wire()),
        "from-port" => Some(r.permission.from_port.to_string()),
        "to-port" => Some(r.permission.to_port.to_string()),
        _ => None,
    });
    matches!(
        field,
        "cidr" | "group-id" | "protocol" | "from-port" | "to-port"
    )
    .then(|| values.collect())
}

impl Filterable for SecurityGroupRecord {
    fn values(&self, name: &str) -> Option<Vec<String>> {
        let one = |v: String| Some(vec![v]);
        match name {
            "group-id" => one(self.group_id.clone()),
            "group-name" => one(self.group_name.clone()),
            "description" => one(self.description.clone()),
            "vpc-id" => one(self.vpc_id.clone()),
            "owner-id" => one(self.owner_id.clone()),
            other => {
                if let Some(field) = other.strip_prefix("egress.ip-permission.") {
                    permission_values(&self.egress, field)
                } else if let Some(field) = other.strip_prefix("ip-permission.") {
                    permission_values(&self.ingress, field)
                } else {
                    None
                }
            }
        }
    }

    fn tags(&self) -> &[Ec2Tag] {
        &self.tags
    }
}

/// A rule with the group it belongs to, as DescribeSecurityGroupRules filters it.
pub struct RuleOf<'a> {
    pub group: &'a SecurityGroupRecord,
    pub rule: &'a SgRule,
    pub egress: bool,
}

impl Filterable for RuleOf<'_> {
    fn values(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "group-id" => Some(vec![self.group.group_id.clone()]),
            "security-group-rule-id" => Some(vec![self.rule.id.clone()]),
            _ => None,
        }
    }

    fn tags(&self) -> &[Ec2Tag] {
        &self.rule.tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_zones() {
        assert!(is_id(ResourceType::Vpc, "vpc-0123456789abcdef0"));
        assert!(is_id(ResourceType::Vpc, "vpc-12345678"));
        assert!(!is_id(ResourceType::Vpc, "vpc-xyz"));
        assert!(!is_id(ResourceType::Subnet, "vpc-12345678"));
        assert_eq!(
            ResourceType::of("sgr-0123456789abcdef0"),
            Some(ResourceType::SecurityGroupRule)
        );
        assert_eq!(
            ResourceType::of("sg-0123456789abcdef0"),
            Some(ResourceType::SecurityGroup)
        );
        assert_eq!(ResourceType::of("i-0123456789abcdef0"), None);
        assert_eq!(zone_id("local-1a"), "local-1-az1");
        assert_eq!(zone_id("us-east-1c"), "us-east-1-az3");
        assert_eq!(zone_id("rack7"), "rack7-az1");
    }

    #[test]
    fn tags_merge_and_delete() {
        let t = |k: &str, v: &str| Ec2Tag {
            key: k.into(),
            value: v.into(),
        };
        let mut have = vec![t("Name", "a")];
        merge_tags(&mut have, &[t("Name", "b"), t("env", "prod")]).unwrap();
        assert_eq!(have, vec![t("Name", "b"), t("env", "prod")]);
        assert!(merge_tags(&mut have, &[t("aws:x", "")]).is_err());
        delete_tags(&mut have, &[("Name".into(), Some("zzz".into()))]);
        assert_eq!(have.len(), 2);
        delete_tags(&mut have, &[("Name".into(), None)]);
        assert_eq!(have, vec![t("env", "prod")]);
    }
}
