//! The poll loop: long-poll the desired tasks (the full manifest with `since` 0 on every
//! (re)connect, then changes after the returned revision) and hand them to the manager.
//! The poll is the heartbeat: its wait is kept below a third of the TTL the server
//! announces. Transport errors and server faults back off (0.2 s doubling to 10 s, ±50%)
//! and reconnect; a refusal (the server does not know the instance) or an `INACTIVE`
//! instance leads to registering again.
//!
//! Every answer names the server's store. An agent that sees another store than the one
//! it last saw, or the same one gone back to an older revision (restored from a backup),
//! holds: from then on nothing it runs is stopped or removed because that store does not
//! list it (the server forgot, the agent did not), until an operator restarts it with
//! `--accept-store`. The store's explicit changes (new tasks, tasks told to stop) still
//! apply.

use std::sync::Arc;
use std::time::Duration;

use flotilla_model::agent_protocol::{PollRequest, PollResponse};
use flotilla_model::container_instance::INACTIVE;
use tokio::sync::watch;

use crate::api::{AgentApi, Identity};
use crate::backoff::Backoff;
use crate::checkpoint::{Checkpoint, StoreMark};
use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::manager::Manager;
use crate::register;

/// What the poll loop works with.
pub(crate) struct Poller<'a> {
    pub api: Arc<dyn AgentApi>,
    pub identity: Arc<Identity>,
    pub config: &'a AgentConfig,
    pub checkpoint: &'a Checkpoint,
}

/// The wait to ask for: the configured one, kept below a third of the heartbeat TTL.
pub(crate) fn effective_wait(poll_wait: Duration, heartbeat_ttl: Duration) -> Duration {
    if heartbeat_ttl.is_zero() {
        return poll_wait;
    }
    poll_wait.min(heartbeat_ttl.mul_f64(0.3))
}

impl Poller<'_> {
    /// Poll until `shutdown` turns true.
    pub(crate) async fn run(
        &self,
        manager: &mut Manager,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), AgentError> {
        let mut since = 0;
        let mut held: Option<String> = None;
        let mut wait = self.config.poll_wait;
        let mut backoff = Backoff::standard();
        loop {
            let req = PollRequest {
                cluster: self.identity.cluster().to_string(),
                container_instance_arn: self.identity.instance_arn(),
                since,
                wait_millis: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                firewall: Some(manager.firewall_fingerprint()),
            };
            let result = tokio::select! {
                r = self.api.poll(&req) => r,
                _ = shutdown.wait_for(|s| *s) => return Ok(()),
            };
            let reregister = match result {
                Ok(answer) if answer.instance_status == INACTIVE => {
                    tracing::warn!("the instance was deregistered; registering as a new one");
                    Some(true)
                }
                Ok(answer) => {
                    backoff.reset();
                    wait = effective_wait(
                        self.config.poll_wait,
                        Duration::from_millis(answer.heartbeat_ttl_millis),
                    );
                    since = answer.revision;
                    if held.is_none() {
                        held = self.check_store(&answer);
                    }
                    manager.apply(answer, held.as_deref()).await;
                    continue;
                }
                Err(e) if e.is_retriable() => {
                    tracing::debug!(error = %e, "poll failed; reconnecting");
                    None
                }
                Err(e) => {
                    tracing::warn!(error = %e, "poll refused; registering again");
                    Some(false)
                }
            };
            // Reconnect with the full manifest.
            since = 0;
            if let Some(fresh) = reregister {
                match register::register(
                    self.api.as_ref(),
                    self.config,
                    self.checkpoint,
                    fresh,
                    shutdown,
                )
                .await?
                {
                    Some(arn) => self.identity.set_instance_arn(arn),
                    None => return Ok(()),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = shutdown.wait_for(|s| *s) => return Ok(()),
            }
        }
    }
}

impl Poller<'_> {
    /// Whether `answer` comes from the store this agent last saw, at least as far along;
    /// remembers it if so. `Some(why)` when it does not.
    fn check_store(&self, answer: &PollResponse) -> Option<String> {
        if answer.store_id.is_empty() {
            return None;
        }
        let seen = self.checkpoint.store_mark();
        let why = match &seen {
            Some(m) if m.id != answer.store_id => Some(format!(
                "the server's store is {}, not {} that this agent's tasks were started from",
                answer.store_id, m.id
            )),
            Some(m) if answer.full && answer.revision < m.revision => Some(format!(
                "the server's store went back from revision {} to {} (restored from an older \
                 backup?)",
                m.revision, answer.revision
            )),
            _ => None,
        };
        let revision = match (&seen, &why) {
            (Some(m), None) => m.revision.max(answer.revision),
            _ => answer.revision,
        };
        if let Some(why) = why {
            if !self.config.accept_store {
                tracing::error!(
                    "{why}: keeping every container; tasks this store does not list are left \
                     running and unmanaged. Check the server's data; restart the agent with \
                     --accept-store to reconcile with this store (removing those tasks)"
                );
                return Some(why);
            }
            tracing::warn!("{why}: accepted (--accept-store)");
        }
        let mark = StoreMark {
            id: answer.store_id.clone(),
            revision,
        };
        if seen.as_ref() != Some(&mark) {
            self.checkpoint.update(|s| s.store = Some(mark));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_stays_below_a_third_of_the_ttl() {
        let s = Duration::from_secs;
        assert_eq!(effective_wait(s(10), s(60)), s(10));
        assert_eq!(effective_wait(s(10), s(15)), Duration::from_millis(4500));
        assert_eq!(effective_wait(s(10), Duration::ZERO), s(10));
    }
}
