//! Rendering, without a kernel: the script's exact shape, which sets it declares, what it
//! refuses, and (proptest) that no input yields a statement outside the known shapes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

use flotilla_model::firewall::{InterfaceFirewall, Peer, Protocol, Rule, RuleError};
use proptest::prelude::*;

use super::render::listed_fingerprint;
use super::*;

fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

fn tcp(from: u16, to: u16, peer: Peer) -> Rule {
    Rule {
        protocol: Protocol::Tcp,
        from_port: Some(from),
        to_port: Some(to),
        peer,
    }
}

fn cidr(network: Ipv4Addr, prefix: u8) -> Peer {
    Peer::Cidr { network, prefix }
}

fn group(id: &str) -> Peer {
    Peer::Group(id.to_string())
}

fn members(pairs: &[(&str, &[Ipv4Addr])]) -> BTreeMap<String, BTreeSet<Ipv4Addr>> {
    pairs
        .iter()
        .map(|(id, addrs)| (id.to_string(), addrs.iter().copied().collect()))
        .collect()
}

fn services() -> HostServices {
    HostServices::new(vec![ip(10, 0, 0, 2)])
}

#[test]
fn renders_one_replacing_transaction() {
    let iface = InterfaceFirewall {
        address: ip(10, 0, 1, 5),
        ingress: vec![
            tcp(80, 80, group("sg-0a1")),
            tcp(8000, 8100, cidr(ip(192, 168, 7, 9), 16)),
            Rule {
                protocol: Protocol::Icmp,
                from_port: Some(8),
                to_port: None,
                peer: cidr(ip(0, 0, 0, 0), 0),
            },
        ],
        egress: vec![
            tcp(5432, 5432, group("sg-db")),
            Rule {
                protocol: Protocol::Udp,
                from_port: None,
                to_port: None,
                peer: cidr(ip(10, 0, 9, 9), 32),
            },
            Rule {
                protocol: Protocol::Other(47),
                from_port: Some(1),
                to_port: None,
                peer: cidr(ip(10, 0, 0, 0), 8),
            },
        ],
    };
    let groups = members(&[
        ("sg-0a1", &[ip(10, 0, 1, 7), ip(10, 0, 1, 6)]),
        ("sg-unused", &[ip(10, 0, 1, 8)]),
    ]);
    let ruleset = render(&iface, &groups, &services()).unwrap();
    let expected = format!(
        "# Security groups of 10.0.1.5, written by the Flotilla agent; replaced as a whole.
table inet flotilla
delete table inet flotilla
table inet flotilla {{
\tcomment \"flotilla:{}\"
\tset sg-0a1 {{
\t\ttype ipv4_addr
\t\telements = {{ 10.0.1.6, 10.0.1.7 }}
\t}}
\tset sg-db {{
\t\ttype ipv4_addr
\t}}
\tchain input {{
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tct state invalid drop
\t\tiifname \"lo\" accept
\t\tip saddr @sg-0a1 tcp dport 80 accept
\t\tip saddr 192.168.0.0/16 tcp dport 8000-8100 accept
\t\tip saddr 0.0.0.0/0 icmp type 8 accept
\t}}
\tchain output {{
\t\ttype filter hook output priority filter; policy drop;
\t\tct state established,related accept
\t\tct state invalid drop
\t\toifname \"lo\" accept
\t\tip daddr 10.0.0.2 udp dport 53 accept
\t\tip daddr 10.0.0.2 tcp dport 53 accept
\t\tip daddr 169.254.170.2 tcp dport 80 accept
\t\tip daddr @sg-db tcp dport 5432 accept
\t\tip daddr 10.0.9.9 meta l4proto udp accept
\t\tip daddr 10.0.0.0/8 meta l4proto 47 accept
\t}}
}}
",
        ruleset.fingerprint()
    );
    assert_eq!(ruleset.script(), expected);
}

#[test]
fn no_rules_allow_only_tracked_loopback_and_services() {
    let iface = InterfaceFirewall {
        address: ip(10, 0, 1, 5),
        ingress: vec![],
        egress: vec![],
    };
    let none = HostServices {
        resolvers: vec![],
        credentials: None,
    };
    let script = render(&iface, &BTreeMap::new(), &none).unwrap();
    let accepts: Vec<&str> = script
        .script()
        .lines()
        .filter(|l| l.ends_with("accept"))
        .map(str::trim)
        .collect();
    assert_eq!(
        accepts,
        [
            "ct state established,related accept",
            "iifname \"lo\" accept",
            "ct state established,related accept",
            "oifname \"lo\" accept",
        ]
    );
    assert!(!script.script().contains("set "));
}

#[test]
fn repeated_rules_render_once() {
    let rule = tcp(443, 443, group("sg-1"));
    let iface = InterfaceFirewall {
        address: ip(10, 0, 1, 5),
        ingress: vec![rule.clone(), tcp(1, 2, cidr(ip(1, 1, 1, 1), 32)), rule],
        egress: vec![],
    };
    let script = render(&iface, &BTreeMap::new(), &services()).unwrap();
    assert_eq!(script.script().matches("tcp dport 443").count(), 1);
    assert_eq!(script.script().matches("set sg-1 {").count(), 1);
}

#[test]
fn refuses_what_it_cannot_enforce() {
    let with = |rule: Rule| InterfaceFirewall {
        address: ip(10, 0, 1, 5),
        ingress: vec![],
        egress: vec![rule],
    };
    let cases = [
        (
            tcp(1, 1, group("sg-1 { } ; flush ruleset")),
            RuleError::GroupId("sg-1 { } ; flush ruleset".into()),
        ),
        (
            tcp(1, 1, group("sg-1\ntable ip x")),
            RuleError::GroupId("sg-1\ntable ip x".into()),
        ),
        (tcp(1, 1, cidr(ip(1, 1, 1, 1), 33)), RuleError::Prefix(33)),
        (
            tcp(2, 1, cidr(ip(1, 1, 1, 1), 8)),
            RuleError::PortRange {
                from: Some(2),
                to: Some(1),
            },
        ),
    ];
    for (rule, error) in cases {
        assert_eq!(
            render(&with(rule), &BTreeMap::new(), &services()),
            Err(error)
        );
    }
}

#[test]
fn fingerprint_follows_the_rules_and_the_members() {
    let iface = InterfaceFirewall {
        address: ip(10, 0, 1, 5),
        ingress: vec![tcp(80, 80, group("sg-1"))],
        egress: vec![],
    };
    let a = members(&[("sg-1", &[ip(10, 0, 1, 7)])]);
    let b = members(&[("sg-1", &[ip(10, 0, 1, 8)])]);
    let first = render(&iface, &a, &services()).unwrap();
    assert_eq!(first, render(&iface, &a, &services()).unwrap());
    assert_ne!(
        first.fingerprint(),
        render(&iface, &b, &services()).unwrap().fingerprint()
    );
    // nft lists the table with its comment on a line of its own.
    let listing = format!(
        "table inet flotilla {{\n\tcomment \"flotilla:{}\"\n\tchain input {{\n",
        first.fingerprint()
    );
    assert_eq!(
        listed_fingerprint(&listing).as_deref(),
        Some(first.fingerprint())
    );
    assert_eq!(listed_fingerprint("table inet flotilla {\n}"), None);
}

#[test]
fn credentials_endpoint_can_move() {
    let iface = InterfaceFirewall {
        address: ip(10, 0, 1, 5),
        ingress: vec![],
        egress: vec![],
    };
    let moved = HostServices {
        resolvers: vec![],
        credentials: Some(SocketAddrV4::new(ip(169, 254, 170, 2), 51679)),
    };
    let script = render(&iface, &BTreeMap::new(), &moved).unwrap();
    assert!(script
        .script()
        .contains("ip daddr 169.254.170.2 tcp dport 51679 accept"));
}

// === property: arbitrary input never injects ===

/// Every line a script may hold.
fn known_line() -> regex::Regex {
    let ip = r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}";
    let set = r"sg-[0-9a-f]{1,32}";
    let proto = r"(?: (?:tcp|udp) dport \d{1,5}(?:-\d{1,5})?| meta l4proto (?:tcp|udp|icmp|\d{1,3})| icmp type \d{1,3}(?: icmp code \d{1,3})?)?";
    let lines = [
        format!(r"# Security groups of {ip}, written by the Flotilla agent; replaced as a whole\."),
        r"table inet flotilla".to_string(),
        r"delete table inet flotilla".to_string(),
        r"table inet flotilla \{".to_string(),
        r#"comment "flotilla:[0-9a-f]{16}""#.to_string(),
        format!(r"set {set} \{{"),
        r"type ipv4_addr".to_string(),
        format!(r"elements = \{{ {ip}(?:, {ip})* \}}"),
        r"\}".to_string(),
        r"chain (?:input|output) \{".to_string(),
        r"type filter hook (?:input|output) priority filter; policy drop;".to_string(),
        r"ct state established,related accept".to_string(),
        r"ct state invalid drop".to_string(),
        r#"(?:iif|oif)name "lo" accept"#.to_string(),
        format!(r"ip (?:saddr|daddr) (?:@{set}|{ip}(?:/\d{{1,2}})?){proto} accept"),
    ];
    regex::Regex::new(&format!("^(?:{})$", lines.join("|"))).unwrap()
}

fn arb_group_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "sg-[0-9a-f]{1,12}",
        "sg-[0-9a-f]{0,4}[ ;{}\n\"@#a-zA-Z-]{1,6}[0-9a-f]{0,3}",
        any::<String>(),
    ]
}

fn arb_peer() -> impl Strategy<Value = Peer> {
    prop_oneof![
        (any::<u32>(), 0u8..=40).prop_map(|(n, prefix)| Peer::Cidr {
            network: Ipv4Addr::from(n),
            prefix
        }),
        arb_group_id().prop_map(Peer::Group),
    ]
}

fn arb_rule() -> impl Strategy<Value = Rule> {
    let protocol = prop_oneof![
        Just(Protocol::All),
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        Just(Protocol::Icmp),
        any::<u8>().prop_map(Protocol::Other),
    ];
    let port = prop_oneof![
        Just(None),
        (0u16..300).prop_map(Some),
        any::<u16>().prop_map(Some)
    ];
    (protocol, port.clone(), port, arb_peer()).prop_map(|(protocol, from_port, to_port, peer)| {
        Rule {
            protocol,
            from_port,
            to_port,
            peer,
        }
    })
}

fn arb_groups() -> impl Strategy<Value = BTreeMap<String, BTreeSet<Ipv4Addr>>> {
    proptest::collection::btree_map(
        arb_group_id(),
        proptest::collection::btree_set(any::<u32>().prop_map(Ipv4Addr::from), 0..4),
        0..4,
    )
}

proptest! {
    #[test]
    fn arbitrary_input_never_injects(
        address in any::<u32>().prop_map(Ipv4Addr::from),
        ingress in proptest::collection::vec(arb_rule(), 0..6),
        egress in proptest::collection::vec(arb_rule(), 0..6),
        groups in arb_groups(),
        resolvers in proptest::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 0..3),
    ) {
        let iface = InterfaceFirewall { address, ingress, egress };
        let services = HostServices::new(resolvers);
        let all_valid = iface.ingress.iter().chain(&iface.egress).all(|r| r.check().is_ok());
        match render(&iface, &groups, &services) {
            Err(_) => prop_assert!(!all_valid, "refused valid rules"),
            Ok(ruleset) => {
                prop_assert!(all_valid, "rendered invalid rules");
                let known = known_line();
                for line in ruleset.script().lines() {
                    prop_assert!(known.is_match(line.trim()), "unexpected line {:?}", line);
                }
                let script = ruleset.script();
                prop_assert_eq!(script.matches("table inet flotilla {").count(), 1);
                prop_assert_eq!(script.matches("chain ").count(), 2);
                let statements = script.lines().filter(|l| l.trim_start().starts_with("ip ")).count();
                let services = services.resolvers.len() * 2 + 1;
                prop_assert!(statements <= iface.ingress.len() + iface.egress.len() + services);
            }
        }
    }
}
