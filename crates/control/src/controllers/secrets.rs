//! The secret deletion controller: on the leader, removes the records of Secrets Manager
//! secrets whose recovery window ended. Until it does, every operation already treats such
//! a secret as gone (`secrets::manager::find`), so its period only bounds how long a
//! deleted secret's sealed values stay in the store.

use std::time::Duration;

use tokio::sync::watch;

use super::runtime::{self, Action, Reconciler};
use crate::{ControlError, State};

/// How often the leader looks for secrets to remove.
const PERIOD: Duration = Duration::from_secs(60);

/// Run the controller while `leader` says this process leads, until `shutdown`.
pub fn start(
    state: State,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    runtime::run_self_requeuing(SecretDeletion { state }, leader, shutdown)
}

/// One object: every secret scheduled for deletion.
struct SecretDeletion {
    state: State,
}

impl Reconciler for SecretDeletion {
    type Key = ();

    fn name(&self) -> &'static str {
        "secret-deletion"
    }

    fn keys(&self) -> Vec<()> {
        vec![()]
    }

    async fn reconcile(&self, _: &()) -> Result<Action, ControlError> {
        let n = crate::secrets::manager::reap(&self.state, self.state.clock().now()).await?;
        if n > 0 {
            tracing::info!(secrets = n, "removed secrets whose recovery window ended");
        }
        Ok(Action::Requeue(PERIOD))
    }
}
