//! The simulated runtime's state: containers, names, strings, ports, networks, deadlines.
//!
//! Everything here runs under the runtime's one mutex and never waits. A container's
//! scripted exit and health change are not timers: they are computed from its start time
//! whenever the container is looked at (`settle`), and a deadline heap shared by all
//! containers tells the runtime's single ticker when a `die` or `health_status` event is
//! due. Events are sent under the lock, so they arrive in the order things happened.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::Ipv4Addr;

use tokio::sync::broadcast;

use super::clock::{container_id, key_of, Keys, Stamp};
use super::intern::{Interner, Sym};
use super::net::{HostPorts, Subnet};
use super::script::Script;
use crate::{
    ContainerEvent, ContainerSpec, Health, NetworkMode, NetworkSpec, Protocol, Result, RuntimeError,
};

/// Events buffered per subscriber before it lags (and its stream ends with an error).
const EVENT_BUFFER: usize = 1024;
/// Docker's default network, present from the start.
const BRIDGE: &str = "bridge";
const BRIDGE_SUBNET: &str = "172.17.0.0/16";

mod output;
mod timers;
mod view;

use timers::{emit, health_action, Deadline, Due};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Created,
    Running,
    Exited,
}

/// Where a container's network namespace comes from.
#[derive(Debug, Clone, Copy)]
enum Net {
    /// A network with addresses (`bridge` or a named one); ports are published.
    On(Sym),
    Host,
    Isolated,
    /// Shares the namespace of the container with this key.
    Joined(u64),
}

/// A published port; `bound` is the host port while running (0 otherwise).
#[derive(Debug, Clone, Copy)]
struct Port {
    container_port: u16,
    requested: u16,
    bound: u16,
    protocol: Protocol,
    host_ip: Sym,
}

struct Container {
    name: Sym,
    image: Sym,
    labels: Box<[(Sym, Sym)]>,
    ports: Box<[Port]>,
    net: Net,
    want_ip: Option<Ipv4Addr>,
    ip: Option<Ipv4Addr>,
    status: Status,
    /// How many times it was started: deadlines of an earlier run are stale.
    runs: u32,
    started: Option<Stamp>,
    finished: Option<Stamp>,
    exit_code: i64,
    /// Ended by its script; the ticker still owes the `die` event.
    scripted_end: bool,
    script: Script,
}

impl Container {
    fn scripted_exit_at(&self) -> Option<Stamp> {
        let exit = self.script.exit?;
        Some(
            self.started?
                .saturating_add(u64::from(exit.after_ms) * 1000),
        )
    }

    fn health(&self, now: Stamp) -> Health {
        let (Some(plan), Some(started)) = (self.script.health, self.started) else {
            return Health::None;
        };
        let at = match self.status {
            Status::Created => return Health::None,
            Status::Running => now,
            Status::Exited => self.finished.unwrap_or(now),
        };
        if at < started.saturating_add(u64::from(plan.start_ms) * 1000) {
            Health::Starting
        } else if plan.healthy {
            Health::Healthy
        } else {
            Health::Unhealthy
        }
    }
}

/// What `stop` found.
pub(super) enum Stop {
    /// Not running (any more).
    Done,
    /// Ignores SIGTERM: kill run `.0` after the timeout.
    Ignored(u32),
}

pub(super) struct State {
    keys: Keys,
    containers: HashMap<u64, Container>,
    /// Named containers by name.
    names: HashMap<Sym, u64>,
    strings: Interner,
    ports: HostPorts,
    networks: HashMap<Sym, Subnet>,
    deadlines: BinaryHeap<Reverse<Deadline>>,
    /// A deadline earlier than every other one was added: the ticker must look again.
    pub(super) wake_ticker: bool,
    events: Option<broadcast::Sender<ContainerEvent>>,
}

/// Whether the simulated registry lacks `image`.
pub(super) fn image_missing(image: &str) -> bool {
    image.contains("missing") || image.contains("does-not-exist")
}

/// Mark `c` exited at `at` with `code`, giving back its ports and address.
fn end(
    c: &mut Container,
    ports: &mut HostPorts,
    networks: &mut HashMap<Sym, Subnet>,
    at: Stamp,
    code: i64,
    scripted: bool,
) {
    c.status = Status::Exited;
    c.finished = Some(at);
    c.exit_code = code;
    c.scripted_end = scripted;
    for p in c.ports.iter_mut().filter(|p| p.bound != 0) {
        ports.release(p.bound, p.protocol);
        p.bound = 0;
    }
    if let (Net::On(net), Some(ip)) = (c.net, c.ip.take()) {
        if let Some(subnet) = networks.get_mut(&net) {
            subnet.release(ip);
        }
    }
}

impl State {
    pub(super) fn new() -> Self {
        let mut strings = Interner::default();
        let mut networks = HashMap::new();
        if let Ok(subnet) = Subnet::parse(BRIDGE_SUBNET, "") {
            networks.insert(strings.intern(BRIDGE), subnet);
        }
        State {
            keys: Keys::new(),
            containers: HashMap::new(),
            names: HashMap::new(),
            strings,
            ports: HostPorts::new(),
            networks,
            deadlines: BinaryHeap::new(),
            wake_ticker: false,
            events: None,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.containers.len()
    }

    pub(super) fn subscribe(&mut self) -> broadcast::Receiver<ContainerEvent> {
        self.events
            .get_or_insert_with(|| broadcast::channel(EVENT_BUFFER).0)
            .subscribe()
    }

    /// The container an id, id prefix (16+ digits) or name designates.
    pub(super) fn lookup(&self, id: &str) -> Option<u64> {
        if let Some(key) = key_of(id).filter(|k| self.containers.contains_key(k)) {
            return Some(key);
        }
        let sym = self.strings.get(id.strip_prefix('/').unwrap_or(id))?;
        self.names.get(&sym).copied()
    }

    pub(super) fn ensure_network(&mut self, spec: &NetworkSpec) -> Result<()> {
        let known = self.strings.get(&spec.name);
        if known.is_some_and(|sym| self.networks.contains_key(&sym)) {
            return Ok(());
        }
        let subnet = Subnet::parse(&spec.subnet, &spec.gateway)?;
        let sym = self.strings.intern(&spec.name);
        self.networks.insert(sym, subnet);
        Ok(())
    }

    pub(super) fn create(&mut self, spec: &ContainerSpec) -> Result<u64> {
        if image_missing(&spec.image) {
            return Err(RuntimeError::NotFound(format!(
                "No such image: {}",
                spec.image
            )));
        }
        let script = Script::of(spec)?;
        let name = spec.name.trim_start_matches('/');
        if let Some(other) = self.strings.get(name).and_then(|s| self.names.get(&s)) {
            return Err(RuntimeError::Invalid(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \
                 \"{}\". You have to remove (or rename) that container to be able to reuse \
                 that name.",
                container_id(*other)
            )));
        }
        let mut want_ip = None;
        let net = match &spec.network {
            None | Some(NetworkMode::Bridge) => Net::On(self.strings.intern(BRIDGE)),
            Some(NetworkMode::Host) => Net::Host,
            Some(NetworkMode::None) => Net::Isolated,
            Some(NetworkMode::Container(holder)) => {
                Net::Joined(self.lookup(holder).ok_or_else(|| {
                    RuntimeError::NotFound(format!("No such container: {holder}"))
                })?)
            }
            Some(NetworkMode::Network { name, ipv4 }) => {
                let known = self.strings.get(name);
                if !known.is_some_and(|sym| self.networks.contains_key(&sym)) {
                    return Err(RuntimeError::NotFound(format!("network {name} not found")));
                }
                if let Some(ip) = ipv4.as_deref().filter(|ip| !ip.is_empty()) {
                    want_ip = Some(ip.parse::<Ipv4Addr>().map_err(|_| {
                        RuntimeError::Invalid(format!("invalid IPv4 address: {ip}"))
                    })?);
                }
                Net::On(self.strings.intern(name))
            }
        };
        let ports = match net {
            Net::On(_) => spec
                .ports
                .iter()
                .map(|p| Port {
                    container_port: p.container_port,
                    requested: p.host_port,
                    bound: 0,
                    protocol: p.protocol,
                    host_ip: self.strings.intern(&p.host_ip),
                })
                .collect(),
            _ => Box::default(),
        };
        let labels = spec
            .labels
            .iter()
            .map(|(k, v)| (self.strings.intern(k), self.strings.intern(v)))
            .collect();
        let container = Container {
            name: self.strings.intern(name),
            image: self.strings.intern(&spec.image),
            labels,
            ports,
            net,
            want_ip,
            ip: None,
            status: Status::Created,
            runs: 0,
            started: None,
            finished: None,
            exit_code: 0,
            scripted_end: false,
            script,
        };
        let key = self.keys.next();
        if !name.is_empty() {
            self.names.insert(container.name, key);
        }
        self.containers.insert(key, container);
        Ok(key)
    }

    /// Apply a scripted exit that is due by `now`.
    fn settle(&mut self, key: u64, now: Stamp) {
        let Some(c) = self.containers.get_mut(&key) else {
            return;
        };
        if c.status != Status::Running {
            return;
        }
        if let (Some(at), Some(exit)) = (c.scripted_exit_at(), c.script.exit) {
            if at <= now {
                end(c, &mut self.ports, &mut self.networks, at, exit.code, true);
            }
        }
    }

    fn is_running(&mut self, key: u64, now: Stamp) -> bool {
        self.settle(key, now);
        self.containers
            .get(&key)
            .is_some_and(|c| c.status == Status::Running)
    }

    pub(super) fn start(&mut self, key: u64, now: Stamp) -> Result<()> {
        self.settle(key, now);
        let holder = match self.containers.get(&key).map(|c| (c.status, c.net)) {
            None => {
                return Err(RuntimeError::NotFound(format!(
                    "No such container: {}",
                    container_id(key)
                )))
            }
            Some((Status::Running, _)) => return Ok(()),
            Some((_, Net::Joined(holder))) => Some(holder),
            Some(_) => None,
        };
        if let Some(holder) = holder.filter(|h| !self.is_running(*h, now)) {
            return Err(RuntimeError::Invalid(format!(
                "cannot join network of a non running container: {}",
                container_id(holder)
            )));
        }
        let Some(c) = self.containers.get_mut(&key) else {
            return Err(RuntimeError::NotFound(container_id(key)));
        };
        let before = (c.status, c.finished, c.exit_code);
        let mut bound = Ok(());
        for i in 0..c.ports.len() {
            let p = c.ports[i];
            let host_ip = self.strings.resolve(p.host_ip);
            match self.ports.bind(p.requested, p.protocol, host_ip) {
                Ok(port) => c.ports[i].bound = port,
                Err(e) => {
                    bound = Err(e);
                    break;
                }
            }
        }
        if let (Ok(()), Net::On(net)) = (&bound, c.net) {
            if let Some(subnet) = self.networks.get_mut(&net) {
                match subnet.take(c.want_ip) {
                    Ok(ip) => c.ip = Some(ip),
                    Err(e) => bound = Err(e),
                }
            }
        }
        if let Err(e) = bound {
            // Give back what was taken; the container stays as it was.
            end(c, &mut self.ports, &mut self.networks, now, 0, false);
            (c.status, c.finished, c.exit_code) = before;
            return Err(e);
        }
        c.status = Status::Running;
        c.runs = c.runs.wrapping_add(1);
        c.started = Some(now);
        c.finished = None;
        c.exit_code = 0;
        c.scripted_end = false;
        let (run, script) = (c.runs, c.script);
        emit(&self.events, key, "start");
        if let Some(exit) = script.exit {
            if exit.after_ms == 0 {
                end(
                    c,
                    &mut self.ports,
                    &mut self.networks,
                    now,
                    exit.code,
                    false,
                );
                emit(&self.events, key, "die");
                return Ok(());
            }
            let at = now.saturating_add(u64::from(exit.after_ms) * 1000);
            self.push_deadline(Deadline {
                at,
                key,
                run,
                due: Due::Exit,
            });
        }
        if let Some(health) = script.health {
            if health.start_ms == 0 {
                emit(&self.events, key, health_action(health.healthy));
            } else {
                let at = now.saturating_add(u64::from(health.start_ms) * 1000);
                self.push_deadline(Deadline {
                    at,
                    key,
                    run,
                    due: Due::Health,
                });
            }
        }
        Ok(())
    }

    /// SIGTERM: running containers exit 143 at once unless scripted to ignore it.
    pub(super) fn stop(&mut self, key: u64, now: Stamp) -> Result<Stop> {
        self.settle(key, now);
        let Some(c) = self.containers.get_mut(&key) else {
            return Err(RuntimeError::NotFound(format!(
                "No such container: {}",
                container_id(key)
            )));
        };
        if c.status != Status::Running {
            return Ok(Stop::Done);
        }
        if c.script.ignore_sigterm {
            return Ok(Stop::Ignored(c.runs));
        }
        end(c, &mut self.ports, &mut self.networks, now, 143, false);
        emit(&self.events, key, "die");
        Ok(Stop::Done)
    }

    /// End the container with `code` if it runs (its run `run`, when given).
    pub(super) fn kill(&mut self, key: u64, run: Option<u32>, code: i64, now: Stamp) -> bool {
        self.settle(key, now);
        let Some(c) = self.containers.get_mut(&key) else {
            return false;
        };
        if c.status != Status::Running || run.is_some_and(|r| r != c.runs) {
            return false;
        }
        end(c, &mut self.ports, &mut self.networks, now, code, false);
        emit(&self.events, key, "die");
        true
    }

    /// Remove (killing it first if it runs); false if there was no such container.
    pub(super) fn remove(&mut self, key: u64, now: Stamp) -> bool {
        self.kill(key, None, 137, now);
        let Some(c) = self.containers.remove(&key) else {
            return false;
        };
        if self.names.get(&c.name) == Some(&key) {
            self.names.remove(&c.name);
        }
        let syms = c.labels.iter().flat_map(|(k, v)| [*k, *v]);
        let syms = syms.chain(c.ports.iter().map(|p| p.host_ip));
        let net = match c.net {
            Net::On(net) => Some(net),
            _ => None,
        };
        for sym in syms.chain([c.name, c.image]).chain(net) {
            self.strings.release(sym);
        }
        emit(&self.events, key, "destroy");
        true
    }
}
