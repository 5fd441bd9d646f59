//! A container's `awslogs` configuration as the agent uses it: where its lines go, how its
//! stream is named, and what happens when they cannot be sent.
//!
//! Stream names: with `awslogs-stream-prefix`, `PREFIX/CONTAINER_NAME/TASK_ID`, as ECS
//! names them (the task id is the last part of the task ARN). Without a prefix ECS on EC2
//! lets Docker's awslogs driver name the stream, which uses the container's id; the agent
//! does the same, so two containers of one task never share a stream (each stream has one
//! writer, which its line numbers need). The id is known once the container is created,
//! so streams are prepared between create and start.

use flotilla_model::agent_protocol::{LogStreamRef, PrepareLogStream};
use flotilla_model::logs::awslogs_stream_name;
use flotilla_model::task_definition::ContainerDefinition;

/// Docker's default `max-buffer-size` for the non-blocking mode.
pub(crate) const DEFAULT_MAX_BUFFER_BYTES: usize = 1 << 20;

/// What the driver does when lines cannot be sent fast enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Stop reading the container's log until there is room (nothing is lost: Docker's
    /// json-file keeps it). ECS's default.
    Blocking,
    /// Keep reading; beyond the spool, keep at most this many bytes in memory and drop
    /// the oldest lines.
    NonBlocking { max_buffer_bytes: usize },
}

/// The `awslogs` options of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwsLogs {
    pub group: String,
    pub region: String,
    pub prefix: Option<String>,
    pub create_group: bool,
    pub mode: Mode,
}

impl AwsLogs {
    /// The container's `awslogs` configuration; `None` for any other driver (or none).
    /// `default_region` stands in for a missing `awslogs-region`.
    pub(crate) fn of(def: &ContainerDefinition, default_region: &str) -> Option<AwsLogs> {
        let lc = def
            .log_configuration
            .as_ref()
            .filter(|l| l.log_driver == "awslogs")?;
        let text = |k: &str| lc.option(k).map(str::trim).filter(|v| !v.is_empty());
        let mode = match text("mode") {
            Some(m) if m.eq_ignore_ascii_case("non-blocking") => Mode::NonBlocking {
                max_buffer_bytes: text("max-buffer-size")
                    .and_then(parse_size)
                    .unwrap_or(DEFAULT_MAX_BUFFER_BYTES),
            },
            _ => Mode::Blocking,
        };
        Some(AwsLogs {
            group: text("awslogs-group")?.to_string(),
            region: text("awslogs-region").unwrap_or(default_region).to_string(),
            prefix: text("awslogs-stream-prefix").map(str::to_string),
            create_group: text("awslogs-create-group")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            mode,
        })
    }

    /// The stream of container `container` (its runtime id `container_id`) of task
    /// `task_arn`.
    pub(crate) fn stream(
        &self,
        container: &str,
        task_arn: &str,
        container_id: &str,
    ) -> LogStreamRef {
        let name = awslogs_stream_name(
            self.prefix.as_deref(),
            container,
            task_id(task_arn),
            container_id,
        );
        LogStreamRef {
            region: self.region.clone(),
            log_group_name: self.group.clone(),
            log_stream_name: name,
        }
    }

    /// What PREPARE_LOGS is asked for this stream.
    pub(crate) fn prepare(&self, stream: LogStreamRef) -> PrepareLogStream {
        PrepareLogStream {
            stream,
            create_group: self.create_group,
        }
    }
}

/// The task id: the last part of the task ARN.
pub(crate) fn task_id(task_arn: &str) -> &str {
    task_arn.rsplit('/').next().unwrap_or(task_arn)
}

/// A size as Docker's options spell it: `25m`, `512k`, `1g`, `1024` (bytes), with an
/// optional `b`/`ib`; `None` when it means nothing.
pub(crate) fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix("ib")
        .or_else(|| t.strip_suffix('b'))
        .unwrap_or(&t);
    let (digits, unit) = match t
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit() && *c != '.')
    {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let n: f64 = digits.parse().ok()?;
    let scale: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = n * scale;
    (bytes.is_finite() && bytes >= 1.0).then_some(bytes as usize)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn container(options: serde_json::Value) -> ContainerDefinition {
        serde_json::from_value(json!({
            "name": "web", "image": "httpd",
            "logConfiguration": {"logDriver": "awslogs", "options": options}
        }))
        .unwrap()
    }

    const TASK: &str = "arn:aws:ecs:us-east-1:000000000000:task/default/0f3c9a";

    #[test]
    fn a_prefix_names_the_stream_as_ecs_does() {
        let c = container(
            json!({"awslogs-group": "/ecs/web", "awslogs-region": "eu-west-1",
            "awslogs-stream-prefix": "app", "awslogs-create-group": "true"}),
        );
        let a = AwsLogs::of(&c, "us-east-1").unwrap();
        assert!(a.create_group);
        assert_eq!(a.mode, Mode::Blocking);
        let s = a.stream("web", TASK, "c0ffee");
        assert_eq!(s.log_stream_name, "app/web/0f3c9a");
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.log_group_name, "/ecs/web");
    }

    #[test]
    fn without_a_prefix_the_stream_is_the_container_id() {
        let a = AwsLogs::of(&container(json!({"awslogs-group": "g"})), "us-east-1").unwrap();
        assert_eq!(a.region, "us-east-1");
        assert!(!a.create_group);
        assert_eq!(a.stream("web", TASK, "c0ffee").log_stream_name, "c0ffee");
    }

    #[test]
    fn non_blocking_takes_its_buffer_size_with_dockers_default() {
        let nb = |o| AwsLogs::of(&container(o), "r").unwrap().mode;
        assert_eq!(
            nb(json!({"awslogs-group": "g", "mode": "non-blocking", "max-buffer-size": "25m"})),
            Mode::NonBlocking {
                max_buffer_bytes: 25 << 20
            }
        );
        assert_eq!(
            nb(json!({"awslogs-group": "g", "mode": "non-blocking"})),
            Mode::NonBlocking {
                max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES
            }
        );
        assert_eq!(
            nb(json!({"awslogs-group": "g", "mode": "blocking"})),
            Mode::Blocking
        );
    }

    #[test]
    fn other_drivers_are_not_shipped() {
        let c: ContainerDefinition = serde_json::from_value(json!({"name": "w", "image": "i",
            "logConfiguration": {"logDriver": "json-file"}}))
        .unwrap();
        assert_eq!(AwsLogs::of(&c, "r"), None);
    }

    #[test]
    fn sizes_read_as_docker_writes_them() {
        assert_eq!(parse_size("25m"), Some(25 << 20));
        assert_eq!(parse_size("512K"), Some(512 << 10));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("2MiB"), Some(2 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("0"), None);
    }
}
