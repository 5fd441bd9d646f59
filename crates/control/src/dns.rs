//! The feed that configures the DNS data plane, and the channels to and from it.
//!
//! Every change to a hosted zone, record set, load balancer or Cloud Map namespace,
//! service, instance or operation rebuilds the [`DnsConfig`] from the views: each hosted
//! zone with its record sets, aliases resolved here into the records they answer with (a
//! load balancer's address; another record set's values), each Cloud Map DNS namespace as
//! a zone of its own with its services' instances (`namespace_zone`), and the zone of load
//! balancers' `DNSName`s. A record set is healthy as its Route 53 health check says
//! (`route53::checker`), and an alias to a load balancer with EvaluateTargetHealth as the
//! load balancer's targets are ([`load_balancer_healthy`]); new results rebuild the
//! configuration. Every server runs it (each serves DNS). The configuration's
//! version is the store revision every view it reads had applied, which is what Route 53's
//! GetChange and Cloud Map's GetOperation compare a change's commit with.

use std::sync::Arc;
use std::time::Duration;

use flotilla_model::dns::{DnsConfig, DnsReport, RecordPlane, RecordType, Routing, Soa, ZonePlane};
use flotilla_model::elbv2::plane::Observed;
use flotilla_model::route53::{RecordSet, ELB_HOSTED_ZONE_ID, NAME_SERVER, NS_TTL, SOA_TTL};
use flotilla_model::servicediscovery::records::service_records;
use flotilla_model::servicediscovery::{InstanceRecord, NamespaceRecord, DEFAULT_SOA_TTL};
use tokio::sync::watch;

use crate::{keys, State};

/// The TTL of a load balancer's own name, and of aliases to it (as Route 53 answers them).
pub const LOAD_BALANCER_TTL: u32 = 60;

/// The DNS data plane's channels: the configuration it serves and what it reports.
pub struct Channels {
    config: watch::Sender<Arc<DnsConfig>>,
    report: watch::Sender<Arc<DnsReport>>,
}

impl Default for Channels {
    fn default() -> Self {
        Channels {
            config: watch::channel(Arc::new(DnsConfig::default())).0,
            report: watch::channel(Arc::new(DnsReport::default())).0,
        }
    }
}

impl Channels {
    /// What the data plane should serve; filled by [`run_feed`].
    pub fn config(&self) -> watch::Receiver<Arc<DnsConfig>> {
        self.config.subscribe()
    }

    /// The data plane's latest report.
    pub fn report(&self) -> Arc<DnsReport> {
        self.report.borrow().clone()
    }

    /// Take a report from the data plane (the server forwards each one here).
    pub fn take_report(&self, report: Arc<DnsReport>) {
        self.report.send_replace(report);
    }

    fn publish(&self, config: DnsConfig) {
        self.config.send_if_modified(|c| {
            // The version alone changing (another part of the store moved) is no news.
            let same = c.zones == config.zones;
            if same && c.version >= config.version {
                return false;
            }
            *c = Arc::new(config);
            true
        });
    }
}

/// The zone that answers load balancers' `DNSName`s (`NAME-ID.REGION.elb.<suffix>`).
pub fn load_balancer_zone(suffix: &str) -> String {
    format!("elb.{}.", suffix.trim_end_matches('.'))
}

/// Build the data plane's configuration from the views.
pub fn build(state: &State) -> DnsConfig {
    // Every Route 53 change writes its zone, record sets and change record in one commit,
    // and every Cloud Map change its records and operation record in one commit, so once
    // all these views have applied a revision, this build holds every change committed up
    // to it (load balancers' own revisions play no part in GetChange).
    let version = state
        .route53()
        .revision()
        .min(state.servicediscovery().revision());
    let mut zones = Vec::new();
    for zone in crate::route53::zones(state) {
        let sets = crate::route53::stored_record_sets(state, &zone.id);
        let mut plane = ZonePlane {
            id: zone.id.clone(),
            origin: zone.name.clone(),
            soa: default_soa(&zone.name),
            records: Vec::new(),
        };
        for set in &sets {
            if set.rtype == RecordType::Soa {
                if let Some(soa) = set.values.first().and_then(|v| parse_soa(v, set.ttl)) {
                    plane.soa = soa;
                }
                continue;
            }
            if let Some(record) = record_plane(state, set, &sets) {
                plane.records.push(record);
            }
        }
        zones.push(plane);
    }
    for namespace in crate::servicediscovery::all_namespaces(state) {
        if namespace.namespace_type.is_dns() {
            zones.push(namespace_zone(state, &namespace));
        }
    }
    zones.push(load_balancers_zone(state));
    DnsConfig {
        version: u64::try_from(version).unwrap_or(0),
        zones,
    }
}

/// A record set as the data plane takes it: an alias is resolved to what it answers.
fn record_plane(
    state: &State,
    set: &RecordSet,
    zone_sets: &[Arc<RecordSet>],
) -> Option<RecordPlane> {
    let routing = match (&set.set_identifier, set.weight, set.multi_value_answer) {
        (Some(id), Some(weight), _) => Routing::Weighted {
            set_identifier: id.clone(),
            weight,
        },
        (Some(id), None, Some(true)) => Routing::MultiValue {
            set_identifier: id.clone(),
        },
        _ => Routing::Simple,
    };
    let (ttl, values) = match &set.alias {
        None => (set.ttl.unwrap_or(300), set.values.clone()),
        Some(alias) if alias.hosted_zone_id == ELB_HOSTED_ZONE_ID => {
            let address = crate::route53::load_balancer_address(state, &alias.dns_name)?;
            let fits = matches!(
                (set.rtype, address),
                (RecordType::A, std::net::IpAddr::V4(_))
                    | (RecordType::Aaaa, std::net::IpAddr::V6(_))
            );
            if !fits {
                return None;
            }
            let values = crate::nodes::addresses(state, address)
                .iter()
                .map(ToString::to_string)
                .collect();
            (LOAD_BALANCER_TTL, values)
        }
        Some(alias) => {
            // Another record set of a zone of ours: the values of its sets of this type.
            let target_sets: Vec<Arc<RecordSet>> =
                if zone_sets.iter().any(|s| s.name == alias.dns_name) {
                    zone_sets.to_vec()
                } else {
                    crate::route53::zone(state, &alias.hosted_zone_id)
                        .map(|z| crate::route53::stored_record_sets(state, &z.value.id))
                        .unwrap_or_default()
                };
            let targets: Vec<&Arc<RecordSet>> = target_sets
                .iter()
                .filter(|s| s.name == alias.dns_name && s.rtype == set.rtype && s.alias.is_none())
                .collect();
            let ttl = targets.iter().filter_map(|s| s.ttl).min()?;
            let values = targets.iter().flat_map(|s| s.values.clone()).collect();
            (ttl, values)
        }
    };
    Some(RecordPlane {
        name: set.name.clone(),
        rtype: set.rtype,
        ttl,
        values,
        routing,
        healthy: record_healthy(state, set),
    })
}

/// A record set is healthy when its health check (if any) says so, and, for an alias to
/// a load balancer evaluating target health, when that load balancer has a healthy target.
fn record_healthy(state: &State, set: &RecordSet) -> bool {
    let checked = set
        .health_check_id
        .as_deref()
        .is_none_or(|id| state.route53_health().healthy(id));
    let target = match &set.alias {
        Some(a) if a.evaluate_target_health && a.hosted_zone_id == ELB_HOSTED_ZONE_ID => {
            load_balancer_healthy(state, &a.dns_name)
        }
        _ => true,
    };
    checked && target
}

/// Whether the load balancer whose `DNSName` is `dns_name` has at least one healthy
/// target in a target group its listeners forward to (by their rules or defaults), as the
/// load balancer's data plane reports them. One with no listener or no such target is
/// unhealthy, as Route 53 treats a load balancer with no healthy targets.
pub fn load_balancer_healthy(state: &State, dns_name: &str) -> bool {
    let Some(address) = crate::route53::load_balancer_address(state, dns_name) else {
        return false;
    };
    let plane = state.elbv2().plane_config();
    let plane = plane.borrow();
    let health = state.elbv2().health();
    plane
        .load_balancers
        .iter()
        .filter(|lb| lb.address == crate::nodes::local_address(state, address))
        .flat_map(|lb| &lb.listeners)
        .flat_map(|l| &l.rules)
        .flat_map(|r| r.action.target_groups())
        .any(|group| {
            health
                .groups
                .get(group)
                .is_some_and(|targets| targets.values().any(|o| *o == Observed::Healthy))
        })
}

/// A Cloud Map DNS namespace as a zone: its SOA (with the namespace's SOA TTL) and NS,
/// and the record sets of every service's instances.
fn namespace_zone(state: &State, namespace: &NamespaceRecord) -> ZonePlane {
    let origin = namespace.origin();
    let mut soa = default_soa(&origin);
    soa.ttl = namespace.soa_ttl.unwrap_or(DEFAULT_SOA_TTL);
    let mut records = vec![RecordPlane {
        name: origin.clone(),
        rtype: RecordType::Ns,
        ttl: NS_TTL,
        values: vec![NAME_SERVER.to_string()],
        routing: Routing::Simple,
        healthy: true,
    }];
    // Cloud Map's alias attribute takes one address: the load balancer's first.
    let alias = |name: &str| {
        crate::route53::load_balancer_address(state, name)
            .and_then(|a| crate::nodes::addresses(state, a).first().copied())
    };
    for service in crate::servicediscovery::services_in(state, namespace) {
        let instances: Vec<InstanceRecord> = crate::servicediscovery::instances_of(state, &service)
            .iter()
            .map(|i| (**i).clone())
            .collect();
        records.extend(service_records(&service, &origin, &instances, &alias));
    }
    ZonePlane {
        id: namespace
            .hosted_zone_id
            .clone()
            .unwrap_or_else(|| namespace.id.clone()),
        origin,
        soa,
        records,
    }
}

/// Every load balancer's `DNSName` with its address.
fn load_balancers_zone(state: &State) -> ZonePlane {
    let origin = load_balancer_zone(&state.config().lb_dns_suffix);
    let mut records = vec![RecordPlane {
        name: origin.clone(),
        rtype: RecordType::Ns,
        ttl: NS_TTL,
        values: vec![NAME_SERVER.to_string()],
        routing: Routing::Simple,
        healthy: true,
    }];
    for (_, e) in state
        .elbv2()
        .load_balancers
        .range(keys::LOAD_BALANCERS.as_bytes())
        .iter()
    {
        let lb = &e.value;
        let rtype = if lb.address.is_ipv4() {
            RecordType::A
        } else {
            RecordType::Aaaa
        };
        records.push(RecordPlane {
            name: format!(
                "{}.",
                lb.dns_name.trim_end_matches('.').to_ascii_lowercase()
            ),
            rtype,
            ttl: LOAD_BALANCER_TTL,
            values: crate::nodes::addresses(state, lb.address)
                .iter()
                .map(ToString::to_string)
                .collect(),
            routing: Routing::Simple,
            healthy: true,
        });
    }
    ZonePlane {
        id: ELB_HOSTED_ZONE_ID.to_string(),
        soa: default_soa(&origin),
        origin,
        records,
    }
}

/// Route 53's SOA for a zone Flotilla made itself.
fn default_soa(_origin: &str) -> Soa {
    Soa {
        mname: NAME_SERVER.to_string(),
        rname: "hostmaster.flotilla.internal.".to_string(),
        serial: 1,
        refresh: 7200,
        retry: 900,
        expire: 1_209_600,
        minimum: 86_400,
        ttl: SOA_TTL,
    }
}

/// `MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM`.
fn parse_soa(value: &str, ttl: Option<u32>) -> Option<Soa> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [mname, rname, serial, refresh, retry, expire, minimum] = fields.as_slice() else {
        return None;
    };
    let fqdn = |n: &str| format!("{}.", n.trim_end_matches('.').to_ascii_lowercase());
    Some(Soa {
        mname: fqdn(mname),
        rname: fqdn(rname),
        serial: serial.parse().ok()?,
        refresh: refresh.parse().ok()?,
        retry: retry.parse().ok()?,
        expire: expire.parse().ok()?,
        minimum: minimum.parse().ok()?,
        ttl: ttl.unwrap_or(SOA_TTL),
    })
}

/// Wait (briefly) until every view whose revision makes the configuration's version has
/// applied what the most advanced of them has. A change wakes the feed through the views
/// it touched; the others advance to its revision on their own, a moment later, with no
/// notification, so a build made before they do would carry an older version and no
/// later change might come to correct it.
async fn settle(state: &State) {
    let (r53, sd) = (state.route53(), state.servicediscovery());
    let target = [
        r53.zones.revision(),
        r53.record_sets.revision(),
        r53.changes.revision(),
        r53.health_checks.revision(),
        sd.namespaces.revision(),
        sd.services.revision(),
        sd.instances.revision(),
        sd.operations.revision(),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let caught_up = async { tokio::join!(r53.wait_for(target), sd.wait_for(target)) };
    // A view that stalls (a closed store) must not stop the feed.
    let _ = tokio::time::timeout(Duration::from_secs(2), caught_up).await;
}

/// After a change, how long the feed waits for the next before it builds: one change
/// batch moves three views one after the other, and a zone being loaded sends batch
/// after batch; each build reads every record set of every zone.
const SETTLE: Duration = Duration::from_millis(5);
/// The longest a build waits for changes to settle, so that a steady stream of them is
/// still published.
const SETTLE_MAX: Duration = Duration::from_millis(200);

/// Keep the published configuration current until `shutdown`. Changes that come close
/// together are built once ([`SETTLE`]).
pub async fn run_feed(state: State, mut shutdown: watch::Receiver<bool>) {
    let r53 = state.route53();
    let mut zones = r53.zones.key_changes();
    let mut sets = r53.record_sets.key_changes();
    let mut changes = r53.changes.key_changes();
    let mut lbs = state.elbv2().load_balancers.key_changes();
    let sd = state.servicediscovery();
    let mut namespaces = sd.namespaces.key_changes();
    let mut services = sd.services.key_changes();
    let mut instances = sd.instances.key_changes();
    let mut operations = sd.operations.key_changes();
    // Health: the checker's results, and the load balancers' targets and listeners (for
    // EvaluateTargetHealth). A watch holds only the latest value, so a burst of reports
    // is one rebuild.
    let mut checks = state.route53_health().changes();
    let mut lb_health = state.elbv2().health_changes();
    let mut lb_plane = state.elbv2().plane_config();
    // Servers starting and stopping: a load balancer's name answers one address each.
    let mut nodes = state.nodes().key_changes();
    let mut settling: Option<tokio::time::Instant> = None;
    loop {
        if settling.is_none() {
            settle(&state).await;
            state.dns().publish(build(&state));
        }
        // Wait for a change; once one came, only until the changes settle.
        let wait = async {
            match settling {
                Some(since) => {
                    let until = (tokio::time::Instant::now() + SETTLE).min(since + SETTLE_MAX);
                    tokio::time::sleep_until(until).await;
                }
                None => std::future::pending().await,
            }
        };
        let change = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            c = zones.next() => c.is_some(),
            c = sets.next() => c.is_some(),
            c = changes.next() => c.is_some(),
            c = lbs.next() => c.is_some(),
            c = nodes.next() => c.is_some(),
            c = namespaces.next() => c.is_some(),
            c = services.next() => c.is_some(),
            c = instances.next() => c.is_some(),
            c = operations.next() => c.is_some(),
            c = checks.changed() => c.is_ok(),
            c = lb_health.changed() => c.is_ok(),
            c = lb_plane.changed() => c.is_ok(),
            () = wait => {
                settling = None;
                continue;
            }
        };
        if !change {
            return;
        }
        settling.get_or_insert_with(tokio::time::Instant::now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soa_values_parse_and_garbage_does_not() {
        let soa = parse_soa(
            "NS-1.example.com. Host.example.com 5 7200 900 1209600 60",
            Some(30),
        )
        .unwrap();
        assert_eq!(soa.mname, "ns-1.example.com.");
        assert_eq!(soa.rname, "host.example.com.");
        assert_eq!((soa.serial, soa.minimum, soa.ttl), (5, 60, 30));
        assert!(parse_soa("a b c", None).is_none());
        assert!(parse_soa("a b x 1 1 1 1", None).is_none());
    }

    #[test]
    fn the_load_balancer_zone_follows_the_suffix() {
        assert_eq!(
            load_balancer_zone("flotilla.internal"),
            "elb.flotilla.internal."
        );
        assert_eq!(load_balancer_zone("x.test."), "elb.x.test.");
    }
}
