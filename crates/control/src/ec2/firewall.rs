//! Security groups as a host enforces them: the one mapping from EC2's rules
//! (`flotilla_model::ec2::rules`) to the firewall contract an agent takes
//! (`flotilla_model::firewall`), and the member addresses of the groups those rules name.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use flotilla_model::ec2::rules::{self as ec2, SgRule};
use flotilla_model::firewall::{HostFirewall, InterfaceFirewall, Peer, Protocol, Rule};
use flotilla_model::Scope;

use super::security_groups;
use crate::State;

/// One EC2 rule as the agent enforces it: tcp and udp with their port range, icmp with
/// its type and code (`-1`, any, is `None`), other protocols without ports.
pub fn rule(r: &SgRule) -> Rule {
    let p = &r.permission;
    let port = |n: i32| u16::try_from(n).ok();
    let (protocol, from_port, to_port) = match p.protocol {
        ec2::Protocol::All => (Protocol::All, None, None),
        ec2::Protocol::Tcp => (Protocol::Tcp, port(p.from_port), port(p.to_port)),
        ec2::Protocol::Udp => (Protocol::Udp, port(p.from_port), port(p.to_port)),
        ec2::Protocol::Icmp => match port(p.from_port) {
            // A code means nothing without its type.
            None => (Protocol::Icmp, None, None),
            Some(t) => (Protocol::Icmp, Some(t), port(p.to_port)),
        },
        ec2::Protocol::Number(n) => (Protocol::Other(n), None, None),
    };
    let peer = match &r.peer {
        ec2::Peer::Cidr(c) => Peer::Cidr {
            network: c.network(),
            prefix: c.prefix(),
        },
        ec2::Peer::Group(g) => Peer::Group(g.clone()),
    };
    Rule {
        protocol,
        from_port,
        to_port,
        peer,
    }
}

/// The merged rules of `groups` for an interface at `address` (a group that no longer
/// exists adds nothing; a rule two groups share appears once).
pub fn interface(
    state: &State,
    scope: &Scope,
    address: Ipv4Addr,
    groups: &[String],
) -> InterfaceFirewall {
    let mut out = InterfaceFirewall {
        address,
        ingress: vec![],
        egress: vec![],
    };
    for id in groups {
        let Ok(group) = security_groups::get(state, scope, id) else {
            continue;
        };
        for (r, egress) in group.value.rules() {
            let list = if egress {
                &mut out.egress
            } else {
                &mut out.ingress
            };
            let rule = rule(r);
            if !list.contains(&rule) {
                list.push(rule);
            }
        }
    }
    out
}

/// What one host enforces for `interfaces` (by task ARN: the task's address and groups):
/// each interface's rules, and the current members of every group a rule names.
pub fn host(
    state: &State,
    scope: &Scope,
    interfaces: &BTreeMap<String, (Ipv4Addr, Vec<String>)>,
) -> HostFirewall {
    let mut fw = HostFirewall::default();
    for (task, (address, groups)) in interfaces {
        fw.interfaces
            .insert(task.clone(), interface(state, scope, *address, groups));
    }
    let named: BTreeSet<String> = fw
        .interfaces
        .values()
        .flat_map(|i| i.ingress.iter().chain(&i.egress))
        .filter_map(|r| match &r.peer {
            Peer::Group(g) => Some(g.clone()),
            Peer::Cidr { .. } => None,
        })
        .collect();
    for g in named {
        let members = security_groups::members(state, scope, &g);
        fw.groups.insert(g, members);
    }
    fw
}
