//! Route 53 as stored: hosted zones, their record sets, and the changes that made them,
//! with Route 53's rules that need no I/O: ids, names ([`names`]), record values
//! ([`rdata`]), how a change batch applies to a zone ([`changes`]) and health checks
//! ([`health_checks`]).
//!
//! A zone's record sets are stored one per key, so a change batch is one transaction over
//! the sets it touches, whatever the zone's size.

pub mod changes;
pub mod health_checks;
pub mod names;
pub mod rdata;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dns::RecordType;
use crate::record::Record;

/// At most this many hosted zones per account (Route 53's default quota;
/// TooManyHostedZones beyond).
pub const MAX_HOSTED_ZONES: usize = 500;
/// At most this many record sets per zone unless configured otherwise (Route 53's
/// default quota, which AWS raises on request; the control plane's
/// `route53_max_record_sets_per_zone`).
pub const DEFAULT_MAX_RECORD_SETS: usize = 10_000;
/// The SOA every new zone gets, as Route 53 writes it, with Flotilla's name server.
pub const NAME_SERVER: &str = "ns-1.flotilla.internal.";
pub const SOA_TTL: u32 = 900;
pub const NS_TTL: u32 = 172_800;
/// The hosted zone id of Flotilla's load balancers (`CanonicalHostedZoneId`): an alias
/// naming it points at a load balancer.
pub const ELB_HOSTED_ZONE_ID: &str = "Z0FLOTILLAELB1";

/// A hosted zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostedZoneRecord {
    /// `Z` and upper-case letters and digits, without the `/hostedzone/` prefix.
    pub id: String,
    /// Lower case, fully qualified, trailing dot.
    pub name: String,
    pub caller_reference: String,
    #[serde(default)]
    pub comment: Option<String>,
    pub private: bool,
    /// Private zones: the VPCs (region, id) it is associated with.
    #[serde(default)]
    pub vpcs: Vec<(String, String)>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub created_at: DateTime<Utc>,
    /// The change that created it.
    pub change_id: String,
}

impl Record for HostedZoneRecord {
    const KIND: &'static str = "route53-hosted-zone";
    const VERSION: u32 = 1;
}

/// An alias: the record set answers with the addresses of a load balancer, or with another
/// record set of the same zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasTarget {
    pub hosted_zone_id: String,
    /// Lower case, fully qualified, trailing dot.
    pub dns_name: String,
    pub evaluate_target_health: bool,
}

/// One resource record set, as Route 53's API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    /// Lower case, fully qualified, trailing dot; a wildcard starts with `*.`.
    pub name: String,
    pub rtype: RecordType,
    /// Weighted and multivalue sets: what tells sets of one name and type apart.
    #[serde(default)]
    pub set_identifier: Option<String>,
    #[serde(default)]
    pub weight: Option<u8>,
    #[serde(default)]
    pub multi_value_answer: Option<bool>,
    /// Absent for aliases.
    #[serde(default)]
    pub ttl: Option<u32>,
    /// The values in presentation form; empty for aliases.
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub alias: Option<AliasTarget>,
    #[serde(default)]
    pub health_check_id: Option<String>,
}

impl Record for RecordSet {
    const KIND: &'static str = "route53-record-set";
    const VERSION: u32 = 1;
}

impl RecordSet {
    /// What identifies the set in its zone: name, type and set identifier.
    pub fn key(&self) -> (String, RecordType, String) {
        (
            self.name.clone(),
            self.rtype,
            self.set_identifier.clone().unwrap_or_default(),
        )
    }
}

/// `ChangeInfo.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeStatus {
    #[serde(rename = "PENDING")]
    Pending,
    #[serde(rename = "INSYNC")]
    Insync,
}

impl ChangeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Pending => "PENDING",
            ChangeStatus::Insync => "INSYNC",
        }
    }
}

/// A change (a zone's creation or deletion, or a change batch), kept so GetChange can
/// answer for it: INSYNC once the DNS server serves a configuration at least as new as
/// the store revision that wrote this record (the change's own commit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// `C` and upper-case letters and digits, without the `/change/` prefix.
    pub id: String,
    pub submitted_at: DateTime<Utc>,
    #[serde(default)]
    pub comment: Option<String>,
}

impl Record for ChangeRecord {
    const KIND: &'static str = "route53-change";
    const VERSION: u32 = 1;
}

/// A new id in Route 53's form: `prefix` then 13 upper-case letters and digits
/// (`Z0123456789ABC`), from `random` (taken as raw bits).
pub fn new_id(prefix: char, random: u128) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut id = String::with_capacity(14);
    id.push(prefix);
    let mut r = random;
    for _ in 0..13 {
        id.push(char::from(ALPHABET[(r % 36) as usize]));
        r /= 36;
    }
    id
}

/// The id in a `/hostedzone/ID` or `/change/ID` path, or the id itself.
pub fn strip_id_prefix<'a>(id: &'a str, prefix: &str) -> &'a str {
    id.strip_prefix(prefix).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_route53s_shape() {
        let id = new_id('Z', u128::MAX / 3);
        assert_eq!(id.len(), 14);
        assert!(id.starts_with('Z'));
        assert!(id[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert_ne!(new_id('C', 1), new_id('C', 2));
        assert_eq!(strip_id_prefix("/hostedzone/Z1", "/hostedzone/"), "Z1");
        assert_eq!(strip_id_prefix("Z1", "/hostedzone/"), "Z1");
    }
}
