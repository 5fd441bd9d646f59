//! What `deploy` shows while it follows a rollout, and how it decides the rollout is over.
//! Pure: the follower feeds DescribeServices answers and counts in, and gets lines and an
//! outcome back.

use serde_json::{json, Value};

use super::super::table::{paint, Colour};
use super::super::{items, revision};

/// One look at the deployment being followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// `family:revision` of the deployment's task definition.
    pub revision: String,
    /// Whether this is the rollback to the previous revision rather than the new one.
    pub rollback: bool,
    pub desired: i64,
    pub running: i64,
    /// Running tasks of the deployment that are healthy: every target healthy in its load
    /// balancer when the service has one, else no container health check failing.
    pub healthy: i64,
    /// Whether `healthy` counts load-balancer targets.
    pub balanced: bool,
    /// Tasks of the other deployments not stopped yet (running, draining from the load
    /// balancer, or in their stop timeout).
    pub old_running: i64,
    /// The deployment's `rolloutState`.
    pub state: String,
}

/// The width of the progress bar, in cells.
const BAR: usize = 20;

impl Progress {
    /// `[#####.....]` filled by healthy tasks against desired.
    fn bar(&self) -> String {
        let filled = if self.desired <= 0 {
            BAR
        } else {
            ((self.healthy.clamp(0, self.desired) as usize) * BAR) / self.desired as usize
        };
        format!("[{}{}]", "#".repeat(filled), ".".repeat(BAR - filled))
    }

    /// The progress as one line, with a bar and colour on a terminal.
    pub fn line(&self, elapsed_secs: u64, colour: bool) -> String {
        let what = if self.rollback {
            format!("rolling back to {}", self.revision)
        } else {
            self.revision.clone()
        };
        let health = if self.balanced {
            "targets healthy"
        } else {
            "healthy"
        };
        let state = paint(
            &self.state,
            super::super::table::status_colour(&self.state),
            colour,
        );
        format!(
            "{what} {} {}/{} running, {}/{} {health}, {} old to stop, {state} ({elapsed_secs}s)",
            paint(&self.bar(), Some(Colour::Green), colour),
            self.running,
            self.desired,
            self.healthy,
            self.desired,
            self.old_running,
        )
    }

    pub fn json(&self) -> Value {
        json!({
            "type": "progress", "taskDefinition": self.revision, "rollback": self.rollback,
            "desired": self.desired, "running": self.running, "healthy": self.healthy,
            "targetsCounted": self.balanced, "oldTasks": self.old_running,
            "rolloutState": self.state,
        })
    }
}

/// How a followed rollout ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The new revision is stable.
    Completed,
    /// The deployment failed and nothing rolled it back.
    Failed { reason: String },
    /// The circuit breaker (or an alarm) rolled the service back, and the rollback is
    /// stable.
    RolledBack { to: String, reason: String },
    /// Someone else deployed over it.
    Replaced { by: String },
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Completed => "COMPLETED",
            Outcome::Failed { .. } => "FAILED",
            Outcome::RolledBack { .. } => "ROLLED_BACK",
            Outcome::Replaced { .. } => "REPLACED",
        }
    }
}

/// Follows one deployment through a service's DescribeServices answers.
pub struct Judge {
    /// The deployment started.
    pub ours: String,
    /// The task definition the service ran before.
    pub previous: String,
    /// Why ours failed, once seen.
    failure: Option<String>,
}

impl Judge {
    pub fn new(ours: String, previous: String) -> Judge {
        Judge {
            ours,
            previous,
            failure: None,
        }
    }

    /// The deployment to show progress of: ours while it leads, else the primary.
    pub fn shown<'a>(&self, service: &'a Value) -> Option<&'a Value> {
        let primary = items(&service["deployments"]).find(|d| d["status"] == "PRIMARY");
        items(&service["deployments"])
            .find(|d| d["id"] == self.ours.as_str() && d["status"] == "PRIMARY")
            .or(primary)
    }

    /// Learn from a service event why our deployment failed, when it says so: the
    /// deployment may be gone from the service by the next look.
    pub fn note(&mut self, event: &Value) {
        let message = event["message"].as_str().unwrap_or_default();
        let marker = format!("(deployment {}) deployment failed: ", self.ours);
        if let Some(i) = message.find(&marker) {
            let reason = message[i + marker.len()..].trim_end_matches('.');
            self.failure = Some(reason.to_string());
        }
    }

    /// Whether the rollout is over, and how.
    pub fn judge(&mut self, service: &Value) -> Option<Outcome> {
        let ours = items(&service["deployments"]).find(|d| d["id"] == self.ours.as_str());
        let primary = items(&service["deployments"]).find(|d| d["status"] == "PRIMARY");
        if let Some(d) = ours {
            match d["rolloutState"].as_str() {
                Some("COMPLETED") => return Some(Outcome::Completed),
                Some("FAILED") => {
                    self.failure = Some(
                        d["rolloutStateReason"]
                            .as_str()
                            .unwrap_or("the deployment failed")
                            .to_string(),
                    )
                }
                _ => {}
            }
            if d["status"] == "PRIMARY" {
                return self
                    .failure
                    .clone()
                    .map(|reason| Outcome::Failed { reason });
            }
        }
        let primary = primary?;
        let td = primary["taskDefinition"].as_str().unwrap_or_default();
        if td != self.previous {
            return Some(Outcome::Replaced {
                by: revision(td).to_string(),
            });
        }
        (primary["rolloutState"] == "COMPLETED").then(|| Outcome::RolledBack {
            to: revision(td).to_string(),
            reason: self
                .failure
                .clone()
                .unwrap_or_else(|| "the deployment failed".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(deployments: Value) -> Value {
        json!({ "deployments": deployments })
    }

    const OLD: &str = "arn:aws:ecs:us-east-1:0:task-definition/web:1";
    const NEW: &str = "arn:aws:ecs:us-east-1:0:task-definition/web:2";

    #[test]
    fn a_rollout_that_completes() {
        let mut j = Judge::new("n".into(), OLD.into());
        let moving = service(json!([
            {"id": "n", "status": "PRIMARY", "taskDefinition": NEW, "rolloutState": "IN_PROGRESS"},
            {"id": "o", "status": "ACTIVE", "taskDefinition": OLD, "rolloutState": "COMPLETED"}]));
        assert_eq!(j.judge(&moving), None);
        assert_eq!(j.shown(&moving).unwrap()["id"], "n");
        let done = service(json!([
            {"id": "n", "status": "PRIMARY", "taskDefinition": NEW, "rolloutState": "COMPLETED"}]));
        assert_eq!(j.judge(&done), Some(Outcome::Completed));
    }

    #[test]
    fn a_rollback_is_followed_to_its_end() {
        let mut j = Judge::new("n".into(), OLD.into());
        let failing = service(json!([
            {"id": "b", "status": "PRIMARY", "taskDefinition": OLD, "rolloutState": "IN_PROGRESS"},
            {"id": "n", "status": "ACTIVE", "taskDefinition": NEW, "rolloutState": "FAILED",
             "rolloutStateReason": "circuit breaker"}]));
        assert_eq!(j.judge(&failing), None);
        assert_eq!(j.shown(&failing).unwrap()["id"], "b");
        let back = service(json!([
            {"id": "b", "status": "PRIMARY", "taskDefinition": OLD, "rolloutState": "COMPLETED"}]));
        assert_eq!(
            j.judge(&back),
            Some(Outcome::RolledBack {
                to: "web:1".into(),
                reason: "circuit breaker".into()
            })
        );
        // Gone before it was seen FAILED: the service's event says why.
        let mut j = Judge::new("n".into(), OLD.into());
        j.note(&json!({"message": "(service web) (deployment n) deployment failed: tasks failed to start."}));
        j.note(&json!({"message": "(service web) (deployment m) deployment failed: other."}));
        assert_eq!(
            j.judge(&back),
            Some(Outcome::RolledBack {
                to: "web:1".into(),
                reason: "tasks failed to start".into()
            })
        );
    }

    #[test]
    fn failed_without_rollback_and_replaced() {
        let mut j = Judge::new("n".into(), OLD.into());
        let failed = service(json!([
            {"id": "n", "status": "PRIMARY", "taskDefinition": NEW, "rolloutState": "FAILED",
             "rolloutStateReason": "tasks failed to start"}]));
        assert_eq!(
            j.judge(&failed),
            Some(Outcome::Failed {
                reason: "tasks failed to start".into()
            })
        );
        let mut j = Judge::new("n".into(), OLD.into());
        let other = "arn:aws:ecs:us-east-1:0:task-definition/web:9";
        let replaced = service(json!([
            {"id": "x", "status": "PRIMARY", "taskDefinition": other, "rolloutState": "IN_PROGRESS"}]));
        assert_eq!(
            j.judge(&replaced),
            Some(Outcome::Replaced { by: "web:9".into() })
        );
    }

    #[test]
    fn progress_lines() {
        let p = Progress {
            revision: "web:2".into(),
            rollback: false,
            desired: 4,
            running: 3,
            healthy: 2,
            balanced: true,
            old_running: 2,
            state: "IN_PROGRESS".into(),
        };
        assert_eq!(
            p.line(12, false),
            "web:2 [##########..........] 3/4 running, 2/4 targets healthy, 2 old to stop, IN_PROGRESS (12s)"
        );
        assert!(p.line(12, true).contains("\x1b[33mIN_PROGRESS"));
        assert_eq!(p.json()["healthy"], 2);
    }
}
