//! One task's security groups as an nftables script: a pure function of the rules, the
//! members of the groups they name, and the host services every task may reach.
//!
//! The script replaces the table `inet flotilla` as one transaction: `table` (creates it
//! when missing, so the `delete` that follows cannot fail), `delete`, then the table in
//! full. `nft -f` commits the whole file atomically, so packets see either the old rules
//! or the new ones, never an empty or half-built table; conntrack entries live outside
//! the table, so established connections carry on and only new ones meet the new rules.
//!
//! Every string that reaches the script is checked first: group ids must have EC2's shape
//! (`flotilla_model::firewall::check_group_id`), and everything else is a number or an
//! address printed by Rust.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};

use flotilla_model::firewall::{InterfaceFirewall, Peer, Protocol, Rule, RuleError};

/// The table every script replaces, in the task's namespace.
pub const TABLE: &str = "inet flotilla";

/// The prefix of the table's comment; the rest is the script's [`Ruleset::fingerprint`].
const COMMENT_PREFIX: &str = "flotilla:";

/// The ECS task credentials endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` is a path
/// on it).
pub const ECS_CREDENTIALS: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(169, 254, 170, 2), 80);

/// What every task may reach whatever its groups say, as on EC2, where a VPC's resolver
/// and the instance metadata service are not subject to security groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostServices {
    /// The resolvers Docker's embedded DNS server forwards the task's queries to (port 53,
    /// UDP and TCP). Docker 20.10 forwards from inside the task's namespace, so these
    /// pass its output chain; queries to `127.0.0.11` itself stay on loopback.
    pub resolvers: Vec<Ipv4Addr>,
    /// The credentials endpoint (TCP), if the host serves one.
    pub credentials: Option<SocketAddrV4>,
}

impl HostServices {
    /// These resolvers and the ECS credentials endpoint.
    pub fn new(resolvers: Vec<Ipv4Addr>) -> Self {
        HostServices {
            resolvers,
            credentials: Some(ECS_CREDENTIALS),
        }
    }

    /// These services with the credentials endpoint where the agent serves it.
    pub fn with_credentials(mut self, endpoint: Option<SocketAddrV4>) -> Self {
        self.credentials = endpoint;
        self
    }
}

/// A rendered script with the fingerprint it carries in its table's comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    script: String,
    fingerprint: String,
}

impl Ruleset {
    /// The script for `nft -f`.
    pub fn script(&self) -> &str {
        &self.script
    }

    /// A digest of the rules (FNV-1a, hexadecimal), stored in the table's comment, so an
    /// agent can tell whether a namespace already enforces exactly these rules
    /// (`firewall::applied`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// The direction a chain filters.
#[derive(Clone, Copy)]
enum Direction {
    /// Connections to the task: the peer is the source.
    Ingress,
    /// Connections from the task: the peer is the destination.
    Egress,
}

/// Render the script that enforces `iface` in its task's namespace. `groups` gives the
/// members of the groups its rules name (a group missing there has none). Fails when a
/// rule cannot be enforced as given; nothing is applied then.
pub fn render(
    iface: &InterfaceFirewall,
    groups: &BTreeMap<String, BTreeSet<Ipv4Addr>>,
    services: &HostServices,
) -> Result<Ruleset, RuleError> {
    let lines = |rules: &[Rule], direction| -> Result<Vec<String>, RuleError> {
        rules
            .iter()
            .map(|rule| rule_line(rule, direction))
            .collect()
    };
    let ingress = lines(&iface.ingress, Direction::Ingress)?;
    let egress = service_lines(services)
        .into_iter()
        .chain(lines(&iface.egress, Direction::Egress)?)
        .collect::<Vec<_>>();
    let referenced: BTreeSet<&str> = iface
        .ingress
        .iter()
        .chain(&iface.egress)
        .filter_map(|rule| match &rule.peer {
            Peer::Group(id) => Some(id.as_str()),
            Peer::Cidr { .. } => None,
        })
        .collect();

    let mut body = String::new();
    for id in &referenced {
        let _ = writeln!(body, "\tset {id} {{\n\t\ttype ipv4_addr");
        let members = groups.get(*id).filter(|m| !m.is_empty());
        if let Some(members) = members {
            let list: Vec<String> = members.iter().map(Ipv4Addr::to_string).collect();
            let _ = writeln!(body, "\t\telements = {{ {} }}", list.join(", "));
        }
        body.push_str("\t}\n");
    }
    chain(&mut body, Direction::Ingress, &ingress);
    chain(&mut body, Direction::Egress, &egress);

    let fingerprint = format!("{:016x}", fnv1a(body.as_bytes()));
    let script = format!(
        "# Security groups of {address}, written by the Flotilla agent; replaced as a whole.\n\
         table {TABLE}\n\
         delete table {TABLE}\n\
         table {TABLE} {{\n\
         \tcomment \"{COMMENT_PREFIX}{fingerprint}\"\n\
         {body}}}\n",
        address = iface.address,
    );
    Ok(Ruleset {
        script,
        fingerprint,
    })
}

/// The script that removes the table, whether or not it exists.
pub fn removal() -> String {
    format!("table {TABLE}\ndelete table {TABLE}\n")
}

/// The fingerprint in the comment of a listed table (`nft list table inet flotilla`).
pub(crate) fn listed_fingerprint(listing: &str) -> Option<String> {
    listing.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("comment \"")?;
        let value = rest.strip_suffix('"')?;
        Some(value.strip_prefix(COMMENT_PREFIX)?.to_string())
    })
}

/// Egress lines for the host services.
fn service_lines(services: &HostServices) -> Vec<String> {
    let mut lines = Vec::new();
    for resolver in &services.resolvers {
        for proto in ["udp", "tcp"] {
            lines.push(format!("ip daddr {resolver} {proto} dport 53 accept"));
        }
    }
    if let Some(endpoint) = services.credentials {
        lines.push(format!(
            "ip daddr {} tcp dport {} accept",
            endpoint.ip(),
            endpoint.port()
        ));
    }
    lines
}

/// Append one base chain: tracked connections first, then loopback, then one line per
/// distinct statement; whatever matches none is dropped by the policy.
fn chain(body: &mut String, direction: Direction, lines: &[String]) {
    let (name, lo) = match direction {
        Direction::Ingress => ("input", "iifname"),
        Direction::Egress => ("output", "oifname"),
    };
    let _ = writeln!(
        body,
        "\tchain {name} {{\n\
         \t\ttype filter hook {name} priority filter; policy drop;\n\
         \t\tct state established,related accept\n\
         \t\tct state invalid drop\n\
         \t\t{lo} \"lo\" accept"
    );
    let mut seen = BTreeSet::new();
    for line in lines {
        // Groups merged onto one interface often repeat a rule; one copy is enough.
        if seen.insert(line) {
            let _ = writeln!(body, "\t\t{line}");
        }
    }
    body.push_str("\t}\n");
}

/// One rule as an nftables statement, or why it cannot be enforced.
fn rule_line(rule: &Rule, direction: Direction) -> Result<String, RuleError> {
    rule.check()?;
    let field = match direction {
        Direction::Ingress => "saddr",
        Direction::Egress => "daddr",
    };
    let peer = match (&rule.peer, rule.peer.cidr()) {
        (Peer::Group(id), _) => format!("ip {field} @{id}"),
        (_, Some((network, 32))) => format!("ip {field} {network}"),
        (_, Some((network, prefix))) => format!("ip {field} {network}/{prefix}"),
        (Peer::Cidr { prefix, .. }, None) => return Err(RuleError::Prefix(*prefix)),
    };
    let matches = match rule.protocol {
        Protocol::All => String::new(),
        Protocol::Tcp | Protocol::Udp => {
            let proto = if rule.protocol == Protocol::Tcp {
                "tcp"
            } else {
                "udp"
            };
            match rule.ports()? {
                Some((from, to)) if from == to => format!(" {proto} dport {from}"),
                Some((from, to)) => format!(" {proto} dport {from}-{to}"),
                None => format!(" meta l4proto {proto}"),
            }
        }
        Protocol::Icmp => match rule.icmp()? {
            (Some(icmp_type), Some(code)) => format!(" icmp type {icmp_type} icmp code {code}"),
            (Some(icmp_type), None) => format!(" icmp type {icmp_type}"),
            (None, _) => " meta l4proto icmp".to_string(),
        },
        Protocol::Other(number) => format!(" meta l4proto {number}"),
    };
    Ok(format!("{peer}{matches} accept"))
}

/// FNV-1a, 64 bits: stable across builds and releases, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
