//! Choosing an instance for a task. Deliberately simple until the scheduler lands: the
//! filters ECS applies (agent connected, ACTIVE, CPU, memory, ports, `distinctInstance`
//! and `memberOf` constraints), then the candidate with the most free memory.
//! Every instance that is passed over gets the ECS reason, which RunTask reports when no
//! instance fits.

use std::collections::BTreeSet;

use flotilla_model::container_instance::{self, Capacity, ContainerInstanceRecord};
use flotilla_model::cql::Expr;

use super::resources::Usage;

/// An instance that may take tasks, with what it has left.
pub struct Candidate {
    pub record: ContainerInstanceRecord,
    pub connected: bool,
    pub remaining: Capacity,
    /// Whether it already runs a task of this placement (for `distinctInstance`).
    pub taken: bool,
    /// Whether it satisfies every `memberOf` constraint.
    pub member: bool,
}

/// A constraint of a RunTask or task definition.
pub enum Constraint {
    DistinctInstance,
    MemberOf(Expr),
}

/// Why a candidate cannot take a task, as ECS names it.
fn rejection(c: &Candidate, need: &Usage, distinct: bool) -> Option<&'static str> {
    if c.record.status != container_instance::ACTIVE {
        return Some("INACTIVE");
    }
    if !c.connected {
        return Some("AGENT");
    }
    if !c.member {
        return Some("MemberOf placement constraint unsatisfied.");
    }
    if distinct && c.taken {
        return Some("DistinctInstance placement constraint unsatisfied.");
    }
    if c.remaining.cpu < need.cpu {
        return Some("RESOURCE:CPU");
    }
    if c.remaining.memory < need.memory {
        return Some("RESOURCE:MEMORY");
    }
    let clash = |taken: &BTreeSet<u16>, wanted: &[u16]| wanted.iter().any(|p| taken.contains(p));
    if clash(&c.remaining.tcp_ports, &need.tcp_ports)
        || clash(&c.remaining.udp_ports, &need.udp_ports)
    {
        return Some("RESOURCE:PORTS");
    }
    None
}

/// Place one task: the index of the chosen candidate (whose remaining capacity is reduced),
/// or every candidate's reason.
pub fn place(
    candidates: &mut [Candidate],
    need: &Usage,
    distinct: bool,
) -> Result<usize, Vec<(String, &'static str)>> {
    let mut best: Option<usize> = None;
    let mut reasons = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        match rejection(c, need, distinct) {
            Some(reason) => reasons.push((c.record.container_instance_arn.clone(), reason)),
            None => {
                if best.is_none_or(|b| candidates[b].remaining.memory < c.remaining.memory) {
                    best = Some(i);
                }
            }
        }
    }
    let Some(i) = best else { return Err(reasons) };
    let c = &mut candidates[i];
    c.remaining.cpu -= need.cpu;
    c.remaining.memory -= need.memory;
    c.remaining.tcp_ports.extend(need.tcp_ports.iter().copied());
    c.remaining.udp_ports.extend(need.udp_ports.iter().copied());
    c.taken = true;
    Ok(i)
}
