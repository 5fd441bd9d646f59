//! Where a cluster's container instances stand for the controllers that keep tasks on
//! them (services, daemons): ACTIVE, DRAINING, or lost once its agent has stayed
//! disconnected for longer than the grace period.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use flotilla_model::container_instance;
use flotilla_scheduler::deployment::Host;
use tokio::time::Instant;

use crate::{keys, State};

/// What a controller remembers of instances: when each agent was first seen disconnected.
#[derive(Default)]
pub(crate) struct Hosts {
    unseen_since: Mutex<HashMap<String, Instant>>,
}

impl Hosts {
    /// Where each instance of a cluster stands, by ARN, noting agents that disconnected.
    pub(crate) fn of(&self, state: &State, region: &str, cluster: &str) -> HashMap<String, Host> {
        let prefix = keys::in_cluster(keys::CONTAINER_INSTANCES, region, cluster);
        let grace = state.config().service_disconnect_grace;
        let mut by_arn = HashMap::new();
        let mut unseen_since = self
            .unseen_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, e) in state.instances().range(prefix.as_bytes()) {
            let i = &e.value;
            let arn = i.container_instance_arn.clone();
            let id = arn.rsplit('/').next().unwrap_or("").to_string();
            let lost = if state.agent_connected(region, cluster, &id) {
                unseen_since.remove(&arn);
                false
            } else {
                let since = unseen_since.entry(arn.clone()).or_insert_with(Instant::now);
                since.elapsed() > grace
            };
            let host = match i.status.as_str() {
                _ if lost => Host::Lost,
                container_instance::ACTIVE => Host::Active,
                container_instance::DRAINING => Host::Draining,
                _ => Host::Lost,
            };
            by_arn.insert(arn, host);
        }
        by_arn
    }
}
