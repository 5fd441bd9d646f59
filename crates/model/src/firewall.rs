//! The contract between the control plane and an agent's host firewall: which security
//! group rules apply to each awsvpc task on a host, and which addresses each referenced
//! group currently has. Types and checks only; the agent turns them into nftables rules
//! (`flotilla_agent::firewall`).
//!
//! Semantics are EC2 security groups': rules are allow-lists per direction, a direction
//! without rules allows nothing, connections are tracked (replies to an allowed
//! connection pass both ways), and a [`Peer::Group`] means "any current member address of
//! that group" (tasks' awsvpc addresses and load balancers' addresses). The rules of all
//! groups of an interface are merged: the union of what each allows.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// Everything one host enforces: the rules of its awsvpc tasks, the members of the groups
/// those rules name, and the routes to the tasks of its subnets on other hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostFirewall {
    /// Security group id → its members' current addresses. Only groups that some rule of
    /// [`Self::interfaces`] names as a peer need to be present; a group absent here has no
    /// members.
    pub groups: BTreeMap<String, BTreeSet<Ipv4Addr>>,
    /// Task ARN → the rules of that task's network interface.
    pub interfaces: BTreeMap<String, InterfaceFirewall>,
    /// Subnet id → the awsvpc tasks of that subnet on other hosts: task address → its
    /// host's address (`flotilla.host-address`), what the host routes them through. Only
    /// subnets the host has tasks in, and only when hosts name their addresses.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub remote_tasks: BTreeMap<String, BTreeMap<Ipv4Addr, Ipv4Addr>>,
}

impl HostFirewall {
    /// A short digest of the whole firewall: equal firewalls have equal fingerprints, in
    /// every process of one build (what an agent sends back to say what it enforces).
    pub fn fingerprint(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        serde_json::to_string(self).unwrap_or_default().hash(&mut h);
        format!("{:016x}", h.finish())
    }
}

/// The merged rules of every security group attached to one network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceFirewall {
    /// The interface's (the task's) private address.
    pub address: Ipv4Addr,
    /// What may connect to the interface.
    pub ingress: Vec<Rule>,
    /// What the interface may connect to.
    pub egress: Vec<Rule>,
}

/// One allow rule. For [`Protocol::Tcp`] and [`Protocol::Udp`] the ports are an inclusive
/// range (both `None`: every port); for [`Protocol::Icmp`] `from_port` is the ICMP type and
/// `to_port` the code (`None`: any, as EC2's `-1`); other protocols ignore them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Which IP protocol the rule allows.
    pub protocol: Protocol,
    /// First port of the range, or the ICMP type.
    pub from_port: Option<u16>,
    /// Last port of the range, or the ICMP code.
    pub to_port: Option<u16>,
    /// The other end: the source of ingress, the destination of egress.
    pub peer: Peer,
}

/// The IP protocol a rule allows (EC2's `IpProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Protocol {
    /// Every protocol (EC2's `-1`); ports are ignored.
    All,
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1).
    Icmp,
    /// Any other protocol by number; ports are ignored. The control plane maps 6, 17 and
    /// 1 to the named variants, as EC2 does.
    Other(u8),
}

/// The other end of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Peer {
    /// An IPv4 block; host bits of `network` are ignored.
    Cidr {
        /// The block's address.
        network: Ipv4Addr,
        /// Its prefix length, 0 to 32.
        prefix: u8,
    },
    /// Every current member of a security group, by id (`sg-` and hexadecimal digits).
    Group(String),
}

/// Why a rule or a group id cannot be enforced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A group id that is not `sg-` followed by 1 to 32 lowercase hexadecimal digits.
    #[error("invalid security group id {0:?} (expected sg- and hexadecimal digits)")]
    GroupId(String),
    /// A CIDR prefix longer than 32.
    #[error("invalid CIDR prefix /{0} (expected 0 to 32)")]
    Prefix(u8),
    /// A TCP or UDP rule with only one end of its port range, or with the range reversed.
    #[error("invalid port range {from:?}-{to:?}")]
    PortRange {
        /// The rule's `from_port`.
        from: Option<u16>,
        /// The rule's `to_port`.
        to: Option<u16>,
    },
    /// An ICMP type or code above 255, or a code without a type.
    #[error("invalid ICMP type {icmp_type:?} code {code:?}")]
    Icmp {
        /// The rule's `from_port`.
        icmp_type: Option<u16>,
        /// The rule's `to_port`.
        code: Option<u16>,
    },
}

/// The longest hexadecimal part of a group id accepted (EC2's ids have 8 or 17).
const MAX_GROUP_ID_DIGITS: usize = 32;

/// Check that `id` has a security group id's shape: `sg-` and 1 to 32 lowercase
/// hexadecimal digits. The agent uses group ids as nftables set names, so this is also
/// what keeps them from carrying anything else into a rule set.
pub fn check_group_id(id: &str) -> Result<(), RuleError> {
    let digits = id.strip_prefix("sg-").unwrap_or_default();
    let ok = (1..=MAX_GROUP_ID_DIGITS).contains(&digits.len())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RuleError::GroupId(id.to_string()))
    }
}

/// The port range a TCP or UDP rule allows, `None` meaning every port.
pub type PortRange = Option<(u16, u16)>;

// === impl Rule ===

impl Rule {
    /// Check the rule against the constraints of its protocol and peer.
    pub fn check(&self) -> Result<(), RuleError> {
        match &self.peer {
            Peer::Cidr { prefix, .. } if *prefix > 32 => return Err(RuleError::Prefix(*prefix)),
            Peer::Cidr { .. } => {}
            Peer::Group(id) => check_group_id(id)?,
        }
        match self.protocol {
            Protocol::Tcp | Protocol::Udp => self.ports().map(|_| ()),
            Protocol::Icmp => self.icmp().map(|_| ()),
            Protocol::All | Protocol::Other(_) => Ok(()),
        }
    }

    /// The inclusive port range of a TCP or UDP rule (`None`: every port).
    pub fn ports(&self) -> Result<PortRange, RuleError> {
        match (self.from_port, self.to_port) {
            (None, None) => Ok(None),
            (Some(from), Some(to)) if from <= to => Ok(Some((from, to))),
            (from, to) => Err(RuleError::PortRange { from, to }),
        }
    }

    /// The ICMP type and code of an ICMP rule (`None`: any).
    pub fn icmp(&self) -> Result<(Option<u8>, Option<u8>), RuleError> {
        let invalid = || RuleError::Icmp {
            icmp_type: self.from_port,
            code: self.to_port,
        };
        let icmp_type = self
            .from_port
            .map(u8::try_from)
            .transpose()
            .map_err(|_| invalid())?;
        let code = self
            .to_port
            .map(u8::try_from)
            .transpose()
            .map_err(|_| invalid())?;
        if icmp_type.is_none() && code.is_some() {
            return Err(invalid());
        }
        Ok((icmp_type, code))
    }
}

// === impl Peer ===

impl Peer {
    /// The block with its host bits cleared, as `(network, prefix)`; `None` for a group
    /// or a prefix longer than 32.
    pub fn cidr(&self) -> Option<(Ipv4Addr, u8)> {
        match self {
            Peer::Cidr { network, prefix } if *prefix <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                Some((Ipv4Addr::from(u32::from(*network) & mask), *prefix))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(protocol: Protocol, from: Option<u16>, to: Option<u16>) -> Rule {
        Rule {
            protocol,
            from_port: from,
            to_port: to,
            peer: Peer::Cidr {
                network: Ipv4Addr::UNSPECIFIED,
                prefix: 0,
            },
        }
    }

    #[test]
    fn group_ids_have_the_ec2_shape() {
        for ok in ["sg-0", "sg-12345678", "sg-0123456789abcdef0"] {
            assert_eq!(check_group_id(ok), Ok(()), "{ok}");
        }
        let long = format!("sg-{}", "a".repeat(33));
        for bad in [
            "", "sg-", "sg-0A", "sg-12 ", "SG-1", "sg-1}", "sg-1;x", &long,
        ] {
            assert!(check_group_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn port_ranges_are_whole_and_ordered() {
        assert_eq!(rule(Protocol::Tcp, None, None).ports(), Ok(None));
        assert_eq!(
            rule(Protocol::Tcp, Some(80), Some(90)).ports(),
            Ok(Some((80, 90)))
        );
        assert!(rule(Protocol::Udp, Some(90), Some(80)).check().is_err());
        assert!(rule(Protocol::Udp, Some(90), None).check().is_err());
        assert!(rule(Protocol::Tcp, None, Some(1)).check().is_err());
        assert_eq!(rule(Protocol::All, Some(90), None).check(), Ok(()));
    }

    #[test]
    fn icmp_types_and_codes_fit_a_byte() {
        assert_eq!(
            rule(Protocol::Icmp, Some(8), None).icmp(),
            Ok((Some(8), None))
        );
        assert_eq!(rule(Protocol::Icmp, None, None).icmp(), Ok((None, None)));
        assert!(rule(Protocol::Icmp, Some(256), None).check().is_err());
        assert!(rule(Protocol::Icmp, None, Some(0)).check().is_err());
    }

    #[test]
    fn cidrs_lose_their_host_bits() {
        let peer = |a: [u8; 4], prefix| Peer::Cidr {
            network: Ipv4Addr::from(a),
            prefix,
        };
        assert_eq!(
            peer([10, 1, 2, 3], 16).cidr(),
            Some((Ipv4Addr::new(10, 1, 0, 0), 16))
        );
        assert_eq!(
            peer([10, 1, 2, 3], 0).cidr(),
            Some((Ipv4Addr::UNSPECIFIED, 0))
        );
        assert_eq!(
            peer([10, 1, 2, 3], 32).cidr(),
            Some((Ipv4Addr::new(10, 1, 2, 3), 32))
        );
        assert_eq!(peer([10, 1, 2, 3], 33).cidr(), None);
        assert_eq!(Peer::Group("sg-1".into()).cidr(), None);
    }

    #[test]
    fn wire_shape_is_camel_case() {
        let firewall = InterfaceFirewall {
            address: Ipv4Addr::new(10, 0, 0, 5),
            ingress: vec![Rule {
                protocol: Protocol::Tcp,
                from_port: Some(80),
                to_port: Some(80),
                peer: Peer::Group("sg-1".into()),
            }],
            egress: vec![rule(Protocol::Other(47), None, None)],
        };
        let json = serde_json::to_value(&firewall).unwrap();
        assert_eq!(json["ingress"][0]["fromPort"], 80);
        assert_eq!(json["ingress"][0]["peer"]["group"], "sg-1");
        assert_eq!(json["egress"][0]["protocol"]["other"], 47);
        assert_eq!(json["egress"][0]["peer"]["cidr"]["prefix"], 0);
        let back: InterfaceFirewall = serde_json::from_value(json).unwrap();
        assert_eq!(back, firewall);
    }
}
