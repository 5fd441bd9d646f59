//! EC2's operations over the memory store: the default VPC, subnets' blocks, security
//! groups' rules, dependencies and tags.

use std::sync::Arc;

use flotilla_model::ec2::filter::Filter;
use flotilla_model::ec2::rules::{Peer, Permission};
use flotilla_model::ec2::{Ec2Tag, ResourceType};
use flotilla_model::Scope;
use flotilla_store::MemoryStore;

use super::security_groups::{self as groups, NewGroup, NewPeer, NewRule};
use super::subnets::{self, NewSubnet};
use super::{check_network, tags, vpcs, Ec2Error};
use crate::{ControlConfig, State};

async fn state() -> State {
    State::new(
        Arc::new(MemoryStore::new()),
        ControlConfig::new("123456789012"),
    )
    .await
    .unwrap()
}

fn scope() -> Scope {
    Scope::new("us-east-1", "123456789012")
}

fn tcp(port: i32, peer: NewPeer) -> NewRule {
    NewRule {
        permission: Permission::new("tcp", Some(port), Some(port)).unwrap(),
        peer,
        description: None,
    }
}

/// A new group named `name` in the default VPC.
fn new_group(name: &str) -> NewGroup {
    NewGroup {
        name: name.into(),
        description: format!("{name} tier"),
        ..Default::default()
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter {
        name: name.into(),
        values: vec![value.into()],
    }
}

#[tokio::test]
async fn a_region_has_a_default_vpc_with_a_default_subnet_and_group_once() {
    let (s, sc) = (state().await, scope());
    let (a, b) = tokio::join!(vpcs::list(&s, &sc, &[], &[]), vpcs::list(&s, &sc, &[], &[]));
    assert_eq!(a.unwrap().len(), 1);
    assert_eq!(b.unwrap().len(), 1);
    let vpc = vpcs::default_vpc(&s, &sc).unwrap();
    assert!(vpc.is_default);
    assert_eq!(vpc.cidr_block.to_string(), "172.31.0.0/16");
    let subnets = subnets::list(&s, &sc, &[], &[]).await.unwrap();
    assert_eq!(subnets.len(), 1);
    assert_eq!(subnets[0].cidr_block.to_string(), "172.31.0.0/20");
    assert_eq!(subnets[0].availability_zone, "local-1a");
    assert!(subnets[0].default_for_az);
    let groups = groups::list(&s, &sc, &[], &["default".into()], &[])
        .await
        .unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].group_id, vpc.default_security_group_id);
    assert_eq!(
        groups[0].ingress[0].peer,
        Peer::Group(vpc.default_security_group_id.clone())
    );
    // The default group cannot be deleted; the default VPC is filtered as such.
    let err = groups::delete(&s, &sc, Some(&vpc.default_security_group_id), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Ec2Error::CannotDelete(_)), "{err:?}");
    let only = vpcs::list(&s, &sc, &[], &[filter("is-default", "true")])
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
}

#[tokio::test]
async fn subnets_stay_inside_their_vpc_and_never_overlap() {
    let (s, sc) = (state().await, scope());
    let vpc = vpcs::create(&s, &sc, "10.0.0.0/16", vec![]).await.unwrap();
    let new = |cidr: &str| NewSubnet {
        vpc_id: vpc.vpc_id.clone(),
        cidr_block: cidr.into(),
        ..Default::default()
    };
    subnets::create(&s, &sc, new("10.0.1.0/24")).await.unwrap();
    let err = subnets::create(&s, &sc, new("10.0.1.128/25"))
        .await
        .unwrap_err();
    assert!(matches!(err, Ec2Error::Conflict(_)), "{err:?}");
    let err = subnets::create(&s, &sc, new("10.1.0.0/24"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Ec2Error::Range(ResourceType::Subnet, _)),
        "{err:?}"
    );
    let err = subnets::create(&s, &sc, new("10.0.2.1/24"))
        .await
        .unwrap_err();
    assert!(matches!(err, Ec2Error::InvalidParameter(_)), "{err:?}");
    let err = vpcs::create(&s, &sc, "10.0.0.0/8", vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Ec2Error::Range(ResourceType::Vpc, _)),
        "{err:?}"
    );
    // Two at once for the same block: exactly one wins.
    let (a, b) = tokio::join!(
        subnets::create(&s, &sc, new("10.0.9.0/24")),
        subnets::create(&s, &sc, new("10.0.9.0/24"))
    );
    assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
    let err = vpcs::delete(&s, &sc, &vpc.vpc_id).await.unwrap_err();
    assert!(matches!(err, Ec2Error::InUse(_)), "{err:?}");
    for subnet in subnets::list(&s, &sc, &[], &[filter("vpc-id", &vpc.vpc_id)])
        .await
        .unwrap()
    {
        subnets::delete(&s, &sc, &subnet.subnet_id).await.unwrap();
    }
    vpcs::delete(&s, &sc, &vpc.vpc_id).await.unwrap();
    let err = vpcs::list(&s, &sc, std::slice::from_ref(&vpc.vpc_id), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Ec2Error::NotFound(ResourceType::Vpc, _)),
        "{err:?}"
    );
    // Its default group went with it.
    assert!(groups::get(&s, &sc, &vpc.default_security_group_id).is_err());
}

#[tokio::test]
async fn rules_are_added_whole_or_not_at_all_and_revoked_by_id_or_permission() {
    let (s, sc) = (state().await, scope());
    let web = groups::create(&s, &sc, new_group("web")).await.unwrap();
    let db = groups::create(&s, &sc, new_group("db")).await.unwrap();
    let err = groups::create(&s, &sc, new_group("web")).await.unwrap_err();
    assert!(matches!(err, Ec2Error::DuplicateGroup(_)), "{err:?}");
    let from_web = NewPeer::Group {
        id: Some(web.group_id.clone()),
        name: None,
    };
    let id = |g: &str| (Some(g.to_string()), None::<String>);
    let db_ref = id(&db.group_id);
    let group = (db_ref.0.as_deref(), None);
    let (_, added) = groups::authorize(
        &s,
        &sc,
        group,
        false,
        vec![tcp(5432, from_web.clone())],
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(added.len(), 1);
    // A duplicate in a request refuses all of it.
    let err = groups::authorize(
        &s,
        &sc,
        group,
        false,
        vec![
            tcp(22, NewPeer::Cidr("10.0.0.0/8".into())),
            tcp(5432, from_web.clone()),
        ],
        vec![],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Ec2Error::DuplicateRule(_)), "{err:?}");
    assert_eq!(
        groups::get(&s, &sc, &db.group_id)
            .unwrap()
            .value
            .ingress
            .len(),
        1
    );
    // A peer group that does not exist.
    let err = groups::authorize(
        &s,
        &sc,
        group,
        false,
        vec![tcp(
            1,
            NewPeer::Group {
                id: Some("sg-0123456789abcdef0".into()),
                name: None,
            },
        )],
        vec![],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Ec2Error::NotFound(ResourceType::SecurityGroup, _)),
        "{err:?}"
    );
    // web is in use while db's rule names it.
    let err = groups::delete(&s, &sc, Some(&web.group_id), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Ec2Error::InUse(_)), "{err:?}");
    let listed = groups::rules(&s, &sc, &[added[0].id.clone()], &[])
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].egress);
    // Revoking by permission: the unknown one is answered, the known one removed.
    let out = groups::revoke(
        &s,
        &sc,
        group,
        false,
        &[],
        vec![tcp(5432, from_web.clone()), tcp(9999, from_web)],
    )
    .await
    .unwrap();
    assert_eq!(out.revoked.len(), 1);
    assert_eq!(out.unknown.len(), 1);
    groups::delete(&s, &sc, Some(&web.group_id), None)
        .await
        .unwrap();
    let err = groups::revoke(
        &s,
        &sc,
        group,
        true,
        &["sgr-0123456789abcdef0".into()],
        vec![],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Ec2Error::NotFound(ResourceType::SecurityGroupRule, _)),
        "{err:?}"
    );
}

#[tokio::test]
async fn tags_change_every_resource_or_none() {
    let (s, sc) = (state().await, scope());
    let vpc = vpcs::create(&s, &sc, "10.1.0.0/16", vec![]).await.unwrap();
    let tag = Ec2Tag {
        key: "Name".into(),
        value: "prod".into(),
    };
    let err = tags::create(
        &s,
        &sc,
        &[vpc.vpc_id.clone(), "subnet-0123456789abcdef0".into()],
        std::slice::from_ref(&tag),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Ec2Error::NotFound(ResourceType::Subnet, _)),
        "{err:?}"
    );
    assert!(vpcs::get(&s, &sc, &vpc.vpc_id)
        .unwrap()
        .value
        .tags
        .is_empty());
    tags::create(
        &s,
        &sc,
        &[vpc.vpc_id.clone(), vpc.default_security_group_id.clone()],
        &[tag],
    )
    .await
    .unwrap();
    let found = vpcs::list(&s, &sc, &[], &[filter("tag:Name", "pr*")])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let described = tags::describe(&s, &sc, &[filter("resource-type", "security-group")])
        .await
        .unwrap();
    assert_eq!(described.len(), 1);
    tags::delete(
        &s,
        &sc,
        std::slice::from_ref(&vpc.vpc_id),
        &[("Name".into(), None)],
    )
    .await
    .unwrap();
    assert!(vpcs::get(&s, &sc, &vpc.vpc_id)
        .unwrap()
        .value
        .tags
        .is_empty());
    let err = tags::create(&s, &sc, &["i-1234".into()], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Ec2Error::Malformed(None, _)), "{err:?}");
}

#[tokio::test]
async fn a_network_configuration_is_checked_against_the_records() {
    let (s, sc) = (state().await, scope());
    let subnet = subnets::list(&s, &sc, &[], &[]).await.unwrap()[0].clone();
    let checked = check_network(&s, &sc, std::slice::from_ref(&subnet.subnet_id), &[])
        .await
        .unwrap();
    let vpc = vpcs::default_vpc(&s, &sc).unwrap();
    assert_eq!(
        checked.security_groups,
        vec![vpc.default_security_group_id.clone()]
    );
    let err = check_network(&s, &sc, &["subnet-0123456789abcdef0".into()], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Ec2Error::NotFound(ResourceType::Subnet, _)),
        "{err:?}"
    );
    let err = check_network(&s, &sc, &["subnet-a".into()], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Ec2Error::Malformed(..)), "{err:?}");
    let other = vpcs::create(&s, &sc, "10.2.0.0/16", vec![]).await.unwrap();
    let err = check_network(
        &s,
        &sc,
        std::slice::from_ref(&subnet.subnet_id),
        std::slice::from_ref(&other.default_security_group_id),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Ec2Error::InvalidParameter(_)), "{err:?}");
}

#[tokio::test]
async fn a_listener_admits_what_its_groups_allow_on_its_port() {
    let (s, sc) = (state().await, scope());
    vpcs::ensure_defaults(&s, &sc).await.unwrap();
    let vpc = vpcs::default_vpc(&s, &sc).unwrap();
    let front = groups::create(
        &s,
        &sc,
        NewGroup {
            name: "front".into(),
            description: "front door".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let id = front.group_id.clone();
    let rules = vec![
        tcp(80, NewPeer::Cidr("10.0.0.0/8".into())),
        tcp(443, NewPeer::Cidr("192.0.2.0/24".into())),
        tcp(
            80,
            NewPeer::Group {
                id: Some(vpc.default_security_group_id.clone()),
                name: None,
            },
        ),
    ];
    groups::authorize(&s, &sc, (Some(&id), None), false, rules, vec![])
        .await
        .unwrap();
    let sources =
        groups::listener_sources(&s, &sc, &vpc.vpc_id, std::slice::from_ref(&id), 80).unwrap();
    // The default group has no member load balancer here: only the CIDR counts.
    assert_eq!(sources, vec!["10.0.0.0/8".parse().unwrap()]);
    let none = groups::listener_sources(&s, &sc, &vpc.vpc_id, std::slice::from_ref(&id), 8080);
    assert_eq!(none, Some(vec![]));
    // No group, or only the VPC's default one: open.
    assert_eq!(
        groups::listener_sources(&s, &sc, &vpc.vpc_id, &[], 80),
        None
    );
    let default = [vpc.default_security_group_id.clone()];
    assert_eq!(
        groups::listener_sources(&s, &sc, &vpc.vpc_id, &default, 80),
        None
    );
    // Ids stored before EC2 checked them (a load balancer of an older store): open.
    let legacy = ["sg-1".to_string()];
    let vpc_before = "vpc-00000000000000001";
    assert_eq!(
        groups::listener_sources(&s, &sc, vpc_before, &legacy, 80),
        None
    );
}

#[tokio::test]
async fn groups_become_what_a_host_enforces() {
    use flotilla_model::firewall::{Peer as FwPeer, Protocol as FwProtocol, Rule};
    use std::collections::BTreeMap;

    let (s, sc) = (state().await, scope());
    let web = groups::create(&s, &sc, new_group("web")).await.unwrap();
    let db = groups::create(&s, &sc, new_group("db")).await.unwrap();
    let from_web = NewPeer::Group {
        id: Some(web.group_id.clone()),
        name: None,
    };
    let icmp = NewRule {
        permission: Permission::new("icmp", Some(8), None).unwrap(),
        peer: NewPeer::Cidr("10.0.0.0/8".into()),
        description: None,
    };
    let db_id = db.group_id.clone();
    groups::authorize(
        &s,
        &sc,
        (Some(&db_id), None),
        false,
        vec![tcp(5432, from_web), icmp],
        vec![],
    )
    .await
    .unwrap();
    // A load balancer in the web group makes its address a member.
    let lb = crate::elbv2::load_balancers::create(
        &s,
        &sc,
        crate::elbv2::load_balancers::NewLoadBalancer {
            name: "web".into(),
            security_groups: vec![web.group_id.clone()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let address: std::net::Ipv4Addr = "172.31.0.10".parse().unwrap();
    let interfaces = BTreeMap::from([(
        "task-1".to_string(),
        (address, vec![db.group_id.clone(), db.group_id.clone()]),
    )]);
    let fw = super::firewall::host(&s, &sc, &interfaces);
    let iface = &fw.interfaces["task-1"];
    assert_eq!(iface.address, address);
    assert_eq!(
        iface.ingress,
        vec![
            Rule {
                protocol: FwProtocol::Tcp,
                from_port: Some(5432),
                to_port: Some(5432),
                peer: FwPeer::Group(web.group_id.clone()),
            },
            Rule {
                protocol: FwProtocol::Icmp,
                from_port: Some(8),
                to_port: None,
                peer: FwPeer::Cidr {
                    network: "10.0.0.0".parse().unwrap(),
                    prefix: 8
                },
            },
        ]
    );
    // EC2's default egress rule, once though the group was named twice.
    assert_eq!(iface.egress.len(), 1);
    assert_eq!(iface.egress[0].protocol, FwProtocol::All);
    let lb_address = match lb.address {
        std::net::IpAddr::V4(a) => a,
        other => panic!("{other}"),
    };
    // Its listener address, and the host's address on its VPC's subnet (what the load
    // balancer connects to targets from).
    let gateway: std::net::Ipv4Addr = "172.31.0.1".parse().unwrap();
    assert_eq!(
        fw.groups[&web.group_id].iter().copied().collect::<Vec<_>>(),
        vec![lb_address, gateway]
    );
    // Every rule the mapping makes is one the agent accepts.
    for r in iface.ingress.iter().chain(&iface.egress) {
        r.check().unwrap();
    }
}
