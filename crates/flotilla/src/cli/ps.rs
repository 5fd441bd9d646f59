//! `flotilla ps [SERVICE]`: the tasks of a cluster (or of one service) with their status,
//! health, host, ports and age; `--all` adds the stopped ones and why they stopped.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::table::Table;
use super::{age, items, revision, short, Api, Common, Output};

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// Only this service's tasks.
    service: Option<String>,
    /// Stopped tasks too (ECS keeps them for a while after they stop).
    #[arg(long, short)]
    all: bool,
    #[command(flatten)]
    common: Common,
}

/// What `ps` shows of one task.
struct Row {
    id: String,
    service: String,
    revision: String,
    status: String,
    health: String,
    host: String,
    ports: Vec<String>,
    age: String,
    stopped_reason: String,
    task: Value,
}

/// `host:port->port/protocol` of each container's bindings (awsvpc: the task's address).
pub fn ports(task: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in items(&task["containers"]) {
        for b in items(&c["networkBindings"]) {
            out.push(format!(
                "{}:{}->{}/{}",
                b["bindIP"].as_str().unwrap_or("0.0.0.0"),
                b["hostPort"],
                b["containerPort"],
                b["protocol"].as_str().unwrap_or("tcp")
            ));
        }
        for n in items(&c["networkInterfaces"]) {
            if let Some(ip) = n["privateIpv4Address"].as_str() {
                out.push(ip.to_string());
            }
        }
    }
    out.dedup();
    out
}

/// A task's status as one word, with where it is headed when that differs.
pub fn status(task: &Value) -> String {
    let last = task["lastStatus"].as_str().unwrap_or("-");
    match task["desiredStatus"].as_str() {
        Some(d) if d != last && d == "STOPPED" && last != "STOPPED" => format!("{last}→STOPPED"),
        _ => last.to_string(),
    }
}

fn row(task: &Value, hosts: &HashMap<String, String>, now_ms: i64) -> Row {
    let instance = task["containerInstanceArn"].as_str().unwrap_or_default();
    let started = if task["startedAt"].is_null() {
        &task["createdAt"]
    } else {
        &task["startedAt"]
    };
    Row {
        id: short(task["taskArn"].as_str().unwrap_or_default()).into(),
        service: task["group"]
            .as_str()
            .and_then(|g| g.strip_prefix("service:"))
            .unwrap_or("-")
            .into(),
        revision: revision(task["taskDefinitionArn"].as_str().unwrap_or("-")).into(),
        status: status(task),
        health: task["healthStatus"].as_str().unwrap_or("UNKNOWN").into(),
        host: hosts
            .get(instance)
            .cloned()
            .unwrap_or_else(|| short(instance).chars().take(12).collect()),
        ports: ports(task),
        age: age(started, now_ms),
        stopped_reason: task["stoppedReason"].as_str().unwrap_or_default().into(),
        task: task.clone(),
    }
}

pub fn run(args: PsArgs) -> anyhow::Result<()> {
    crate::server::runtime()?.block_on(async {
        let api = Api::new(&args.common)?;
        let cluster = args.common.cluster();
        if let Some(name) = &args.service {
            api.service(cluster, name).await?;
        }
        let mut tasks = api
            .tasks(cluster, args.service.as_deref(), "RUNNING")
            .await?;
        if args.all {
            tasks.extend(
                api.tasks(cluster, args.service.as_deref(), "STOPPED")
                    .await?,
            );
        }
        let hosts: HashMap<String, String> = api
            .instances(cluster)
            .await?
            .iter()
            .map(|i| {
                (
                    i["containerInstanceArn"]
                        .as_str()
                        .unwrap_or_default()
                        .into(),
                    i["ec2InstanceId"].as_str().unwrap_or_default().into(),
                )
            })
            .collect();
        let now = chrono::Utc::now().timestamp_millis();
        let mut rows: Vec<Row> = tasks.iter().map(|t| row(t, &hosts, now)).collect();
        rows.sort_by(|a, b| {
            (&a.service, &a.revision, &a.id).cmp(&(&b.service, &b.revision, &b.id))
        });
        match args.common.output {
            Output::Json => {
                let tasks: Vec<Value> = rows
                    .iter()
                    .map(|r| {
                        json!({
                            "taskId": r.id, "taskArn": r.task["taskArn"],
                            "service": (r.service != "-").then_some(&r.service),
                            "taskDefinitionArn": r.task["taskDefinitionArn"],
                            "lastStatus": r.task["lastStatus"],
                            "desiredStatus": r.task["desiredStatus"],
                            "healthStatus": r.health, "host": r.host, "ports": r.ports,
                            "createdAt": r.task["createdAt"], "startedAt": r.task["startedAt"],
                            "stoppedReason": r.task["stoppedReason"],
                            "stopCode": r.task["stopCode"],
                        })
                    })
                    .collect();
                super::print_json(&json!({ "tasks": tasks }));
            }
            Output::Table => {
                let mut headers = vec![
                    "TASK", "SERVICE", "REVISION", "STATUS", "HEALTH", "HOST", "PORTS", "AGE",
                ];
                if args.all {
                    headers.push("STOPPED REASON");
                }
                let mut t = Table::new(&headers);
                for r in rows {
                    let mut cells = vec![
                        r.id,
                        r.service,
                        r.revision,
                        r.status,
                        r.health,
                        r.host,
                        if r.ports.is_empty() {
                            "-".into()
                        } else {
                            r.ports.join(",")
                        },
                        r.age,
                    ];
                    if args.all {
                        cells.push(r.stopped_reason);
                    }
                    t.row(cells);
                }
                if t.is_empty() {
                    eprintln!("no tasks");
                } else {
                    print!("{}", t.render(args.common.colour()));
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_status() {
        let task = json!({
            "lastStatus": "RUNNING", "desiredStatus": "STOPPED",
            "containers": [{"networkBindings": [
                {"bindIP": "0.0.0.0", "hostPort": 32768, "containerPort": 80, "protocol": "tcp"}]},
                {"networkInterfaces": [{"privateIpv4Address": "10.0.0.5"}]}]});
        assert_eq!(ports(&task), vec!["0.0.0.0:32768->80/tcp", "10.0.0.5"]);
        assert_eq!(status(&task), "RUNNING→STOPPED");
        assert_eq!(
            status(&json!({"lastStatus": "STOPPED", "desiredStatus": "STOPPED"})),
            "STOPPED"
        );
    }
}
