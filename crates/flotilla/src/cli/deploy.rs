//! `flotilla deploy SERVICE --image [CONTAINER=]IMAGE [--env [CONTAINER/]K=V]`: register
//! a revision of the service's task definition with those changes, point the service at
//! it, and follow the rollout until it is stable, failed or rolled back, showing new tasks
//! running and healthy against desired, the old tasks still running and the service's
//! events as they come. Exit codes: 0 when the new revision is stable, 1 when it failed
//! or was rolled back (or anything went wrong), 124 on `--timeout`, 130 on Ctrl-C.
//!
//! Nothing is half done: every flag, the container names and the images in Flotilla's own
//! registry are checked before the first write; Ctrl-C before the service is updated
//! deregisters the new revision again, and after it only stops the watching (the
//! deployment is the service's to finish, as on ECS).

mod progress;
mod revise;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use serde_json::{json, Value};

use super::events::{self, Feed};
use super::{items, parse_duration, revision, Api, Common, Output};
use crate::env;
use progress::{Judge, Outcome, Progress};
use revise::Changes;

#[derive(clap::Args, Debug)]
pub struct DeployArgs {
    /// The service to deploy to.
    service: String,
    /// The image a container runs: `CONTAINER=IMAGE`, or `IMAGE` when the task definition
    /// has one container. Repeat for several containers.
    #[arg(long = "image", value_name = "[CONTAINER=]IMAGE")]
    images: Vec<String>,
    /// An environment variable to set: `NAME=VALUE` in every container, or
    /// `CONTAINER/NAME=VALUE` in one. Repeatable.
    #[arg(long = "env", value_name = "[CONTAINER/]NAME=VALUE")]
    env: Vec<String>,
    /// Start new tasks even when the revision does not change.
    #[arg(long)]
    force: bool,
    /// Return once the service is updated, without following the rollout.
    #[arg(long)]
    no_wait: bool,
    /// Stop following after this long (`90s`, `15m`, `1h`); the rollout carries on.
    #[arg(long, default_value = "15m")]
    timeout: String,
    #[command(flatten)]
    common: Common,
}

/// How often the rollout is looked at.
const POLL: Duration = Duration::from_secs(1);

/// Exit codes besides 0 and 1.
const EXIT_TIMEOUT: i32 = 124;
const EXIT_INTERRUPTED: i32 = 130;

/// Prints progress, events and the result in the chosen output.
struct Printer {
    output: Output,
    colour: bool,
    /// Whether a progress line is on screen, to be overwritten.
    drawn: bool,
    last: Option<Progress>,
}

impl Printer {
    fn progress(&mut self, p: &Progress, elapsed: u64) {
        match self.output {
            Output::Json => {
                if self.last.as_ref() != Some(p) {
                    println!("{}", p.json());
                }
            }
            Output::Table if self.colour => {
                eprint!("\r\x1b[2K{}", p.line(elapsed, true));
                self.drawn = true;
            }
            Output::Table => {
                if self.last.as_ref() != Some(p) {
                    println!("{}", p.line(elapsed, false));
                }
            }
        }
        self.last = Some(p.clone());
    }

    fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }

    fn event(&mut self, e: &Value) {
        self.clear();
        match self.output {
            Output::Json => println!(
                "{}",
                json!({"type": "event", "id": e["id"], "createdAt": e["createdAt"],
                       "message": e["message"]})
            ),
            Output::Table => println!("{}", events::line(e, self.colour)),
        }
    }

    /// The last word: `outcome` (a name) and a sentence.
    fn result(&mut self, outcome: &str, task_definition: &str, message: &str) {
        self.clear();
        match self.output {
            Output::Json => println!(
                "{}",
                json!({"type": "result", "outcome": outcome,
                       "taskDefinition": task_definition, "message": message})
            ),
            Output::Table => println!("{message}"),
        }
    }
}

/// Images in Flotilla's own registry must be there: the first that is not is an error that
/// says to push it.
async fn check_pushed(api: &Api, common: &Common, changes: &Changes) -> anyhow::Result<()> {
    let Ok(registry) = std::fs::read_to_string(env::registry_file(&common.data_dir)) else {
        return Ok(());
    };
    let registry = registry.trim();
    for (_, reference, r) in &changes.images {
        if r.domain.as_deref() != Some(registry) {
            continue;
        }
        let id = match (&r.digest, &r.tag) {
            (Some(d), _) => json!({"imageDigest": d}),
            (None, t) => json!({"imageTag": t.as_deref().unwrap_or("latest")}),
        };
        let found = api
            .ecr
            .call::<_, Value>(
                "DescribeImages",
                &json!({"repositoryName": r.path, "imageIds": [id]}),
            )
            .await;
        if let Err(e) = found {
            return Err(anyhow!(
                "--image {reference}: not in Flotilla's registry ({}); push it first: docker push {reference}",
                super::explain(e)
            ));
        }
    }
    Ok(())
}

/// A task's ARN.
fn arn_of(task: &Value) -> Option<&str> {
    task["taskArn"].as_str()
}

/// The counts `progress` shows for the deployment `shown` of `service`.
#[derive(Default)]
struct Counter {
    /// Container instance ARN → EC2 instance id (an instance target's id).
    hosts: HashMap<String, String>,
    /// Tasks of the service that were running, or on their way out, at the last count;
    /// `None` before the first.
    known: Option<HashSet<String>>,
}

impl Counter {
    /// Tasks on their way out (draining from the load balancer, or given their
    /// stopTimeout after SIGTERM): at the first count, every task of the service asked to
    /// stop that has not stopped yet; after it, those of the tasks known at the last count
    /// that are no longer among the `running` ones and have not stopped yet (so a
    /// service's long list of stopped tasks is read once, not at every count).
    async fn leaving(
        &self,
        api: &Api,
        cluster: &str,
        name: &str,
        running: &[Value],
    ) -> anyhow::Result<Vec<Value>> {
        let stopping = match &self.known {
            None => api.tasks(cluster, Some(name), "STOPPED").await?,
            Some(known) => {
                let now: HashSet<&str> = running.iter().filter_map(arn_of).collect();
                let gone: Vec<Value> = known
                    .iter()
                    .filter(|a| !now.contains(a.as_str()))
                    .map(|a| json!(a))
                    .collect();
                let input = json!({"cluster": cluster});
                api.describe("DescribeTasks", input, ("tasks", &gone, 100), "tasks")
                    .await?
            }
        };
        Ok(stopping
            .into_iter()
            .filter(|t| t["lastStatus"] != "STOPPED")
            .collect())
    }

    async fn count(
        &mut self,
        api: &Api,
        cluster: &str,
        service: &Value,
        shown: &Value,
        rollback: bool,
    ) -> anyhow::Result<Progress> {
        let id = shown["id"].as_str().unwrap_or_default();
        let name = service["serviceName"].as_str().unwrap_or_default();
        let mut all = api.tasks(cluster, Some(name), "RUNNING").await?;
        all.extend(self.leaving(api, cluster, name, &all).await?);
        self.known = Some(all.iter().filter_map(arn_of).map(str::to_string).collect());
        let (tasks, old): (Vec<Value>, Vec<Value>) =
            all.into_iter().partition(|t| t["startedBy"] == id);
        let tasks: Vec<Value> = tasks
            .into_iter()
            .filter(|t| t["lastStatus"] == "RUNNING" && t["desiredStatus"] == "RUNNING")
            .collect();
        let bindings: Vec<(&str, &str, i64)> = items(&service["loadBalancers"])
            .filter_map(|lb| {
                Some((
                    lb["targetGroupArn"].as_str()?,
                    lb["containerName"].as_str()?,
                    lb["containerPort"].as_i64()?,
                ))
            })
            .collect();
        let healthy = if bindings.is_empty() {
            tasks
                .iter()
                .filter(|t| t["healthStatus"] != "UNHEALTHY")
                .count()
        } else {
            let mut health: HashMap<(String, u16), String> = HashMap::new();
            for (group, _, _) in &bindings {
                for (target, port, state) in api.target_health(group).await? {
                    health.insert((target, port), state);
                }
            }
            self.learn_hosts(api, cluster, &tasks).await?;
            tasks
                .iter()
                .filter(|t| {
                    bindings.iter().all(|(_, container, port)| {
                        self.targets(t, container, *port)
                            .iter()
                            .any(|k| health.get(k).is_some_and(|s| s == "healthy"))
                    })
                })
                .count()
        };
        let old_running = old.len() as i64;
        Ok(Progress {
            revision: revision(shown["taskDefinition"].as_str().unwrap_or_default()).into(),
            rollback,
            desired: shown["desiredCount"].as_i64().unwrap_or(0),
            running: shown["runningCount"].as_i64().unwrap_or(0),
            healthy: healthy as i64,
            balanced: !bindings.is_empty(),
            old_running,
            state: shown["rolloutState"].as_str().unwrap_or("-").into(),
        })
    }

    /// Learn the EC2 instance ids of the hosts of `tasks` not seen before.
    async fn learn_hosts(
        &mut self,
        api: &Api,
        cluster: &str,
        tasks: &[Value],
    ) -> anyhow::Result<()> {
        let unknown = tasks
            .iter()
            .filter_map(|t| t["containerInstanceArn"].as_str())
            .any(|a| !self.hosts.contains_key(a));
        if unknown {
            for i in api.instances(cluster).await? {
                if let (Some(arn), Some(id)) = (
                    i["containerInstanceArn"].as_str(),
                    i["ec2InstanceId"].as_str(),
                ) {
                    self.hosts.insert(arn.into(), id.into());
                }
            }
        }
        Ok(())
    }

    /// The targets `container`'s `port` of a task can be registered as: its host's instance
    /// id with the host port, or its address with the container port.
    fn targets(&self, task: &Value, container: &str, port: i64) -> Vec<(String, u16)> {
        let mut out = Vec::new();
        let host = task["containerInstanceArn"]
            .as_str()
            .and_then(|a| self.hosts.get(a));
        for c in items(&task["containers"]).filter(|c| c["name"] == container) {
            for b in items(&c["networkBindings"]).filter(|b| b["containerPort"] == port) {
                if let (Some(h), Some(p)) = (host, b["hostPort"].as_u64()) {
                    out.push((h.clone(), p as u16));
                }
            }
            for n in items(&c["networkInterfaces"]) {
                if let Some(ip) = n["privateIpv4Address"].as_str() {
                    out.push((ip.to_string(), port as u16));
                }
            }
        }
        out
    }
}

/// Register the new revision and point the service at it; the deployment's id and the new
/// task definition's ARN. Ctrl-C before the update takes the revision back.
async fn start(
    api: &Api,
    args: &DeployArgs,
    service: &Value,
    changes: &Changes,
    interrupted: &AtomicBool,
) -> anyhow::Result<(String, String)> {
    let cluster = args.common.cluster();
    let current = service["taskDefinition"].as_str().unwrap_or_default();
    let described = api
        .ecs(
            "DescribeTaskDefinition",
            json!({"taskDefinition": current, "include": ["TAGS"]}),
        )
        .await?;
    let input = revise::revise(&described["taskDefinition"], &described["tags"], changes)
        .map_err(anyhow::Error::msg)?;
    check_pushed(api, &args.common, changes).await?;
    let same = input["containerDefinitions"] == described["taskDefinition"]["containerDefinitions"];
    let target = if changes.is_empty() || same {
        if !args.force {
            return Err(anyhow!(
                "nothing to change: {} already runs these images and variables (--force starts new tasks anyway)",
                revision(current)
            ));
        }
        current.to_string()
    } else {
        let registered = api.ecs("RegisterTaskDefinition", input).await?;
        registered["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .context("RegisterTaskDefinition answered without an ARN")?
            .to_string()
    };
    if interrupted.load(Ordering::SeqCst) {
        if target != current {
            api.ecs(
                "DeregisterTaskDefinition",
                json!({"taskDefinition": target}),
            )
            .await?;
        }
        return Err(anyhow!("interrupted: nothing changed"));
    }
    let updated = api
        .ecs(
            "UpdateService",
            json!({"cluster": cluster, "service": args.service, "taskDefinition": target,
                   "forceNewDeployment": args.force}),
        )
        .await?;
    let ours = items(&updated["service"]["deployments"])
        .find(|d| d["status"] == "PRIMARY")
        .and_then(|d| d["id"].as_str())
        .context("UpdateService answered without a primary deployment")?
        .to_string();
    Ok((ours, target))
}

pub fn run(args: DeployArgs) -> anyhow::Result<i32> {
    let changes = Changes::parse(&args.images, &args.env).map_err(anyhow::Error::msg)?;
    let timeout = Duration::from_millis(parse_duration("--timeout", &args.timeout)?.max(0) as u64);
    crate::server::runtime()?.block_on(async {
        let interrupted = Arc::new(AtomicBool::new(false));
        let woken = Arc::new(tokio::sync::Notify::new());
        let (flag, wake) = (interrupted.clone(), woken.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
                wake.notify_one();
            }
            // A second Ctrl-C does not wait for the call in flight.
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(EXIT_INTERRUPTED);
            }
        });
        let api = Api::new(&args.common)?;
        let cluster = args.common.cluster();
        let service = api.service(cluster, &args.service).await?;
        let controller = service["deploymentController"]["type"].as_str().unwrap_or("ECS");
        if controller != "ECS" {
            return Err(anyhow!(
                "{} is deployed by its {controller} deployment controller, not by ECS: deploy its task sets instead",
                args.service
            ));
        }
        let previous = service["taskDefinition"].as_str().unwrap_or_default().to_string();
        let began = Instant::now();
        // The events so far are not this deployment's.
        let mut feed = Feed::new(0);
        feed.fresh(&service);
        let (ours, target) = start(&api, &args, &service, &changes, &interrupted).await?;
        let mut printer = Printer {
            output: args.common.output,
            colour: args.common.colour(),
            drawn: false,
            last: None,
        };
        if args.no_wait {
            printer.result(
                "STARTED",
                &target,
                &format!("{}: deploying {} (deployment {ours})", args.service, revision(&target)),
            );
            return Ok(0);
        }
        let mut judge = Judge::new(ours, previous);
        let mut counter = Counter::default();
        loop {
            let service = api.service(cluster, &args.service).await?;
            for e in feed.fresh(&service) {
                judge.note(&e);
                printer.event(&e);
            }
            if let Some(shown) = judge.shown(&service) {
                let rollback = shown["id"] != judge.ours.as_str();
                let p = counter.count(&api, cluster, &service, shown, rollback).await?;
                printer.progress(&p, began.elapsed().as_secs());
            }
            if interrupted.load(Ordering::SeqCst) {
                printer.result("INTERRUPTED", &target, &format!(
                    "stopped watching; the deployment of {} carries on (flotilla status, flotilla events {} -f)",
                    revision(&target), args.service));
                return Ok(EXIT_INTERRUPTED);
            }
            if let Some(outcome) = judge.judge(&service) {
                let new = revision(&target);
                let (code, message) = match &outcome {
                    Outcome::Completed => (0, format!("{}: {new} is deployed and stable", args.service)),
                    Outcome::Failed { reason } => (1, format!("{}: the deployment of {new} failed: {reason}", args.service)),
                    Outcome::RolledBack { to, reason } => (1, format!("{}: the deployment of {new} failed and was rolled back to {to}: {reason}", args.service)),
                    Outcome::Replaced { by } => (1, format!("{}: another deployment ({by}) replaced the one of {new}", args.service)),
                };
                printer.result(outcome.name(), &target, &message);
                return Ok(code);
            }
            if began.elapsed() >= timeout {
                printer.result("TIMED_OUT", &target, &format!(
                    "still rolling out after {}; the deployment of {} carries on (flotilla status, flotilla events {} -f)",
                    args.timeout, revision(&target), args.service));
                return Ok(EXIT_TIMEOUT);
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = woken.notified() => {}
            }
        }
    })
}
