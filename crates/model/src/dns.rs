//! The contract between the control plane and the DNS data plane.
//!
//! The control plane fills a [`DnsConfig`] from its views (Route 53 hosted zones, Cloud Map
//! DNS namespaces, the zone of load balancers' `DNSName`s) and publishes it on a `watch`
//! channel. Everything that needs the rest of the system is resolved before it gets here:
//! alias records arrive as the plain A/AAAA records they answer with, and a record's health
//! (an alias's `EvaluateTargetHealth`, a Cloud Map instance's status) arrives as
//! [`RecordPlane::healthy`]. The data plane answers exactly what the configuration says and
//! never reads the store; it reports back the [`DnsConfig::version`] it serves, which is
//! how Route 53's GetChange knows a change is `INSYNC`.

/// Everything the DNS server is authoritative for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DnsConfig {
    /// Grows with every configuration the control plane publishes.
    pub version: u64,
    /// Zones in no particular order; a query belongs to the zone whose origin is its
    /// longest suffix. Two zones may share an origin (a public and a private hosted zone
    /// of the same name): the first listed answers.
    pub zones: Vec<ZonePlane>,
}

/// One zone: its SOA and every record set in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ZonePlane {
    /// The hosted zone's id (`Z...`), or the namespace's, for logs and reports.
    pub id: String,
    /// Lower case, fully qualified, with the trailing dot: `example.com.`.
    pub origin: String,
    pub soa: Soa,
    /// Every record set but the SOA, the apex NS set included.
    pub records: Vec<RecordPlane>,
}

/// A zone's SOA record, answered at the apex and in the authority section of negative
/// answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Soa {
    /// Fully qualified, trailing dot.
    pub mname: String,
    /// The mailbox in DNS form (`hostmaster.example.com.`).
    pub rname: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// The negative-caching TTL (RFC 2308): negative answers carry the SOA with
    /// `min(ttl, minimum)` as its TTL.
    pub minimum: u32,
    /// The SOA record's own TTL.
    pub ttl: u32,
}

/// One record set: a name, a type, a TTL and its values, with how it is chosen among
/// other sets of the same name and type.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPlane {
    /// Lower case, fully qualified, trailing dot; a wildcard starts with `*.`
    /// (`*.example.com.`) and answers names below its parent that have no record set of
    /// their own (RFC 4592).
    pub name: String,
    pub rtype: RecordType,
    pub ttl: u32,
    /// The values in presentation (zone file) form, as Route 53 stores them:
    /// A `192.0.2.1`; AAAA `2001:db8::1`; CNAME, NS and PTR a domain name (with or without
    /// the trailing dot; relative names are not used); TXT one or more quoted strings
    /// (`"v=spf1 -all"`, `"part one" "part two"`); MX `10 mail.example.com`; SRV
    /// `1 1 8080 host.example.com`; CAA `0 issue "letsencrypt.org"`.
    pub values: Vec<String>,
    pub routing: Routing,
    /// False when the set is known to be unhealthy: a weighted or multivalue set that is
    /// unhealthy is not answered while a healthy set of the same name and type exists
    /// (when none is healthy, all are answered as if healthy, as Route 53 does).
    pub healthy: bool,
}

/// How a query chooses among the record sets of one name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// The only set of its name and type.
    Simple,
    /// Route 53 weighted routing: one set per answer, chosen at random in proportion to
    /// `weight` among the healthy sets; a weight of 0 is never chosen unless every set's
    /// weight is 0 (then all are equally likely).
    Weighted { set_identifier: String, weight: u8 },
    /// Route 53 multivalue answer / Cloud Map MULTIVALUE: the answer holds the values of
    /// up to 8 healthy sets, chosen at random.
    MultiValue { set_identifier: String },
}

/// The record types Route 53 and Cloud Map serve (stored by their mnemonics).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum RecordType {
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
    #[serde(rename = "CNAME")]
    Cname,
    #[serde(rename = "TXT")]
    Txt,
    #[serde(rename = "MX")]
    Mx,
    #[serde(rename = "SRV")]
    Srv,
    #[serde(rename = "NS")]
    Ns,
    #[serde(rename = "SOA")]
    Soa,
    #[serde(rename = "CAA")]
    Caa,
    #[serde(rename = "PTR")]
    Ptr,
}

impl RecordType {
    /// Every type, in the order Route 53 lists them.
    pub const ALL: [RecordType; 10] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Cname,
        RecordType::Txt,
        RecordType::Mx,
        RecordType::Srv,
        RecordType::Ns,
        RecordType::Soa,
        RecordType::Caa,
        RecordType::Ptr,
    ];

    /// The type's mnemonic as Route 53 and zone files spell it (`AAAA`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Txt => "TXT",
            RecordType::Mx => "MX",
            RecordType::Srv => "SRV",
            RecordType::Ns => "NS",
            RecordType::Soa => "SOA",
            RecordType::Caa => "CAA",
            RecordType::Ptr => "PTR",
        }
    }

    /// The type named `s` (upper case, as Route 53 takes it).
    pub fn parse(s: &str) -> Option<RecordType> {
        RecordType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What the data plane reports back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsReport {
    /// The [`DnsConfig::version`] whose answers are being served.
    pub version: u64,
    /// Whether the UDP and TCP sockets are bound, or why not.
    pub bind_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_types_round_trip_their_names() {
        for t in RecordType::ALL {
            assert_eq!(RecordType::parse(t.as_str()), Some(t));
        }
        assert_eq!(RecordType::parse("aaaa"), None);
        assert_eq!(RecordType::parse("SPF"), None);
    }
}
