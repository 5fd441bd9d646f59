//! Routes to awsvpc tasks on other hosts.
//!
//! Every host has one bridge per subnet with the same CIDR and the same gateway (`.1`),
//! and the control plane allocates task addresses so they never collide across hosts.
//! A task on host A reaches a task on host B by its address like this: the task thinks
//! the peer is on its own link and asks for its MAC; A's bridge answers with its own
//! (`proxy_arp`, which answers for any address the host routes out of another
//! interface); A forwards the packet along a `/32` route via B's underlay address; B
//! delivers it on its bridge, where the peer lives. Replies take the mirror path. Source
//! and destination addresses are never rewritten, so security groups in each task's
//! namespace (`crate::firewall`) see the real peer.
//!
//! Why not a VXLAN overlay: the bridges would then share one L2 segment in which every
//! host's bridge owns the same gateway address, so ARP for `.1` gets an answer from each
//! host; it also costs 50 bytes of MTU and a forwarding database to keep in step. Host
//! routes need neither, but they need the hosts to be on one L2 network (the next hop
//! must be on-link) that carries task addresses unchanged: a plain LAN does; a cloud VPC
//! with source/destination checks does not without disabling them.
//!
//! The agent owns exactly the routes with protocol [`PROTO`] whose destination lies in
//! the bridge's subnet; it never touches any other route. The host must forward IPv4
//! (`net.ipv4.ip_forward=1`, which Docker sets) and must not masquerade traffic between
//! task subnets (Docker's network option
//! `com.docker.network.bridge.enable_ip_masquerade=false`, with the agent's own
//! masquerading for traffic that leaves the task subnets).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use crate::firewall::{run, write_sysctl, NetNs, ToolError, IP};

/// The routing protocol number marking the agent's routes (`ip route ... proto 241`); the
/// kernel stores it and never interprets it, and nothing registered uses it.
pub const PROTO: u8 = 241;

/// What [`sync_routes`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteChanges {
    /// Remote tasks whose route was added or moved to another host.
    pub set: Vec<Ipv4Addr>,
    /// Remote tasks whose route was removed.
    pub removed: Vec<Ipv4Addr>,
}

/// Why routes could not be brought in line.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// A bridge name that is not an interface name (1 to 15 of `A-Za-z0-9_.-`, not
    /// starting with `-`).
    #[error("invalid bridge name {0:?}")]
    BridgeName(String),
    /// The bridge has no IPv4 subnet (only addresses without a subnet, or none).
    #[error("bridge {0} has no IPv4 subnet")]
    NoSubnet(String),
    /// A remote task's address outside the bridge's subnets.
    #[error("task address {task} is outside the subnets of bridge {bridge}")]
    OutsideSubnet {
        /// The task's address.
        task: Ipv4Addr,
        /// The bridge.
        bridge: String,
    },
    /// A next hop inside the bridge's subnets: it must be a host's underlay address.
    #[error("host address {0} lies in a task subnet")]
    HostInSubnet(Ipv4Addr),
    /// `ip` answered with something this module cannot read.
    #[error("unexpected output from ip: {0}")]
    Output(String),
    /// Running `ip` failed (its own message).
    #[error(transparent)]
    Tool(#[from] ToolError),
}

/// An IPv4 subnet: network address and prefix length.
type Subnet = (u32, u8);

/// Make the `/32` routes to remote tasks in `bridge`'s subnet exactly `routes` (remote
/// task address, that task's host's underlay address), and turn on `proxy_arp` on the
/// bridge, answering at once. Routes to tasks of this host must not be listed: they live on the bridge.
/// Idempotent; a later pair for the same task wins.
pub fn sync_routes(
    netns: &NetNs,
    bridge: &str,
    routes: &[(Ipv4Addr, Ipv4Addr)],
) -> Result<RouteChanges, RouteError> {
    check_bridge_name(bridge)?;
    let subnets = bridge_subnets(netns, bridge)?;
    let inside = |addr: Ipv4Addr| subnets.iter().any(|s| contains(*s, addr));
    let mut wanted = BTreeMap::new();
    for &(task, host) in routes {
        if !inside(task) {
            return Err(RouteError::OutsideSubnet {
                task,
                bridge: bridge.to_string(),
            });
        }
        if inside(host) {
            return Err(RouteError::HostInSubnet(host));
        }
        wanted.insert(task, host);
    }
    let net = Path::new("net");
    write_sysctl(
        netns,
        &net.join(format!("ipv4/conf/{bridge}/proxy_arp")),
        "1",
    )?;
    // Linux delays proxied answers to broadcast requests by up to `proxy_delay` (0.8 s
    // by default): the first packet to a remote task would wait for it.
    write_sysctl(
        netns,
        &net.join(format!("ipv4/neigh/{bridge}/proxy_delay")),
        "0",
    )?;

    let owned: BTreeMap<Ipv4Addr, Option<Ipv4Addr>> = owned_routes(netns)?
        .into_iter()
        .filter(|(task, _)| inside(*task))
        .collect();
    let mut changes = RouteChanges::default();
    let mut batch = String::new();
    for task in owned.keys().filter(|t| !wanted.contains_key(t)) {
        batch.push_str(&format!("route del {task}/32 proto {PROTO}\n"));
        changes.removed.push(*task);
    }
    for (task, host) in &wanted {
        if owned.get(task) != Some(&Some(*host)) {
            batch.push_str(&format!(
                "route replace {task}/32 via {host} proto {PROTO}\n"
            ));
            changes.set.push(*task);
        }
    }
    if !batch.is_empty() {
        run(netns, IP, &["-batch", "-"], Some(&batch))?;
    }
    Ok(changes)
}

/// Refuse anything but an interface name, before it reaches a command or a path.
fn check_bridge_name(bridge: &str) -> Result<(), RouteError> {
    let ok = (1..=15).contains(&bridge.len())
        && !bridge.starts_with('-')
        && bridge != "."
        && bridge != ".."
        && bridge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RouteError::BridgeName(bridge.to_string()))
    }
}

/// The IPv4 subnets of the bridge's addresses; `/32` addresses (such as a load
/// balancer's source address) have none.
fn bridge_subnets(netns: &NetNs, bridge: &str) -> Result<Vec<Subnet>, RouteError> {
    let output = run(
        netns,
        IP,
        &["-4", "-j", "addr", "show", "dev", bridge],
        None,
    )?;
    let links: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| RouteError::Output(format!("addr show: {e}")))?;
    let mut subnets = Vec::new();
    for info in links
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|link| link["addr_info"].as_array())
        .flatten()
    {
        let local = info["local"]
            .as_str()
            .and_then(|a| a.parse::<Ipv4Addr>().ok());
        let prefix = info["prefixlen"]
            .as_u64()
            .and_then(|p| u8::try_from(p).ok());
        if let (Some(local), Some(prefix @ 0..=31)) = (local, prefix) {
            subnets.push((u32::from(local) & mask(prefix), prefix));
        }
    }
    if subnets.is_empty() {
        return Err(RouteError::NoSubnet(bridge.to_string()));
    }
    Ok(subnets)
}

/// The host routes in the main table marked [`PROTO`]: destination → next hop.
fn owned_routes(netns: &NetNs) -> Result<Vec<(Ipv4Addr, Option<Ipv4Addr>)>, RouteError> {
    let proto = PROTO.to_string();
    let args = [
        "-4", "-j", "route", "show", "table", "main", "proto", &proto,
    ];
    let output = run(netns, IP, &args, None)?;
    let routes: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| RouteError::Output(format!("route show: {e}")))?;
    let mut owned = Vec::new();
    for route in routes.as_array().into_iter().flatten() {
        let dst = route["dst"].as_str().unwrap_or_default();
        // A host route is listed without its `/32`; anything wider is not one of ours.
        let Ok(task) = dst.strip_suffix("/32").unwrap_or(dst).parse::<Ipv4Addr>() else {
            continue;
        };
        let via = route["gateway"].as_str().and_then(|g| g.parse().ok());
        owned.push((task, via));
    }
    Ok(owned)
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn contains((network, prefix): Subnet, addr: Ipv4Addr) -> bool {
    u32::from(addr) & mask(prefix) == network
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_names_are_interface_names() {
        for ok in ["br-480242fe5285", "fltbr", "a.b_c-1"] {
            assert!(check_bridge_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-br",
            "..",
            "br/../x",
            "a b",
            "sixteen-chars-xx",
            "br;x",
        ] {
            assert!(check_bridge_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn subnets_contain_their_addresses() {
        let subnet = (u32::from(Ipv4Addr::new(10, 78, 0, 0)), 24);
        assert!(contains(subnet, Ipv4Addr::new(10, 78, 0, 20)));
        assert!(!contains(subnet, Ipv4Addr::new(10, 78, 1, 20)));
        assert!(contains((0, 0), Ipv4Addr::new(1, 2, 3, 4)));
    }
}
