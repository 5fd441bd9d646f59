//! The read side: a container as [`ContainerState`], alone or listed by labels.

use std::collections::BTreeMap;

use super::{Net, State, Status};
use crate::sim::clock::{container_id, Clock, Stamp};
use crate::{ContainerState, PortBinding};

impl State {
    pub(in crate::sim) fn inspect(&mut self, key: u64, clock: &Clock) -> Option<ContainerState> {
        let now = clock.now();
        self.settle(key, now);
        if let Some(Net::Joined(holder)) = self.containers.get(&key).map(|c| c.net) {
            self.settle(holder, now);
        }
        self.view(key, now, clock)
    }

    /// Containers carrying every label of `wanted` (value `None`: any value).
    pub(in crate::sim) fn list(
        &mut self,
        wanted: &[(String, Option<String>)],
        clock: &Clock,
    ) -> Vec<ContainerState> {
        let mut filter = Vec::with_capacity(wanted.len());
        for (k, v) in wanted {
            let value = match v {
                Some(v) => match self.strings.get(v) {
                    Some(sym) => Some(sym),
                    None => return Vec::new(),
                },
                None => None,
            };
            match self.strings.get(k) {
                Some(key) => filter.push((key, value)),
                None => return Vec::new(),
            }
        }
        let keys: Vec<u64> = self
            .containers
            .iter()
            .filter(|(_, c)| {
                filter.iter().all(|(k, v)| {
                    c.labels
                        .iter()
                        .any(|(ck, cv)| ck == k && v.is_none_or(|v| v == *cv))
                })
            })
            .map(|(key, _)| *key)
            .collect();
        keys.into_iter()
            .filter_map(|key| self.inspect(key, clock))
            .collect()
    }

    fn view(&self, key: u64, now: Stamp, clock: &Clock) -> Option<ContainerState> {
        let c = self.containers.get(&key)?;
        let s = |sym| self.strings.resolve(sym).to_string();
        let running = c.status == Status::Running;
        let exited = c.status == Status::Exited;
        let (net, ip) = match c.net {
            Net::Joined(holder) => match self.containers.get(&holder) {
                Some(h) => (h.net, h.ip),
                None => (Net::Isolated, None),
            },
            other => (other, c.ip),
        };
        let ip_addresses = match (net, ip) {
            (Net::On(net), Some(ip)) => BTreeMap::from([(s(net), ip.to_string())]),
            _ => BTreeMap::new(),
        };
        let ports = c
            .ports
            .iter()
            .filter(|p| running && p.bound != 0)
            .map(|p| PortBinding {
                container_port: p.container_port,
                host_port: p.bound,
                protocol: p.protocol,
                host_ip: match self.strings.resolve(p.host_ip) {
                    "" => "0.0.0.0".to_string(),
                    ip => ip.to_string(),
                },
            })
            .collect();
        Some(ContainerState {
            id: container_id(key),
            name: s(c.name),
            image: s(c.image),
            labels: c.labels.iter().map(|(k, v)| (s(*k), s(*v))).collect(),
            created: c.status == Status::Created,
            running,
            exited,
            exit_code: exited.then_some(c.exit_code),
            error: None,
            oom_killed: false,
            health: c.health(now),
            ports,
            ip_addresses,
            started_at: c.started.map(|at| clock.rfc3339(at)),
            finished_at: c.finished.map(|at| clock.rfc3339(at)),
            pid: None,
        })
    }
}
