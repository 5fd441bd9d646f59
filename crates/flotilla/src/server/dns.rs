//! Where the DNS server answers: its address, the host's resolvers it forwards other
//! names to and for whom, and the address containers resolve through.

use std::net::SocketAddr;

use super::{ContainerDns, ServerArgs};

/// The DNS server's settings: its address (see [`ServerArgs::dns_addr`]), the host's
/// resolvers for other names, and who may use them: loopback and the private networks
/// containers use (never an open resolver).
pub(super) fn dns_options(
    args: &ServerArgs,
    container_dns: Option<std::net::IpAddr>,
) -> flotilla_server::DnsOptions {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let addr = args.dns_addr.unwrap_or_else(default_dns_addr);
    let mut options = flotilla_server::DnsOptions {
        udp: addr,
        tcp: addr,
        also: container_dns
            .map(|ip| SocketAddr::new(ip, 53))
            .into_iter()
            .collect(),
        forwarders: flotilla_server::system_forwarders(),
        ..flotilla_server::DnsOptions::default()
    };
    options.forward_allow.extend([
        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8),
        (IpAddr::V4(Ipv4Addr::new(172, 16, 0, 0)), 12),
        (IpAddr::V4(Ipv4Addr::new(192, 168, 0, 0)), 16),
        (IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0)), 7),
    ]);
    options
}

/// Port 53 when this process may bind it (root), 8053 otherwise, on loopback.
fn default_dns_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], if is_root() { 53 } else { 8053 }))
}

/// Whether this process runs as root (and so may bind port 53).
pub(super) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// The address the DNS server should also answer on for containers (see
/// [`ServerArgs::container_dns`]): `auto` asks Docker for its bridge's gateway, for `up`
/// as root only.
pub(super) async fn container_dns(args: &ServerArgs, up: bool) -> Option<std::net::IpAddr> {
    match args.container_dns {
        ContainerDns::None => None,
        ContainerDns::Address(ip) => Some(ip),
        ContainerDns::Auto if !up || !is_root() => None,
        ContainerDns::Auto => {
            let docker = flotilla_runtime::docker::DockerRuntime::connect()
                .await
                .ok()?;
            match docker.bridge_gateway().await {
                Ok(gateway) => gateway.map(std::net::IpAddr::V4),
                Err(error) => {
                    tracing::warn!(%error, "cannot read Docker's bridge gateway; containers keep Docker's resolvers");
                    None
                }
            }
        }
    }
}
