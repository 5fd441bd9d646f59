use super::task_definition::{to_task_definition_input, DOCKER_LOG_DIR};
use super::*;
use serde_json::json;

fn scope() -> Scope {
    Scope::new("us-east-1", "123456789012")
}

#[test]
fn names_follow_the_model() {
    assert!(validate_name("log-agent_1").is_ok());
    assert!(validate_name("").is_err());
    assert!(validate_name("a.b").is_err());
    assert!(validate_name(&"a".repeat(256)).is_err());
}

#[test]
fn arns_round_trip() {
    let s = scope();
    let a = arn(&s, "prod", "logs");
    assert_eq!(a, "arn:aws:ecs:us-east-1:123456789012:daemon/prod/logs");
    assert_eq!(
        parse_arn(&a, "daemon", &s).unwrap(),
        ("prod".into(), "logs".into(), String::new())
    );
    let d = deployment_arn(&s, "prod", "logs", "abc");
    assert_eq!(parse_arn(&d, "daemon-deployment", &s).unwrap().2, "abc");
    assert!(parse_arn(&d, "daemon", &s).is_err());
    assert!(parse_arn("logs", "daemon", &s).is_err());
}

#[test]
fn drain_percent_bounds_and_at_once() {
    let c = DeploymentConfiguration::default();
    assert_eq!(c.at_once(2), 1);
    assert_eq!(c.at_once(8), 2);
    let zero = DeploymentConfigurationInput {
        drain_percent: Some(0.0),
        ..Default::default()
    };
    assert_eq!(c.merged(&zero).unwrap().at_once(10), 1);
    let bad = DeploymentConfigurationInput {
        drain_percent: Some(100.5),
        ..Default::default()
    };
    assert!(c.merged(&bad).is_err());
}

#[test]
fn daemon_task_definition_is_a_task_definition_subset() {
    let body = json!({
        "family": "agent",
        "pidMode": "shared",
        "containerDefinitions": [{
            "name": "a", "image": "busybox", "memory": 64,
            "portMappings": [{"containerPort": 80}],
            "linuxParameters": {"initProcessEnabled": true, "sharedMemorySize": 64}
        }],
        "volumes": [{"name": "logs", "logDriverVolumeConfiguration": {"driver": "json-file"}}],
        "tags": [{"key": "k", "value": "v"}]
    });
    let (input, extras) = to_task_definition_input(&body).unwrap();
    assert_eq!(input["pidMode"], "host");
    assert!(input["containerDefinitions"][0]
        .get("portMappings")
        .is_none());
    assert!(input["containerDefinitions"][0]["linuxParameters"]
        .get("sharedMemorySize")
        .is_none());
    assert_eq!(input["volumes"][0]["host"]["sourcePath"], DOCKER_LOG_DIR);
    assert_eq!(extras.pid_mode.as_deref(), Some("shared"));
    assert_eq!(extras.tags.len(), 1);
    let bad = json!({"family": "a", "ipcMode": "host", "containerDefinitions": []});
    assert!(to_task_definition_input(&bad).is_err());
}

#[test]
fn a_new_deployment_stops_the_moving_one_and_keeps_named_revisions() {
    let now = Utc::now();
    let rev = |id: &str| Revision {
        id: id.into(),
        daemon_task_definition_arn: "td".into(),
        capacity_providers: vec![],
        container_images: vec![],
        propagate_tags: None,
        enable_ecs_managed_tags: false,
        enable_execute_command: false,
        critical: true,
        created_at: now,
    };
    let mut d = DaemonRecord {
        daemon_arn: "a".into(),
        daemon_name: "d".into(),
        cluster_arn: "c".into(),
        status: DaemonStatus::Active,
        deployment_configuration: DeploymentConfiguration::default(),
        tags: vec![],
        client_token: None,
        revisions: vec![],
        deployments: vec![],
        created_at: now,
        updated_at: now,
    };
    let c = DeploymentConfiguration::default();
    d.start(
        Some(rev("r0")),
        Deployment::new("d0".into(), Some("r0".into()), vec![], c.clone(), now),
        now,
    );
    for i in 1..30 {
        let (r, prev) = (format!("r{i}"), format!("r{}", i - 1));
        d.start(
            Some(rev(&r)),
            Deployment::new(format!("d{i}"), Some(r.clone()), vec![prev], c.clone(), now),
            now,
        );
    }
    assert_eq!(d.deployments.len(), KEPT_DEPLOYMENTS);
    assert_eq!(d.deployments[0].status, DeploymentStatus::Stopped);
    assert_eq!(d.target().unwrap().id, "r29");
    assert!(d.revisions.iter().all(
        |r| d
            .deployments
            .iter()
            .any(|x| x.target_revision.as_deref() == Some(&r.id)
                || x.source_revisions.contains(&r.id))
    ));
}
