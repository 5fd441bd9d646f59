//! The routing table: a [`PlaneConfig`] compiled into what requests and listeners look up
//! (listeners by ARN with their TLS settings, target groups with their targets' runtimes).
//! A new table replaces the old one whole; runtimes (health, requests in flight,
//! connection pools) carry over for targets that stay at the same address, and traffic
//! counters for load balancers (and their target groups) that stay.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use flotilla_model::elbv2::plane::{LbPlane, ListenerPlane, PlaneConfig};
use tokio::sync::Notify;

use crate::counters::{GroupCounters, LbCounters};
use crate::targets::{target_token, Group, Runtime, Target};
use crate::tls::CertCache;

/// Everything a request needs, immutable once built.
#[derive(Default)]
pub(crate) struct Table {
    pub listeners: HashMap<String, Arc<Route>>,
    pub groups: HashMap<String, Arc<Group>>,
    /// Listeners whose certificates could not be loaded, with why.
    pub tls_errors: BTreeMap<String, String>,
    /// Traffic counters by load balancer ARN (kept across tables while the load
    /// balancer exists).
    pub traffic: HashMap<String, Arc<LbCounters>>,
    /// Traffic counters by (load balancer ARN, target group ARN), for every group a
    /// listener of the load balancer forwards to.
    pub group_traffic: HashMap<(String, String), Arc<GroupCounters>>,
}

/// One listener as requests see it.
pub(crate) struct Route {
    pub lb: Arc<LbPlane>,
    /// Its load balancer's traffic counters.
    pub traffic: Arc<LbCounters>,
    /// Its load balancer's counters per target group it forwards to (a few: looked up
    /// by a scan).
    pub group_traffic: Arc<[(String, Arc<GroupCounters>)]>,
    pub plane: ListenerPlane,
    /// Where it listens: the load balancer's address, the port plus the offset.
    pub bind: SocketAddr,
    /// HTTPS listeners: the TLS settings (certificates chosen by SNI, ALPN).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// What compiling needs besides the configuration.
pub(crate) struct Inputs<'a> {
    pub port_offset: u16,
    /// How many workers serve clients: each target gets a connection pool per worker.
    pub workers: usize,
    pub dirty: &'a Arc<Notify>,
    pub certs: &'a mut CertCache,
}

/// Build the table for `config`, keeping the runtimes of `previous`'s targets.
pub(crate) fn compile(config: &PlaneConfig, previous: &Table, inputs: Inputs<'_>) -> Table {
    let mut table = Table::default();
    let mut used: HashSet<&str> = HashSet::new();
    for lb in &config.load_balancers {
        let lb_arc = Arc::new(lb.clone());
        let traffic = previous.traffic.get(&lb.arn).cloned();
        let traffic = traffic.unwrap_or_else(|| Arc::new(LbCounters::new(inputs.workers)));
        table.traffic.insert(lb.arn.clone(), traffic.clone());
        let group_traffic = group_counters(lb, previous, &mut table, inputs.workers);
        for listener in &lb.listeners {
            for rule in &listener.rules {
                used.extend(rule.action.target_groups());
            }
            let tls = match listener.protocol {
                flotilla_model::elbv2::ListenerProtocol::Http => None,
                flotilla_model::elbv2::ListenerProtocol::Https => {
                    match inputs
                        .certs
                        .server_config(config, &listener.certificates, lb.http2)
                    {
                        Ok(tls) => Some(tls),
                        Err(e) => {
                            table.tls_errors.insert(listener.arn.clone(), e.to_string());
                            None
                        }
                    }
                }
            };
            let port = listener.port.wrapping_add(inputs.port_offset);
            let route = Route {
                lb: lb_arc.clone(),
                traffic: traffic.clone(),
                group_traffic: group_traffic.clone(),
                plane: listener.clone(),
                bind: SocketAddr::new(lb.address, port),
                tls,
            };
            table
                .listeners
                .insert(listener.arn.clone(), Arc::new(route));
        }
    }
    inputs.certs.retain_used(config);
    for (arn, tg) in &config.target_groups {
        let old = previous.groups.get(arn);
        let in_use = used.contains(arn.as_str());
        let targets = tg
            .targets
            .iter()
            .map(|plane| {
                let kept = old
                    .and_then(|g| g.targets.iter().find(|t| t.plane.key == plane.key))
                    .map(|t| t.rt.clone())
                    .filter(|rt| rt.addr == plane.addr && !rt.is_cut());
                let rt = kept.unwrap_or_else(|| {
                    Arc::new(Runtime::new(plane, inputs.workers, inputs.dirty.clone()))
                });
                rt.set_draining(plane.draining.is_some());
                if !in_use {
                    rt.reset_health();
                }
                Target {
                    plane: plane.clone(),
                    sticky: target_token(arn, &plane.key),
                    rt,
                }
            })
            .collect();
        let group = Group::new(tg.clone(), targets, in_use);
        table.groups.insert(arn.clone(), Arc::new(group));
    }
    table
}

/// The counters of every group `lb`'s listeners forward to, kept from `previous` (and
/// recorded in `table`).
fn group_counters(
    lb: &LbPlane,
    previous: &Table,
    table: &mut Table,
    workers: usize,
) -> Arc<[(String, Arc<GroupCounters>)]> {
    let mut out: Vec<(String, Arc<GroupCounters>)> = Vec::new();
    let forwarded = lb
        .listeners
        .iter()
        .flat_map(|l| &l.rules)
        .flat_map(|r| r.action.target_groups());
    for group in forwarded {
        if out.iter().any(|(arn, _)| arn == group) {
            continue;
        }
        let key = (lb.arn.clone(), group.to_string());
        let counters = previous
            .group_traffic
            .get(&key)
            .cloned()
            .unwrap_or_else(|| Arc::new(GroupCounters::new(workers)));
        table.group_traffic.insert(key, counters.clone());
        out.push((group.to_string(), counters));
    }
    out.into()
}

impl Route {
    /// The counters of what this listener's load balancer forwards to `group`.
    pub(crate) fn group_traffic(&self, group: &str) -> Option<&GroupCounters> {
        self.group_traffic
            .iter()
            .find(|(arn, _)| arn == group)
            .map(|(_, c)| &**c)
    }
}
