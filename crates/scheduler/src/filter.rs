//! The filter stages: which instances can take one more task of the request, and for each
//! one that cannot, the first stage that rejected it. That stage's reason is what the user
//! reads in RunTask's `failures` (`RESOURCE:MEMORY`, `AGENT`, ...).
//!
//! Stages run in a fixed order, cheapest and most fundamental first: status, agent,
//! required attributes, CPU, memory, GPUs, TCP ports, UDP ports, `distinctInstance`,
//! `memberOf`. The planner runs them once per instance per call, then again only on the
//! instance that just took a task (the only one whose answer can change).

use std::fmt;

use flotilla_model::cql::Expr;
use flotilla_model::host_access;

use crate::fit::{fits, Ask, Room};
use crate::request::{Constraint, TaskRequest};
use crate::snapshot::{InstanceState, View, ACTIVE};

/// One filter stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// The instance is ACTIVE (not DRAINING, REGISTERING, INACTIVE, ...).
    Status,
    /// Its agent is connected.
    Agent,
    /// It has every attribute the task definition requires.
    Attributes,
    /// Enough CPU units are left.
    Cpu,
    /// Enough memory is left.
    Memory,
    /// Enough GPUs are left.
    Gpu,
    /// Every fixed TCP host port is free.
    TcpPorts,
    /// Every fixed UDP host port is free.
    UdpPorts,
    /// No task of the group runs there (`distinctInstance`).
    DistinctInstance,
    /// Every `memberOf` expression matches it.
    MemberOf,
}

impl Stage {
    /// Every stage, in the order they run.
    pub const ALL: [Stage; 10] = [
        Stage::Status,
        Stage::Agent,
        Stage::Attributes,
        Stage::Cpu,
        Stage::Memory,
        Stage::Gpu,
        Stage::TcpPorts,
        Stage::UdpPorts,
        Stage::DistinctInstance,
        Stage::MemberOf,
    ];

    /// A short name for explanations and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Status => "status",
            Stage::Agent => "agent",
            Stage::Attributes => "attributes",
            Stage::Cpu => "cpu",
            Stage::Memory => "memory",
            Stage::Gpu => "gpu",
            Stage::TcpPorts => "tcp-ports",
            Stage::UdpPorts => "udp-ports",
            Stage::DistinctInstance => "distinctInstance",
            Stage::MemberOf => "memberOf",
        }
    }

    /// The ECS failure reason of an instance this stage rejects. For [`Stage::Status`] the
    /// reason is the instance's own status (`DRAINING`, ...); `INACTIVE` stands for it here.
    pub fn reason(self) -> &'static str {
        match self {
            Stage::Status => "INACTIVE",
            Stage::Agent => "AGENT",
            Stage::Attributes => "ATTRIBUTE",
            Stage::Cpu => "RESOURCE:CPU",
            Stage::Memory => "RESOURCE:MEMORY",
            Stage::Gpu => "RESOURCE:GPU",
            Stage::TcpPorts => "RESOURCE:PORTS",
            Stage::UdpPorts => "RESOURCE:PORTS_UDP",
            Stage::DistinctInstance => "DistinctInstance placement constraint unsatisfied.",
            Stage::MemberOf => "MemberOf placement constraint unsatisfied.",
        }
    }

    /// The reason `instance` is reported with when this stage rejects it.
    pub fn reason_for(self, instance: &InstanceState) -> String {
        match self {
            Stage::Status if !instance.status.is_empty() => instance.status.clone(),
            _ => self.reason().to_owned(),
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The request as the filters need it, prepared once per call.
pub(crate) struct Need<'a> {
    pub group: &'a str,
    pub cpu: i64,
    pub memory: i64,
    pub gpus: u32,
    pub tcp: Vec<u16>,
    pub udp: Vec<u16>,
    pub attributes: &'a [String],
    pub host_paths: &'a [String],
    pub distinct: bool,
    pub member_of: Vec<&'a Expr>,
}

impl<'a> Need<'a> {
    pub fn new(request: &'a TaskRequest) -> Self {
        let ports = |list: &[u16]| {
            let mut v = list.to_vec();
            v.sort_unstable();
            v.dedup();
            v
        };
        Need {
            group: &request.group,
            cpu: request.cpu.max(0),
            memory: request.memory.max(0),
            gpus: request.gpus,
            tcp: ports(&request.tcp_ports),
            udp: ports(&request.udp_ports),
            attributes: &request.required_attributes,
            host_paths: &request.host_paths,
            distinct: request
                .constraints
                .iter()
                .any(|c| matches!(c, Constraint::DistinctInstance)),
            member_of: request
                .constraints
                .iter()
                .filter_map(|c| match c {
                    Constraint::MemberOf(e) => Some(e),
                    Constraint::DistinctInstance => None,
                })
                .collect(),
        }
    }
}

/// One instance during planning: what it has left after this plan's placements so far.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Work {
    pub cpu: i64,
    pub memory: i64,
    pub gpus: u32,
    /// Tasks of the group on it before this plan.
    pub existing: u32,
    /// Tasks this plan has put on it.
    pub placed: u32,
}

impl Work {
    pub fn new(instance: &InstanceState, group: &str, count_group: bool) -> Self {
        let r = &instance.remaining;
        Work {
            cpu: r.cpu,
            memory: r.memory,
            gpus: r.gpus,
            existing: if count_group {
                instance.group_count(group)
            } else {
                0
            },
            placed: 0,
        }
    }

    /// Tasks of the group on the instance, counting this plan's.
    pub fn group_tasks(&self) -> i64 {
        i64::from(self.existing) + i64::from(self.placed)
    }

    /// Takes one task.
    pub fn take(&mut self, need: &Need) {
        self.cpu = self.cpu.saturating_sub(need.cpu);
        self.memory = self.memory.saturating_sub(need.memory);
        self.gpus = self.gpus.saturating_sub(need.gpus);
        self.placed = self.placed.saturating_add(1);
    }
}

/// The first stage that rejects one more task on `instance`, or `None` if it can take it.
pub(crate) fn check(instance: &InstanceState, work: &Work, need: &Need) -> Option<Stage> {
    if instance.status != ACTIVE {
        return Some(Stage::Status);
    }
    if !instance.connected {
        return Some(Stage::Agent);
    }
    if need
        .attributes
        .iter()
        .any(|a| !instance.attributes.contains_key(a))
    {
        return Some(Stage::Attributes);
    }
    if !need.host_paths.is_empty() {
        let allowed = (instance.attributes.get(host_access::ALLOWED_HOST_PATHS))
            .map(|v| v.as_deref().unwrap_or(""));
        if !need
            .host_paths
            .iter()
            .all(|p| host_access::host_path_allowed(p, allowed))
        {
            return Some(Stage::Attributes);
        }
    }
    let room = Room {
        cpu: work.cpu,
        memory: work.memory,
        gpus: work.gpus,
        tcp_taken: &|p| instance.remaining.tcp_ports.contains(&p),
        udp_taken: &|p| instance.remaining.udp_ports.contains(&p),
        group_tasks: i64::from(work.existing),
        placed: work.placed,
    };
    let ask = Ask {
        cpu: need.cpu,
        memory: need.memory,
        gpus: need.gpus,
        tcp: &need.tcp,
        udp: &need.udp,
        distinct: need.distinct,
    };
    if let Some(stage) = fits(&room, &ask, 1) {
        return Some(stage);
    }
    if !need.member_of.is_empty() {
        let view = View {
            instance,
            group: need.group,
            placed: work.placed,
        };
        if !need.member_of.iter().all(|e| e.matches(&view)) {
            return Some(Stage::MemberOf);
        }
    }
    None
}
