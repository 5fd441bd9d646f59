//! Simulated host ports and network addresses.
//!
//! Host ports are taken per (port, protocol) while a container runs, as Docker binds them:
//! a fixed port already taken fails the start with Docker's "port is already allocated",
//! a dynamic one (host port 0) comes from a rotating counter over the ephemeral range
//! 32768–60999, skipping ports in use. Each network hands out addresses of its subnet
//! (network, broadcast and gateway addresses excluded), again rotating and skipping
//! addresses in use; a fixed address must be in the subnet and free.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use crate::{Protocol, Result, RuntimeError};

/// Docker's ephemeral host port range (the kernel's `ip_local_port_range` default).
pub(super) const EPHEMERAL_FIRST: u16 = 32768;
pub(super) const EPHEMERAL_LAST: u16 = 60999;

/// The host ports bound by running containers.
pub(super) struct HostPorts {
    used: HashSet<(u16, Protocol)>,
    next: u16,
}

impl HostPorts {
    pub(super) fn new() -> Self {
        HostPorts {
            used: HashSet::new(),
            next: EPHEMERAL_FIRST,
        }
    }

    /// Bind `port` (0: any free ephemeral port); the port bound.
    pub(super) fn bind(&mut self, port: u16, protocol: Protocol, host_ip: &str) -> Result<u16> {
        if port != 0 {
            if !self.used.insert((port, protocol)) {
                let ip = if host_ip.is_empty() {
                    "0.0.0.0"
                } else {
                    host_ip
                };
                return Err(RuntimeError::Invalid(format!(
                    "driver failed programming external connectivity: Bind for {ip}:{port} \
                     failed: port is already allocated"
                )));
            }
            return Ok(port);
        }
        for _ in EPHEMERAL_FIRST..=EPHEMERAL_LAST {
            let candidate = self.next;
            self.next = if candidate >= EPHEMERAL_LAST {
                EPHEMERAL_FIRST
            } else {
                candidate + 1
            };
            if self.used.insert((candidate, protocol)) {
                return Ok(candidate);
            }
        }
        Err(RuntimeError::Invalid(
            "no free host port in the ephemeral range 32768-60999".into(),
        ))
    }

    pub(super) fn release(&mut self, port: u16, protocol: Protocol) {
        self.used.remove(&(port, protocol));
    }
}

/// One network's address pool.
pub(super) struct Subnet {
    network: u32,
    /// Number of addresses in the subnet, network and broadcast included.
    size: u32,
    gateway: u32,
    /// Next offset to try.
    next: u32,
    used: HashSet<u32>,
}

impl Subnet {
    /// A pool for `cidr` (e.g. `172.31.240.0/20`); the gateway defaults to the first
    /// address.
    pub(super) fn parse(cidr: &str, gateway: &str) -> Result<Self> {
        let bad = || RuntimeError::Invalid(format!("invalid subnet {cidr:?}: expected a.b.c.d/n"));
        let (addr, len) = cidr.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.trim().parse().map_err(|_| bad())?;
        let len: u32 = len.trim().parse().map_err(|_| bad())?;
        if !(1..=30).contains(&len) {
            return Err(bad());
        }
        let size = 1u32 << (32 - len);
        let network = u32::from(addr) & !(size - 1);
        let gateway = if gateway.is_empty() {
            network + 1
        } else {
            let ip: Ipv4Addr = gateway.parse().map_err(|_| {
                RuntimeError::Invalid(format!("invalid gateway {gateway:?} for {cidr}"))
            })?;
            u32::from(ip)
        };
        Ok(Subnet {
            network,
            size,
            gateway,
            next: 1,
            used: HashSet::new(),
        })
    }

    /// Take `want`, or the next free address.
    pub(super) fn take(&mut self, want: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
        if let Some(ip) = want {
            let raw = u32::from(ip);
            let inside = raw > self.network && raw < self.network + self.size - 1;
            if !inside || raw == self.gateway {
                return Err(RuntimeError::Invalid(format!(
                    "no configured subnet contains IP address {ip}"
                )));
            }
            if !self.used.insert(raw) {
                return Err(RuntimeError::Invalid(format!(
                    "Address already in use: {ip}"
                )));
            }
            return Ok(ip);
        }
        for _ in 1..self.size - 1 {
            let offset = self.next;
            self.next = if offset + 1 >= self.size - 1 {
                1
            } else {
                offset + 1
            };
            let raw = self.network + offset;
            if raw != self.gateway && self.used.insert(raw) {
                return Ok(Ipv4Addr::from(raw));
            }
        }
        Err(RuntimeError::Invalid(
            "no available IPv4 addresses on this network's address pools".into(),
        ))
    }

    pub(super) fn release(&mut self, ip: Ipv4Addr) {
        self.used.remove(&u32::from(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_ports_rotate_and_skip_taken_ones() {
        let mut ports = HostPorts::new();
        assert_eq!(ports.bind(32769, Protocol::Tcp, ""), Ok(32769));
        assert_eq!(ports.bind(0, Protocol::Tcp, ""), Ok(32768));
        assert_eq!(ports.bind(0, Protocol::Tcp, ""), Ok(32770));
        assert_eq!(ports.bind(0, Protocol::Udp, ""), Ok(32771));
        let err = ports.bind(32769, Protocol::Tcp, "").unwrap_err();
        assert!(
            err.to_string().contains("port is already allocated"),
            "{err}"
        );
        ports.release(32769, Protocol::Tcp);
        assert_eq!(ports.bind(32769, Protocol::Tcp, "127.0.0.1"), Ok(32769));
    }

    #[test]
    fn ephemeral_range_wraps_and_runs_out() {
        let mut ports = HostPorts::new();
        let span = usize::from(EPHEMERAL_LAST - EPHEMERAL_FIRST) + 1;
        for _ in 0..span {
            ports.bind(0, Protocol::Tcp, "").unwrap();
        }
        assert!(ports.bind(0, Protocol::Tcp, "").is_err());
        ports.release(40000, Protocol::Tcp);
        assert_eq!(ports.bind(0, Protocol::Tcp, ""), Ok(40000));
    }

    #[test]
    fn addresses_come_from_the_subnet() {
        let mut net = Subnet::parse("10.0.0.7/29", "").unwrap();
        let want = Some(Ipv4Addr::new(10, 0, 0, 3));
        assert_eq!(net.take(want), Ok(Ipv4Addr::new(10, 0, 0, 3)));
        assert!(net.take(want).is_err(), "in use");
        assert!(
            net.take(Some(Ipv4Addr::new(10, 0, 0, 1))).is_err(),
            "gateway"
        );
        assert!(
            net.take(Some(Ipv4Addr::new(10, 0, 1, 2))).is_err(),
            "outside"
        );
        let got: Vec<_> = (0..4).map(|_| net.take(None).unwrap()).collect();
        assert_eq!(got, [2, 4, 5, 6].map(|last| Ipv4Addr::new(10, 0, 0, last)));
        assert!(net.take(None).is_err(), "full");
        net.release(Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(net.take(None), Ok(Ipv4Addr::new(10, 0, 0, 5)));
        assert!(Subnet::parse("10.0.0.0", "").is_err());
        assert!(Subnet::parse("10.0.0.0/31", "").is_err());
    }
}
