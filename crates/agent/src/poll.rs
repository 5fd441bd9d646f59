//! The poll loop: long-poll the desired tasks (the full manifest with `since` 0 on every
//! (re)connect, then changes after the returned revision) and hand them to the manager.
//! The poll is the heartbeat: its wait is kept below a third of the TTL the server
//! announces. Transport errors and server faults back off (0.2 s doubling to 10 s, ±50%)
//! and reconnect; a refusal (the server does not know the instance) or an `INACTIVE`
//! instance leads to registering again.

use std::sync::Arc;
use std::time::Duration;

use flotilla_model::agent_protocol::PollRequest;
use flotilla_model::container_instance::INACTIVE;
use tokio::sync::watch;

use crate::api::{AgentApi, Identity};
use crate::backoff::Backoff;
use crate::checkpoint::Checkpoint;
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
        let mut wait = self.config.poll_wait;
        let mut backoff = Backoff::standard();
        loop {
            let req = PollRequest {
                cluster: self.identity.cluster().to_string(),
                container_instance_arn: self.identity.instance_arn(),
                since,
                wait_millis: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
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
                    manager.apply(answer).await;
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
