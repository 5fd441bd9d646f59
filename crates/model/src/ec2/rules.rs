//! Security group rules as EC2 keeps them: one rule per (direction, protocol, port range,
//! peer), each with its own `sgr-` id, however they were grouped in the request's
//! `IpPermissions`. The protocol is normalised as EC2 shows it (`tcp`, `udp`, `icmp`,
//! `-1` for all, else the protocol number), and so are the ports: tcp and udp need a
//! range within 0-65535, icmp takes a type and a code (-1 for any), every other protocol
//! covers all ports (-1).

use serde::{Deserialize, Serialize};

use super::cidr::Cidr;
use super::Ec2Tag;

/// At most this many inbound rules, and as many outbound, per security group (EC2's
/// default quota).
pub const MAX_RULES_PER_DIRECTION: usize = 60;

/// A rule's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Protocol {
    All,
    Tcp,
    Udp,
    Icmp,
    Number(u8),
}

impl Protocol {
    /// Read a protocol as EC2 takes it: a name (`tcp`, `udp`, `icmp`, `all`), `-1`, or a
    /// number 0-255 (6, 17 and 1 being tcp, udp and icmp).
    pub fn parse(s: &str) -> Result<Protocol, String> {
        let lower = s.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "-1" | "all" => Protocol::All,
            "tcp" | "6" => Protocol::Tcp,
            "udp" | "17" => Protocol::Udp,
            "icmp" | "1" => Protocol::Icmp,
            n => match n.parse::<u8>() {
                Ok(n) => Protocol::Number(n),
                Err(_) => {
                    return Err(format!(
                        "Invalid value '{s}' for IP protocol. Unknown protocol."
                    ))
                }
            },
        })
    }

    /// How EC2 shows it.
    pub fn wire(&self) -> String {
        match self {
            Protocol::All => "-1".into(),
            Protocol::Tcp => "tcp".into(),
            Protocol::Udp => "udp".into(),
            Protocol::Icmp => "icmp".into(),
            Protocol::Number(n) => n.to_string(),
        }
    }

    /// The name in a duplicate rule's message (`TCP`, `UDP`, `ICMP`, `ALL`).
    fn label(&self) -> String {
        match self {
            Protocol::All => "ALL".into(),
            other => other.wire().to_ascii_uppercase(),
        }
    }
}

/// Whom a rule admits (ingress) or reaches (egress).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Peer {
    Cidr(Cidr),
    /// Every network interface in the security group with this id.
    Group(String),
}

impl Peer {
    fn label(&self) -> String {
        match self {
            Peer::Cidr(c) => c.to_string(),
            Peer::Group(g) => g.clone(),
        }
    }
}

/// What a rule allows, without its peer: a protocol and its port range (or ICMP type and
/// code), normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    pub protocol: Protocol,
    /// tcp/udp: the first port; icmp: the type; -1 when the rule covers all.
    pub from_port: i32,
    /// tcp/udp: the last port; icmp: the code; -1 when the rule covers all.
    pub to_port: i32,
}

impl Permission {
    /// A permission from a request's `IpProtocol`, `FromPort` and `ToPort`, checked and
    /// normalised as EC2 does.
    pub fn new(protocol: &str, from: Option<i32>, to: Option<i32>) -> Result<Permission, String> {
        let protocol = Protocol::parse(protocol)?;
        let (from_port, to_port) = match protocol {
            Protocol::Tcp | Protocol::Udp => {
                let (Some(f), Some(t)) = (from, to) else {
                    return Err(format!(
                        "Invalid value for portRange. Must specify both from and to ports \
                         with {}.",
                        protocol.label()
                    ));
                };
                if !(0..=65535).contains(&f) || !(0..=65535).contains(&t) || f > t {
                    return Err(format!(
                        "Invalid value for portRange: from port {f} and to port {t} must be \
                         within 0-65535 and from port at most to port."
                    ));
                }
                (f, t)
            }
            Protocol::Icmp => {
                let (f, t) = (from.unwrap_or(-1), to.unwrap_or(-1));
                if !(-1..=255).contains(&f) || !(-1..=255).contains(&t) {
                    return Err(format!(
                        "Invalid value for ICMP type {f} or code {t}: each must be -1 (any) \
                         or 0-255."
                    ));
                }
                (f, t)
            }
            Protocol::All | Protocol::Number(_) => (-1, -1),
        };
        Ok(Permission {
            protocol,
            from_port,
            to_port,
        })
    }

    /// Whether the permission names its ports (EC2 leaves them out for all-protocol rules).
    pub fn has_ports(&self) -> bool {
        !matches!(self.protocol, Protocol::All)
    }
}

/// One stored rule of a security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SgRule {
    /// `sgr-` and 17 hexadecimal digits.
    pub id: String,
    pub permission: Permission,
    pub peer: Peer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Ec2Tag>,
}

impl SgRule {
    /// Whether the two rules allow the same thing (what makes a new one a duplicate, and
    /// what a revoke by permission matches).
    pub fn same_as(&self, permission: &Permission, peer: &Peer) -> bool {
        self.permission == *permission && self.peer == *peer
    }

    /// EC2's description of a rule in InvalidPermission.Duplicate.
    pub fn duplicate_message(permission: &Permission, peer: &Peer) -> String {
        format!(
            "the specified rule \"peer: {}, {}, from port: {}, to port: {}, ALLOW\" already exists",
            peer.label(),
            permission.protocol.label(),
            permission.from_port,
            permission.to_port
        )
    }
}

/// A rule's description: at most 255 characters of `a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*`.
pub fn check_description(d: &str) -> Result<(), String> {
    const EXTRA: &str = ". _-:/()#,@[]+=&;{}!$*";
    if d.chars().count() > 255
        || !d
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || EXTRA.contains(c))
    {
        return Err(format!(
            "Invalid rule description '{d}': at most 255 characters of a-z, A-Z, 0-9, spaces \
             and ._-:/()#,@[]+=&;{{}}!$*."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn protocols_normalise() {
        assert_eq!(Protocol::parse("TCP").unwrap(), Protocol::Tcp);
        assert_eq!(Protocol::parse("6").unwrap(), Protocol::Tcp);
        assert_eq!(Protocol::parse("all").unwrap().wire(), "-1");
        assert_eq!(Protocol::parse("47").unwrap().wire(), "47");
        assert!(Protocol::parse("256").is_err());
        assert!(Protocol::parse("sctp-ish").is_err());
    }

    #[test]
    fn ports_follow_the_protocol() {
        let p = Permission::new("tcp", Some(80), Some(80)).unwrap();
        assert_eq!((p.from_port, p.to_port), (80, 80));
        assert!(Permission::new("tcp", Some(80), None).is_err());
        assert!(Permission::new("udp", Some(90), Some(80)).is_err());
        assert!(Permission::new("tcp", Some(0), Some(65536)).is_err());
        let all = Permission::new("-1", Some(5), Some(9)).unwrap();
        assert_eq!((all.from_port, all.to_port), (-1, -1));
        assert!(!all.has_ports());
        let icmp = Permission::new("icmp", None, None).unwrap();
        assert_eq!((icmp.from_port, icmp.to_port), (-1, -1));
        assert!(Permission::new("icmp", Some(300), Some(0)).is_err());
    }

    #[test]
    fn duplicate_message_names_the_rule() {
        let p = Permission::new("tcp", Some(80), Some(80)).unwrap();
        let peer = Peer::Cidr("0.0.0.0/0".parse().unwrap());
        assert_eq!(
            SgRule::duplicate_message(&p, &peer),
            "the specified rule \"peer: 0.0.0.0/0, TCP, from port: 80, to port: 80, ALLOW\" already exists"
        );
    }

    #[test]
    fn descriptions() {
        assert!(check_description("from the load balancer (web)").is_ok());
        assert!(check_description("naïve").is_err());
        assert!(check_description(&"a".repeat(256)).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_permissions_never_panic(p in ".{0,6}", f in any::<Option<i32>>(), t in any::<Option<i32>>()) {
            if let Ok(perm) = Permission::new(&p, f, t) {
                prop_assert!(perm.from_port <= perm.to_port || perm.protocol == Protocol::Icmp);
            }
        }
    }
}
