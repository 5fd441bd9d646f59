//! Registration: the ECS `RegisterContainerInstance` request (resources, version,
//! attributes, a host identity document) and the retry policy around it. A checkpointed
//! ARN is sent back so a restarted agent stays the same instance; if the server refuses
//! it, the agent registers afresh.

use std::collections::BTreeSet;

use flotilla_aws::client::CallError;
use flotilla_model::container_instance::{Capacity, VersionInfo};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::api::AgentApi;
use crate::backoff::Backoff;
use crate::checkpoint::Checkpoint;
use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::resources;

/// The capability attributes this agent registers: what a task definition's
/// `requiresAttributes` may ask for and this agent can start. Task and execution roles,
/// ECR authentication and the awslogs driver are accepted (tasks using them start) though
/// Flotilla does not hand out role credentials; secrets, EFS, FireLens and App Mesh are not
/// registered, so tasks needing them are not placed (`ATTRIBUTE`).
const CAPABILITIES: &[&str] = &[
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "com.amazonaws.ecs.capability.logging-driver.json-file",
    "com.amazonaws.ecs.capability.logging-driver.syslog",
    "com.amazonaws.ecs.capability.logging-driver.journald",
    "com.amazonaws.ecs.capability.logging-driver.fluentd",
    "com.amazonaws.ecs.capability.logging-driver.gelf",
    "com.amazonaws.ecs.capability.logging-driver.splunk",
    "com.amazonaws.ecs.capability.logging-driver.none",
    "com.amazonaws.ecs.capability.task-iam-role",
    "com.amazonaws.ecs.capability.task-iam-role-network-host",
    "com.amazonaws.ecs.capability.ecr-auth",
    "ecs.capability.execution-role-awslogs",
    "ecs.capability.execution-role-ecr-pull",
    "ecs.capability.task-eni",
    "ecs.capability.container-health-check",
    "ecs.capability.container-ordering",
];

/// The `RegisterContainerInstance` input.
pub(crate) fn request(
    config: &AgentConfig,
    capacity: &Capacity,
    data_dir_id: &str,
    arn: Option<&str>,
) -> Value {
    let version = VersionInfo {
        agent_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        agent_hash: option_env!("FLOTILLA_GIT_HASH").map(str::to_string),
        docker_version: None,
    };
    let mut attributes = vec![
        json!({"name": "ecs.os-type", "value": "linux"}),
        json!({"name": "ecs.cpu-architecture", "value": resources::cpu_architecture()}),
        json!({"name": "ecs.availability-zone", "value": config.availability_zone}),
        json!({"name": "ecs.instance-type", "value": "flotilla"}),
    ];
    attributes.extend(CAPABILITIES.iter().map(|name| json!({ "name": name })));
    attributes.extend((17..=44).map(
        |v| json!({ "name": format!("com.amazonaws.ecs.capability.docker-remote-api.1.{v}") }),
    ));
    attributes.extend(
        config
            .attributes
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v})),
    );
    let identity = json!({
        "instanceId": format!("i-{data_dir_id}"),
        "hostname": resources::hostname(),
        "region": config.region,
        "availabilityZone": config.availability_zone,
        "instanceType": "flotilla",
        "architecture": resources::cpu_architecture(),
        "dataDir": config.data_dir.display().to_string(),
    });
    let mut req = json!({
        "cluster": config.cluster,
        "instanceIdentityDocument": identity.to_string(),
        "totalResources": capacity.to_resources(),
        "versionInfo": version,
        "attributes": attributes,
    });
    if let Some(arn) = arn {
        req["containerInstanceArn"] = json!(arn);
    }
    req
}

/// Register until it works, the server refuses for good, or `shutdown`. Saves the ARN in
/// the checkpoint. `None` when shut down first.
pub(crate) async fn register(
    api: &dyn AgentApi,
    config: &AgentConfig,
    checkpoint: &Checkpoint,
    fresh: bool,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Option<String>, AgentError> {
    let state = checkpoint.snapshot();
    let mut arn = if fresh {
        None
    } else {
        state.container_instance_arn.clone()
    };
    let own_ports: BTreeSet<u16> = state
        .tasks
        .values()
        .flat_map(|t| t.host_ports.iter().copied())
        .collect();
    let mut backoff = Backoff::standard();
    loop {
        let mut capacity =
            resources::host_capacity(&config.reserved_ports, &own_ports, config.probe_host_ports);
        if let Some(cpu) = config.cpu_units {
            capacity.cpu = cpu;
        }
        if let Some(memory) = config.memory_mib {
            capacity.memory = memory;
        }
        let req = request(config, &capacity, &state.data_dir_id, arn.as_deref());
        let result = tokio::select! {
            r = api.register(&req) => r,
            _ = shutdown.wait_for(|s| *s) => return Ok(None),
        };
        match result {
            Ok(new_arn) => {
                if arn.as_deref().is_some_and(|old| old != new_arn) {
                    tracing::info!(old = ?arn, new = %new_arn, "registered as a new container instance");
                }
                checkpoint.update(|s| s.container_instance_arn = Some(new_arn.clone()));
                checkpoint.flush()?;
                return Ok(Some(new_arn));
            }
            Err(e) if !e.is_retriable() && arn.is_some() => {
                tracing::warn!(error = %e, "re-registration refused; registering as a new instance");
                arn = None;
                continue;
            }
            Err(e) if !e.is_retriable() && !is_auth_or_cluster(&e) => {
                tracing::warn!(error = %e, "registration refused; retrying");
            }
            Err(e) if !e.is_retriable() => return Err(AgentError::Register(e)),
            Err(e) => tracing::warn!(error = %e, "registration failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = shutdown.wait_for(|s| *s) => return Ok(None),
        }
    }
}

/// Refusals retrying cannot fix: unknown cluster, bad credentials.
fn is_auth_or_cluster(e: &CallError) -> bool {
    match e {
        CallError::Service(err) => {
            err.code.contains("ClusterNotFound")
                || err.code.contains("Signature")
                || err.code.contains("UnrecognizedClient")
                || err.code.contains("AccessDenied")
                || err.code.contains("InvalidClientTokenId")
        }
        CallError::Transport { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_request_carries_resources_attributes_and_identity() {
        let mut config = AgentConfig::new("http://x", "us-east-1", "AK", "SK", "default", "/tmp/a");
        config.availability_zone = "zone-b".into();
        config.attributes = vec![("stack".into(), "blue".into())];
        let capacity = Capacity {
            cpu: 2048,
            memory: 3900,
            tcp_ports: BTreeSet::from([22, 8080]),
            udp_ports: BTreeSet::new(),
        };
        let req = request(&config, &capacity, "00ff", Some("arn:old"));
        assert_eq!(req["cluster"], "default");
        assert_eq!(req["containerInstanceArn"], "arn:old");
        let res = req["totalResources"].as_array().unwrap();
        assert_eq!(res[0]["name"], "CPU");
        assert_eq!(res[0]["type"], "INTEGER");
        assert_eq!(res[0]["integerValue"], 2048);
        assert_eq!(res[1]["integerValue"], 3900);
        assert_eq!(res[2]["name"], "PORTS");
        assert_eq!(res[2]["stringSetValue"], json!(["22", "8080"]));
        assert_eq!(
            req["versionInfo"]["agentVersion"],
            env!("CARGO_PKG_VERSION")
        );
        let attrs = req["attributes"].as_array().unwrap();
        let get = |n: &str| {
            attrs
                .iter()
                .find(|a| a["name"] == n)
                .map(|a| a["value"].clone())
        };
        assert_eq!(get("ecs.os-type"), Some(json!("linux")));
        assert_eq!(get("ecs.availability-zone"), Some(json!("zone-b")));
        assert_eq!(get("stack"), Some(json!("blue")));
        assert!(get("ecs.cpu-architecture").is_some());
        let doc: Value =
            serde_json::from_str(req["instanceIdentityDocument"].as_str().unwrap()).unwrap();
        assert_eq!(doc["instanceId"], "i-00ff");
        assert!(request(&config, &capacity, "00ff", None)
            .get("containerInstanceArn")
            .is_none());
    }
}
