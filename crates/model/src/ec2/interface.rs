//! Network interfaces: the address an awsvpc task holds in its subnet. The record is the
//! claim on the address (its key names the subnet and the address, so no two tasks ever
//! hold one address, whichever host they run on), EC2's `NetworkInterface` as
//! DescribeNetworkInterfaces shows it, and the member address of its security groups.

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cidr::Cidr;
use super::filter::Filterable;
use crate::record::Record;
use crate::timestamp;

/// One awsvpc task's network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterfaceRecord {
    /// `eni-` and 17 hexadecimal digits.
    pub network_interface_id: String,
    /// The id of the task's ECS attachment (a UUID).
    pub attachment_id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub private_ip_address: Ipv4Addr,
    pub security_groups: Vec<String>,
    pub owner_id: String,
    /// The task it is attached to, and the task record's key.
    pub task_arn: String,
    pub task_key: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
}

impl Record for NetworkInterfaceRecord {
    const KIND: &'static str = "ec2-network-interface";
    const VERSION: u32 = 1;
}

impl Default for NetworkInterfaceRecord {
    fn default() -> Self {
        NetworkInterfaceRecord {
            network_interface_id: String::new(),
            attachment_id: String::new(),
            subnet_id: String::new(),
            vpc_id: String::new(),
            availability_zone: String::new(),
            private_ip_address: Ipv4Addr::UNSPECIFIED,
            security_groups: vec![],
            owner_id: String::new(),
            task_arn: String::new(),
            task_key: String::new(),
            created_at: DateTime::default(),
        }
    }
}

impl NetworkInterfaceRecord {
    /// The MAC address Docker gives an interface with this address (`02:42` and the
    /// address's four bytes), as EC2 shows one per interface.
    pub fn mac_address(&self) -> String {
        mac_of(self.private_ip_address)
    }

    /// The id of the interface's attachment as EC2 shows it (`ela-attach-` and 17
    /// digits of the ECS attachment's id).
    pub fn ec2_attachment_id(&self) -> String {
        let digits = self.attachment_id.replace('-', "");
        format!("ela-attach-{}", digits.get(..17).unwrap_or(&digits))
    }

    /// The private DNS name EC2 gives the address (`ip-10-0-1-5.REGION.compute.internal`).
    pub fn private_dns_name(&self, region: &str) -> String {
        private_dns_name(self.private_ip_address, region)
    }
}

/// The MAC address of an interface at `ip`.
pub fn mac_of(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("02:42:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

/// EC2's private DNS name of `ip` in `region`.
pub fn private_dns_name(ip: Ipv4Addr, region: &str) -> String {
    let dashed = ip.to_string().replace('.', "-");
    format!("ip-{dashed}.{region}.compute.internal")
}

/// The address a subnet's tasks route through: the block's first host address (EC2's
/// router address), which each host's bridge for the subnet holds.
pub fn gateway(cidr: &Cidr) -> Option<Ipv4Addr> {
    cidr.nth(1)
}

/// Whether tasks can be given `ip` in `cidr`: inside it and none of EC2's five reserved
/// addresses (the first four and the last).
pub fn assignable(cidr: &Cidr, ip: Ipv4Addr) -> bool {
    let offset = u64::from(u32::from(ip).wrapping_sub(u32::from(cidr.network())));
    cidr.contains_addr(ip) && offset >= 4 && offset + 1 < cidr.size()
}

impl Filterable for NetworkInterfaceRecord {
    fn values(&self, name: &str) -> Option<Vec<String>> {
        let one = |v: String| Some(vec![v]);
        match name {
            "network-interface-id" => one(self.network_interface_id.clone()),
            "subnet-id" => one(self.subnet_id.clone()),
            "vpc-id" => one(self.vpc_id.clone()),
            "availability-zone" => one(self.availability_zone.clone()),
            "private-ip-address" | "addresses.private-ip-address" => {
                one(self.private_ip_address.to_string())
            }
            "group-id" => Some(self.security_groups.clone()),
            "mac-address" => one(self.mac_address()),
            "owner-id" => one(self.owner_id.clone()),
            "status" => one("in-use".into()),
            "interface-type" => one("interface".into()),
            "attachment.attachment-id" => one(self.ec2_attachment_id()),
            "attachment.status" => one("attached".into()),
            "requester-managed" => one("true".into()),
            _ => None,
        }
    }

    fn tags(&self) -> &[super::Ec2Tag] {
        &[]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignable_skips_ec2s_reserved_addresses() {
        let cidr: Cidr = "10.0.1.0/28".parse().unwrap();
        let ok: Vec<u8> = (0..=255u8)
            .filter(|d| assignable(&cidr, Ipv4Addr::new(10, 0, 1, *d)))
            .collect();
        assert_eq!(ok, (4..=14).collect::<Vec<u8>>());
        assert!(!assignable(&cidr, Ipv4Addr::new(10, 0, 2, 5)));
        assert_eq!(gateway(&cidr), Some(Ipv4Addr::new(10, 0, 1, 1)));
    }

    #[test]
    fn mac_and_dns_name_follow_the_address() {
        let ip = Ipv4Addr::new(172, 31, 0, 17);
        assert_eq!(mac_of(ip), "02:42:ac:1f:00:11");
        assert_eq!(
            private_dns_name(ip, "us-east-1"),
            "ip-172-31-0-17.us-east-1.compute.internal"
        );
    }
}
