//! The network interface controller: on the leader, releases the addresses of awsvpc tasks
//! that stopped or are gone (`ec2::interfaces::release`), so that the subnet can give them
//! to new tasks and the tasks leave their security groups' members.

use std::time::Duration;

use tokio::sync::watch;

use super::runtime::{self, Action, Reconciler};
use crate::{ControlError, State};

/// How often the interfaces are looked over.
const EVERY: Duration = Duration::from_secs(1);

/// Run the controller while `leader` says this process leads, until `shutdown`.
pub fn start(
    state: State,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    runtime::run_self_requeuing(Interfaces { state }, leader, shutdown)
}

struct Interfaces {
    state: State,
}

impl Reconciler for Interfaces {
    type Key = ();

    fn name(&self) -> &'static str {
        "network-interfaces"
    }

    fn keys(&self) -> Vec<()> {
        vec![()]
    }

    async fn reconcile(&self, _: &()) -> Result<Action, ControlError> {
        let n = crate::ec2::interfaces::release(&self.state).await?;
        if n > 0 {
            tracing::debug!(interfaces = n, "released the addresses of stopped tasks");
        }
        Ok(Action::Requeue(EVERY))
    }
}
