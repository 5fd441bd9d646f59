//! `restartPolicy`: a container that exits is started again in place (same container, same
//! mounts) unless its exit code is one of `ignoredExitCodes`, the task is stopping, or it
//! ran less than `restartAttemptPeriod` seconds (default 300) since its last start — so a
//! container that keeps failing at once stops for good and the task follows ECS's rules
//! for an exited container. Essential and non-essential containers alike, as in ECS.

use chrono::{DateTime, Utc};
use flotilla_model::task::ContainerStatus;
use flotilla_model::task_definition::ContainerRestartPolicy;

use super::TaskActor;

/// ECS's `restartAttemptPeriod` when the policy gives none.
const DEFAULT_ATTEMPT_PERIOD_SECS: i64 = 300;

/// Whether a container that exited with `exit_code` at `now`, last started at `started`,
/// is restarted under `policy`.
pub(crate) fn should_restart(
    policy: Option<&ContainerRestartPolicy>,
    exit_code: Option<i64>,
    started: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let Some(p) = policy.filter(|p| p.enabled == Some(true)) else {
        return false;
    };
    let Some(code) = exit_code else {
        return false;
    };
    if p.ignored_exit_codes.iter().any(|c| i64::from(*c) == code) {
        return false;
    }
    let period = p
        .restart_attempt_period
        .map_or(DEFAULT_ATTEMPT_PERIOD_SECS, i64::from);
    started.is_some_and(|s| (now - s).num_seconds() >= period)
}

impl TaskActor {
    /// Start again the containers whose restart is due.
    pub(super) async fn restart_exited(&mut self) {
        let runtime = self.ctx.runtime.clone();
        for i in 0..self.containers.len() {
            let c = &self.containers[i];
            let (true, Some(id)) = (c.restart_pending, c.runtime_id.clone()) else {
                continue;
            };
            tracing::info!(task = %self.task_arn, container = c.name(), exit_code = ?c.exit_code, "restarting container in place (restartPolicy)");
            self.containers[i].restart_pending = false;
            match runtime.start_container(&id).await {
                Ok(()) => {
                    self.containers[i].last_start = Some(Utc::now());
                    self.containers[i].restarts += 1;
                    self.observe(&id).await;
                }
                Err(e) => {
                    let c = &mut self.containers[i];
                    c.reason = Some(format!("CannotStartContainerError: restart failed: {e}"));
                    c.advance(ContainerStatus::Stopped);
                    if c.def.is_essential() {
                        self.fail(
                            flotilla_model::task::StopCode::EssentialContainerExited,
                            super::observe::ESSENTIAL_EXITED.into(),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn restarts_follow_the_policy() {
        let now = Utc::now();
        let policy = ContainerRestartPolicy {
            enabled: Some(true),
            ignored_exit_codes: vec![0],
            restart_attempt_period: Some(60),
        };
        let ago = |s| Some(now - Duration::seconds(s));
        assert!(should_restart(Some(&policy), Some(1), ago(61), now));
        assert!(!should_restart(Some(&policy), Some(1), ago(59), now));
        assert!(!should_restart(Some(&policy), Some(0), ago(600), now));
        assert!(!should_restart(Some(&policy), None, ago(600), now));
        assert!(!should_restart(None, Some(1), ago(600), now));
        let off = ContainerRestartPolicy {
            enabled: Some(false),
            ..policy.clone()
        };
        assert!(!should_restart(Some(&off), Some(1), ago(600), now));
        let default_period = ContainerRestartPolicy {
            restart_attempt_period: None,
            ..policy
        };
        assert!(!should_restart(
            Some(&default_period),
            Some(1),
            ago(299),
            now
        ));
        assert!(should_restart(
            Some(&default_period),
            Some(1),
            ago(300),
            now
        ));
    }
}
