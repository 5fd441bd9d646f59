//! The controllers: they run only on the leader and make the stored state true.
//! [`services`] reconciles ECS services with their tasks; [`daemons`] keeps a daemon's
//! task on each instance of its capacity providers; [`retention`] deletes tasks
//! stopped long ago; [`interfaces`] releases the addresses of awsvpc tasks that stopped;
//! [`lifecycle`] applies ECR repositories' lifecycle policies;
//! [`load_balancers`] activates load balancers and expires drained targets; [`gateways`]
//! makes ECS gateways' routes follow their services' gateway connectors;
//! [`autoscaling`] runs scaling policies and scheduled actions on ECS services;
//! [`secrets`] removes Secrets Manager secrets whose recovery window ended. Every
//! process (leader or not) also runs the feed that configures its load balancer data
//! plane (`elbv2::plane::run_feed`) and the DNS data plane's (`dns::run_feed`), and the
//! Route 53 health checker (`route53::checker::run`) whose results that feed uses.

pub mod autoscaling;
pub mod daemons;
pub mod gateways;
mod hosts;
pub mod interfaces;
pub mod lifecycle;
pub mod load_balancers;
pub mod retention;
pub mod runtime;
pub mod secrets;
pub mod services;

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{leader, State};

/// How long the leader's lease lives without being kept alive: when the leader dies,
/// another server leads this long after its last renewal at most (renewed every third
/// of it; etcd counts it in whole seconds).
const LEADER_TTL: Duration = Duration::from_secs(5);

/// The running controllers of this process.
pub struct Controllers {
    tasks: Vec<JoinHandle<()>>,
    leading: watch::Receiver<bool>,
}

impl Controllers {
    /// Campaign for leadership as `node` (an id that stays the same across restarts of one
    /// server) and, while this process leads, run every controller; all of it stops when
    /// `shutdown` turns true, and a leader then hands leadership over at once.
    pub fn start(state: &State, node: String, shutdown: watch::Receiver<bool>) -> Controllers {
        let (leading, campaign) =
            leader::campaign(state.store().clone(), LEADER_TTL, node, shutdown.clone());
        let tasks = vec![
            services::start(state.clone(), leading.clone(), shutdown.clone()),
            daemons::start(state.clone(), leading.clone(), shutdown.clone()),
            retention::start(state.clone(), leading.clone(), shutdown.clone()),
            interfaces::start(state.clone(), leading.clone(), shutdown.clone()),
            lifecycle::start(state.clone(), leading.clone(), shutdown.clone()),
            load_balancers::start(state.clone(), leading.clone(), shutdown.clone()),
            gateways::start(state.clone(), leading.clone(), shutdown.clone()),
            autoscaling::start(state.clone(), leading.clone(), shutdown.clone()),
            secrets::start(state.clone(), leading.clone(), shutdown.clone()),
            tokio::spawn(crate::elbv2::plane::run_feed(
                state.clone(),
                shutdown.clone(),
            )),
            tokio::spawn(crate::route53::checker::run(
                state.clone(),
                shutdown.clone(),
            )),
            tokio::spawn(crate::dns::run_feed(state.clone(), shutdown)),
            campaign,
        ];
        Controllers { tasks, leading }
    }

    /// Whether this process leads right now, and a wake when that changes: what loops
    /// outside the control plane that must run on the leader only (the server's alarm
    /// evaluator) follow.
    pub fn leading(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }

    /// Wait until every controller and the campaign have stopped (after shutdown).
    pub async fn stopped(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
