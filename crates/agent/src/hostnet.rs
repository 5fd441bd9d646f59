//! The host's side of awsvpc networking: one Docker bridge per subnet, and the few host
//! firewall rules every such bridge needs.
//!
//! Each subnet a task of this host is in gets a Docker network `flotilla-SUBNET` with the
//! subnet's block and its first address as gateway, on a bridge named `fl-` and the first
//! twelve digits of the subnet id. Tasks join it at the address the control plane gave
//! them, so an address never depends on which host runs the task.
//!
//! Docker's own rules would get in the way twice: its bridges drop traffic to other
//! bridges and to unpublished ports, and it masquerades whatever leaves a bridge, which
//! would show a task in one subnet to a task in another as the host. So the networks are
//! created without Docker's masquerading, and the agent adds (once, idempotently, shared
//! by every agent of the host) a chain `FLOTILLA-FORWARD` ahead of Docker's, from
//! `DOCKER-USER`: traffic from and to the `fl-` bridges is accepted (security groups are
//! enforced in each task's own namespace, see `crate::firewall`), and traffic leaving
//! them for anywhere else is marked and masqueraded by `FLOTILLA-POSTROUTING`, so tasks
//! still reach the world with the host's address.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use flotilla_model::task::TaskNetwork;
use flotilla_runtime::NetworkSpec;
use tokio::sync::OnceCell;

use crate::firewall::{locate, run, HostServices, NetNs, ToolError, IPTABLES, NFT};

/// The prefix of every subnet bridge's name.
pub const BRIDGE_PREFIX: &str = "fl-";
/// The mark (and mask) on packets leaving a subnet bridge for elsewhere.
const MARK: &str = "0x10000000/0x10000000";
const FORWARD_CHAIN: &str = "FLOTILLA-FORWARD";
const NAT_CHAIN: &str = "FLOTILLA-POSTROUTING";

/// The Docker network of `n`'s subnet.
pub fn subnet_network(n: &TaskNetwork) -> NetworkSpec {
    let gateway = gateway_of(&n.cidr)
        .map(|g| g.to_string())
        .unwrap_or_default();
    NetworkSpec {
        name: format!("flotilla-{}", n.subnet_id),
        subnet: n.cidr.clone(),
        gateway,
        labels: BTreeMap::from([
            ("flotilla.managed".to_string(), "true".to_string()),
            ("flotilla.subnet".to_string(), n.subnet_id.clone()),
        ]),
        options: BTreeMap::from([
            (
                "com.docker.network.bridge.name".to_string(),
                bridge_name(&n.subnet_id),
            ),
            (
                "com.docker.network.bridge.enable_ip_masquerade".to_string(),
                "false".to_string(),
            ),
        ]),
    }
}

/// What every task may reach whatever its security groups say: the resolvers its
/// containers are given (`container_dns`), or without any the host's own (Docker's
/// embedded DNS forwards to them from inside the task's namespace), and the ECS
/// credentials endpoint.
pub fn host_services(
    container_dns: &[String],
    credentials: Option<std::net::SocketAddrV4>,
) -> HostServices {
    let mut resolvers: Vec<Ipv4Addr> = container_dns
        .iter()
        .filter_map(|d| d.parse().ok())
        .collect();
    if let Ok(conf) = std::fs::read_to_string("/etc/resolv.conf") {
        resolvers.extend(nameservers(&conf));
    }
    resolvers.sort();
    resolvers.dedup();
    HostServices::new(resolvers).with_credentials(credentials)
}

/// The IPv4 `nameserver` lines of a resolv.conf.
fn nameservers(conf: &str) -> Vec<Ipv4Addr> {
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse().ok())
        .collect()
}

/// The bridge of a subnet on every host: `fl-` and the first twelve digits of its id.
pub fn bridge_name(subnet_id: &str) -> String {
    let digits: String = subnet_id
        .trim_start_matches("subnet-")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    format!("{BRIDGE_PREFIX}{digits}")
}

/// The first host address of a block (`10.0.1.0/24` → `10.0.1.1`).
fn gateway_of(cidr: &str) -> Option<Ipv4Addr> {
    let (addr, _) = cidr.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    Some(Ipv4Addr::from(u32::from(addr).wrapping_add(1)))
}

/// Install Debian's `nftables` package when `nft` is missing (what enforcing security
/// groups needs), with apt-get, once; a host without apt-get, or an agent that may not
/// install packages, logs what to install instead, and its awsvpc tasks fail saying so.
pub async fn ensure_nft() {
    let _ = tokio::task::spawn_blocking(|| {
        if locate(NFT).is_ok() {
            return;
        }
        tracing::info!("nft is missing: installing Debian's nftables package");
        let install = || {
            std::process::Command::new("apt-get")
                .args(["install", "-y", "-qq", "nftables"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let update = || {
            std::process::Command::new("apt-get")
                .args(["update", "-qq"])
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if install() || (update() && install()) {
            tracing::info!("installed nftables");
        } else {
            tracing::warn!("could not install nftables: install Debian's nftables package, or awsvpc tasks will fail to start");
        }
    })
    .await;
}

/// Make sure the host's rules for the subnet bridges are in place (once per process;
/// a failure is logged and tried again next time).
pub async fn ensure_host_rules() {
    static DONE: OnceCell<()> = OnceCell::const_new();
    let _ = DONE
        .get_or_try_init(|| async {
            let result = tokio::task::spawn_blocking(install_rules).await;
            match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "could not add the host rules for task subnets: tasks in different subnets may not reach each other");
                    Err(())
                }
                Err(_) => Err(()),
            }
        })
        .await;
}

/// The rules, each added only when missing.
fn install_rules() -> Result<(), ToolError> {
    let forward: [&[&str]; 3] = [
        &[
            "-i",
            "fl-+",
            "!",
            "-o",
            "fl-+",
            "-j",
            "MARK",
            "--set-xmark",
            MARK,
        ],
        &["-i", "fl-+", "-j", "ACCEPT"],
        &["-o", "fl-+", "-j", "ACCEPT"],
    ];
    ensure_chain("filter", FORWARD_CHAIN)?;
    for rule in forward {
        ensure_rule("filter", FORWARD_CHAIN, rule)?;
    }
    let hook = if iptables(&["-t", "filter", "-n", "-L", "DOCKER-USER"]).is_ok() {
        "DOCKER-USER"
    } else {
        "FORWARD"
    };
    ensure_rule("filter", hook, &["-j", FORWARD_CHAIN])?;
    ensure_chain("nat", NAT_CHAIN)?;
    ensure_rule(
        "nat",
        NAT_CHAIN,
        &["-m", "mark", "--mark", MARK, "-j", "MASQUERADE"],
    )?;
    ensure_rule("nat", "POSTROUTING", &["-j", NAT_CHAIN])?;
    Ok(())
}

fn ensure_chain(table: &str, chain: &str) -> Result<(), ToolError> {
    if iptables(&["-t", table, "-n", "-L", chain]).is_ok() {
        return Ok(());
    }
    match iptables(&["-t", table, "-N", chain]) {
        // Another agent created it meanwhile.
        Err(ToolError::Failed { ref stderr, .. }) if stderr.contains("exists") => Ok(()),
        other => other,
    }
}

/// Insert `rule` at the top of `chain` unless it is there (a chain that jumps to ours
/// gets the jump first, ahead of Docker's rules).
fn ensure_rule(table: &str, chain: &str, rule: &[&str]) -> Result<(), ToolError> {
    let check: Vec<&str> = ["-t", table, "-C", chain]
        .iter()
        .chain(rule)
        .copied()
        .collect();
    if iptables(&check).is_ok() {
        return Ok(());
    }
    let add: Vec<&str> = if chain == FORWARD_CHAIN || chain == NAT_CHAIN {
        ["-t", table, "-A", chain]
            .iter()
            .chain(rule)
            .copied()
            .collect()
    } else {
        ["-t", table, "-I", chain, "1"]
            .iter()
            .chain(rule)
            .copied()
            .collect()
    };
    iptables(&add)
}

fn iptables(args: &[&str]) -> Result<(), ToolError> {
    let mut all = vec!["-w", "5"];
    all.extend_from_slice(args);
    run(&NetNs::Current, IPTABLES, &all, None).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_are_read_from_resolv_conf() {
        let conf =
            "# generated\nnameserver 10.0.0.2\nnameserver ::1\nsearch x\n nameserver 8.8.8.8\n";
        assert_eq!(
            nameservers(conf),
            vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(8, 8, 8, 8)]
        );
    }

    #[test]
    fn a_subnets_network_is_named_and_addressed_after_it() {
        let n = TaskNetwork {
            vpc_id: "vpc-1".into(),
            subnet_id: "subnet-0123456789abcdef0".into(),
            cidr: "10.0.16.0/20".into(),
            address: Ipv4Addr::new(10, 0, 16, 9),
            security_groups: vec![],
            network_interface_id: "eni-1".into(),
            attachment_id: "a".into(),
        };
        let spec = subnet_network(&n);
        assert_eq!(spec.name, "flotilla-subnet-0123456789abcdef0");
        assert_eq!(spec.subnet, "10.0.16.0/20");
        assert_eq!(spec.gateway, "10.0.16.1");
        let bridge = &spec.options["com.docker.network.bridge.name"];
        assert_eq!(bridge, "fl-0123456789ab");
        assert!(bridge.len() <= 15, "Linux interface names hold 15 bytes");
        assert_eq!(
            spec.options["com.docker.network.bridge.enable_ip_masquerade"],
            "false"
        );
    }
}
