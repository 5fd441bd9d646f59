//! A task container's `awslogs` stream, as the actor drives it: prepared with the server
//! between create and start (a refusal means the container cannot start, worded as ECS
//! words a logger that failed to initialise), followed once the container runs (or when
//! an adopted one is found), and waited for before the task is reported STOPPED, so a
//! task's last lines are queryable when it shows as stopped.

use std::time::Duration;

use tokio::time::Instant;

use super::TaskActor;
use crate::backoff::Backoff;
use crate::logs::{AwsLogs, Target};

/// How long preparing a stream keeps trying when the server cannot be reached.
const PREPARE_PATIENCE: Duration = Duration::from_secs(10);

impl TaskActor {
    /// Container `i`'s `awslogs` configuration, if it has one.
    fn awslogs(&self, i: usize) -> Option<AwsLogs> {
        AwsLogs::of(&self.containers[i].def, &self.ctx.logs.settings().region)
    }

    /// Ask the server for container `i`'s stream (its runtime id `id`); the container's
    /// stop reason when it cannot have one.
    pub(super) async fn prepare_logs(&self, i: usize, id: &str) -> Result<(), String> {
        let Some(aws) = self.awslogs(i) else {
            return Ok(());
        };
        let stream = aws.stream(self.containers[i].name(), &self.task_arn, id);
        let give_up = Instant::now() + PREPARE_PATIENCE;
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
        loop {
            match self
                .ctx
                .logs
                .prepare(vec![aws.prepare(stream.clone())])
                .await
            {
                Ok(results) => {
                    return match results.into_iter().next() {
                        Some(r) => r.error.map_or(Ok(()), |e| Err(logger_failed(&e))),
                        None => Err(logger_failed("the server answered for no stream")),
                    };
                }
                Err(e) if e.is_retriable() && Instant::now() < give_up => {
                    tracing::debug!(task = %self.task_arn, error = %e, "PrepareLogStreams failed; trying again");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(e) => return Err(logger_failed(&e.to_string())),
            }
        }
    }

    /// Start shipping container `i`'s log (if it logs with `awslogs` and exists).
    pub(super) fn follow_logs(&self, i: usize) {
        let (Some(aws), Some(id)) = (self.awslogs(i), self.containers[i].runtime_id.clone()) else {
            return;
        };
        self.ctx.logs.follow(Target {
            stream: aws.stream(self.containers[i].name(), &self.task_arn, &id),
            container_id: id,
            task_arn: self.task_arn.clone(),
            create_group: aws.create_group,
            mode: aws.mode,
        });
    }

    /// Wait (bounded) until every line the task's containers wrote is confirmed.
    pub(super) async fn wait_logs(&self) {
        let ids: Vec<String> = self
            .containers
            .iter()
            .filter_map(|c| c.runtime_id.clone())
            .collect();
        let limit = self.ctx.logs.settings().drain_timeout;
        if !self.ctx.logs.drained(&ids, limit).await {
            tracing::warn!(
                task = %self.task_arn,
                waited = ?limit,
                "the task's last log lines are not confirmed yet; reporting it stopped anyway"
            );
        }
    }
}

/// ECS's stop reason for a container whose `awslogs` driver could not start.
pub(crate) fn logger_failed(why: &str) -> String {
    format!(
        "ResourceInitializationError: failed to validate logger args: failed to create \
         Cloudwatch log stream: {why}"
    )
}
