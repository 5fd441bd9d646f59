//! The subcommands for people: `status`, `ps`, `events`, `deploy`, `logs` and `exec`. They
//! only call the public APIs (ECS, ELBv2, ECR, Logs) with the caller's credentials, found as
//! `flotilla env` finds them, so they are authorised and validated exactly as the AWS CLI
//! is. Each prints a table on a terminal (with colour unless `NO_COLOR` is set), the same
//! table without colour when piped, and JSON with `--output json`.

pub mod deploy;
pub mod events;
pub mod exec;
pub mod image;
pub mod logs;
pub mod ps;
pub mod status;
pub mod table;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use flotilla_aws::client::{CallError, JsonClient};
use serde_json::{json, Value};

use crate::env;

/// How a command prints what it found.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Output {
    /// A table: coloured on a terminal, plain when piped.
    #[default]
    Table,
    /// JSON: one document, or one object per line for commands that follow a stream.
    Json,
}

/// What every command for people takes: where the instance is, which cluster, how to print.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// The cluster (name or ARN): `default` when absent (`status`: every cluster).
    #[arg(long)]
    pub cluster: Option<String>,
    /// `table` (the default) or `json`.
    #[arg(long, short, value_enum, default_value_t)]
    pub output: Output,
    /// Data directory of the running instance (for its endpoint and credentials).
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value_os_t = crate::default_data_dir())]
    pub data_dir: PathBuf,
}

impl Common {
    /// The cluster named, or `default`.
    pub fn cluster(&self) -> &str {
        self.cluster.as_deref().unwrap_or("default")
    }

    /// Whether to paint: a table, on a terminal, and `NO_COLOR` not set.
    pub fn colour(&self) -> bool {
        self.output == Output::Table
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }
}

/// Clients of the services the commands read.
pub struct Api {
    pub ecs: JsonClient,
    pub elbv2: JsonClient,
    pub ecr: JsonClient,
    pub logs: JsonClient,
}

/// The ELBv2 API version its query calls name.
const ELBV2_VERSION: &str = "2015-12-01";

impl Api {
    pub fn new(common: &Common) -> anyhow::Result<Api> {
        let dir = &common.data_dir;
        Ok(Api {
            ecs: env::admin_client(dir, "ecs", "AmazonEC2ContainerServiceV20141113")?,
            elbv2: env::admin_client(dir, "elasticloadbalancing", "")?,
            ecr: env::admin_client(dir, "ecr", "AmazonEC2ContainerRegistry_V20150921")?,
            logs: env::admin_client(dir, "logs", "Logs_20140328")?,
        })
    }

    /// An ECS call, its error said in a sentence a person can act on.
    pub async fn ecs(&self, operation: &str, input: Value) -> anyhow::Result<Value> {
        self.ecs.call(operation, &input).await.map_err(explain)
    }

    /// The service `name` of `cluster`, active; an error naming it when there is none.
    pub async fn service(&self, cluster: &str, name: &str) -> anyhow::Result<Value> {
        let out = self
            .ecs(
                "DescribeServices",
                json!({"cluster": cluster, "services": [name]}),
            )
            .await?;
        match out["services"].as_array().and_then(|s| s.first()) {
            Some(s) if s["status"] == "ACTIVE" => Ok(s.clone()),
            _ => Err(anyhow!(
                "cluster {cluster} has no service '{name}' (flotilla status lists them)"
            )),
        }
    }

    /// Every item of a paginated ECS `List...` call: `key`'s array across all pages.
    pub async fn list(
        &self,
        operation: &str,
        mut input: Value,
        key: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        loop {
            let page = self.ecs(operation, input.clone()).await?;
            out.extend(items(&page[key]).cloned());
            match page["nextToken"].as_str() {
                Some(token) => input["nextToken"] = json!(token),
                None => return Ok(out),
            }
        }
    }

    /// An ECS `Describe...` call for each `size` of `arns` (put in `field` of `input`):
    /// `key`'s array of every answer.
    pub async fn describe(
        &self,
        operation: &str,
        mut input: Value,
        (field, arns, size): (&str, &[Value], usize),
        key: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        for chunk in arns.chunks(size) {
            input[field] = json!(chunk);
            out.extend(items(&self.ecs(operation, input.clone()).await?[key]).cloned());
        }
        Ok(out)
    }

    /// Every task of `cluster` (of one service when `service` is given) with `desired`
    /// status, described.
    pub async fn tasks(
        &self,
        cluster: &str,
        service: Option<&str>,
        desired: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let listed = json!({"cluster": cluster, "serviceName": service, "desiredStatus": desired});
        let arns = self.list("ListTasks", listed, "taskArns").await?;
        let input = json!({"cluster": cluster});
        self.describe("DescribeTasks", input, ("tasks", &arns, 100), "tasks")
            .await
    }

    /// Container instances of `cluster`, described.
    pub async fn instances(&self, cluster: &str) -> anyhow::Result<Vec<Value>> {
        let input = json!({"cluster": cluster});
        let arns = self
            .list(
                "ListContainerInstances",
                input.clone(),
                "containerInstanceArns",
            )
            .await?;
        let field = ("containerInstances", &arns[..], 100);
        self.describe(
            "DescribeContainerInstances",
            input,
            field,
            "containerInstances",
        )
        .await
    }

    /// The health of every target of a target group: `(id, port, state)`.
    pub async fn target_health(&self, group: &str) -> anyhow::Result<Vec<(String, u16, String)>> {
        let xml = self
            .elbv2
            .query(
                "DescribeTargetHealth",
                ELBV2_VERSION,
                &[("TargetGroupArn".into(), group.into())],
            )
            .await
            .map_err(explain)?;
        parse_target_health(&xml)
    }
}

/// `(id, port, state)` of each `TargetHealthDescriptions` member of a DescribeTargetHealth
/// answer.
fn parse_target_health(xml: &str) -> anyhow::Result<Vec<(String, u16, String)>> {
    let doc = roxmltree::Document::parse(xml).context("reading DescribeTargetHealth's answer")?;
    let child = |n: roxmltree::Node, name: &str| {
        n.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .unwrap_or_default()
            .to_string()
    };
    let mut out = Vec::new();
    for list in doc
        .descendants()
        .filter(|n| n.has_tag_name("TargetHealthDescriptions"))
    {
        for member in list.children().filter(|n| n.has_tag_name("member")) {
            let find = |name: &str| member.children().find(|c| c.has_tag_name(name));
            let (Some(target), Some(health)) = (find("Target"), find("TargetHealth")) else {
                continue;
            };
            out.push((
                child(target, "Id"),
                child(target, "Port").parse().unwrap_or(0),
                child(health, "State"),
            ));
        }
    }
    Ok(out)
}

/// A failed call as a sentence: the service's code and message, or that nothing answered.
pub fn explain(e: CallError) -> anyhow::Error {
    match e {
        CallError::Service(e) if e.message.is_empty() => anyhow!("{}", e.code),
        CallError::Service(e) => anyhow!("{}: {}", e.code, e.message),
        e @ CallError::Transport { .. } => anyhow!("{e} (is Flotilla running?)"),
    }
}

/// The elements of a JSON array (none for anything else).
pub fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

/// The last part of an ARN (a task's or an instance's id).
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `family:revision` of a task definition ARN.
pub fn revision(arn: &str) -> &str {
    arn.rsplit(":task-definition/").next().unwrap_or(arn)
}

/// `30s`, `10m`, `2h`, `1d` in milliseconds (a bare number is minutes).
pub fn parse_duration(flag: &str, s: &str) -> anyhow::Result<i64> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = number
        .parse()
        .map_err(|_| anyhow!("{flag} {s:?}: expected a number and a unit, e.g. 10m"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" | "" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(anyhow!("{flag} {s:?}: the unit must be s, m, h or d")),
    };
    Ok(n.saturating_mul(unit_ms))
}

/// How long ago an ECS timestamp (epoch seconds, fractional) was, shortly: `42s`, `5m`,
/// `3h`, `2d`.
pub fn age(epoch_seconds: &Value, now_ms: i64) -> String {
    let Some(t) = epoch_seconds.as_f64() else {
        return "-".into();
    };
    let secs = ((now_ms as f64 / 1000.0 - t).max(0.0)) as i64;
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7_200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// Print a JSON document, pretty.
pub fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("--since", "30s").unwrap(), 30_000);
        assert_eq!(parse_duration("--since", "10m").unwrap(), 600_000);
        assert_eq!(parse_duration("--since", "2h").unwrap(), 7_200_000);
        assert_eq!(parse_duration("--since", "1d").unwrap(), 86_400_000);
        assert_eq!(parse_duration("--since", "5").unwrap(), 300_000);
        assert!(parse_duration("--since", "m").is_err());
        let e = parse_duration("--timeout", "5w").unwrap_err().to_string();
        assert!(
            e.starts_with("--timeout") && e.contains("s, m, h or d"),
            "{e}"
        );
    }

    #[test]
    fn ages() {
        let now = 1_000_000_000;
        assert_eq!(age(&json!(999_958.0), now), "42s");
        assert_eq!(age(&json!(1_000_000.0 - 300.0), now), "5m");
        assert_eq!(age(&json!(1_000_000 - 3 * 3600), now), "3h");
        assert_eq!(age(&json!(1_000_000 - 3 * 86_400), now), "3d");
        assert_eq!(age(&Value::Null, now), "-");
    }

    #[test]
    fn names_from_arns() {
        let td = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:7";
        assert_eq!(revision(td), "web:7");
        assert_eq!(short("arn:aws:ecs:us-east-1:0:task/default/abc"), "abc");
    }

    #[test]
    fn target_health_answers() {
        let xml = r#"<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTargetHealthResult><TargetHealthDescriptions>
    <member><Target><Id>i-1</Id><Port>32768</Port></Target><HealthCheckPort>32768</HealthCheckPort>
      <TargetHealth><State>healthy</State></TargetHealth></member>
    <member><Target><Id>10.0.0.5</Id><Port>80</Port></Target>
      <TargetHealth><State>draining</State><Reason>Target.DeregistrationInProgress</Reason></TargetHealth></member>
  </TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>"#;
        assert_eq!(
            parse_target_health(xml).unwrap(),
            vec![
                ("i-1".into(), 32768, "healthy".into()),
                ("10.0.0.5".into(), 80, "draining".into())
            ]
        );
        assert!(parse_target_health("<unclosed").is_err());
    }
}
