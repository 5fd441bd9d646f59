use std::time::Duration;

use flotilla_runtime::{NetworkMode, Protocol};
use serde_json::json;

use super::*;
use crate::testutil::{definition, desired};

fn web() -> TaskDefinition {
    definition(json!({
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3",
        "family": "web",
        "revision": 3,
        "cpu": "512",
        "containerDefinitions": [{
            "name": "app",
            "image": "nginx:1.27",
            "cpu": 256,
            "memory": 512,
            "memoryReservation": 256,
            "essential": true,
            "entryPoint": ["/docker-entrypoint.sh"],
            "command": ["nginx", "-g", "daemon off;"],
            "environment": [{"name": "MODE", "value": "prod"}, {"name": "LOG", "value": "info"}],
            "workingDirectory": "/srv",
            "user": "101:101",
            "dockerLabels": {"team": "web", "com.amazonaws.ecs.task-arn": "spoofed"},
            "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
            "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}, {"containerPort": 53, "hostPort": 5353, "protocol": "udp"}],
            "healthCheck": {"command": ["CMD-SHELL", "wget -q -O- localhost || exit 1"], "interval": 10, "retries": 2},
            "stopTimeout": 5,
            "hostname": "web1",
            "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.5"}],
            "privileged": false,
            "readonlyRootFilesystem": true,
            "linuxParameters": {"initProcessEnabled": true}
        }, {
            "name": "tiny",
            "image": "busybox"
        }]
    }))
}

/// The resolver the agent gives containers in these tests.
const AGENT_DNS: &str = "172.17.0.1";

fn context(
    def: &TaskDefinition,
    overrides: serde_json::Value,
) -> (SpecContext, Vec<ContainerDefinition>) {
    let mut t = desired("arn:aws:ecs:us-east-1:000000000000:task/default/abc", def);
    t.task.overrides = overrides;
    let ctx = SpecContext::new(&t.task, def, "arn:instance/1", "d1r", &[AGENT_DNS.into()]);
    (ctx, effective_containers(def, &spec::overrides(&t.task)))
}

use crate::spec;

#[test]
fn a_web_container_with_overrides_becomes_a_docker_spec() {
    let def = web();
    let (ctx, containers) = context(
        &def,
        json!({"containerOverrides": [{"name": "app", "command": ["nginx", "-T"],
            "environment": [{"name": "LOG", "value": "debug"}, {"name": "EXTRA", "value": "1"}],
            "memory": 768}]}),
    );
    let name = ctx.container_name("app");
    assert!(name.starts_with("ecs-web-3-app-"), "{name}");
    let s = ctx.container_spec(&containers[0], name.clone()).unwrap();
    assert_eq!(s.name, name);
    assert_eq!(s.image, "nginx:1.27");
    assert_eq!(
        s.entrypoint,
        Some(vec!["/docker-entrypoint.sh".to_string()])
    );
    assert_eq!(s.command, Some(vec!["nginx".to_string(), "-T".to_string()]));
    assert_eq!(s.env.get("MODE").map(String::as_str), Some("prod"));
    assert_eq!(s.env.get("LOG").map(String::as_str), Some("debug"));
    assert_eq!(s.env.get("EXTRA").map(String::as_str), Some("1"));
    assert_eq!(s.working_dir.as_deref(), Some("/srv"));
    assert_eq!(s.user.as_deref(), Some("101:101"));
    assert_eq!(s.labels["team"], "web");
    assert_eq!(
        s.labels[LABEL_TASK_ARN],
        "arn:aws:ecs:us-east-1:000000000000:task/default/abc"
    );
    assert_eq!(s.labels[LABEL_CONTAINER_NAME], "app");
    assert_eq!(
        s.labels[LABEL_CLUSTER],
        "arn:aws:ecs:us-east-1:000000000000:cluster/default"
    );
    assert_eq!(s.labels[LABEL_FAMILY], "web");
    assert_eq!(s.labels[LABEL_VERSION], "3");
    assert_eq!(s.labels[LABEL_INSTANCE], "arn:instance/1");
    assert_eq!(s.labels[LABEL_DATA_DIR], "d1r");
    assert_eq!(
        s.ulimits,
        vec![Ulimit {
            name: "nofile".into(),
            soft: 1024,
            hard: 4096
        }]
    );
    assert_eq!(s.cpu_shares, Some(256));
    assert_eq!(s.cpu_quota, Some(50_000));
    assert_eq!(s.memory_bytes, Some(768 * 1024 * 1024));
    assert_eq!(s.memory_reservation_bytes, Some(256 * 1024 * 1024));
    assert_eq!(s.network, Some(NetworkMode::Bridge));
    assert_eq!(s.ports.len(), 2);
    assert_eq!(
        (
            s.ports[0].container_port,
            s.ports[0].host_port,
            s.ports[0].protocol
        ),
        (80, 0, Protocol::Tcp)
    );
    assert_eq!(
        (
            s.ports[1].container_port,
            s.ports[1].host_port,
            s.ports[1].protocol
        ),
        (53, 5353, Protocol::Udp)
    );
    let hc = s.health_check.unwrap();
    assert_eq!(
        hc.test,
        vec![
            "CMD-SHELL".to_string(),
            "wget -q -O- localhost || exit 1".to_string()
        ]
    );
    assert_eq!(
        (hc.interval, hc.timeout, hc.retries, hc.start_period),
        (
            Duration::from_secs(10),
            Duration::from_secs(5),
            2,
            Duration::ZERO
        )
    );
    assert_eq!(s.stop_timeout, Some(Duration::from_secs(5)));
    assert_eq!(s.hostname.as_deref(), Some("web1"));
    assert_eq!(s.extra_hosts, vec!["db:10.0.0.5".to_string()]);
    assert!(!s.privileged && s.read_only_root && s.init);

    // Defaults: no cpu → no shares; the task's memory is not set; stop timeout 30 s.
    let tiny = ctx.container_spec(&containers[1], "t".into()).unwrap();
    assert_eq!(
        (tiny.cpu_shares, tiny.memory_bytes, tiny.command.clone()),
        (None, None, None)
    );
    assert_eq!(tiny.stop_timeout, Some(Duration::from_secs(30)));
    assert!(tiny.health_check.is_none());
}

#[test]
fn task_level_overrides_and_limits() {
    let mut def = web();
    def.memory = Some("1 GB".into());
    let (ctx, containers) = context(&def, json!({"cpu": "1 vCPU", "memory": "2048"}));
    assert_eq!((ctx.task_cpu, ctx.task_memory), (Some(1024), Some(2048)));
    let tiny = ctx.container_spec(&containers[1], "t".into()).unwrap();
    assert_eq!(tiny.cpu_quota, Some(100_000));
    assert_eq!(tiny.memory_bytes, Some(2048 * 1024 * 1024));
    // Unreadable overrides are ignored, not fatal.
    let (ctx, _) = context(&def, json!({"containerOverrides": "nonsense"}));
    assert_eq!(ctx.task_memory, Some(1024));
}

#[test]
fn host_and_none_modes_publish_nothing() {
    let mut def = web();
    def.network_mode = Some("host".into());
    let (ctx, c) = context(&def, serde_json::Value::Null);
    let s = ctx.container_spec(&c[0], "x".into()).unwrap();
    assert_eq!((s.network, s.ports.len()), (Some(NetworkMode::Host), 0));
    def.network_mode = Some("none".into());
    let (ctx, c) = context(&def, serde_json::Value::Null);
    let s = ctx.container_spec(&c[0], "x".into()).unwrap();
    assert_eq!((s.network, s.ports.len()), (Some(NetworkMode::None), 0));
}

#[test]
fn awsvpc_containers_join_the_pause_container() {
    let mut def = web();
    def.network_mode = Some("awsvpc".into());
    let (mut ctx, c) = context(&def, serde_json::Value::Null);
    let pause = ctx.pause_spec(&c, "flotilla/pause:latest", "flotilla-awsvpc", None);
    assert_eq!(
        pause.network,
        Some(NetworkMode::Network {
            name: "flotilla-awsvpc".into(),
            ipv4: None
        })
    );
    assert_eq!(pause.labels[LABEL_CONTAINER_NAME], PAUSE_NAME);
    assert_eq!(pause.extra_hosts, vec!["db:10.0.0.5".to_string()]);
    assert_eq!(pause.hostname.as_deref(), Some("web1"));
    ctx.pause_id = Some("pause1".into());
    let s = ctx.container_spec(&c[0], "x".into()).unwrap();
    assert_eq!(s.network, Some(NetworkMode::Container("pause1".into())));
    assert!(s.ports.is_empty() && s.hostname.is_none() && s.extra_hosts.is_empty());
}

#[test]
fn containers_resolve_through_the_agents_resolver_unless_they_name_their_own() {
    let mut def = web();
    def.container_definitions[1].dns_servers = vec!["10.0.0.2".into()];
    def.container_definitions[1].dns_search_domains = vec!["svc.local".into()];
    let (ctx, c) = context(&def, serde_json::Value::Null);
    let s = ctx.container_spec(&c[0], "x".into()).unwrap();
    assert_eq!((s.dns, s.dns_search), (vec![AGENT_DNS.to_string()], vec![]));
    let s = ctx.container_spec(&c[1], "y".into()).unwrap();
    assert_eq!(
        (s.dns, s.dns_search),
        (vec!["10.0.0.2".to_string()], vec!["svc.local".to_string()])
    );

    // Docker refuses resolvers on the host's network and on another container's: an
    // awsvpc task's go on its pause container.
    def.network_mode = Some("host".into());
    let (ctx, c) = context(&def, serde_json::Value::Null);
    assert!(ctx
        .container_spec(&c[0], "x".into())
        .unwrap()
        .dns
        .is_empty());
    def.network_mode = Some("awsvpc".into());
    let (mut ctx, c) = context(&def, serde_json::Value::Null);
    let pause = ctx.pause_spec(&c, "flotilla/pause:latest", "flotilla-awsvpc", None);
    assert_eq!(pause.dns, vec![AGENT_DNS.to_string()]);
    ctx.pause_id = Some("pause1".into());
    assert!(ctx
        .container_spec(&c[0], "x".into())
        .unwrap()
        .dns
        .is_empty());
}

#[test]
fn links_and_volumes_from_name_the_runtime_containers() {
    let def = definition(json!({
        "family": "l", "revision": 1,
        "containerDefinitions": [
            {"name": "db", "image": "busybox"},
            {"name": "app", "image": "busybox", "links": ["db", "db:database"],
             "volumesFrom": [{"sourceContainer": "db", "readOnly": true}],
             "interactive": true, "pseudoTerminal": true}
        ]
    }));
    let (mut ctx, c) = context(&def, serde_json::Value::Null);
    assert!(
        ctx.container_spec(&c[1], "x".into()).is_err(),
        "db not created yet"
    );
    ctx.peers.insert("db".into(), "abc123".into());
    let s = ctx.container_spec(&c[1], "x".into()).unwrap();
    assert_eq!(s.links, ["abc123:db", "abc123:database"]);
    assert_eq!(s.volumes_from[0].container, "abc123");
    assert!(s.volumes_from[0].read_only);
    assert!(s.interactive && s.tty);
    assert!(!ctx.needs_pause());
}
