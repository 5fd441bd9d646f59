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
use crate::checkpoint::{AgentKey, Checkpoint};
use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::resources;

/// The capability attributes this agent registers: what a task definition's
/// `requiresAttributes` may ask for and this agent can start: task roles (served on the
/// credentials endpoint), execution roles (the server reads secrets and checks pulls and
/// logs with them), ECR authentication, the awslogs driver, secrets from Secrets Manager
/// and SSM as environment variables, and private registries' credentials. EFS, FireLens,
/// environment files and App Mesh are not registered, so tasks needing them are not placed
/// (`ATTRIBUTE`).
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
    "ecs.capability.secrets.asm.environment-variables",
    "ecs.capability.secrets.ssm.environment-variables",
    "com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager",
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
    // Checked when the agent starts (`run`), so it holds here.
    let host_attributes = config.host_policy.attributes().unwrap_or_default();
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
    for (name, value) in host_attributes {
        attributes.push(match value {
            Some(v) => json!({"name": name, "value": v}),
            None => json!({ "name": name }),
        });
    }
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
///
/// With a key of its own (from joining), the agent re-registers its instance with it. With
/// none, or once the server refuses that key (its instance was deregistered or its token
/// revoked), an agent given a join token joins afresh as a new instance and keeps the key
/// it gets; an agent given a root key pair registers with that.
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
    // An agent's key speaks for its one instance: a fresh registration needs a new one.
    let mut key = state.agent_key.clone().filter(|_| arn.is_some());
    if let Some(k) = &key {
        api.use_key(k);
    }
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
        let token = config.join_token.as_ref().filter(|_| key.is_none());
        let req = request(
            config,
            &capacity,
            &state.data_dir_id,
            arn.as_deref().filter(|_| token.is_none()),
        );
        let call = async {
            match token {
                Some(token) => api.join(token, &req).await.map(|joined| {
                    let own = AgentKey {
                        access_key_id: joined.access_key_id,
                        secret_access_key: joined.secret_access_key,
                    };
                    api.use_key(&own);
                    (joined.container_instance_arn, Some(own))
                }),
                None => api.register(&req).await.map(|arn| (arn, None)),
            }
        };
        let result = tokio::select! {
            r = call => r,
            _ = shutdown.wait_for(|s| *s) => return Ok(None),
        };
        match result {
            Ok((new_arn, joined_key)) => {
                if arn.as_deref().is_some_and(|old| old != new_arn) {
                    tracing::info!(old = ?arn, new = %new_arn, "registered as a new container instance");
                }
                checkpoint.update(|s| {
                    s.container_instance_arn = Some(new_arn.clone());
                    if joined_key.is_some() {
                        s.agent_key = joined_key;
                    }
                });
                checkpoint.flush()?;
                return Ok(Some(new_arn));
            }
            Err(e) if key.is_some() && is_key_refused(&e) => {
                tracing::warn!(error = %e, "this agent's key was refused: its instance was deregistered or its join token revoked");
                if config.join_token.is_none() {
                    return Err(AgentError::Identity(format!(
                        "the server refused this agent's key ({e}); start it with a new join \
                         token (--join-token) to join as a new instance"
                    )));
                }
                key = None;
                arn = None;
                checkpoint.update(|s| s.agent_key = None);
                continue;
            }
            Err(e) if token.is_some() && !e.is_retriable() => {
                return Err(AgentError::Identity(format!(
                    "joining with the join token failed ({e}); create a new one with \
                     `flotilla token create --cluster {}`",
                    config.cluster
                )));
            }
            Err(e) if !e.is_retriable() && arn.is_some() && key.is_none() => {
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

/// The server no longer accepts the key the call was signed with.
fn is_key_refused(e: &CallError) -> bool {
    match e {
        CallError::Service(err) => {
            err.code.contains("UnrecognizedClient")
                || err.code.contains("InvalidClientTokenId")
                || err.code.contains("AccessDenied")
        }
        CallError::Transport { .. } => false,
    }
}

/// Refusals retrying cannot fix: unknown cluster, bad credentials.
fn is_auth_or_cluster(e: &CallError) -> bool {
    let other = match e {
        CallError::Service(err) => {
            err.code.contains("ClusterNotFound") || err.code.contains("Signature")
        }
        CallError::Transport { .. } => false,
    };
    other || is_key_refused(e)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use flotilla_model::agent_identity::JoinToken;

    use super::*;
    use crate::testutil::FakeApi;

    fn token() -> JoinToken {
        JoinToken {
            token_id: "FJTAAAAAAAAAAAAAAAAA".into(),
            secret: "t".repeat(40),
            ca_fingerprint: None,
        }
    }

    #[tokio::test]
    async fn a_token_is_exchanged_once_for_the_agents_own_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = AgentConfig::new("http://x", "us-east-1", "", "", "default", dir.path());
        config.join_token = Some(token());
        config.probe_host_ports = false;
        let checkpoint = Checkpoint::open(dir.path()).unwrap();
        let api = FakeApi::default();
        let (_tx, mut rx) = watch::channel(false);

        let arn = register(&api, &config, &checkpoint, false, &mut rx)
            .await
            .unwrap()
            .unwrap();
        assert!(arn.ends_with("/joined-1"), "{arn}");
        assert!(api.joins.lock().unwrap()[0]
            .get("containerInstanceArn")
            .is_none());
        let saved = Checkpoint::open(dir.path()).unwrap().snapshot();
        let key = saved.agent_key.clone().expect("the key is checkpointed");
        assert_eq!(saved.container_instance_arn.as_deref(), Some(arn.as_str()));

        // Restarted: it re-registers its instance with its own key, and does not join.
        let arn2 = register(&api, &config, &checkpoint, false, &mut rx)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(arn2, arn);
        assert_eq!(api.joins.lock().unwrap().len(), 1);
        assert_eq!(
            api.registrations.lock().unwrap()[0]["containerInstanceArn"],
            arn.as_str()
        );
        assert_eq!(
            api.keys_used.lock().unwrap().last(),
            Some(&key.access_key_id)
        );

        // Its key revoked: it joins again, as a new instance, with a new key.
        *api.refuse_register.lock().unwrap() = Some("UnrecognizedClientException".into());
        let arn3 = register(&api, &config, &checkpoint, false, &mut rx)
            .await
            .unwrap()
            .unwrap();
        assert!(arn3.ends_with("/joined-2"), "{arn3}");
        let key3 = checkpoint.snapshot().agent_key.unwrap();
        assert_ne!(key3.access_key_id, key.access_key_id);
    }

    #[tokio::test]
    async fn a_revoked_key_without_a_token_stops_the_agent_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = AgentConfig::new("http://x", "us-east-1", "", "", "default", dir.path());
        config.probe_host_ports = false;
        let checkpoint = Checkpoint::open(dir.path()).unwrap();
        checkpoint.update(|s| {
            s.container_instance_arn = Some("arn:i".into());
            s.agent_key = Some(AgentKey {
                access_key_id: "FAKX".into(),
                secret_access_key: "x".repeat(40),
            });
        });
        let api = FakeApi::default();
        *api.refuse_register.lock().unwrap() = Some("UnrecognizedClientException".into());
        let (_tx, mut rx) = watch::channel(false);
        let err = register(&api, &config, &checkpoint, false, &mut rx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--join-token"), "{err}");
    }

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
