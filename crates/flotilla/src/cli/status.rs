//! `flotilla status`: every cluster (or the one `--cluster` names) at a glance: its
//! services with desired, running and pending tasks and the state of their rollout, and
//! its instances with their free CPU and memory and whether their agent is connected.

use serde_json::{json, Value};

use super::table::Table;
use super::{items, revision, short, Api, Common, Output};

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    common: Common,
}

/// One cluster as `status` shows it.
struct ClusterView {
    cluster: Value,
    services: Vec<Value>,
    instances: Vec<Value>,
}

async fn clusters(api: &Api, only: Option<&str>) -> anyhow::Result<Vec<Value>> {
    match only {
        Some(c) => Ok(vec![json!(c)]),
        None => api.list("ListClusters", json!({}), "clusterArns").await,
    }
}

async fn services(api: &Api, cluster: &str) -> anyhow::Result<Vec<Value>> {
    let input = json!({"cluster": cluster});
    let arns = api
        .list("ListServices", input.clone(), "serviceArns")
        .await?;
    let mut out = api
        .describe(
            "DescribeServices",
            input,
            ("services", &arns, 10),
            "services",
        )
        .await?;
    out.sort_by(|a, b| a["serviceName"].as_str().cmp(&b["serviceName"].as_str()));
    Ok(out)
}

async fn view(api: &Api, only: Option<&str>) -> anyhow::Result<Vec<ClusterView>> {
    let names = clusters(api, only).await?;
    let mut out = Vec::new();
    for chunk in names.chunks(100) {
        let described = api
            .ecs("DescribeClusters", json!({"clusters": chunk}))
            .await?;
        if let (Some(name), Some(_)) = (only, items(&described["failures"]).next()) {
            return Err(anyhow::anyhow!(
                "there is no cluster '{name}' (flotilla status lists them all)"
            ));
        }
        for cluster in items(&described["clusters"]) {
            let arn = cluster["clusterArn"].as_str().unwrap_or_default();
            out.push(ClusterView {
                cluster: cluster.clone(),
                services: services(api, arn).await?,
                instances: api.instances(arn).await?,
            });
        }
    }
    out.sort_by(|a, b| {
        a.cluster["clusterName"]
            .as_str()
            .cmp(&b.cluster["clusterName"].as_str())
    });
    Ok(out)
}

/// The rollout a service is in: its primary deployment's state, and how many deployments
/// are still running tasks beside it.
pub fn rollout(service: &Value) -> String {
    let deployments: Vec<&Value> = items(&service["deployments"]).collect();
    let primary = deployments.iter().find(|d| d["status"] == "PRIMARY");
    let state = primary
        .and_then(|d| d["rolloutState"].as_str())
        .unwrap_or("-")
        .to_string();
    match deployments.len() {
        0 | 1 => state,
        n => format!("{state} ({} older)", n - 1),
    }
}

/// `integerValue` of the resource `name` (`CPU`, `MEMORY`) in an instance's list.
fn resource(list: &Value, name: &str) -> i64 {
    items(list)
        .find(|r| r["name"] == name)
        .and_then(|r| r["integerValue"].as_i64())
        .unwrap_or(0)
}

/// `free/registered` of one resource of an instance.
fn free(instance: &Value, name: &str) -> String {
    format!(
        "{}/{}",
        resource(&instance["remainingResources"], name),
        resource(&instance["registeredResources"], name)
    )
}

fn print_table(views: &[ClusterView], colour: bool) {
    let mut clusters = Table::new(&[
        "CLUSTER",
        "STATUS",
        "SERVICES",
        "RUNNING",
        "PENDING",
        "INSTANCES",
    ]);
    for v in views {
        let c = &v.cluster;
        clusters.row(vec![
            c["clusterName"].as_str().unwrap_or_default().into(),
            c["status"].as_str().unwrap_or_default().into(),
            c["activeServicesCount"].to_string(),
            c["runningTasksCount"].to_string(),
            c["pendingTasksCount"].to_string(),
            c["registeredContainerInstancesCount"].to_string(),
        ]);
    }
    print!("{}", clusters.render(colour));
    for v in views {
        let name = v.cluster["clusterName"].as_str().unwrap_or_default();
        if !v.services.is_empty() {
            let mut t = Table::new(&[
                "SERVICE",
                "TASK DEFINITION",
                "DESIRED",
                "RUNNING",
                "PENDING",
                "ROLLOUT",
            ]);
            for s in &v.services {
                t.row(vec![
                    s["serviceName"].as_str().unwrap_or_default().into(),
                    revision(s["taskDefinition"].as_str().unwrap_or("-")).into(),
                    s["desiredCount"].to_string(),
                    s["runningCount"].to_string(),
                    s["pendingCount"].to_string(),
                    rollout(s),
                ]);
            }
            print!("\n{name}: services\n{}", t.render(colour));
        }
        if !v.instances.is_empty() {
            let mut t = Table::new(&[
                "INSTANCE",
                "HOST",
                "STATUS",
                "AGENT",
                "TASKS",
                "CPU FREE",
                "MEMORY FREE (MiB)",
            ]);
            for i in &v.instances {
                let connected = i["agentConnected"].as_bool().unwrap_or(false);
                t.row(vec![
                    short(i["containerInstanceArn"].as_str().unwrap_or_default()).into(),
                    i["ec2InstanceId"].as_str().unwrap_or("-").into(),
                    i["status"].as_str().unwrap_or_default().into(),
                    if connected {
                        "connected"
                    } else {
                        "disconnected"
                    }
                    .into(),
                    i["runningTasksCount"].to_string(),
                    free(i, "CPU"),
                    free(i, "MEMORY"),
                ]);
            }
            print!("\n{name}: instances\n{}", t.render(colour));
        }
    }
}

/// The JSON `status` prints: per cluster, its counts, services and instances.
fn to_json(views: &[ClusterView]) -> Value {
    let clusters: Vec<Value> = views
        .iter()
        .map(|v| {
            let c = &v.cluster;
            json!({
                "clusterName": c["clusterName"],
                "clusterArn": c["clusterArn"],
                "status": c["status"],
                "runningTasksCount": c["runningTasksCount"],
                "pendingTasksCount": c["pendingTasksCount"],
                "services": v.services.iter().map(|s| json!({
                    "serviceName": s["serviceName"],
                    "taskDefinition": s["taskDefinition"],
                    "desiredCount": s["desiredCount"],
                    "runningCount": s["runningCount"],
                    "pendingCount": s["pendingCount"],
                    "rolloutState": items(&s["deployments"])
                        .find(|d| d["status"] == "PRIMARY")
                        .map(|d| d["rolloutState"].clone()),
                    "deployments": items(&s["deployments"]).map(|d| json!({
                        "id": d["id"], "status": d["status"],
                        "taskDefinition": d["taskDefinition"],
                        "desiredCount": d["desiredCount"], "runningCount": d["runningCount"],
                        "pendingCount": d["pendingCount"], "failedTasks": d["failedTasks"],
                        "rolloutState": d["rolloutState"],
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "instances": v.instances.iter().map(|i| json!({
                    "containerInstanceArn": i["containerInstanceArn"],
                    "ec2InstanceId": i["ec2InstanceId"],
                    "status": i["status"],
                    "agentConnected": i["agentConnected"],
                    "runningTasksCount": i["runningTasksCount"],
                    "cpu": {"registered": resource(&i["registeredResources"], "CPU"),
                            "free": resource(&i["remainingResources"], "CPU")},
                    "memory": {"registered": resource(&i["registeredResources"], "MEMORY"),
                               "free": resource(&i["remainingResources"], "MEMORY")},
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "clusters": clusters })
}

pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    crate::server::runtime()?.block_on(async {
        let api = Api::new(&args.common)?;
        let views = view(&api, args.common.cluster.as_deref()).await?;
        match args.common.output {
            Output::Json => super::print_json(&to_json(&views)),
            Output::Table => print_table(&views, args.common.colour()),
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_names_the_primary_state_and_older_deployments() {
        let s = json!({"deployments": [
            {"status": "PRIMARY", "rolloutState": "IN_PROGRESS"},
            {"status": "ACTIVE", "rolloutState": "COMPLETED"}]});
        assert_eq!(rollout(&s), "IN_PROGRESS (1 older)");
        assert_eq!(rollout(&json!({"deployments": []})), "-");
    }

    #[test]
    fn free_resources() {
        let i = json!({
            "registeredResources": [{"name": "CPU", "integerValue": 2048},
                                    {"name": "MEMORY", "integerValue": 3000}],
            "remainingResources": [{"name": "CPU", "integerValue": 1024},
                                   {"name": "MEMORY", "integerValue": 2500}]});
        assert_eq!(free(&i, "CPU"), "1024/2048");
        assert_eq!(free(&i, "MEMORY"), "2500/3000");
    }
}
