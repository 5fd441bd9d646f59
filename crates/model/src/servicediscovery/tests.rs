//! Cloud Map's pure rules: ids, names, DNS configurations, instance attributes, first
//! health, DiscoverInstances' filters and the record sets a service answers with.

use std::collections::BTreeMap;

use chrono::Utc;
use proptest::prelude::*;

use super::records::service_records;
use super::rules::{self, HealthFilter};
use super::*;
use crate::dns::{RecordType, Routing};

fn service(routing: RoutingPolicy, records: &[(RecordType, u32)]) -> DiscoveryServiceRecord {
    DiscoveryServiceRecord {
        id: "srv-aaaaaaaaaaaaaaaa".into(),
        arn: arn(
            "us-east-1",
            "000000000000",
            "service",
            "srv-aaaaaaaaaaaaaaaa",
        ),
        region: "us-east-1".into(),
        name: "Web".into(),
        namespace_id: "ns-aaaaaaaaaaaaaaaa".into(),
        description: None,
        creator_request_id: None,
        service_type: ServiceType::DnsHttp,
        dns: Some(ServiceDns {
            routing_policy: routing,
            records: records
                .iter()
                .map(|(rtype, ttl)| DnsRecordSpec {
                    rtype: *rtype,
                    ttl: *ttl,
                })
                .collect(),
        }),
        health_check: None,
        custom_health: None,
        attributes: BTreeMap::new(),
        tags: vec![],
        created_at: Utc::now(),
        instances_revision: 0,
    }
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn instance(id: &str, pairs: &[(&str, &str)], health: HealthStatus) -> InstanceRecord {
    InstanceRecord {
        id: id.into(),
        service_id: "srv-aaaaaaaaaaaaaaaa".into(),
        creator_request_id: None,
        attributes: attrs(pairs),
        health,
        created_at: Utc::now(),
        operation_id: "op".into(),
    }
}

#[test]
fn ids_and_arns_have_cloud_maps_shape() {
    let ns = new_namespace_id(u128::MAX / 7);
    assert_eq!(ns.len(), 3 + 16);
    assert!(ns.starts_with("ns-"));
    assert!(ns[3..]
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    let srv = new_service_id(12345);
    assert!(srv.starts_with("srv-") && srv.len() == 20);
    assert_ne!(new_service_id(1), new_service_id(2));
    let op = new_operation_id(u128::MAX / 3, u128::MAX / 5);
    let (a, b) = op.split_once('-').unwrap();
    assert_eq!((a.len(), b.len()), (32, 8));
    let a = arn("eu-west-1", "123456789012", "namespace", &ns);
    assert_eq!(
        id_of(&a, "namespace"),
        Some((ns.as_str(), Some("eu-west-1")))
    );
    assert_eq!(id_of(&ns, "namespace"), Some((ns.as_str(), None)));
    assert_eq!(id_of(&a, "service"), None);
    assert_eq!(id_of("arn:aws:ecs:r:a:namespace/x", "namespace"), None);
}

#[test]
fn namespace_names_follow_their_types_rules() {
    use NamespaceType::*;
    assert!(rules::namespace_name(DnsPrivate, "local").is_ok());
    assert!(rules::namespace_name(DnsPrivate, "svc.internal.").is_ok());
    assert!(rules::namespace_name(DnsPrivate, "a..b").is_err());
    assert!(rules::namespace_name(DnsPrivate, &"a".repeat(254)).is_err());
    assert!(rules::namespace_name(DnsPublic, "example.com").is_ok());
    assert!(rules::namespace_name(DnsPublic, "example").is_err());
    assert!(rules::namespace_name(DnsPublic, "-x.example.com").is_err());
    assert!(rules::namespace_name(Http, "my space!").is_err());
    assert!(rules::namespace_name(Http, "arn:aws:x").is_err());
    assert!(rules::namespace_name(Http, "weird~name").is_ok());
    assert!(rules::namespace_name(Http, "").is_err());
    assert!(rules::namespace_name(Http, &"a".repeat(1025)).is_err());
}

#[test]
fn service_names_and_instance_ids() {
    for ok in ["web", "_http._tcp", "a", "a-b_c.d", "x1"] {
        assert!(rules::service_name(ok).is_ok(), "{ok}");
    }
    for bad in ["", "-web", "web-", "a..b", "we b", &"a".repeat(128)] {
        assert!(rules::service_name(bad).is_err(), "{bad}");
    }
    assert!(rules::instance_id("i-1/a:b.c@d_e").is_ok());
    assert!(rules::instance_id("has space").is_err());
    assert!(rules::instance_id(&"i".repeat(65)).is_err());
    assert_eq!(rules::dns_label("Task/ABC:1"), "task-abc-1");
}

#[test]
fn dns_configs_combine_types_as_cloud_map_allows() {
    let spec = |t: RecordType| DnsRecordSpec { rtype: t, ttl: 60 };
    use RecordType::*;
    use RoutingPolicy::*;
    assert!(rules::dns_config(Multivalue, &[spec(A)]).is_ok());
    assert!(rules::dns_config(Multivalue, &[spec(A), spec(Aaaa), spec(Srv)]).is_ok());
    assert!(rules::dns_config(Weighted, &[spec(Cname)]).is_ok());
    assert!(rules::dns_config(Multivalue, &[spec(Cname)]).is_err());
    assert!(rules::dns_config(Weighted, &[spec(Cname), spec(A)]).is_err());
    assert!(rules::dns_config(Multivalue, &[spec(A), spec(A)]).is_err());
    assert!(rules::dns_config(Multivalue, &[spec(Txt)]).is_err());
    assert!(rules::dns_config(Multivalue, &[]).is_err());
    assert!(rules::ttl("TTL", -1).is_err());
    assert!(rules::ttl("TTL", 2_147_483_648).is_err());
    assert_eq!(rules::ttl("TTL", 10), Ok(10));
}

#[test]
fn health_checks_are_checked() {
    assert!(rules::health_check(HealthCheckType::Tcp, Some("/"), None).is_err());
    assert!(rules::health_check(HealthCheckType::Http, Some("/health"), Some(3)).is_ok());
    assert!(rules::health_check(HealthCheckType::Http, None, Some(11)).is_err());
    assert!(rules::health_check(HealthCheckType::Https, Some(&"/".repeat(256)), None).is_err());
}

#[test]
fn instances_need_what_their_services_records_need() {
    let s = service(
        RoutingPolicy::Multivalue,
        &[(RecordType::A, 10), (RecordType::Srv, 10)],
    );
    let ns = NamespaceType::DnsPrivate;
    let check = |pairs: &[(&str, &str)]| rules::instance_attributes(&s, ns, &attrs(pairs));
    assert!(check(&[(ATTR_IPV4, "10.0.0.1"), (ATTR_PORT, "80")]).is_ok());
    let e = check(&[(ATTR_PORT, "80")]).unwrap_err();
    assert!(e.contains(ATTR_IPV4), "{e}");
    let e = check(&[(ATTR_IPV4, "10.0.0.1")]).unwrap_err();
    assert!(e.contains(ATTR_PORT), "{e}");
    assert!(check(&[(ATTR_IPV4, "10.0.0.300"), (ATTR_PORT, "80")]).is_err());
    assert!(check(&[(ATTR_IPV4, "10.0.0.1"), (ATTR_PORT, "0")]).is_err());
    assert!(check(&[(ATTR_IPV4, "10.0.0.1"), (ATTR_PORT, "80"), ("k", " v")]).is_err());
    assert!(check(&[(ATTR_IPV4, "10.0.0.1"), (ATTR_PORT, "80"), ("k", "a b")]).is_ok());
    assert!(check(&[
        (ATTR_IPV4, "10.0.0.1"),
        (ATTR_PORT, "80"),
        (ATTR_INIT_HEALTH, "SICK")
    ])
    .is_err());
    // EC2 instance ids only in HTTP namespaces.
    assert!(check(&[(ATTR_EC2_INSTANCE_ID, "i-1")]).is_err());
    let mut many: Vec<(String, String)> = (0..31).map(|i| (format!("k{i}"), "v".into())).collect();
    many.push((ATTR_IPV4.into(), "10.0.0.1".into()));
    let many: BTreeMap<String, String> = many.into_iter().collect();
    assert!(rules::instance_attributes(&s, ns, &many).is_err());
    // CNAME services need a CNAME; aliases need WEIGHTED.
    let c = service(RoutingPolicy::Weighted, &[(RecordType::Cname, 30)]);
    assert!(rules::instance_attributes(&c, ns, &attrs(&[(ATTR_CNAME, "x.example.com")])).is_ok());
    assert!(rules::instance_attributes(&c, ns, &attrs(&[])).is_err());
    let a = service(RoutingPolicy::Multivalue, &[(RecordType::A, 30)]);
    assert!(rules::instance_attributes(&a, ns, &attrs(&[(ATTR_ALIAS, "lb.example.com")])).is_err());
}

#[test]
fn first_health_comes_from_the_custom_check_only() {
    let mut s = service(RoutingPolicy::Multivalue, &[(RecordType::A, 10)]);
    let sick = attrs(&[(ATTR_INIT_HEALTH, "UNHEALTHY")]);
    assert_eq!(rules::initial_health(&s, &sick), HealthStatus::Healthy);
    s.custom_health = Some(CustomHealth::default());
    assert_eq!(rules::initial_health(&s, &sick), HealthStatus::Unhealthy);
    assert_eq!(
        rules::initial_health(&s, &attrs(&[])),
        HealthStatus::Healthy
    );
}

#[test]
fn discover_filters_by_attributes_then_health() {
    let mut s = service(RoutingPolicy::Multivalue, &[(RecordType::A, 10)]);
    let all = vec![
        instance(
            "a",
            &[("stage", "prod"), ("zone", "1")],
            HealthStatus::Healthy,
        ),
        instance(
            "b",
            &[("stage", "prod"), ("zone", "2")],
            HealthStatus::Unhealthy,
        ),
        instance("c", &[("stage", "dev")], HealthStatus::Healthy),
    ];
    let ids = |v: Vec<&InstanceRecord>| v.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    let q = attrs(&[("stage", "prod")]);
    let none = BTreeMap::new();
    // No health check: the filter is ignored.
    assert_eq!(
        ids(rules::discover(
            &s,
            &all,
            &q,
            &none,
            HealthFilter::Healthy,
            100
        )),
        ["a", "b"]
    );
    s.custom_health = Some(CustomHealth::default());
    assert_eq!(
        ids(rules::discover(
            &s,
            &all,
            &q,
            &none,
            HealthFilter::Healthy,
            100
        )),
        ["a"]
    );
    assert_eq!(
        ids(rules::discover(
            &s,
            &all,
            &q,
            &none,
            HealthFilter::Unhealthy,
            100
        )),
        ["b"]
    );
    // Preferred, else all that match the query.
    let zone2 = attrs(&[("zone", "2")]);
    assert_eq!(
        ids(rules::discover(
            &s,
            &all,
            &q,
            &zone2,
            HealthFilter::All,
            100
        )),
        ["b"]
    );
    let zone9 = attrs(&[("zone", "9")]);
    assert_eq!(
        ids(rules::discover(
            &s,
            &all,
            &q,
            &zone9,
            HealthFilter::All,
            100
        )),
        ["a", "b"]
    );
    // Fail open only when none is healthy.
    assert_eq!(
        ids(rules::discover(
            &s,
            &all,
            &q,
            &zone2,
            HealthFilter::HealthyOrElseAll,
            100
        )),
        ["b"]
    );
    assert_eq!(
        ids(rules::discover(
            &s,
            &all,
            &none,
            &none,
            HealthFilter::All,
            2
        )),
        ["a", "b"]
    );
}

#[test]
fn multivalue_a_and_srv_records_per_instance() {
    let s = service(
        RoutingPolicy::Multivalue,
        &[(RecordType::A, 10), (RecordType::Srv, 20)],
    );
    let instances = vec![
        instance(
            "Task/1",
            &[(ATTR_IPV4, "10.0.0.1"), (ATTR_PORT, "8080")],
            HealthStatus::Healthy,
        ),
        instance(
            "t2",
            &[(ATTR_IPV4, "10.0.0.2"), (ATTR_PORT, "8081")],
            HealthStatus::Unhealthy,
        ),
    ];
    let sets = service_records(&s, "local.", &instances, &|_| None);
    let a: Vec<_> = sets
        .iter()
        .filter(|r| r.name == "web.local." && r.rtype == RecordType::A)
        .collect();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].values, ["10.0.0.1"]);
    assert_eq!(a[0].ttl, 10);
    assert!(a[0].healthy && !a[1].healthy);
    assert_eq!(
        a[0].routing,
        Routing::MultiValue {
            set_identifier: "Task/1".into()
        }
    );
    let srv: Vec<_> = sets.iter().filter(|r| r.rtype == RecordType::Srv).collect();
    assert_eq!(srv[0].values, ["1 1 8080 task-1.web.local."]);
    assert_eq!(srv[0].ttl, 20);
    let host = sets
        .iter()
        .find(|r| r.name == "task-1.web.local.")
        .expect("the SRV target has an address");
    assert_eq!((host.rtype, host.ttl), (RecordType::A, 10));
    assert_eq!(sets.len(), 6);
}

#[test]
fn weighted_cname_and_alias_records() {
    let s = service(RoutingPolicy::Weighted, &[(RecordType::Cname, 30)]);
    let i = vec![instance(
        "c1",
        &[(ATTR_CNAME, "db.example.com")],
        HealthStatus::Healthy,
    )];
    let sets = service_records(&s, "local.", &i, &|_| None);
    assert_eq!(sets.len(), 1);
    assert_eq!(
        sets[0].routing,
        Routing::Weighted {
            set_identifier: "c1".into(),
            weight: 1
        }
    );
    let s = service(RoutingPolicy::Weighted, &[(RecordType::A, 30)]);
    let i = vec![instance(
        "lb",
        &[(ATTR_ALIAS, "lb.elb.x")],
        HealthStatus::Healthy,
    )];
    let sets = service_records(&s, "local.", &i, &|n| {
        (n == "lb.elb.x").then(|| "127.0.0.9".parse().unwrap())
    });
    assert_eq!(sets[0].values, ["127.0.0.9"]);
    let mut http = s.clone();
    http.dns = None;
    assert!(service_records(&http, "local.", &i, &|_| None).is_empty());
}

#[test]
fn max_ttl_is_the_longest_record_ttl() {
    let s = service(
        RoutingPolicy::Multivalue,
        &[(RecordType::A, 10), (RecordType::Srv, 60)],
    );
    assert_eq!(s.max_ttl(), Some(60));
}

proptest! {
    /// No string makes a rule panic, and a label is always a DNS label.
    #[test]
    fn rules_take_any_string(s in "\\PC{0,80}") {
        let _ = rules::service_name(&s);
        let _ = rules::instance_id(&s);
        for t in NamespaceType::ALL {
            let _ = rules::namespace_name(t, &s);
        }
        let _ = rules::attribute_value("k", &s);
        let label = rules::dns_label(&s);
        prop_assert!(label.len() <= 63);
        prop_assert!(label.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_'));
    }
}

#[test]
fn records_survive_their_envelope() {
    use crate::record::{decode, encode};
    let mut s = service(RoutingPolicy::Multivalue, &[(RecordType::A, 10)]);
    s.custom_health = Some(CustomHealth::default());
    let back: DiscoveryServiceRecord = decode(&encode(&s)).unwrap();
    assert_eq!(back, s);
    let i = instance("i", &[(ATTR_IPV4, "10.0.0.1")], HealthStatus::Unhealthy);
    let back: InstanceRecord = decode(&encode(&i)).unwrap();
    assert_eq!(back, i);
}
