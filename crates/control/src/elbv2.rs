//! ELBv2's domain operations: [`load_balancers`], [`target_groups`], [`listeners`],
//! [`rules`], [`targets`] (registration and health as the data plane reports it), and
//! [`plane`], the feed that turns these records into the data plane's configuration.
//!
//! Every record has its own key (`keys.rs`): load balancers and target groups by name,
//! listeners under their load balancer's id, rules under their listener's id, targets
//! under their group's name. An ARN names its record's key, so lookups by ARN are one read.

pub mod listeners;
pub mod load_balancers;
pub mod plane;
pub mod rules;
pub mod target_groups;
pub mod targets;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use flotilla_model::elbv2::plane::{HealthReport, PlaneConfig};
use flotilla_model::elbv2::{
    ListenerRecord, LoadBalancerRecord, RuleRecord, TargetGroupRecord, TargetRecord,
};
use flotilla_model::record::Record;
use flotilla_model::Scope;
use flotilla_store::view::View;
use flotilla_store::{Revision, Store, StoreError};
use tokio::sync::watch;

use crate::keys;

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 16;

/// ELBv2's views, and the two channels between the control plane and the load
/// balancer's data plane: the configuration it serves and the health it observes.
pub struct Views {
    pub load_balancers: View<LoadBalancerRecord>,
    pub target_groups: View<TargetGroupRecord>,
    pub listeners: View<ListenerRecord>,
    pub rules: View<RuleRecord>,
    pub targets: View<TargetRecord>,
    config: watch::Sender<Arc<PlaneConfig>>,
    health: watch::Sender<Arc<HealthReport>>,
}

impl Views {
    pub(crate) async fn start(store: &Arc<dyn Store>) -> Result<Views, StoreError> {
        let p = |s: &str| s.as_bytes().to_vec();
        Ok(Views {
            load_balancers: View::start(
                store.clone(),
                p(keys::LOAD_BALANCERS),
                crate::state::decoder,
            )
            .await?,
            target_groups: View::start(
                store.clone(),
                p(keys::TARGET_GROUPS),
                crate::state::decoder,
            )
            .await?,
            listeners: View::start(store.clone(), p(keys::LISTENERS), crate::state::decoder)
                .await?,
            rules: View::start(store.clone(), p(keys::RULES), crate::state::decoder).await?,
            targets: View::start(store.clone(), p(keys::TARGETS), crate::state::decoder).await?,
            config: watch::channel(Arc::new(PlaneConfig::default())).0,
            health: watch::channel(Arc::new(HealthReport::default())).0,
        })
    }

    pub(crate) async fn wait_for(&self, rev: Revision) -> Result<(), StoreError> {
        let (a, b, c, d, e) = tokio::join!(
            self.load_balancers.wait_for(rev),
            self.target_groups.wait_for(rev),
            self.listeners.wait_for(rev),
            self.rules.wait_for(rev),
            self.targets.wait_for(rev),
        );
        a.and(b).and(c).and(d).and(e)
    }

    /// What the data plane should serve; filled by [`plane::run_feed`].
    pub fn plane_config(&self) -> watch::Receiver<Arc<PlaneConfig>> {
        self.config.subscribe()
    }

    pub(crate) fn publish_config(&self, config: PlaneConfig) {
        self.config.send_if_modified(|c| {
            if **c == config {
                false
            } else {
                *c = Arc::new(config);
                true
            }
        });
    }

    /// The data plane's latest observations.
    pub fn health(&self) -> Arc<HealthReport> {
        self.health.borrow().clone()
    }

    /// Wakes when the data plane reports something new.
    pub fn health_changes(&self) -> watch::Receiver<Arc<HealthReport>> {
        self.health.subscribe()
    }

    /// Take a report from the data plane (the server forwards each one here; its request
    /// counts become CloudWatch metrics there, in `flotilla_server::lb_metrics`, since
    /// the metric store is below the server and not the control plane's).
    pub fn report_health(&self, report: Arc<HealthReport>) {
        // Counts alone moving is no news to those watching health.
        self.health.send_if_modified(|current| {
            let news = current.groups != report.groups || current.bind_errors != report.bind_errors;
            *current = report;
            news
        });
    }
}

/// The addresses load balancers' listeners bind, handed out one per load balancer:
/// a range of loopback addresses on one host (`--lb-bind 127.0.1.1-127.0.1.254`) or one
/// address every load balancer shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPool {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl Default for AddressPool {
    fn default() -> Self {
        AddressPool {
            first: IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1)),
            last: IpAddr::V4(Ipv4Addr::new(127, 0, 1, 254)),
        }
    }
}

impl AddressPool {
    /// `ADDR` or `FIRST-LAST` (IPv4; a range must lie in one /16 and be in order).
    pub fn parse(s: &str) -> Result<AddressPool, String> {
        let bad = || format!("'{s}' is not an address or a range FIRST-LAST of IPv4 addresses");
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (s.trim(), s.trim()),
        };
        let first: IpAddr = first.parse().map_err(|_| bad())?;
        let last: IpAddr = last.parse().map_err(|_| bad())?;
        match (first, last) {
            (IpAddr::V4(a), IpAddr::V4(b)) if u32::from(a) <= u32::from(b) => {
                if u32::from(b) - u32::from(a) > 65_535 {
                    return Err(format!("'{s}' spans more than 65536 addresses"));
                }
                Ok(AddressPool { first, last })
            }
            (IpAddr::V6(_), _) if first == last => Ok(AddressPool { first, last }),
            _ => Err(bad()),
        }
    }

    /// Whether every load balancer shares one address.
    pub fn shared(&self) -> bool {
        self.first == self.last
    }

    /// The address of `to` at the place `address` has in this pool: the Nth of this
    /// pool is the Nth of `to`. When either pool is one address, `to`'s first. `None` when
    /// `address` is not in this pool or `to` is too short.
    pub fn translate(&self, to: &AddressPool, address: IpAddr) -> Option<IpAddr> {
        if self.shared() || to.shared() {
            return Some(to.first);
        }
        let (IpAddr::V4(first), IpAddr::V4(last), IpAddr::V4(a)) = (self.first, self.last, address)
        else {
            return None;
        };
        let (IpAddr::V4(to_first), IpAddr::V4(to_last)) = (to.first, to.last) else {
            return None;
        };
        let n = u32::from(a);
        if n < u32::from(first) || n > u32::from(last) {
            return None;
        }
        let mapped = u32::from(to_first).checked_add(n - u32::from(first))?;
        (mapped <= u32::from(to_last)).then(|| IpAddr::V4(Ipv4Addr::from(mapped)))
    }

    /// The first address not in `taken` (or the one shared address).
    pub fn pick(&self, taken: &[IpAddr]) -> Option<IpAddr> {
        if self.shared() {
            return Some(self.first);
        }
        let (IpAddr::V4(a), IpAddr::V4(b)) = (self.first, self.last) else {
            return None;
        };
        (u32::from(a)..=u32::from(b))
            .map(|n| IpAddr::V4(Ipv4Addr::from(n)))
            .find(|ip| !taken.contains(ip))
    }
}

impl std::fmt::Display for AddressPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.shared() {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Read a record (its key and entry), change it and write it back if it changed,
/// retrying on a concurrent change: the one update loop of ELBv2's records.
async fn update_record<T>(
    state: &crate::State,
    what: &str,
    mut read: impl FnMut() -> Result<(String, crate::Entry<T>), crate::ControlError>,
    mut change: impl FnMut(&mut T) -> Result<(), crate::ControlError>,
) -> Result<T, crate::ControlError>
where
    T: Record + Clone + PartialEq,
{
    for _ in 0..ATTEMPTS {
        let (key, entry) = read()?;
        let mut record = (*entry.value).clone();
        change(&mut record)?;
        if record == *entry.value {
            return Ok(record);
        }
        let value = flotilla_model::record::encode(&record);
        if state
            .put_if_unchanged(&key, entry.mod_revision, value)
            .await?
        {
            return Ok(record);
        }
    }
    Err(crate::ControlError::Contended(format!(
        "{what} kept changing; retry."
    )))
}

/// Apply attribute changes to the stored ones: a value equal to its default is no longer
/// stored, so a later change of the default reaches it.
fn set_attributes(
    stored: &mut std::collections::BTreeMap<String, String>,
    defaults: &[(&str, &str)],
    changes: &[(String, String)],
) {
    for (k, v) in changes {
        let default = defaults.iter().find(|(d, _)| d == k).map(|(_, d)| *d);
        if default == Some(v.as_str()) {
            stored.remove(k);
        } else {
            stored.insert(k.clone(), v.clone());
        }
    }
}

/// The ARN prefix of ELBv2 resources in a scope.
fn arn_prefix(scope: &Scope) -> String {
    format!(
        "arn:{}:elasticloadbalancing:{}:{}:",
        scope.partition, scope.region, scope.account
    )
}

/// The resource part of an ELBv2 ARN of this scope (`loadbalancer/app/NAME/ID`, ...).
fn resource_of<'a>(scope: &Scope, arn: &'a str) -> Option<&'a str> {
    let prefix = arn_prefix(scope);
    arn.strip_prefix(prefix.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_pools_hand_out_free_addresses_in_order() {
        let pool = AddressPool::parse("127.0.1.1-127.0.1.3").unwrap();
        let a: IpAddr = "127.0.1.1".parse().unwrap();
        let b: IpAddr = "127.0.1.2".parse().unwrap();
        assert_eq!(pool.pick(&[]), Some(a));
        assert_eq!(pool.pick(&[a]), Some(b));
        let all: Vec<IpAddr> = ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(pool.pick(&all), None);
        let one = AddressPool::parse("127.0.0.1").unwrap();
        assert_eq!(one.pick(&[one.first]), Some(one.first));
        assert!(AddressPool::parse("127.0.1.9-127.0.1.1").is_err());
        assert!(AddressPool::parse("nope").is_err());
    }

    #[test]
    fn the_nth_address_of_one_pool_is_the_nth_of_another() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let shared = AddressPool::parse("127.0.1.1-127.0.1.10").unwrap();
        let node = AddressPool::parse("127.0.2.101-127.0.2.110").unwrap();
        assert_eq!(
            shared.translate(&node, ip("127.0.1.1")),
            Some(ip("127.0.2.101"))
        );
        assert_eq!(
            shared.translate(&node, ip("127.0.1.10")),
            Some(ip("127.0.2.110"))
        );
        assert_eq!(
            shared.translate(&shared, ip("127.0.1.4")),
            Some(ip("127.0.1.4"))
        );
        // Outside the pool, or past the end of a shorter one.
        assert_eq!(shared.translate(&node, ip("127.0.1.11")), None);
        let short = AddressPool::parse("127.0.3.1-127.0.3.5").unwrap();
        assert_eq!(shared.translate(&short, ip("127.0.1.6")), None);
        // A server with one address binds every load balancer there.
        let one = AddressPool::parse("10.0.0.2").unwrap();
        assert_eq!(
            shared.translate(&one, ip("127.0.1.7")),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(
            one.translate(&node, ip("10.0.0.2")),
            Some(ip("127.0.2.101"))
        );
    }
}
