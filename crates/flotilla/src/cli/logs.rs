//! `flotilla logs [-f] SERVICE|TASK`: the lines of a service's (or one task's) containers
//! that log with `awslogs`, read back through CloudWatch Logs' FilterLogEvents, oldest
//! first, each line prefixed with its task and container (in a colour per task on a
//! terminal; one JSON object per line with `--output json`). With `--follow` it keeps polling, from the newest timestamp seen, skipping
//! event ids already printed (what `aws logs tail --follow` does), and picks up the tasks
//! a deployment starts.
//!
//! Everything goes through the public APIs (ECS DescribeTasks, DescribeServices,
//! ListTasks, DescribeTaskDefinition; Logs FilterLogEvents) with the administrator's key,
//! found as `flotilla env` finds it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::anyhow;
use flotilla_model::logs::awslogs_stream_name;
use serde_json::{json, Value};

use super::{parse_duration, Api, Common, Output};

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// A service name, or a task id or ARN.
    target: String,
    /// Keep printing new lines until interrupted.
    #[arg(short, long)]
    follow: bool,
    /// Start this long ago (`30s`, `10m`, `2h`, `1d`).
    #[arg(long, default_value = "10m")]
    since: String,
    /// Only this container's lines.
    #[arg(long)]
    container: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// How often `--follow` polls, and re-reads a service's tasks.
const POLL: Duration = Duration::from_secs(1);
const RESOLVE_EVERY: u32 = 5;

/// One log stream of one container of one task.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Source {
    region: String,
    group: String,
    stream: String,
    /// `TASK_ID_PREFIX/container`, what each line is prefixed with.
    label: String,
    task: String,
    container: String,
}

/// The awslogs streams of the tasks `target` names.
async fn sources(c: &Api, args: &LogsArgs) -> anyhow::Result<Vec<Source>> {
    let cluster = args.common.cluster();
    let described = c
        .ecs(
            "DescribeTasks",
            json!({"cluster": cluster, "tasks": [args.target]}),
        )
        .await?;
    let mut tasks: Vec<Value> = described["tasks"].as_array().cloned().unwrap_or_default();
    if tasks.is_empty() {
        let services = c
            .ecs(
                "DescribeServices",
                json!({"cluster": cluster, "services": [args.target]}),
            )
            .await?;
        if services["services"].as_array().is_none_or(|s| s.is_empty()) {
            return Err(anyhow!(
                "no task or service '{}' in cluster {cluster}",
                args.target
            ));
        }
        for status in ["RUNNING", "STOPPED"] {
            tasks.extend(c.tasks(cluster, Some(&args.target), status).await?);
        }
    }
    let mut definitions: BTreeMap<String, Value> = BTreeMap::new();
    let mut out = Vec::new();
    for task in tasks {
        let arn = task["taskArn"].as_str().unwrap_or_default();
        let task_id = arn.rsplit('/').next().unwrap_or_default().to_string();
        let def_arn = task["taskDefinitionArn"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !definitions.contains_key(&def_arn) {
            let d = c
                .ecs("DescribeTaskDefinition", json!({"taskDefinition": def_arn}))
                .await?;
            definitions.insert(def_arn.clone(), d["taskDefinition"].clone());
        }
        let runtime_id = |name: &str| {
            task["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["name"] == name)
                .and_then(|c| c["runtimeId"].as_str())
                .unwrap_or_default()
                .to_string()
        };
        for container in definitions[&def_arn]["containerDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = container["name"].as_str().unwrap_or_default();
            let config = &container["logConfiguration"];
            if config["logDriver"] != "awslogs"
                || args.container.as_deref().is_some_and(|c| c != name)
            {
                continue;
            }
            let option = |k: &str| config["options"][k].as_str().map(str::to_string);
            let (Some(group), Some(region)) = (option("awslogs-group"), option("awslogs-region"))
            else {
                continue;
            };
            let prefix = option("awslogs-stream-prefix");
            out.push(Source {
                region,
                group,
                stream: awslogs_stream_name(prefix.as_deref(), name, &task_id, &runtime_id(name)),
                label: format!("{}/{name}", &task_id[..task_id.len().min(8)]),
                task: task_id.clone(),
                container: name.to_string(),
            });
        }
    }
    out.sort();
    Ok(out)
}

/// A line's prefix colour: one per task, on a terminal only.
fn paint(label: &str, task: &str, colour: bool) -> String {
    if !colour {
        return format!("[{label}]");
    }
    let n = task
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
    format!("\x1b[{}m[{label}]\x1b[0m", 31 + n % 6)
}

/// Print every new event of `sources` since `start`; the newest timestamp printed.
/// `seen` holds the ids (and timestamps) of events printed at or after `start`, the only
/// ones a later poll can return again.
async fn print_new(
    c: &Api,
    sources: &[Source],
    start: i64,
    seen: &mut HashMap<String, i64>,
    common: &Common,
) -> anyhow::Result<i64> {
    let colour = common.colour();
    let mut newest = start;
    let mut by_group: BTreeMap<&str, Vec<&Source>> = BTreeMap::new();
    for s in sources {
        by_group.entry(&s.group).or_default().push(s);
    }
    let mut lines = Vec::new();
    for (group, streams) in by_group {
        for chunk in streams.chunks(100) {
            let names: Vec<&str> = chunk.iter().map(|s| s.stream.as_str()).collect();
            let mut token: Option<String> = None;
            loop {
                let out: Value = c
                    .logs
                    .call(
                        "FilterLogEvents",
                        &json!({"logGroupName": group, "logStreamNames": names,
                                "startTime": start, "nextToken": token}),
                    )
                    .await
                    .map_err(|e| anyhow!("reading log group {group}: {}", super::explain(e)))?;
                for e in out["events"].as_array().into_iter().flatten() {
                    let id = e["eventId"].as_str().unwrap_or_default().to_string();
                    let ts = e["timestamp"].as_i64().unwrap_or_default();
                    if seen.insert(id, ts).is_some() {
                        continue;
                    }
                    let stream = e["logStreamName"].as_str().unwrap_or_default();
                    if let Some(s) = chunk.iter().find(|s| s.stream == stream) {
                        let message = e["message"].as_str().unwrap_or_default();
                        let line = match common.output {
                            Output::Json => json!({
                                "timestamp": ts, "task": s.task, "container": s.container,
                                "logGroupName": s.group, "logStreamName": s.stream,
                                "message": message,
                            })
                            .to_string(),
                            Output::Table => {
                                format!("{} {message}", paint(&s.label, &s.task, colour))
                            }
                        };
                        lines.push((ts, line));
                    }
                    newest = newest.max(ts);
                }
                token = out["nextToken"].as_str().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
    }
    seen.retain(|_, ts| *ts >= newest);
    lines.sort_by_key(|(ts, _)| *ts);
    for (_, line) in lines {
        println!("{line}");
    }
    Ok(newest)
}

pub fn run(args: LogsArgs) -> anyhow::Result<()> {
    let since = parse_duration("--since", &args.since)?;
    crate::server::runtime()?.block_on(async {
        let clients = Api::new(&args.common)?;
        let mut start = chrono::Utc::now().timestamp_millis() - since;
        let mut seen = HashMap::new();
        let mut sources = sources(&clients, &args).await?;
        if sources.is_empty() && !args.follow {
            return Err(anyhow!(
                "'{}' has no container that logs with awslogs",
                args.target
            ));
        }
        let mut round = 0u32;
        loop {
            start = print_new(&clients, &sources, start, &mut seen, &args.common).await?;
            if !args.follow {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
            round += 1;
            if round.is_multiple_of(RESOLVE_EVERY) {
                sources = self::sources(&clients, &args).await?;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal() {
        assert_eq!(paint("abc/web", "abc", false), "[abc/web]");
        assert!(paint("abc/web", "abc", true).starts_with("\x1b[3"));
    }
}
