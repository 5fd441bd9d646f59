//! awsvpc tasks' network interfaces: the address each task is given in its subnet, chosen
//! when the task is placed ([`allocate`]) and held by a record whose key names the subnet
//! and the address, written in the placement's transaction only while absent, so that no
//! two tasks hold one address whichever host they run on. [`release`] deletes the records
//! of tasks that stopped or are gone. The records are also what DescribeNetworkInterfaces
//! lists and where security groups find their task members ([`addresses_in_group`]).

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use flotilla_model::ec2::cidr::Cidr;
use flotilla_model::ec2::interface::{assignable, NetworkInterfaceRecord};
use flotilla_model::ec2::{ResourceType, SubnetRecord};
use flotilla_model::task::{TaskNetwork, TaskStatus};
use flotilla_model::Scope;
use flotilla_store::{Compare, Op};
use rand::Rng;

use super::{new_id, CheckedNetwork, Ec2Error};
use crate::{keys, ControlError, State};

/// Random addresses tried in a subnet before walking it from the start.
const RANDOM_TRIES: usize = 16;
/// Records deleted per transaction by [`release`].
const RELEASE_BATCH: usize = 200;

/// An address given to a task: the task's side and the record that claims it.
#[derive(Debug, Clone)]
pub struct Allocation {
    pub network: TaskNetwork,
    pub key: String,
    pub record: NetworkInterfaceRecord,
}

impl Allocation {
    /// The writes that claim the address: the record, only while its key is absent.
    pub fn claim(&self) -> (Compare, Op) {
        (
            Compare::absent(self.key.as_bytes()),
            Op::put(
                self.key.as_bytes(),
                flotilla_model::record::encode(&self.record),
            ),
        )
    }
}

/// Give the task `task_arn` (stored at `task_key`) an address in one of `network`'s
/// subnets: one in `zone` when there is one (the task's instance's zone), otherwise any.
/// `taken` holds the addresses given in the same request so far (they are not visible
/// yet); the new one is added. An address someone claims meanwhile fails the placement's
/// transaction, which then plans again.
pub fn allocate(
    state: &State,
    scope: &Scope,
    network: &CheckedNetwork,
    zone: Option<&str>,
    task_arn: &str,
    task_key: &str,
    taken: &mut HashSet<Ipv4Addr>,
) -> Result<Allocation, Ec2Error> {
    let in_zone: Vec<&Arc<SubnetRecord>> = network
        .subnets
        .iter()
        .filter(|s| Some(s.availability_zone.as_str()) == zone)
        .collect();
    let candidates = if in_zone.is_empty() {
        network.subnets.iter().collect()
    } else {
        in_zone
    };
    // Start at a random subnet so that a service's tasks spread over its subnets.
    let start = rand::rng().random_range(0..candidates.len().max(1));
    for i in 0..candidates.len() {
        let subnet = candidates[(start + i) % candidates.len()];
        if let Some(address) = free_address(state, scope, subnet, taken) {
            taken.insert(address);
            return Ok(new_allocation(
                scope, network, subnet, address, task_arn, task_key,
            ));
        }
    }
    let ids: Vec<&str> = candidates.iter().map(|s| s.subnet_id.as_str()).collect();
    Err(Ec2Error::InvalidParameter(format!(
        "No free private IP address is left in subnet(s) {}: stop tasks or add a subnet.",
        ids.join(", ")
    )))
}

fn new_allocation(
    scope: &Scope,
    network: &CheckedNetwork,
    subnet: &SubnetRecord,
    address: Ipv4Addr,
    task_arn: &str,
    task_key: &str,
) -> Allocation {
    let record = NetworkInterfaceRecord {
        network_interface_id: new_id(ResourceType::NetworkInterface),
        attachment_id: uuid::Uuid::new_v4().to_string(),
        subnet_id: subnet.subnet_id.clone(),
        vpc_id: subnet.vpc_id.clone(),
        availability_zone: subnet.availability_zone.clone(),
        private_ip_address: address,
        security_groups: network.security_groups.clone(),
        owner_id: scope.account.clone(),
        task_arn: task_arn.to_string(),
        task_key: task_key.to_string(),
        created_at: chrono::Utc::now(),
    };
    Allocation {
        network: TaskNetwork {
            vpc_id: record.vpc_id.clone(),
            subnet_id: record.subnet_id.clone(),
            cidr: subnet.cidr_block.to_string(),
            address,
            security_groups: record.security_groups.clone(),
            network_interface_id: record.network_interface_id.clone(),
            attachment_id: record.attachment_id.clone(),
        },
        key: keys::network_interface(&scope.region, &subnet.subnet_id, address),
        record,
    }
}

/// An address of `subnet` that no interface holds and `taken` does not hold: a few random
/// ones first (concurrent placements rarely pick the same), then the first free one.
fn free_address(
    state: &State,
    scope: &Scope,
    subnet: &SubnetRecord,
    taken: &HashSet<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    let cidr: &Cidr = &subnet.cidr_block;
    let view = &state.ec2().interfaces;
    let free = |ip: Ipv4Addr| {
        assignable(cidr, ip)
            && !taken.contains(&ip)
            && view
                .get(keys::network_interface(&scope.region, &subnet.subnet_id, ip).as_bytes())
                .is_none()
    };
    let size = cidr.size();
    if size <= 5 {
        return None;
    }
    let mut rng = rand::rng();
    for _ in 0..RANDOM_TRIES {
        let ip = cidr.nth(rng.random_range(4..size - 1))?;
        if free(ip) {
            return Some(ip);
        }
    }
    (4..size - 1)
        .filter_map(|i| cidr.nth(i))
        .find(|ip| free(*ip))
}

/// The interfaces of the region, optionally of one subnet.
pub fn list(state: &State, scope: &Scope, subnet: &str) -> Vec<Arc<NetworkInterfaceRecord>> {
    state
        .ec2()
        .interfaces
        .range(keys::network_interfaces_of(&scope.region, subnet).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// DescribeNetworkInterfaces: the region's interfaces, those named by `ids` (each must
/// exist), that pass `filters`.
pub fn describe(
    state: &State,
    scope: &Scope,
    ids: &[String],
    filters: &[flotilla_model::ec2::filter::Filter],
) -> Result<Vec<Arc<NetworkInterfaceRecord>>, Ec2Error> {
    use flotilla_model::ec2::filter;
    filter::check(filters, &NetworkInterfaceRecord::default())
        .map_err(|name| Ec2Error::InvalidParameter(format!("The filter '{name}' is invalid")))?;
    for id in ids {
        super::check_id(ResourceType::NetworkInterface, id)?;
    }
    let mut all = list(state, scope, "");
    if !ids.is_empty() {
        if let Some(missing) = ids
            .iter()
            .find(|id| !all.iter().any(|i| &i.network_interface_id == *id))
        {
            return Err(Ec2Error::not_found(ResourceType::NetworkInterface, missing));
        }
        all.retain(|i| ids.contains(&i.network_interface_id));
    }
    all.retain(|i| filter::passes(filters, i.as_ref()));
    Ok(all)
}

/// The task addresses that are members of security group `group_id`.
pub fn addresses_in_group(state: &State, scope: &Scope, group_id: &str) -> Vec<Ipv4Addr> {
    list(state, scope, "")
        .iter()
        .filter(|i| i.security_groups.iter().any(|g| g == group_id))
        .map(|i| i.private_ip_address)
        .collect()
}

/// Delete the interfaces whose task stopped or is gone; how many. Each delete is guarded
/// by the record's mod-revision.
pub async fn release(state: &State) -> Result<usize, ControlError> {
    let stale: Vec<(Vec<u8>, i64)> = state
        .ec2()
        .interfaces
        .range(keys::NETWORK_INTERFACES.as_bytes())
        .iter()
        .filter(|(_, e)| {
            state
                .tasks()
                .get(e.value.task_key.as_bytes())
                .is_none_or(|t| {
                    t.value.task_arn != e.value.task_arn
                        || t.value.last_status == TaskStatus::Stopped
                })
        })
        .map(|(k, e)| (k.clone(), e.mod_revision))
        .collect();
    state.delete_unchanged(&stale, RELEASE_BATCH).await
}
