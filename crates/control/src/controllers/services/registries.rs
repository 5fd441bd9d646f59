//! The service controller's side of Cloud Map: each task of a service with
//! `serviceRegistries` is registered as an instance of the registry's Cloud Map service
//! (instance id = task id) once it is RUNNING and healthy, and deregistered before it is
//! stopped; a task stopped by the scheduler is then held running for the registry's
//! longest DNS TTL after its deregistration, so no resolver still holding its record
//! reaches a stopped task.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::service::{ServiceRecord, ServiceRegistry};
use flotilla_model::servicediscovery::{DiscoveryServiceRecord, ATTR_IPV4, ATTR_PORT};
use flotilla_model::task::{TaskRecord, TaskStatus};
use flotilla_model::Scope;

use crate::servicediscovery::{deregister_instance, register_instance, service_by_arn};
use crate::{keys, State};

/// How long after a deregistration the DNS server is sure to answer without the task,
/// on top of the TTL (it applies a change within moments).
const PROPAGATION: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// A service's Cloud Map registry, as the controller uses it.
pub(super) struct Registry<'a> {
    spec: &'a ServiceRegistry,
    service: Arc<DiscoveryServiceRecord>,
    /// The `externalId` of the task set whose tasks register (`ECS_TASK_SET_EXTERNAL_ID`).
    external_id: Option<String>,
}

impl<'a> Registry<'a> {
    /// The registry a service names, when its Cloud Map service exists.
    pub(super) fn of(state: &State, svc: &'a ServiceRecord) -> Option<Registry<'a>> {
        let spec = svc.service_registries.first()?;
        let service = service_by_arn(state, spec.registry_arn.as_deref()?)?;
        Some(Registry {
            spec,
            service,
            external_id: None,
        })
    }

    /// The registry as the tasks of a task set with `external_id` register in it.
    pub(super) fn for_task_set(mut self, external_id: Option<&str>) -> Self {
        self.external_id = external_id.map(String::from);
        self
    }

    /// The attributes a task registers with: its address (an awsvpc task's own; else its
    /// host's, the instance attribute `flotilla.host-address`, as for load balancer
    /// targets), its port when the registry names one, and the attributes ECS adds.
    /// `None` while the task has not reported what the registry needs.
    fn attributes(
        &self,
        state: &State,
        scope: &Scope,
        svc: &ServiceRecord,
        task: &TaskRecord,
    ) -> Option<BTreeMap<String, String>> {
        let own_address = task
            .containers
            .iter()
            .find_map(|c| c.network_interfaces.first())
            .map(|n| n.private_ipv4_address.clone())
            .filter(|a| !a.is_empty());
        let awsvpc = own_address.is_some();
        let address = match own_address {
            Some(a) => a,
            None => host_address(state, scope, task),
        };
        let port = match (&self.spec.container_name, self.spec.container_port) {
            (Some(name), Some(port)) => {
                let container = task.containers.iter().find(|c| &c.name == name)?;
                if awsvpc {
                    Some(port)
                } else {
                    let binding = container
                        .network_bindings
                        .iter()
                        .find(|b| i64::from(b.container_port) == port)?;
                    Some(i64::from(binding.host_port)).filter(|p| *p > 0)
                }
            }
            _ => self.spec.port,
        };
        let srv = self
            .service
            .dns
            .as_ref()
            .is_some_and(|d| d.has(flotilla_model::dns::RecordType::Srv));
        if srv && port.is_none() {
            return None;
        }
        let family = task
            .task_definition_arn
            .rsplit('/')
            .next()
            .and_then(|f| f.split(':').next())
            .unwrap_or_default();
        let mut attributes = BTreeMap::from([
            (ATTR_IPV4.to_string(), address),
            (
                "ECS_CLUSTER_NAME".to_string(),
                cluster_name(task).to_string(),
            ),
            ("ECS_SERVICE_NAME".to_string(), svc.service_name.clone()),
            ("ECS_TASK_DEFINITION_FAMILY".to_string(), family.to_string()),
        ]);
        if let Some(port) = port {
            attributes.insert(ATTR_PORT.to_string(), port.to_string());
        }
        if let Some(zone) = &task.availability_zone {
            attributes.insert("AVAILABILITY_ZONE".to_string(), zone.clone());
        }
        if let Some(id) = &self.external_id {
            attributes.insert("ECS_TASK_SET_EXTERNAL_ID".to_string(), id.clone());
        }
        Some(attributes)
    }

    /// The attributes the task is registered with now, if it is.
    fn registered(&self, state: &State, task: &TaskRecord) -> Option<BTreeMap<String, String>> {
        let key = keys::sd_instance(&self.service.region, &self.service.id, task_id(task));
        state
            .servicediscovery()
            .instances
            .get(key.as_bytes())
            .map(|e| e.value.attributes.clone())
    }

    /// Register the service's RUNNING tasks that are healthy (`healthy`: task ids) and not
    /// registered yet, or registered with attributes that changed.
    pub(super) async fn register_healthy(
        &self,
        state: &State,
        scope: &Scope,
        svc: &ServiceRecord,
        tasks: &[Arc<TaskRecord>],
        healthy: &HashSet<String>,
        events: &mut Vec<String>,
    ) {
        let mut added = 0;
        for t in tasks {
            // As it is now: this pass may have stopped it.
            let key = keys::task(&scope.region, cluster_name(t), task_id(t));
            let Some(current) = state.tasks().get(key.as_bytes()) else {
                continue;
            };
            let t = &current.value;
            if t.last_status != TaskStatus::Running
                || t.desired_status != TaskStatus::Running
                || !healthy.contains(task_id(t))
            {
                continue;
            }
            let Some(attributes) = self.attributes(state, scope, svc, t) else {
                continue;
            };
            if self.registered(state, t).as_ref() == Some(&attributes) {
                continue;
            }
            match register_instance(
                state,
                &self.service.region,
                &self.service.id,
                task_id(t),
                attributes,
                None,
            )
            .await
            {
                Ok(_) => added += 1,
                Err(e) => {
                    tracing::warn!(task = %t.task_arn, error = %e, "registering a task in Cloud Map failed")
                }
            }
        }
        if added > 0 {
            events.push(format!(
                "(service {}) registered {added} tasks in (service-registry {}).",
                svc.service_name, self.service.arn
            ));
        }
    }

    /// Deregister a task; whether it was registered.
    pub(super) async fn deregister(
        &self,
        state: &State,
        svc: &ServiceRecord,
        task: &TaskRecord,
        events: &mut Vec<String>,
    ) -> bool {
        match deregister_instance(state, &self.service.region, &self.service.id, task_id(task))
            .await
        {
            Ok(Some(_)) => {
                events.push(format!(
                    "(service {}) deregistered 1 tasks from (service-registry {}).",
                    svc.service_name, self.service.arn
                ));
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(task = %task.task_arn, error = %e, "deregistering a task from Cloud Map failed");
                false
            }
        }
    }

    /// Whether a task held for its deregistration may stop: it is no longer registered
    /// and the records' longest TTL (and a moment for the DNS server) has passed since
    /// it was asked to stop, which is when it was deregistered.
    pub(super) fn expired(&self, state: &State, task: &TaskRecord, now: DateTime<Utc>) -> bool {
        if self.registered(state, task).is_some() {
            return false;
        }
        let ttl = chrono::TimeDelta::seconds(i64::from(self.service.max_ttl().unwrap_or(0)));
        task.stopping_at
            .is_none_or(|since| since + ttl + PROPAGATION <= now)
    }
}

fn task_id(task: &TaskRecord) -> &str {
    task.task_arn.rsplit('/').next().unwrap_or_default()
}

fn cluster_name(task: &TaskRecord) -> &str {
    task.cluster_arn.rsplit('/').next().unwrap_or_default()
}

/// A task's host address: its container instance's `flotilla.host-address` attribute,
/// else loopback (as load balancer targets on that host are reached).
fn host_address(state: &State, scope: &Scope, task: &TaskRecord) -> String {
    crate::elbv2::targets::host_address_of(state, scope, task)
        .unwrap_or_else(|| "127.0.0.1".to_string())
}
