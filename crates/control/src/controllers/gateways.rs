//! The gateway controller: on the leader, makes each gateway's routes follow the services
//! of its associated clusters (`ecs::gateways::infra`): a route for every service whose
//! gateway connector applies, none for the others, associations that finished
//! disassociating removed. One key (every gateway), requeued every second, as the load
//! balancer controller is: a service's connector, a new association and the task
//! definition's ports all feed one pass, and gateways are few.

use std::time::Duration;

use tokio::sync::watch;

use super::runtime::{self, Action, Reconciler};
use crate::ecs::gateways::infra;
use crate::{ControlError, State};

pub fn start(
    state: State,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    runtime::run_self_requeuing(Gateways { state }, leader, shutdown)
}

struct Gateways {
    state: State,
}

impl Reconciler for Gateways {
    type Key = ();

    fn name(&self) -> &'static str {
        "gateways"
    }

    fn keys(&self) -> Vec<()> {
        vec![()]
    }

    async fn reconcile(&self, _: &()) -> Result<Action, ControlError> {
        infra::reconcile_all(&self.state).await?;
        Ok(Action::Requeue(Duration::from_secs(1)))
    }
}
