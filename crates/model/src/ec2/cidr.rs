//! IPv4 CIDR blocks as EC2 takes them: `a.b.c.d/n` with the network address aligned to
//! the prefix (EC2 refuses `10.0.0.1/16` rather than guessing), stored and shown in the
//! same form.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An aligned IPv4 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

impl Cidr {
    /// The network with this address and prefix; `None` unless the address is aligned and
    /// the prefix at most 32.
    pub fn new(network: Ipv4Addr, prefix: u8) -> Option<Cidr> {
        (prefix <= 32 && u32::from(network) & !mask(prefix) == 0)
            .then_some(Cidr { network, prefix })
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// How many addresses the block spans.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    fn first(&self) -> u32 {
        u32::from(self.network)
    }

    fn last(&self) -> u32 {
        self.first() | !mask(self.prefix)
    }

    /// Whether `addr` is inside the block.
    pub fn contains_addr(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask(self.prefix) == self.first()
    }

    /// Whether `other` lies wholly inside this block.
    pub fn contains(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains_addr(other.network)
    }

    /// Whether the two blocks share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// The `i`-th address of the block (0 is the network address); `None` past its end.
    pub fn nth(&self, i: u64) -> Option<Ipv4Addr> {
        (i < self.size()).then(|| Ipv4Addr::from(self.first() + i as u32))
    }

    /// The `index`-th block of prefix `prefix` inside this one.
    pub fn subdivision(&self, prefix: u8, index: u64) -> Option<Cidr> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let step = 1u64 << (32 - u32::from(prefix));
        let start = u64::from(self.first()) + index.checked_mul(step)?;
        (start + step - 1 <= u64::from(self.last()))
            .then(|| Cidr::new(Ipv4Addr::from(start as u32), prefix))
            .flatten()
    }
}

/// `0.0.0.0/0`: every address.
impl Default for Cidr {
    fn default() -> Cidr {
        Cidr {
            network: Ipv4Addr::UNSPECIFIED,
            prefix: 0,
        }
    }
}

fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("{s} is not a valid CIDR block.");
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let network: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Cidr::new(network, prefix).ok_or_else(|| {
            format!(
                "{s} is not a valid CIDR block: its address has bits set past the /{prefix} \
                 prefix (the network address is {}).",
                Ipv4Addr::from(u32::from(network) & mask(prefix))
            )
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;

    fn try_from(s: String) -> Result<Cidr, String> {
        s.parse()
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_aligned_blocks_only() {
        assert_eq!(c("10.0.0.0/16").to_string(), "10.0.0.0/16");
        assert_eq!(c("0.0.0.0/0").size(), 1 << 32);
        assert_eq!(c("10.1.2.3/32").size(), 1);
        for bad in [
            "10.0.0.1/16",
            "10.0.0.0/33",
            "10.0.0.0",
            "10.0.0/8",
            "x/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/008",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!("10.0.0.1/16"
            .parse::<Cidr>()
            .unwrap_err()
            .contains("10.0.0.0"));
    }

    #[test]
    fn containment_and_overlap() {
        let vpc = c("10.0.0.0/16");
        assert!(vpc.contains(&c("10.0.1.0/24")));
        assert!(!vpc.contains(&c("10.1.0.0/24")));
        assert!(!c("10.0.1.0/24").contains(&vpc));
        assert!(c("10.0.1.0/24").overlaps(&vpc));
        assert!(!c("10.0.1.0/24").overlaps(&c("10.0.2.0/24")));
        assert!(vpc.contains_addr("10.0.255.255".parse().unwrap()));
        assert!(!vpc.contains_addr("10.1.0.0".parse().unwrap()));
    }

    #[test]
    fn subdivisions_and_addresses() {
        let vpc = c("172.31.0.0/16");
        assert_eq!(vpc.subdivision(20, 0), Some(c("172.31.0.0/20")));
        assert_eq!(vpc.subdivision(20, 15), Some(c("172.31.240.0/20")));
        assert_eq!(vpc.subdivision(20, 16), None);
        assert_eq!(vpc.subdivision(8, 0), None);
        assert_eq!(c("10.0.1.0/24").nth(4), Some("10.0.1.4".parse().unwrap()));
        assert_eq!(c("10.0.1.0/24").nth(256), None);
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,24}") {
            let _ = s.parse::<Cidr>();
        }

        #[test]
        fn a_parsed_block_prints_as_given(a in any::<u32>(), p in 0u8..=32) {
            let net = Ipv4Addr::from(a & mask(p));
            let text = format!("{net}/{p}");
            prop_assert_eq!(text.parse::<Cidr>().unwrap().to_string(), text);
        }
    }
}
