//! Validation tests for the task-level rules: size, family, container count and names,
//! images, essential containers, CPU and memory, enumerations, placement, tags, storage.

use serde_json::json;

use super::support::*;
use super::{ec2_basic, fargate_web};
use crate::error::ErrorKind;
use crate::task_definition::*;

#[test]
fn fixtures_are_valid() {
    passes(ec2_basic(), |_| {});
    passes(fargate_web(), |_| {});
}

#[test]
fn request_size_limit() {
    assert!(validate_size(65536).is_ok());
    let err = validate_size(66420).expect_err("over the limit");
    expect(
        ErrorKind::Client,
        err,
        &["Actual length: '66420'. Max allowed length is '65536' bytes."],
    );
}

#[test]
fn family_rules() {
    client(
        ec2_basic(),
        |i| i.family.clear(),
        &["Family should not be null or empty."],
    );
    client(
        ec2_basic(),
        |i| i.family = "my app".into(),
        &["Family 'my app'", "letters"],
    );
    client(ec2_basic(), |i| i.family = "a".repeat(256), &["too long"]);
    passes(ec2_basic(), |i| i.family = "A_b-9".repeat(51));
}

#[test]
fn container_count() {
    client(
        ec2_basic(),
        |i| i.container_definitions.clear(),
        &["Container list cannot be empty."],
    );
    client(
        ec2_basic(),
        |i| {
            i.container_definitions = (0..11)
                .map(|n| {
                    container(json!({"name": format!("c{n}"), "image": "busybox", "memory": 8}))
                })
                .collect();
        },
        &["11 given", "at most 10"],
    );
}

#[test]
fn container_names() {
    client(
        ec2_basic(),
        |i| web(i).name = None,
        &[
            "Container.name should not be null or empty",
            "containerDefinitions[0]",
        ],
    );
    client(
        ec2_basic(),
        |i| web(i).name = Some("web.1".into()),
        &["Invalid container name 'web.1'"],
    );
    client(
        ec2_basic(),
        |i| {
            let dup = i.container_definitions[0].clone();
            i.container_definitions.push(ContainerDefinition {
                port_mappings: vec![],
                ..dup
            });
        },
        &["Duplicate container name 'web'"],
    );
}

#[test]
fn images() {
    client(
        ec2_basic(),
        |i| web(i).image = None,
        &["Container.image should not be null or empty", "'web'"],
    );
    client(
        ec2_basic(),
        |i| web(i).image = Some("  ".into()),
        &["Container.image should not be null or empty"],
    );
    client(
        ec2_basic(),
        |i| web(i).image = Some("nginx latest".into()),
        &["Container 'web'", "invalid characters"],
    );
    client(
        ec2_basic(),
        |i| web(i).image = Some("nginx@sha256:abc".into()),
        &["digest", "64 hexadecimal"],
    );
    client(
        ec2_basic(),
        |i| web(i).image = Some("a".repeat(256)),
        &["longer than 255"],
    );
    passes(ec2_basic(), |i| {
        web(i).image = Some(format!("{}@sha256:{}", "r".repeat(255), "a".repeat(64)))
    });
    passes(ec2_basic(), |i| {
        web(i).image = Some("localhost:5000/team/app:v1.2#x".into())
    });
}

#[test]
fn at_least_one_essential_container() {
    client(
        ec2_basic(),
        |i| web(i).essential = Some(false),
        &["Task definition doesn't have any essential container."],
    );
}

#[test]
fn task_cpu_and_memory_strings() {
    client(
        ec2_basic(),
        |i| i.cpu = Some("lots".into()),
        &["Invalid 'cpu' setting for task.", "'lots'"],
    );
    client(
        ec2_basic(),
        |i| i.cpu = Some("64".into()),
        &["Invalid 'cpu' setting for task.", "between 128"],
    );
    client(
        ec2_basic(),
        |i| i.cpu = Some("200 vCPU".into()),
        &["between 128"],
    );
    client(
        ec2_basic(),
        |i| i.memory = Some("1 TB".into()),
        &["Invalid 'memory' setting for task."],
    );
    client(
        ec2_basic(),
        |i| i.memory = Some("4".into()),
        &["Invalid 'memory' setting for task.", "at least 6 MiB"],
    );
    passes(ec2_basic(), |i| {
        i.cpu = Some("3 vCPU".into());
        i.memory = Some("1.5 GB".into());
    });
}

#[test]
fn container_memory_rules() {
    client(ec2_basic(), |i| web(i).memory = None,
        &["Invalid setting for container 'web'. At least one of 'memory' or 'memoryReservation' must be specified"]);
    passes(ec2_basic(), |i| {
        web(i).memory = None;
        i.memory = Some("512".into());
    });
    passes(ec2_basic(), |i| {
        web(i).memory = None;
        web(i).memory_reservation = Some(64);
    });
    client(
        ec2_basic(),
        |i| web(i).memory = Some(4),
        &[
            "Invalid 'memory' setting for container 'web'",
            "at least 6 MiB",
        ],
    );
    client(
        ec2_basic(),
        |i| web(i).memory_reservation = Some(512),
        &["'memoryReservation' (512 MiB) must not be greater than 'memory' (256 MiB)"],
    );
    client(
        ec2_basic(),
        |i| i.memory = Some("128".into()),
        &["The 'memory' setting for container 'web' is greater than for the task"],
    );
    client(
        ec2_basic(),
        |i| {
            i.memory = Some("400".into());
            i.container_definitions.push(container(
                json!({"name": "b", "image": "busybox", "memory": 200}),
            ));
        },
        &["456 MiB", "task memory of 400 MiB"],
    );
}

#[test]
fn container_cpu_rules() {
    client(
        ec2_basic(),
        |i| web(i).cpu = Some(-1),
        &["Container 'web': cpu must not be negative"],
    );
    client(
        ec2_basic(),
        |i| {
            i.cpu = Some("256".into());
            web(i).cpu = Some(512);
        },
        &["The 'cpu' setting for container 'web' is greater than for the task"],
    );
    client(
        ec2_basic(),
        |i| {
            i.cpu = Some("256".into());
            web(i).cpu = Some(200);
            i.container_definitions.push(container(
                json!({"name": "b", "image": "busybox", "memory": 8, "cpu": 100}),
            ));
        },
        &["300 CPU units", "task cpu of 256"],
    );
    client(
        ec2_basic(),
        |i| web(i).stop_timeout = Some(-3),
        &["stopTimeout must not be negative"],
    );
}

#[test]
fn enumerated_task_members() {
    invalid(
        ec2_basic(),
        |i| i.network_mode = Some("overlay".into()),
        &[
            "Invalid networkMode 'overlay'",
            "bridge, host, awsvpc, none",
        ],
    );
    invalid(
        ec2_basic(),
        |i| i.pid_mode = Some("shared".into()),
        &["pidMode"],
    );
    invalid(
        ec2_basic(),
        |i| i.ipc_mode = Some("shared".into()),
        &["ipcMode"],
    );
    invalid(
        ec2_basic(),
        |i| i.requires_compatibilities = vec!["LAMBDA".into()],
        &["requiresCompatibilities", "LAMBDA"],
    );
    invalid(
        ec2_basic(),
        |i| {
            i.runtime_platform = Some(RuntimePlatform {
                cpu_architecture: Some("RISCV".into()),
                operating_system_family: None,
            })
        },
        &["cpuArchitecture"],
    );
    invalid(
        ec2_basic(),
        |i| {
            i.runtime_platform = Some(RuntimePlatform {
                cpu_architecture: None,
                operating_system_family: Some("MACOS".into()),
            })
        },
        &["operatingSystemFamily"],
    );
    passes(ec2_basic(), |i| {
        i.pid_mode = Some("task".into());
        i.ipc_mode = Some("none".into());
    });
}

#[test]
fn placement_constraints() {
    let pc = |kind: &str, expr: Option<&str>| TaskDefinitionPlacementConstraint {
        kind: Some(kind.into()),
        expression: expr.map(String::from),
    };
    passes(ec2_basic(), |i| {
        i.placement_constraints = vec![pc("memberOf", Some("attribute:ecs.instance-type =~ t3.*"))]
    });
    invalid(
        ec2_basic(),
        |i| i.placement_constraints = vec![pc("distinctInstance", None)],
        &["placementConstraints[0].type", "memberOf"],
    );
    client(
        ec2_basic(),
        |i| i.placement_constraints = vec![pc("memberOf", None)],
        &["needs an expression"],
    );
    client(
        ec2_basic(),
        |i| i.placement_constraints = vec![pc("memberOf", Some("x")); 11],
        &["at most 10"],
    );
}

#[test]
fn tags() {
    let tag = |k: &str| Tag {
        key: Some(k.into()),
        value: Some("v".into()),
    };
    invalid(
        ec2_basic(),
        |i| i.tags = (0..51).map(|n| tag(&format!("k{n}"))).collect(),
        &["50"],
    );
    invalid(ec2_basic(), |i| i.tags = vec![tag("aws:owner")], &["aws:"]);
    invalid(
        ec2_basic(),
        |i| i.tags = vec![tag(&"k".repeat(129))],
        &["128"],
    );
}

#[test]
fn ephemeral_storage_and_proxy() {
    client(
        fargate_web(),
        |i| i.ephemeral_storage = Some(EphemeralStorage { size_in_gib: 20 }),
        &["between 21 and 200 GiB"],
    );
    client(
        fargate_web(),
        |i| i.ephemeral_storage = Some(EphemeralStorage { size_in_gib: 201 }),
        &["between 21 and 200 GiB"],
    );
    passes(fargate_web(), |i| {
        i.ephemeral_storage = Some(EphemeralStorage { size_in_gib: 200 })
    });
    let proxy = |name: &str| {
        Some(ProxyConfiguration {
            kind: Some("APPMESH".into()),
            container_name: name.into(),
            properties: vec![],
        })
    };
    client(
        fargate_web(),
        |i| i.proxy_configuration = proxy("envoy"),
        &["proxyConfiguration.containerName 'envoy'"],
    );
    client(
        ec2_basic(),
        |i| i.proxy_configuration = proxy("web"),
        &["proxyConfiguration requires networkMode awsvpc"],
    );
    passes(fargate_web(), |i| i.proxy_configuration = proxy("web"));
}
