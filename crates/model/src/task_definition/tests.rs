//! Tests of the task definition module: a realistic definition end to end, AWS's defaults,
//! the wire shapes (botocore's example, type mismatches, timestamps), CPU and memory
//! parsing, the Fargate size table, and a property test that validation never panics.
//! One test per validation rule lives in `tests/validate_*.rs`.

mod support;
mod validate_containers;
mod validate_network;
mod validate_task;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::error::ErrorKind;

/// A realistic Fargate web service: nginx behind a health check with a log router-free
/// awslogs configuration, an init container it waits for, and an EFS volume.
pub(super) fn fargate_web() -> RegisterTaskDefinitionInput {
    serde_json::from_value(json!({
        "family": "web",
        "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "0.5 vCPU",
        "memory": "1 GB",
        "containerDefinitions": [
            {
                "name": "web",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
                "memoryReservation": 512,
                "portMappings": [{"containerPort": 8080, "name": "http", "appProtocol": "http"}],
                "environment": [{"name": "PORT", "value": "8080"}],
                "secrets": [{"name": "DB_PASSWORD",
                             "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}],
                "mountPoints": [{"sourceVolume": "assets", "containerPath": "/srv/assets"}],
                "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"]},
                "dependsOn": [{"containerName": "migrate", "condition": "SUCCESS"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "web"}}
            },
            {
                "name": "migrate",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
                "essential": false,
                "command": ["./migrate"],
                "cpu": 128
            }
        ],
        "volumes": [{"name": "assets", "efsVolumeConfiguration": {"fileSystemId": "fs-1234"}}],
        "tags": [{"key": "team", "value": "web"}]
    }))
    .expect("the fixture deserialises")
}

/// A plain EC2 definition in bridge mode: one container, memory at the container level.
pub(super) fn ec2_basic() -> RegisterTaskDefinitionInput {
    serde_json::from_value(json!({
        "family": "basic",
        "containerDefinitions": [{
            "name": "web", "image": "nginx:1.27", "memory": 256,
            "portMappings": [{"containerPort": 80}]
        }]
    }))
    .expect("the fixture deserialises")
}

fn registered_at() -> chrono::DateTime<Utc> {
    Utc.timestamp_millis_opt(1_718_000_000_123)
        .single()
        .expect("a valid instant")
}

fn register(input: RegisterTaskDefinitionInput) -> TaskDefinition {
    validate(&input).expect("the definition is valid");
    let arn = format!(
        "arn:aws:ecs:us-east-1:123456789012:task-definition/{}:1",
        input.family
    );
    TaskDefinition::from_input(
        input,
        arn,
        1,
        registered_at(),
        Some("arn:aws:iam::123456789012:root".into()),
    )
}

#[test]
fn realistic_fargate_definition_registers_with_aws_defaults() {
    let td = register(fargate_web());
    assert_eq!(td.cpu.as_deref(), Some("512"));
    assert_eq!(td.memory.as_deref(), Some("1024"));
    assert_eq!(td.status, TaskDefinitionStatus::Active);
    assert_eq!(td.compatibilities, ["EC2", "FARGATE"]);
    assert_eq!(td.requires_compatibilities, ["FARGATE"]);
    assert_eq!(td.enable_fault_injection, Some(false));
    assert_eq!(td.family_revision(), "web:1");

    let web = &td.container_definitions[0];
    assert_eq!(web.essential, Some(true));
    assert_eq!(web.cpu, Some(0));
    let pm = &web.port_mappings[0];
    assert_eq!(
        (pm.container_port, pm.host_port, pm.protocol.as_deref()),
        (Some(8080), Some(8080), Some("tcp"))
    );
    let hc = web.health_check.as_ref().expect("health check kept");
    assert_eq!(
        (hc.interval, hc.timeout, hc.retries, hc.start_period),
        (Some(30), Some(5), Some(3), None)
    );
    let migrate = &td.container_definitions[1];
    assert_eq!((migrate.essential, migrate.cpu), (Some(false), Some(128)));

    let names: Vec<&str> = td
        .requires_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    for expected in [
        "com.amazonaws.ecs.capability.task-iam-role",
        "ecs.capability.task-eni",
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        "ecs.capability.execution-role-awslogs",
        "ecs.capability.container-health-check",
        "ecs.capability.container-ordering",
        "ecs.capability.execution-role-ecr-pull",
        "ecs.capability.secrets.asm.environment-variables",
        "ecs.capability.efs",
    ] {
        assert!(names.contains(&expected), "missing {expected} in {names:?}");
    }
}

#[test]
fn described_json_has_aws_shape() {
    let v = serde_json::to_value(register(fargate_web())).expect("serialises");
    assert_eq!(v["registeredAt"], json!(1_718_000_000.123));
    assert_eq!(v["status"], "ACTIVE");
    assert_eq!(v["revision"], 1);
    assert!(
        v.get("tags").is_none(),
        "tags are not part of a task definition"
    );
    assert!(v.get("deregisteredAt").is_none());
    let migrate = &v["containerDefinitions"][1];
    for always in [
        "portMappings",
        "environment",
        "mountPoints",
        "volumesFrom",
        "systemControls",
    ] {
        assert_eq!(migrate[always], json!([]), "{always} is always present");
    }
    assert!(migrate.get("links").is_none() && migrate.get("secrets").is_none());
    assert_eq!(v["placementConstraints"], json!([]));
    assert_eq!(
        v["volumes"][0]["efsVolumeConfiguration"]["fileSystemId"],
        "fs-1234"
    );
}

#[test]
fn stored_definition_round_trips_through_json() {
    let td = register(fargate_web());
    let text = serde_json::to_string(&td).expect("serialises");
    let back: TaskDefinition = serde_json::from_str(&text).expect("deserialises");
    assert_eq!(back, td);
}

#[test]
fn ec2_bridge_defaults() {
    let mut input = ec2_basic();
    input.task_role_arn = Some(String::new());
    input.volumes = vec![Volume {
        name: Some("scratch".into()),
        ..Volume::default()
    }];
    let td = register(input);
    assert_eq!(td.network_mode, None, "AWS does not fill in networkMode");
    assert_eq!(td.effective_network_mode(), "bridge");
    assert_eq!(td.task_role_arn, None, "an empty role ARN is dropped");
    assert_eq!(td.compatibilities, ["EXTERNAL", "EC2"]);
    let pm = &td.container_definitions[0].port_mappings[0];
    assert_eq!(
        (pm.host_port, pm.protocol.as_deref()),
        (Some(0), Some("tcp"))
    );
    assert_eq!(td.volumes[0].host, Some(HostVolumeProperties::default()));
    assert!(td.requires_attributes.is_empty());
}

#[test]
fn awsvpc_definition_that_fits_fargate_is_fargate_compatible() {
    let mut input = ec2_basic();
    input.network_mode = Some("awsvpc".into());
    input.cpu = Some("256".into());
    input.memory = Some("512".into());
    assert_eq!(compatibilities(&input), ["EC2", "FARGATE"]);
    input.memory = Some("3072".into());
    assert_eq!(compatibilities(&input), ["EC2"]);
}

#[test]
fn botocore_example_deserialises_and_registers_like_aws() {
    let input: RegisterTaskDefinitionInput = serde_json::from_value(json!({
        "containerDefinitions": [{"name": "sleep", "command": ["sleep", "360"], "cpu": 10,
                                   "essential": true, "image": "busybox", "memory": 10}],
        "family": "sleep360", "taskRoleArn": "", "volumes": []
    }))
    .expect("botocore's example deserialises");
    let v = serde_json::to_value(register(input)).expect("serialises");
    let expected = json!({"name": "sleep", "command": ["sleep", "360"], "cpu": 10,
        "environment": [], "essential": true, "image": "busybox", "memory": 10,
        "mountPoints": [], "portMappings": [], "volumesFrom": [], "systemControls": []});
    assert_eq!(v["containerDefinitions"][0], expected);
    assert_eq!(v["family"], "sleep360");
    assert_eq!(v["volumes"], json!([]));
    assert!(v.get("taskRoleArn").is_none());
}

#[test]
fn type_mismatches_fail_deserialisation_and_unknown_fields_are_ignored() {
    let bad = [
        json!({"family": "f", "cpu": 256, "containerDefinitions": []}),
        json!({"family": "f", "containerDefinitions": [{"name": "a", "memory": "512"}]}),
        json!({"family": "f", "containerDefinitions": {"name": "a"}}),
        json!({"family": 7, "containerDefinitions": []}),
        json!({"family": "f", "containerDefinitions": [{"portMappings": [{"containerPort": 1e12}]}]}),
    ];
    for body in bad {
        assert!(
            serde_json::from_value::<RegisterTaskDefinitionInput>(body.clone()).is_err(),
            "{body}"
        );
    }
    let ok: RegisterTaskDefinitionInput = serde_json::from_value(json!({
        "family": "f", "somethingNew": {"x": 1},
        "containerDefinitions": [{"name": "a", "links": null, "futureField": true}]
    }))
    .expect("unknown members and null lists are accepted");
    assert!(ok.container_definitions[0].links.is_empty());
}

#[test]
fn wire_names_follow_botocore() {
    let v: Volume = serde_json::from_value(json!({"name": "s",
        "s3filesVolumeConfiguration": {"fileSystemArn": "arn:x"}}))
    .expect("deserialises");
    assert!(v.s3files_volume_configuration.is_some());
    let es: EphemeralStorage =
        serde_json::from_value(json!({"sizeInGiB": 30})).expect("deserialises");
    assert_eq!(es.size_in_gib, 30);
    let rr = serde_json::to_value(ResourceRequirement {
        kind: "GPU".into(),
        value: Some("1".into()),
        sharing_strategy: None,
    })
    .expect("serialises");
    assert_eq!(rr, json!({"type": "GPU", "value": "1"}));
    let status = serde_json::to_value(TaskDefinitionStatus::DeleteInProgress).expect("serialises");
    assert_eq!(status, "DELETE_IN_PROGRESS");
}

#[test]
fn timestamps_read_integers_and_fractions() {
    let td: TaskDefinition = serde_json::from_value(json!({"registeredAt": 1_700_000_000,
        "deregisteredAt": 1_700_000_001.5}))
    .expect("deserialises");
    assert_eq!(td.registered_at.map(|t| t.timestamp()), Some(1_700_000_000));
    assert_eq!(
        td.deregistered_at.map(|t| t.timestamp_millis()),
        Some(1_700_000_001_500)
    );
    assert!(
        serde_json::from_value::<TaskDefinition>(json!({"registeredAt": "yesterday"})).is_err()
    );
    assert!(serde_json::from_value::<TaskDefinition>(json!({"registeredAt": 1e300})).is_err());
}

#[test]
fn cpu_strings_normalise_to_units() {
    for (raw, units) in [
        ("256", "256"),
        ("1024", "1024"),
        ("1 vCPU", "1024"),
        ("1vcpu", "1024"),
        ("0.25 vCPU", "256"),
        (".5 vcpu", "512"),
        (" 2 VCPU ", "2048"),
        ("16 vCPU", "16384"),
        ("0.125 vCPU", "128"),
    ] {
        assert_eq!(normalize_cpu(raw).as_deref(), Ok(units), "{raw}");
    }
    for raw in [
        "",
        "abc",
        "1.5",
        "-256",
        "0.1 vCPU",
        "1 cpu",
        "1e3",
        "1 vCPU extra",
        "99999999999999999999",
    ] {
        let err = normalize_cpu(raw).expect_err(raw);
        assert_eq!(err.kind, ErrorKind::Client);
        assert!(
            err.message.starts_with("Invalid 'cpu' setting for task."),
            "{}",
            err.message
        );
    }
}

#[test]
fn memory_strings_normalise_to_mib() {
    for (raw, mib) in [
        ("512", "512"),
        ("2048", "2048"),
        ("1 GB", "1024"),
        ("1GB", "1024"),
        ("0.5GB", "512"),
        ("2 gb", "2048"),
        ("2GiB", "2048"),
        ("512 MiB", "512"),
        ("0.25 GB", "256"),
        ("120 GB", "122880"),
    ] {
        assert_eq!(normalize_memory(raw).as_deref(), Ok(mib), "{raw}");
    }
    for raw in ["", "GB", "1.5", "0.0001 GB", "1 TB", "-1 GB", "1.5 MiB"] {
        let err = normalize_memory(raw).expect_err(raw);
        assert_eq!(err.kind, ErrorKind::Client);
        assert!(
            err.message
                .starts_with("Invalid 'memory' setting for task."),
            "{}",
            err.message
        );
    }
}

#[test]
fn fargate_size_table() {
    assert_eq!(fargate_memory_values(256), [512, 1024, 2048]);
    assert_eq!(fargate_memory_values(512), [1024, 2048, 3072, 4096]);
    assert_eq!(
        fargate_memory_values(1024),
        [2048, 3072, 4096, 5120, 6144, 7168, 8192]
    );
    assert_eq!(
        fargate_memory_values(2048),
        (4..=16).map(|g| g * 1024).collect::<Vec<_>>()
    );
    assert_eq!(
        fargate_memory_values(4096),
        (8..=30).map(|g| g * 1024).collect::<Vec<_>>()
    );
    assert_eq!(
        fargate_memory_values(8192),
        (4..=15).map(|g| g * 4096).collect::<Vec<_>>()
    );
    assert_eq!(
        fargate_memory_values(16384),
        (4..=15).map(|g| g * 8192).collect::<Vec<_>>()
    );
    assert!(fargate_memory_values(128).is_empty() && fargate_memory_values(3072).is_empty());
    assert!(is_valid_fargate_size(256, 512) && !is_valid_fargate_size(256, 1536));
    assert!(is_valid_fargate_size(8192, 61440) && !is_valid_fargate_size(8192, 60416));
    assert!(is_valid_fargate_size(16384, 122880) && !is_valid_fargate_size(16384, 36864));
}

/// Mostly-valid definitions with occasional bad values, so both the accepting and the
/// rejecting paths are exercised.
fn arbitrary_input() -> impl Strategy<Value = RegisterTaskDefinitionInput> {
    fn mostly<T: Clone + std::fmt::Debug + 'static>(good: T, bad: Vec<T>) -> BoxedStrategy<T> {
        prop_oneof![6 => Just(good), 1 => prop::sample::select(bad)].boxed()
    }
    let port = prop_oneof![6 => 1..65536i32, 1 => -5..70_000i32];
    let mapping = (
        prop_oneof![6 => port.clone().prop_map(Some), 1 => Just(None)],
        prop_oneof![4 => Just(None), 1 => prop::option::of(port)],
        mostly(None, vec![Some("udp"), Some("sctp"), Some("tcp")]),
        mostly(
            None,
            vec![Some("1-10"), Some("10-1"), Some("8000-8001"), Some("x")],
        ),
    )
        .prop_map(|(c, h, p, r)| PortMapping {
            container_port: c,
            host_port: h,
            protocol: p.map(String::from),
            container_port_range: r.map(String::from),
            ..PortMapping::default()
        });
    let dep = (
        0..4usize,
        prop::sample::select(vec!["START", "HEALTHY", "SUCCESS", "NOPE"]),
    )
        .prop_map(|(n, c)| ContainerDependency {
            container_name: format!("c{n}"),
            condition: c.into(),
        });
    let container = (
        mostly(None, vec![Some(""), Some("bad name")]),
        mostly(Some("nginx"), vec![None, Some(""), Some("a@sha256:00")]),
        prop_oneof![6 => (6..600i32).prop_map(Some), 1 => prop::option::of(-10..10i32)],
        mostly(None, vec![Some(-1), Some(6), Some(64), Some(700)]),
        mostly(None, vec![Some(-5), Some(0), Some(128), Some(3000)]),
        mostly(None, vec![Some(false), Some(true)]),
        prop::collection::vec(mapping, 0..3),
        prop_oneof![4 => Just(vec![]), 1 => prop::collection::vec(dep, 1..3)],
        mostly(
            None,
            vec![Some(vec!["CMD", "true"]), Some(vec!["CMD"]), Some(vec![])],
        ),
    )
        .prop_map(
            |(n, image, memory, reservation, cpu, essential, ports, deps, hc)| {
                ContainerDefinition {
                    name: n.map(String::from),
                    image: image.map(String::from),
                    memory,
                    memory_reservation: reservation,
                    cpu,
                    essential,
                    port_mappings: ports,
                    depends_on: deps,
                    health_check: hc.map(|cmd| HealthCheck {
                        command: cmd.into_iter().map(String::from).collect(),
                        ..HealthCheck::default()
                    }),
                    ..ContainerDefinition::default()
                }
            },
        );
    let size = |good: Vec<&'static str>| {
        prop_oneof![3 => Just(None), 2 => prop::option::of(prop::sample::select(good)),
            1 => prop::option::of(prop::sample::select(vec!["abc", "", "0.1 vCPU", "1 TB"]))]
    };
    (
        mostly("web", vec!["", "a b", "x-1_2"]),
        prop_oneof![6 => prop::collection::vec(container.clone(), 1..4),
            1 => prop::collection::vec(container, 0..12)],
        mostly(
            None,
            vec![
                Some("bridge"),
                Some("awsvpc"),
                Some("host"),
                Some("none"),
                Some("mesh"),
            ],
        ),
        size(vec!["256", "0.25 vCPU", "1024", "16 vCPU"]),
        size(vec!["512", "1 GB", "2048", "120GB"]),
        mostly(
            vec![],
            vec![vec!["FARGATE"], vec!["EC2"], vec!["EXTERNAL"], vec!["MOON"]],
        ),
    )
        .prop_map(|(family, mut containers, mode, cpu, memory, compat)| {
            for (i, c) in containers.iter_mut().enumerate() {
                c.name.get_or_insert_with(|| format!("c{i}"));
            }
            RegisterTaskDefinitionInput {
                family: family.into(),
                container_definitions: containers,
                network_mode: mode.map(String::from),
                cpu: cpu.map(String::from),
                memory: memory.map(String::from),
                requires_compatibilities: compat.into_iter().map(String::from).collect(),
                ..RegisterTaskDefinitionInput::default()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn validation_never_panics_and_accepted_definitions_round_trip(input in arbitrary_input()) {
        if validate(&input).is_ok() {
            let td = TaskDefinition::from_input(input, "arn".into(), 1, registered_at(), None);
            let text = serde_json::to_string(&td).expect("serialises");
            let back: TaskDefinition = serde_json::from_str(&text).expect("deserialises");
            prop_assert_eq!(back, td);
        }
    }

    #[test]
    fn whole_units_parse_in_every_notation(n in 1u32..200_000, vcpus in 1u32..192) {
        prop_assert_eq!(parse_memory(&n.to_string()), Some(n));
        prop_assert_eq!(parse_cpu(&n.to_string()), Some(n));
        prop_assert_eq!(parse_cpu(&format!("{vcpus} vCPU")), Some(vcpus * 1024));
        prop_assert_eq!(parse_memory(&format!("{vcpus} GB")), Some(vcpus * 1024));
    }
}
