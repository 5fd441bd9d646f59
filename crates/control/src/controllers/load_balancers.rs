//! The load balancer controller: on the leader, marks new load balancers active once the
//! feed has handed them to the data plane, and removes draining targets whose
//! deregistration delay has passed (DescribeTargetHealth shows them draining until then,
//! as ALB does). It requeues itself every second.

use std::time::Duration;

use tokio::sync::watch;

use super::runtime::{self, Action, Reconciler};
use crate::elbv2::{load_balancers, targets};
use crate::{ControlError, State};

pub fn start(
    state: State,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    runtime::run_self_requeuing(LoadBalancers { state }, leader, shutdown)
}

struct LoadBalancers {
    state: State,
}

impl Reconciler for LoadBalancers {
    type Key = ();

    fn name(&self) -> &'static str {
        "load-balancers"
    }

    fn keys(&self) -> Vec<()> {
        vec![()]
    }

    async fn reconcile(&self, _: &()) -> Result<Action, ControlError> {
        load_balancers::activate(&self.state).await?;
        targets::expire(&self.state).await?;
        Ok(Action::Requeue(Duration::from_secs(1)))
    }
}
