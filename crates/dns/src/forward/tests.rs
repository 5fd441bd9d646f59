use std::net::{IpAddr, SocketAddr};

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn nets(list: &[(&str, u8)]) -> Vec<(IpAddr, u8)> {
    list.iter().map(|&(n, p)| (ip(n), p)).collect()
}

#[test]
fn only_addresses_inside_the_allowed_networks_may_forward() {
    let allow = nets(&[("127.0.0.0", 8), ("172.16.0.0", 12), ("fd00::", 8)]);
    for yes in [
        "127.0.0.1",
        "127.9.9.9",
        "172.17.0.5",
        "172.31.255.255",
        "fd12::1",
        "::ffff:127.0.0.1",
    ] {
        assert!(allowed(ip(yes), &allow), "{yes}");
    }
    for no in [
        "203.0.113.5",
        "172.32.0.1",
        "8.8.8.8",
        "fe80::1",
        "::1",
        "::ffff:8.8.8.8",
    ] {
        assert!(!allowed(ip(no), &allow), "{no}");
    }
    assert!(
        !allowed(ip("127.0.0.1"), &[]),
        "nothing is allowed by default-empty"
    );
    // /0 allows every address of its family; /32 exactly one; overlong prefixes clamp.
    assert!(allowed(ip("198.51.100.1"), &nets(&[("0.0.0.0", 0)])));
    assert!(!allowed(ip("2001:db8::1"), &nets(&[("0.0.0.0", 0)])));
    assert!(allowed(ip("198.51.100.1"), &nets(&[("198.51.100.1", 32)])));
    assert!(!allowed(ip("198.51.100.2"), &nets(&[("198.51.100.1", 32)])));
    assert!(allowed(ip("198.51.100.1"), &nets(&[("198.51.100.1", 99)])));
    assert!(allowed(ip("2001:db8::1"), &nets(&[("2001:db8::", 32)])));
    assert!(allowed(ip("::1"), &nets(&[("::1", 128)])));
}

#[test]
fn resolv_conf_nameservers_are_read_on_port_53() {
    let text = "\
# generated
search example.internal
nameserver 127.0.0.53
nameserver   10.0.0.2  # office
nameserver fe80::1%eth0
nameserver 2001:db8::53
nameserver 10.0.0.2
options edns0 trust-ad
;nameserver 192.0.2.1
";
    let got = parse_resolv_conf(text);
    let want: Vec<SocketAddr> = ["127.0.0.53:53", "10.0.0.2:53", "[2001:db8::53]:53"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_forwarder_at_our_own_address_is_recognised() {
    let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert!(is_self(sa("127.0.0.1:53"), sa("127.0.0.1:53")));
    assert!(is_self(sa("127.0.0.1:53"), sa("0.0.0.0:53")));
    assert!(is_self(sa("[::ffff:127.0.0.1]:53"), sa("127.0.0.1:53")));
    assert!(!is_self(sa("127.0.0.53:53"), sa("127.0.0.1:53")));
    assert!(!is_self(sa("127.0.0.1:53"), sa("127.0.0.1:5353")));
    // 192.0.2.0/24 is for documentation: no host has it.
    assert!(!is_self(sa("192.0.2.1:53"), sa("0.0.0.0:53")));
    assert!(!is_self(sa("192.0.2.1:53"), sa("127.0.0.1:53")));
}
