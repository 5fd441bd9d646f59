//! The lifecycle controller: on the leader, applies every repository's lifecycle policy
//! on a schedule (ECR applies them within a day of a push; Flotilla every
//! `ControlConfig::lifecycle_interval`), so expired images go and the registry's garbage
//! collector then frees their blobs.

use flotilla_model::Scope;
use tokio::sync::watch;

use super::runtime::{self, Action, Reconciler};
use crate::ecr::lifecycle;
use crate::{keys, ControlError, State};

pub fn start(
    state: State,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    runtime::run_self_requeuing(Lifecycle { state }, leader, shutdown)
}

/// One object: every repository with a policy, in every region.
struct Lifecycle {
    state: State,
}

impl Reconciler for Lifecycle {
    type Key = ();

    fn name(&self) -> &'static str {
        "lifecycle"
    }

    fn keys(&self) -> Vec<()> {
        vec![()]
    }

    async fn reconcile(&self, _: &()) -> Result<Action, ControlError> {
        let now = self.state.clock().now();
        let with_policy: Vec<(String, String)> = self
            .state
            .repositories()
            .range(keys::REPOSITORIES.as_bytes())
            .iter()
            .filter(|(_, e)| e.value.lifecycle_policy.is_some())
            .filter_map(|(k, e)| {
                let rest = std::str::from_utf8(k)
                    .ok()?
                    .strip_prefix(keys::REPOSITORIES)?;
                let region = rest.split('/').next()?.to_string();
                Some((region, e.value.repository_name.clone()))
            })
            .collect();
        for (region, name) in with_policy {
            let scope = Scope::new(region, self.state.account().to_string());
            match lifecycle::apply(&self.state, &scope, &name, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(repository = %name, images = n, "lifecycle policy applied"),
                // A repository deleted meanwhile, or a policy that no longer parses:
                // the others still get theirs.
                Err(e) if !e.is_retriable() => {
                    tracing::warn!(repository = %name, error = %e, "lifecycle policy not applied")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Action::Requeue(self.state.config().lifecycle_interval))
    }
}
