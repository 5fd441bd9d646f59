//! Hand-made configurations: builders for zones and record sets, and the example zones
//! most tests query.

use flotilla_model::dns::{DnsConfig, RecordPlane, RecordType, Routing, Soa, ZonePlane};

pub fn config(version: u64, zones: Vec<ZonePlane>) -> DnsConfig {
    DnsConfig { version, zones }
}

/// A zone whose SOA has TTL `soa_ttl` and negative-caching minimum `minimum`.
pub fn zone(
    id: &str,
    origin: &str,
    soa_ttl: u32,
    minimum: u32,
    records: Vec<RecordPlane>,
) -> ZonePlane {
    ZonePlane {
        id: id.to_string(),
        origin: origin.to_string(),
        soa: Soa {
            mname: format!("ns1.{origin}"),
            rname: format!("hostmaster.{origin}"),
            serial: 7,
            refresh: 7200,
            retry: 900,
            expire: 1_209_600,
            minimum,
            ttl: soa_ttl,
        },
        records,
    }
}

/// A simple record set.
pub fn rec(name: &str, rtype: RecordType, ttl: u32, values: &[&str]) -> RecordPlane {
    RecordPlane {
        name: name.to_string(),
        rtype,
        ttl,
        values: values.iter().map(|v| v.to_string()).collect(),
        routing: Routing::Simple,
        healthy: true,
    }
}

/// One weighted A set.
pub fn weighted(name: &str, id: &str, weight: u8, value: &str, healthy: bool) -> RecordPlane {
    RecordPlane {
        routing: Routing::Weighted {
            set_identifier: id.to_string(),
            weight,
        },
        healthy,
        ..rec(name, RecordType::A, 60, &[value])
    }
}

/// One multivalue A set.
pub fn multi(name: &str, id: &str, value: &str, healthy: bool) -> RecordPlane {
    RecordPlane {
        routing: Routing::MultiValue {
            set_identifier: id.to_string(),
        },
        healthy,
        ..rec(name, RecordType::A, 60, &[value])
    }
}

/// `example.com.` (negative TTL 300: SOA TTL 900, minimum 300), `dev.example.com.`
/// (negative TTL 60: SOA TTL 60, minimum 3600) and a reverse zone.
pub fn example() -> DnsConfig {
    use RecordType::*;
    let com = zone(
        "Z1",
        "example.com.",
        900,
        300,
        vec![
            rec(
                "example.com.",
                Ns,
                172_800,
                &["ns1.example.com.", "ns2.example.com"],
            ),
            rec(
                "example.com.",
                Mx,
                300,
                &["10 mail.example.com", "20 mail2.example.com."],
            ),
            rec("example.com.", Caa, 3600, &[r#"0 issue "letsencrypt.org""#]),
            rec("www.example.com.", A, 60, &["192.0.2.1", "192.0.2.2"]),
            rec("www.example.com.", Aaaa, 61, &["2001:db8::1"]),
            rec(
                "txt.example.com.",
                Txt,
                120,
                &[
                    r#""v=spf1 -all""#,
                    r#""part one" "part two""#,
                    r#""say \"hi\"""#,
                ],
            ),
            rec(
                "_http._tcp.example.com.",
                Srv,
                30,
                &["1 5 8080 web.example.com"],
            ),
            rec("alias.example.com.", Cname, 45, &["www.example.com"]),
            rec("chain1.example.com.", Cname, 46, &["chain2.example.com."]),
            rec("chain2.example.com.", Cname, 47, &["www.example.com."]),
            rec("loop1.example.com.", Cname, 5, &["loop2.example.com."]),
            rec("loop2.example.com.", Cname, 5, &["loop1.example.com."]),
            rec("tostage.example.com.", Cname, 50, &["www.dev.example.com."]),
            rec(
                "todangling.example.com.",
                Cname,
                50,
                &["nothing.example.com."],
            ),
            rec("ext.example.com.", Cname, 50, &["www.example.org."]),
            rec("*.wild.example.com.", A, 10, &["198.51.100.7"]),
            rec("exists.wild.example.com.", Txt, 10, &[r#""here""#]),
            rec("deep.a.b.example.com.", A, 20, &["192.0.2.9"]),
            rec(
                "sub.example.com.",
                Ns,
                3600,
                &["ns.sub.example.com.", "ns.elsewhere.net."],
            ),
            rec("ns.sub.example.com.", A, 3600, &["192.0.2.53"]),
            rec("bad.example.com.", A, 60, &["not-an-address", "192.0.2.77"]),
        ],
    );
    let dev = zone(
        "Z2",
        "dev.example.com.",
        60,
        3600,
        vec![
            rec("dev.example.com.", Ns, 172_800, &["ns1.dev.example.com."]),
            rec("www.dev.example.com.", A, 30, &["10.0.0.1"]),
        ],
    );
    let reverse = zone(
        "Z3",
        "2.0.192.in-addr.arpa.",
        900,
        300,
        vec![rec(
            "1.2.0.192.in-addr.arpa.",
            Ptr,
            300,
            &["www.example.com."],
        )],
    );
    config(1, vec![com, dev, reverse])
}
