//! The agent's keeper of its tasks' firewalls: holds the host firewall the last poll
//! answered, enforces a task's rules in its namespace when the task starts (or is adopted
//! after a restart), and enforces every task's again when a poll brings a different
//! firewall; it also keeps the routes to the tasks of its subnets on other hosts. A task's table is replaced only when what it would render differs from
//! what its namespace holds, so re-enforcing an unchanged rule set costs one `nft list`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use flotilla_model::firewall::{HostFirewall, InterfaceFirewall};

use super::{applied, apply, render, FirewallError, HostServices, NetNs};

/// A task whose rules the keeper enforces.
#[derive(Debug, Clone)]
struct Enforced {
    pid: u32,
    address: Ipv4Addr,
}

/// Shared by the agent's poll loop (which updates it) and its task actors (which enforce
/// their task's rules through it).
pub struct Keeper {
    current: Mutex<Arc<HostFirewall>>,
    tasks: Mutex<BTreeMap<String, Enforced>>,
    /// Subnets whose routes to other hosts' tasks the keeper set (emptied when they have
    /// none left).
    routed: Mutex<BTreeSet<String>>,
    services: HostServices,
}

impl Keeper {
    /// A keeper whose tasks may always reach `services`.
    pub fn new(services: HostServices) -> Keeper {
        Keeper {
            current: Mutex::new(Arc::new(HostFirewall::default())),
            tasks: Mutex::new(BTreeMap::new()),
            routed: Mutex::new(BTreeSet::new()),
            services,
        }
    }

    /// The fingerprint of the host firewall held (what the next poll sends back).
    pub fn fingerprint(&self) -> String {
        self.current().fingerprint()
    }

    fn current(&self) -> Arc<HostFirewall> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Hold `firewall` (from a poll answer); when it differs from the one held, enforce
    /// it for every task the keeper knows.
    pub async fn update(self: &Arc<Self>, firewall: HostFirewall) {
        {
            let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            if **current == firewall {
                return;
            }
            *current = Arc::new(firewall);
        }
        let tasks: Vec<(String, Enforced)> = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (task, e) in tasks {
            if let Err(error) = self.enforce_rules(&task, e.pid, e.address).await {
                tracing::warn!(%task, %error, "could not enforce the task's security groups");
            }
        }
        self.sync_routes().await;
    }

    /// Make the routes of each subnet bridge this host has to the subnet's tasks on other
    /// hosts those the held firewall lists (`crate::routes`), removing those of subnets it
    /// no longer lists.
    async fn sync_routes(&self) {
        let wanted = self.current().remote_tasks.clone();
        let previous = std::mem::take(&mut *self.routed.lock().unwrap_or_else(|e| e.into_inner()));
        if wanted.is_empty() && previous.is_empty() {
            return;
        }
        let subnets: BTreeSet<String> = wanted.keys().cloned().chain(previous).collect();
        let routed = tokio::task::spawn_blocking(move || {
            let mut routed = BTreeSet::new();
            for subnet in subnets {
                let bridge = crate::hostnet::bridge_name(&subnet);
                if !std::path::Path::new("/sys/class/net").join(&bridge).exists() {
                    continue;
                }
                let pairs: Vec<(Ipv4Addr, Ipv4Addr)> = wanted
                    .get(&subnet)
                    .map(|m| m.iter().map(|(t, h)| (*t, *h)).collect())
                    .unwrap_or_default();
                match crate::routes::sync_routes(&NetNs::Current, &bridge, &pairs) {
                    Ok(_) if !pairs.is_empty() => {
                        routed.insert(subnet);
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%subnet, %error, "could not route to the subnet's tasks on other hosts");
                        routed.insert(subnet);
                    }
                }
            }
            routed
        })
        .await
        .unwrap_or_default();
        self.routed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(routed);
    }

    /// Enforce the rules of `task` (whose pause container's process is `pid`, its address
    /// `address`) and keep enforcing them as the firewall changes. A task the held
    /// firewall does not list yet gets no ingress and no egress beyond the host's
    /// services until a poll brings its rules.
    pub async fn enforce(
        self: &Arc<Self>,
        task: &str,
        pid: u32,
        address: Ipv4Addr,
    ) -> Result<(), FirewallError> {
        self.enforce_rules(task, pid, address).await?;
        // The task's bridge may be new: it needs the routes to other hosts too.
        self.sync_routes().await;
        Ok(())
    }

    async fn enforce_rules(
        self: &Arc<Self>,
        task: &str,
        pid: u32,
        address: Ipv4Addr,
    ) -> Result<(), FirewallError> {
        let firewall = self.current();
        let none = InterfaceFirewall {
            address,
            ingress: vec![],
            egress: vec![],
        };
        let iface = firewall.interfaces.get(task).unwrap_or(&none);
        let ruleset = render(iface, &firewall.groups, &self.services)?;
        let netns = NetNs::of_pid(pid);
        tokio::task::spawn_blocking(move || {
            if applied(&netns)?.as_deref() == Some(ruleset.fingerprint()) {
                return Ok(());
            }
            apply(&netns, ruleset.script())
        })
        .await
        .map_err(|e| {
            FirewallError::Tool(super::ToolError::Io {
                tool: "nft",
                source: std::io::Error::other(e),
            })
        })??;
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(task.to_string(), Enforced { pid, address });
        Ok(())
    }

    /// Stop enforcing `task`'s rules (its namespace is going away with it).
    pub fn forget(&self, task: &str) {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(task);
    }
}
