//! The service controller in-process: the real control plane over the memory store, the
//! ECS operations for setup, simulated agents speaking the agent protocol, and tokio's
//! paused clock, so a whole rolling deployment (or a circuit breaker trip) runs in
//! milliseconds. Each round the agents act once (a task asked to run reports RUNNING, or
//! fails to start when its revision is a crashing one; a task asked to stop reports
//! STOPPED), and the deployment's bounds are checked on what the store holds.

use std::sync::Arc;
use std::time::Duration;

use flotilla_control::controllers::Controllers;
use flotilla_control::ControlConfig;
use flotilla_model::task::{TaskRecord, TaskStatus};
use flotilla_store::MemoryStore;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::{agent_call, call, connected_instance, Ecs};
use crate::{keys, State};

/// One round of the simulation, in virtual time.
const ROUND: Duration = Duration::from_millis(200);

struct Harness {
    ecs: Ecs,
    state: State,
    /// Revisions of family `web` whose tasks fail to start.
    crashing: Vec<String>,
    _stop: watch::Sender<bool>,
}

impl Harness {
    /// Cluster `c` with `instances` connected instances, revisions 1..=3 of `web`, and the
    /// controllers running (this process leads).
    async fn new(instances: usize) -> Harness {
        let mut config = ControlConfig::new("000000000000");
        // The simulated agents do not heartbeat; their instances stay connected.
        config.agent_ttl = Duration::from_secs(24 * 3600);
        let state = State::new(Arc::new(MemoryStore::new()), config)
            .await
            .unwrap();
        let ecs = Ecs::new(state.clone());
        call(&ecs, "CreateCluster", json!({"clusterName": "c"}))
            .await
            .unwrap();
        for revision in 1..=3 {
            call(
                &ecs,
                "RegisterTaskDefinition",
                json!({"family": "web", "containerDefinitions": [{
                    "name": "app", "image": "busybox", "memory": 64,
                    "environment": [{"name": "REVISION", "value": revision.to_string()}]}]}),
            )
            .await
            .unwrap();
        }
        for _ in 0..instances {
            connected_instance(&ecs, &state, "c").await;
        }
        let (stop, shutdown) = watch::channel(false);
        Controllers::start(&state, "harness".into(), shutdown);
        Harness {
            ecs,
            state,
            crashing: vec![],
            _stop: stop,
        }
    }

    async fn ecs(&self, op: &str, body: Value) -> Value {
        call(&self.ecs, op, body).await.unwrap()
    }

    /// The tasks of service `web`, as stored.
    fn tasks(&self) -> Vec<Arc<TaskRecord>> {
        let prefix = keys::in_cluster(keys::TASKS, "us-east-1", "c");
        self.state
            .tasks()
            .range(prefix.as_bytes())
            .into_iter()
            .map(|(_, e)| e.value)
            .filter(|t| t.group.as_deref() == Some("service:web"))
            .collect()
    }

    /// Every agent acts once on what it was asked.
    async fn agents_act(&self) {
        for t in self.tasks() {
            if t.last_status == TaskStatus::Stopped {
                continue;
            }
            let crashes = self
                .crashing
                .iter()
                .any(|r| t.task_definition_arn.ends_with(&format!(":{r}")));
            let report = if t.desired_status == TaskStatus::Stopped {
                json!({"taskArn": t.task_arn, "status": "STOPPED",
                       "containers": [{"name": "app", "status": "STOPPED", "exitCode": 0}]})
            } else if t.last_status >= TaskStatus::Running {
                continue;
            } else if crashes {
                json!({"taskArn": t.task_arn, "status": "STOPPED",
                       "stopCode": "EssentialContainerExited",
                       "stoppedReason": "Essential container in task exited",
                       "containers": [{"name": "app", "status": "STOPPED", "exitCode": 1}]})
            } else {
                json!({"taskArn": t.task_arn, "status": "RUNNING",
                       "containers": [{"name": "app", "status": "RUNNING", "runtimeId": "r"}]})
            };
            let instance = t.container_instance_arn.clone().unwrap_or_default();
            agent_call(
                &self.state,
                "SubmitTaskReports",
                json!({"cluster": "c", "containerInstanceArn": instance, "reports": [report]}),
            )
            .await
            .unwrap();
        }
    }

    async fn service(&self) -> Value {
        let out = self
            .ecs(
                "DescribeServices",
                json!({"cluster": "c", "services": ["web"]}),
            )
            .await;
        out["services"][0].clone()
    }

    /// Run rounds until `done` holds for the service, checking `each` on the tasks before
    /// and after the agents act in every round (what the controller did, and what the
    /// agents made of it); panics after `max` rounds.
    async fn run_until(
        &self,
        max: usize,
        mut each: impl FnMut(&[Arc<TaskRecord>]),
        done: impl Fn(&Value) -> bool,
    ) -> usize {
        for round in 0..max {
            tokio::time::sleep(ROUND).await;
            each(&self.tasks());
            self.agents_act().await;
            each(&self.tasks());
            if done(&self.service().await) {
                return round;
            }
        }
        panic!("not done after {max} rounds: {}", self.service().await);
    }
}

/// Tasks asked to run, and of those the ones running.
fn live_and_healthy(tasks: &[Arc<TaskRecord>]) -> (usize, usize) {
    let live: Vec<_> = tasks
        .iter()
        .filter(|t| t.desired_status == TaskStatus::Running)
        .collect();
    let healthy = live
        .iter()
        .filter(|t| t.last_status == TaskStatus::Running)
        .count();
    (live.len(), healthy)
}

/// Steady on `revision` with `desired` tasks: one COMPLETED deployment, all running.
fn steady_on(revision: &'static str, desired: i64) -> impl Fn(&Value) -> bool {
    move |s: &Value| {
        let deployments = s["deployments"].as_array().map_or(0, Vec::len);
        deployments == 1
            && s["deployments"][0]["rolloutState"] == "COMPLETED"
            && s["taskDefinition"]
                .as_str()
                .is_some_and(|t| t.ends_with(revision))
            && s["runningCount"] == desired
    }
}

#[tokio::test(start_paused = true)]
async fn a_rolling_deployment_stays_within_its_bounds_and_completes() {
    let h = Harness::new(3).await;
    h.ecs(
        "CreateService",
        json!({"cluster": "c", "serviceName": "web", "taskDefinition": "web:1",
               "desiredCount": 4,
               "deploymentConfiguration": {"minimumHealthyPercent": 50, "maximumPercent": 150}}),
    )
    .await;
    h.run_until(100, |_| {}, steady_on(":1", 4)).await;

    h.ecs(
        "UpdateService",
        json!({"cluster": "c", "service": "web", "taskDefinition": "web:2"}),
    )
    .await;
    // desired 4, 50 % / 150 %: at most 6 tasks asked to run, at least 2 running.
    let (mut most, mut fewest) = (0, usize::MAX);
    let rounds = h
        .run_until(
            200,
            |tasks| {
                let (live, healthy) = live_and_healthy(tasks);
                most = most.max(live);
                fewest = fewest.min(healthy);
            },
            steady_on(":2", 4),
        )
        .await;
    assert!(
        most <= 6,
        "{most} tasks asked to run at once, above 150 % of 4"
    );
    assert!(
        fewest >= 2,
        "only {fewest} running at one point, below 50 % of 4"
    );
    let s = h.service().await;
    let events: Vec<&str> = s["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        events.iter().any(|m| m.contains("deployment completed")),
        "{events:?}"
    );
    let old_left = h
        .tasks()
        .iter()
        .filter(|t| t.task_definition_arn.ends_with(":1") && t.last_status != TaskStatus::Stopped)
        .count();
    assert_eq!(old_left, 0, "after {rounds} rounds");
}

#[tokio::test(start_paused = true)]
async fn a_crashing_revision_trips_the_breaker_and_rolls_back() {
    let mut h = Harness::new(2).await;
    h.crashing.push("3".into());
    h.ecs(
        "CreateService",
        json!({"cluster": "c", "serviceName": "web", "taskDefinition": "web:2",
               "desiredCount": 2,
               "deploymentConfiguration": {
                   "deploymentCircuitBreaker": {"enable": true, "rollback": true}}}),
    )
    .await;
    h.run_until(100, |_| {}, steady_on(":2", 2)).await;
    h.ecs(
        "UpdateService",
        json!({"cluster": "c", "service": "web", "taskDefinition": "web:3"}),
    )
    .await;
    // The launch backoff spaces the failing starts out (1 s doubling, on the paused
    // clock), so the 10 failures the breaker needs take a few minutes of virtual time.
    h.run_until(1_500, |_| {}, steady_on(":2", 2)).await;
    let s = h.service().await;
    let failed_tasks = h
        .tasks()
        .iter()
        .filter(|t| t.task_definition_arn.ends_with(":3"))
        .count();
    assert!(failed_tasks >= 10, "{failed_tasks} failed starts");
    let listed = h
        .ecs(
            "ListServiceDeployments",
            json!({"cluster": "c", "service": "web"}),
        )
        .await;
    let statuses: Vec<&str> = listed["serviceDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["status"].as_str())
        .collect();
    assert!(
        statuses.contains(&"ROLLBACK_SUCCESSFUL"),
        "{statuses:?}; {s}"
    );
}
