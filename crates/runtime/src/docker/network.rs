//! Flotilla-managed bridge networks (awsvpc's task networks).
//!
//! Docker 20.10 happily creates a second network with an existing name unless the
//! request asks it not to, and bollard's request type has no such flag. So creation is
//! serialized in-process by the caller, and across processes the fixed subnet does the
//! job: a racing second create fails with "Pool overlaps", after which the network is
//! looked up again by name and found.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::InspectNetworkOptions;
use bollard::Docker;

use super::error::{from_bollard, is_not_found};
use crate::{NetworkSpec, Result};

/// Create the network unless a network of that name exists.
pub(crate) async fn ensure(docker: &Docker, spec: &NetworkSpec) -> Result<()> {
    if exists(docker, &spec.name).await? {
        return Ok(());
    }
    let error = match docker.create_network(create_request(spec)).await {
        Ok(created) => {
            tracing::info!(network = %spec.name, id = %created.id, "created network");
            return Ok(());
        }
        Err(e) => e,
    };
    // Someone else may have created it meanwhile (its subnet then overlaps ours).
    if exists(docker, &spec.name).await? {
        tracing::debug!(network = %spec.name, %error, "network appeared concurrently");
        return Ok(());
    }
    // A managed network left behind with our subnet (by a control plane that is gone)
    // and no container on it: remove it and try once more.
    if remove_unused_overlapping(docker, spec).await? > 0 {
        if let Err(e) = docker.create_network(create_request(spec)).await {
            if !exists(docker, &spec.name).await? {
                return Err(from_bollard(e));
            }
        }
        return Ok(());
    }
    Err(from_bollard(error))
}

/// Remove the networks labelled like `spec` (the `flotilla.managed` label) whose subnet
/// overlaps `spec`'s and that no container uses; how many.
async fn remove_unused_overlapping(docker: &Docker, spec: &NetworkSpec) -> Result<usize> {
    use bollard::query_parameters::ListNetworksOptions;
    let Some(ours) = parse_cidr(&spec.subnet) else {
        return Ok(0);
    };
    let filters = HashMap::from([("label".to_string(), vec![MANAGED_LABEL.to_string()])]);
    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(from_bollard)?;
    let mut removed = 0;
    for n in networks {
        let (Some(id), Some(name)) = (n.id, n.name) else {
            continue;
        };
        let overlaps = n
            .ipam
            .and_then(|i| i.config)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| parse_cidr(p.subnet.as_deref()?))
            .any(|theirs| cidrs_overlap(ours, theirs));
        if !overlaps || name == spec.name {
            continue;
        }
        // The list does not say which containers use it; inspect does.
        let used = docker
            .inspect_network(&id, None::<InspectNetworkOptions>)
            .await
            .map(|i| i.containers.is_some_and(|c| !c.is_empty()))
            .unwrap_or(true);
        if used {
            continue;
        }
        if docker.remove_network(&id).await.is_ok() {
            tracing::info!(network = %name, "removed an unused network whose subnet overlapped");
            removed += 1;
        }
    }
    Ok(removed)
}

/// The label every network the agent creates carries (`key=value`).
const MANAGED_LABEL: &str = "flotilla.managed=true";

fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (addr, len) = s.split_once('/')?;
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    Some((u32::from(addr) & mask, mask))
}

fn cidrs_overlap((a, am): (u32, u32), (b, bm): (u32, u32)) -> bool {
    let mask = am & bm;
    a & mask == b & mask
}

/// Whether a network with exactly this name exists (Docker also resolves id prefixes).
async fn exists(docker: &Docker, name: &str) -> Result<bool> {
    match docker
        .inspect_network(name, None::<InspectNetworkOptions>)
        .await
    {
        Ok(network) => Ok(network.name.as_deref() == Some(name)),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(from_bollard(e)),
    }
}

/// The IPv4 gateway of the network `name`: its first pool's gateway, or (the default
/// bridge lists only its subnet) the subnet's first address, where Docker puts the bridge's
/// own; `None` when it has no IPv4 pool or does not exist.
pub(crate) async fn gateway(docker: &Docker, name: &str) -> Result<Option<std::net::Ipv4Addr>> {
    let network = match docker
        .inspect_network(name, None::<InspectNetworkOptions>)
        .await
    {
        Ok(network) => network,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(from_bollard(e)),
    };
    let pools = network.ipam.and_then(|i| i.config).unwrap_or_default();
    Ok(pools.iter().find_map(pool_gateway))
}

/// A pool's IPv4 gateway, or its subnet's first address.
fn pool_gateway(pool: &IpamConfig) -> Option<std::net::Ipv4Addr> {
    if let Some(gateway) = pool.gateway.as_deref().and_then(|g| g.parse().ok()) {
        return Some(gateway);
    }
    let (network, len) = pool.subnet.as_deref()?.split_once('/')?;
    let network: std::net::Ipv4Addr = network.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    (len < 31).then(|| std::net::Ipv4Addr::from(u32::from(network) + 1))
}

fn create_request(spec: &NetworkSpec) -> NetworkCreateRequest {
    let pool = IpamConfig {
        subnet: Some(spec.subnet.clone()).filter(|s| !s.is_empty()),
        gateway: Some(spec.gateway.clone()).filter(|g| !g.is_empty()),
        ..Default::default()
    };
    let pools = if pool.subnet.is_some() {
        vec![pool]
    } else {
        Vec::new()
    };
    NetworkCreateRequest {
        name: spec.name.clone(),
        driver: Some("bridge".to_string()),
        ipam: Some(Ipam {
            driver: Some("default".to_string()),
            config: Some(pools),
            options: None,
        }),
        labels: Some(spec.labels.clone().into_iter().collect::<HashMap<_, _>>()),
        options: Some(spec.options.clone().into_iter().collect::<HashMap<_, _>>())
            .filter(|o| !o.is_empty()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_pools_gateway_is_its_own_or_the_subnets_first_address() {
        let pool = |subnet: &str, gateway: Option<&str>| IpamConfig {
            subnet: Some(subnet.into()),
            gateway: gateway.map(Into::into),
            ..Default::default()
        };
        let ip = |s: &str| Some(s.parse().unwrap());
        assert_eq!(
            pool_gateway(&pool("172.18.0.0/16", Some("172.18.0.9"))),
            ip("172.18.0.9")
        );
        assert_eq!(pool_gateway(&pool("172.17.0.0/16", None)), ip("172.17.0.1"));
        assert_eq!(pool_gateway(&pool("fd00::/64", None)), None);
        assert_eq!(pool_gateway(&pool("10.0.0.4/31", None)), None);
    }

    #[test]
    fn overlap_is_a_shared_address() {
        let c = |s| parse_cidr(s).unwrap();
        assert!(cidrs_overlap(c("10.0.0.0/16"), c("10.0.5.0/24")));
        assert!(cidrs_overlap(c("10.0.5.0/24"), c("10.0.0.0/16")));
        assert!(!cidrs_overlap(c("10.0.0.0/24"), c("10.0.1.0/24")));
        assert_eq!(parse_cidr("10.0.0.0/33"), None);
        assert_eq!(parse_cidr("fd00::/64"), None);
    }

    #[test]
    fn request_carries_subnet_gateway_and_labels() {
        let request = create_request(&NetworkSpec {
            name: "flotilla-awsvpc".into(),
            subnet: "172.31.240.0/20".into(),
            gateway: "172.31.240.1".into(),
            labels: BTreeMap::from([("flotilla.managed".into(), "true".into())]),
            options: Default::default(),
        });
        assert_eq!(request.driver.as_deref(), Some("bridge"));
        let pools = request.ipam.and_then(|i| i.config).unwrap_or_default();
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].subnet.as_deref(), Some("172.31.240.0/20"));
        assert_eq!(pools[0].gateway.as_deref(), Some("172.31.240.1"));
        assert_eq!(
            request.labels.unwrap_or_default()["flotilla.managed"],
            "true"
        );
    }
}
