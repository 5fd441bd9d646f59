//! The one fit check: whether more tasks of a request fit in what an instance has left —
//! CPU, memory, GPUs, fixed host ports and `distinctInstance`. The planner's filter stages
//! and the plan applier both call [`fits`], so they never disagree about what fits; they
//! differ only in how they work out what is left (the planner from its snapshot, the
//! applier from the committed loads and what it accepted since).

use crate::filter::Stage;

/// What an instance has left for more tasks of one request.
pub struct Room<'a> {
    pub cpu: i64,
    pub memory: i64,
    pub gpus: u32,
    /// Whether a TCP host port is taken there (reserved by the instance or held by a task).
    pub tcp_taken: &'a dyn Fn(u16) -> bool,
    /// Whether a UDP host port is taken there.
    pub udp_taken: &'a dyn Fn(u16) -> bool,
    /// Tasks of the request's group already there (for `distinctInstance`).
    pub group_tasks: i64,
    /// Tasks of this same request already placed there: they bind the same host ports.
    pub placed: u32,
}

/// What one task of a request takes.
pub struct Ask<'a> {
    pub cpu: i64,
    pub memory: i64,
    pub gpus: u32,
    /// Fixed host ports it binds.
    pub tcp: &'a [u16],
    pub udp: &'a [u16],
    /// `distinctInstance`: at most one task of the group per instance.
    pub distinct: bool,
}

/// The first stage that rejects `n` more tasks asking for `ask` in `room`, or `None` when
/// they all fit. Stages in the filter's order: CPU, memory, GPUs, TCP ports, UDP ports,
/// `distinctInstance`.
pub fn fits(room: &Room, ask: &Ask, n: u32) -> Option<Stage> {
    let n64 = i64::from(n);
    if room.cpu < ask.cpu.saturating_mul(n64) {
        return Some(Stage::Cpu);
    }
    if room.memory < ask.memory.saturating_mul(n64) {
        return Some(Stage::Memory);
    }
    if room.gpus < ask.gpus.saturating_mul(n) {
        return Some(Stage::Gpu);
    }
    // Every task of a request binds the same ports: two on one instance clash.
    let together = room.placed.saturating_add(n) > 1;
    let clash = |wanted: &[u16], taken: &dyn Fn(u16) -> bool| {
        !wanted.is_empty() && (together || wanted.iter().any(|p| taken(*p)))
    };
    if clash(ask.tcp, room.tcp_taken) {
        return Some(Stage::TcpPorts);
    }
    if clash(ask.udp, room.udp_taken) {
        return Some(Stage::UdpPorts);
    }
    if ask.distinct && room.group_tasks + i64::from(room.placed) + n64 > 1 {
        return Some(Stage::DistinctInstance);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room<'a>(taken: &'a dyn Fn(u16) -> bool) -> Room<'a> {
        Room {
            cpu: 1024,
            memory: 1000,
            gpus: 0,
            tcp_taken: taken,
            udp_taken: &|_| false,
            group_tasks: 0,
            placed: 0,
        }
    }

    fn ask(memory: i64, tcp: &[u16], distinct: bool) -> Ask<'_> {
        Ask {
            cpu: 0,
            memory,
            gpus: 0,
            tcp,
            udp: &[],
            distinct,
        }
    }

    #[test]
    fn counts_every_task_asked_for() {
        let free = |_| false;
        assert_eq!(fits(&room(&free), &ask(500, &[], false), 2), None);
        assert_eq!(
            fits(&room(&free), &ask(500, &[], false), 3),
            Some(Stage::Memory)
        );
    }

    #[test]
    fn ports_clash_with_taken_ones_and_with_each_other() {
        let taken = |p| p == 22;
        assert_eq!(
            fits(&room(&taken), &ask(1, &[22], false), 1),
            Some(Stage::TcpPorts)
        );
        assert_eq!(fits(&room(&taken), &ask(1, &[80], false), 1), None);
        assert_eq!(
            fits(&room(&taken), &ask(1, &[80], false), 2),
            Some(Stage::TcpPorts)
        );
        let mut r = room(&taken);
        r.placed = 1;
        assert_eq!(fits(&r, &ask(1, &[80], false), 1), Some(Stage::TcpPorts));
    }

    #[test]
    fn distinct_instance_allows_one_task_of_the_group() {
        let free = |_| false;
        assert_eq!(fits(&room(&free), &ask(1, &[], true), 1), None);
        assert_eq!(
            fits(&room(&free), &ask(1, &[], true), 2),
            Some(Stage::DistinctInstance)
        );
        let mut r = room(&free);
        r.group_tasks = 1;
        assert_eq!(
            fits(&r, &ask(1, &[], true), 1),
            Some(Stage::DistinctInstance)
        );
        assert_eq!(fits(&r, &ask(1, &[], false), 1), None);
    }
}
